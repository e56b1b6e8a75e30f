import Yams

/// Builds a ``TopologySpec`` by walking `Yams.Node`s, because Codable decoding forgets where things were.
///
/// It never stops at the first problem: a field that fails keeps its default and its path is
/// "poisoned", so later checks on the model stay quiet about it instead of repeating the error.
struct NodeDecoder {
    let file: String
    private(set) var issues: [ValidationIssue] = []
    private(set) var poisoned: Set<String> = []
    private(set) var sourceMap = SourceMap()

    init(file: String) { self.file = file }

    static let topLevelKeys = ["epoch", "name", "transport", "agents", "edges", "gateway", "rewards", "artifacts"]
    static let transportKeys = ["kind", "run_dir", "host", "base_port", "allow_non_loopback"]
    static let agentKeys = [
        "name", "kind", "version", "replicas", "parameters", "decision_space", "restart", "inner_reward",
    ]
    static let dimensionKeys = ["type", "min", "max", "values", "log"]
    static let restartKeys = ["policy", "intensity", "period_s", "backoff_ms", "max_backoff_ms"]
    static let edgeKeys = ["from", "to", "segments"]
    static let gatewayKeys = [
        "listen", "nng", "entry", "exit", "deadline_ms", "allow_non_loopback", "max_in_flight", "max_queued", "max_wait_ms", "max_body_bytes",
    ]
    static let rewardsKeys = ["inner", "outer"]
    static let outerKeys = ["metric", "latency_budget_ms", "diversity_floor"]

    /// Parses `source`; `nil` when there is no spec to check further (a syntax error, an empty file…).
    mutating func decode(source: String) -> TopologySpec? {
        let root: Node?
        do {
            // Scalars' types are resolved here, on demand (`plainTag`), and cheaply: Yams's
            // default resolver runs its regular expressions on every key and value to hash the
            // keys of every mapping, which made loading movielens.yaml ~10 ms of the gateway's
            // CPU at each epoch switch.
            root = try Yams.compose(yaml: source, .basic)
        } catch {
            reportSyntax(error)
            return nil
        }
        sourceMap.record("", line: 1, column: 1)
        guard let root else {
            issue(
                .missingField, "", line: 1, column: 1,
                "the file is empty; a topology needs epoch, name, agents and gateway")
            return nil
        }
        return decodeSpec(root)
    }

    // MARK: - The schema

    private mutating func decodeSpec(_ root: Node) -> TopologySpec? {
        guard let map = mapping(root, "") else { return nil }
        checkKeys(map, allowed: Self.topLevelKeys, "")
        var spec = TopologySpec(name: "", agents: [], edges: [], gateway: GatewaySpec(entry: [], exit: ""))
        if let node = required(map, "epoch", root, ""), let value = int(node, "epoch") { spec.epoch = value }
        if let node = required(map, "name", root, ""), let value = string(node, "name") { spec.name = value }
        if let node = optional(map, "transport") { spec.transport = decodeTransport(node, "transport") }
        if let node = required(map, "agents", root, "") {
            if let items = sequence(node, "agents") {
                spec.agents = items.enumerated().map { decodeAgent($1, FieldPath.index("agents", $0)) }
            }
        }
        if let node = optional(map, "edges"), let items = sequence(node, "edges") {
            spec.edges = items.enumerated().map { decodeEdge($1, FieldPath.index("edges", $0)) }
        }
        if let node = required(map, "gateway", root, "") { spec.gateway = decodeGateway(node, "gateway") }
        if let node = optional(map, "rewards") { spec.rewards = decodeRewards(node, "rewards") }
        if let node = optional(map, "artifacts"), let value = string(node, "artifacts") { spec.artifacts = value }
        return spec
    }

    private mutating func decodeTransport(_ node: Node, _ field: String) -> TransportSpec {
        var transport = TransportSpec()
        guard let map = mapping(node, field) else { return transport }
        checkKeys(map, allowed: Self.transportKeys, field)
        if let node = optional(map, "kind"), let value = string(node, FieldPath.key(field, "kind")) {
            transport.kind = TransportKind(rawValue: value)
        }
        if let node = optional(map, "run_dir"), let value = string(node, FieldPath.key(field, "run_dir")) {
            transport.runDirectory = value
        }
        if let node = optional(map, "host"), let value = string(node, FieldPath.key(field, "host")) {
            transport.host = value
        }
        if let node = optional(map, "base_port"), let value = int(node, FieldPath.key(field, "base_port")) {
            transport.basePort = value
        }
        if let node = optional(map, "allow_non_loopback"),
            let value = bool(node, FieldPath.key(field, "allow_non_loopback"))
        {
            transport.allowNonLoopback = value
        }
        return transport
    }

    private mutating func decodeAgent(_ node: Node, _ field: String) -> AgentSpec {
        var agent = AgentSpec(name: "", kind: "")
        guard let map = mapping(node, field) else {
            poison(FieldPath.key(field, "name"))
            return agent
        }
        checkKeys(map, allowed: Self.agentKeys, field)
        if let value = required(map, "name", node, field).flatMap({ string($0, FieldPath.key(field, "name")) }) {
            agent.name = value
        } else {
            poison(FieldPath.key(field, "name"))
        }
        if let value = required(map, "kind", node, field).flatMap({ string($0, FieldPath.key(field, "kind")) }) {
            agent.kind = value
        } else {
            poison(FieldPath.key(field, "kind"))
        }
        if let node = optional(map, "version"), let value = string(node, FieldPath.key(field, "version")) {
            agent.version = value
        }
        if let node = optional(map, "replicas"), let value = int(node, FieldPath.key(field, "replicas")) {
            agent.replicas = value
        }
        if let node = optional(map, "parameters") {
            let path = FieldPath.key(field, "parameters")
            for (key, _, value) in mapping(node, path) ?? [] {
                if let parameter = scalarValue(value, FieldPath.key(path, key)) { agent.parameters[key] = parameter }
            }
        }
        if let node = optional(map, "decision_space") {
            let path = FieldPath.key(field, "decision_space")
            for (key, _, value) in mapping(node, path) ?? [] {
                if let dimension = decodeDimension(value, FieldPath.key(path, key)) {
                    agent.decisionSpace[key] = dimension
                }
            }
        }
        if let node = optional(map, "restart") {
            agent.restart = decodeRestart(node, FieldPath.key(field, "restart"))
        }
        if let node = optional(map, "inner_reward"), let value = string(node, FieldPath.key(field, "inner_reward")) {
            agent.innerReward = value
        }
        return agent
    }

    private mutating func decodeDimension(_ node: Node, _ field: String) -> DecisionDimension? {
        guard let map = mapping(node, field) else { return nil }
        checkKeys(map, allowed: Self.dimensionKeys, field)
        guard let typeNode = required(map, "type", node, field),
            let type = string(typeNode, FieldPath.key(field, "type"))
        else {
            poison(field)
            return nil
        }
        var dimension = DecisionDimension(type: ParameterType(rawValue: type))
        if let node = optional(map, "min") { dimension.min = double(node, FieldPath.key(field, "min")) }
        if let node = optional(map, "max") { dimension.max = double(node, FieldPath.key(field, "max")) }
        if let node = optional(map, "values"), let items = sequence(node, FieldPath.key(field, "values")) {
            dimension.values = items.enumerated().compactMap {
                string($1, FieldPath.index(FieldPath.key(field, "values"), $0))
            }
        }
        if let node = optional(map, "log"), let value = bool(node, FieldPath.key(field, "log")) {
            dimension.log = value
        }
        return dimension
    }

    private mutating func decodeRestart(_ node: Node, _ field: String) -> RestartPolicy {
        var policy = RestartPolicy()
        guard let map = mapping(node, field) else { return policy }
        checkKeys(map, allowed: Self.restartKeys, field)
        if let node = optional(map, "policy"), let value = string(node, FieldPath.key(field, "policy")) {
            policy.strategy = RestartStrategy(rawValue: value)
        }
        if let node = optional(map, "intensity"), let value = int(node, FieldPath.key(field, "intensity")) {
            policy.intensity = value
        }
        if let node = optional(map, "period_s"), let value = int(node, FieldPath.key(field, "period_s")) {
            policy.periodSeconds = value
        }
        if let node = optional(map, "backoff_ms"), let value = int(node, FieldPath.key(field, "backoff_ms")) {
            policy.backoffMilliseconds = value
        }
        if let node = optional(map, "max_backoff_ms"), let value = int(node, FieldPath.key(field, "max_backoff_ms")) {
            policy.maxBackoffMilliseconds = value
        }
        return policy
    }

    private mutating func decodeEdge(_ node: Node, _ field: String) -> Edge {
        var edge = Edge(from: "", to: "")
        guard let map = mapping(node, field) else {
            poison(field)
            return edge
        }
        checkKeys(map, allowed: Self.edgeKeys, field)
        for key in ["from", "to"] {
            let path = FieldPath.key(field, key)
            if let value = required(map, key, node, field).flatMap({ string($0, path) }) {
                if key == "from" { edge.from = value } else { edge.to = value }
            } else {
                poison(field)
            }
        }
        if let node = optional(map, "segments") {
            let path = FieldPath.key(field, "segments")
            if let items = sequence(node, path) {
                let names = items.enumerated().compactMap { string($1, FieldPath.index(path, $0)) }
                // A list missing an item would be judged as if it were whole.
                if names.count == items.count { edge.segments = names } else { poison(path) }
            }
        }
        return edge
    }

    private mutating func decodeGateway(_ node: Node, _ field: String) -> GatewaySpec {
        var gateway = GatewaySpec(entry: [], exit: "")
        guard let map = mapping(node, field) else {
            poison(field)
            return gateway
        }
        checkKeys(map, allowed: Self.gatewayKeys, field)
        if let node = optional(map, "listen") {
            gateway.listen = stringOrList(node, FieldPath.key(field, "listen"))
        }
        if let node = optional(map, "nng"), let value = string(node, FieldPath.key(field, "nng")) {
            gateway.nng = value
        }
        if let node = required(map, "entry", node, field) {
            gateway.entry = stringOrList(node, FieldPath.key(field, "entry"))
        } else {
            poison(FieldPath.key(field, "entry"))
        }
        if let value = required(map, "exit", node, field).flatMap({ string($0, FieldPath.key(field, "exit")) }) {
            gateway.exit = value
        } else {
            poison(FieldPath.key(field, "exit"))
        }
        if let node = optional(map, "deadline_ms"), let value = int(node, FieldPath.key(field, "deadline_ms")) {
            gateway.deadlineMilliseconds = value
        }
        if let node = optional(map, "allow_non_loopback"),
            let value = bool(node, FieldPath.key(field, "allow_non_loopback"))
        {
            gateway.allowNonLoopback = value
        }
        if let node = optional(map, "max_in_flight"), let value = int(node, FieldPath.key(field, "max_in_flight")) {
            gateway.maximumInFlight = value
        }
        if let node = optional(map, "max_queued"), let value = int(node, FieldPath.key(field, "max_queued")) {
            gateway.maximumQueued = value
        }
        if let node = optional(map, "max_wait_ms"), let value = int(node, FieldPath.key(field, "max_wait_ms")) {
            gateway.maximumWaitMilliseconds = value
        }
        if let node = optional(map, "max_body_bytes"), let value = int(node, FieldPath.key(field, "max_body_bytes")) {
            gateway.maximumBodyBytes = value
        }
        return gateway
    }

    private mutating func decodeRewards(_ node: Node, _ field: String) -> RewardsSpec {
        var rewards = RewardsSpec()
        guard let map = mapping(node, field) else { return rewards }
        checkKeys(map, allowed: Self.rewardsKeys, field)
        if let node = optional(map, "inner") {
            let path = FieldPath.key(field, "inner")
            for (key, _, value) in mapping(node, path) ?? [] {
                if let metric = string(value, FieldPath.key(path, key)) { rewards.inner[key] = metric }
            }
        }
        if let node = optional(map, "outer") {
            let path = FieldPath.key(field, "outer")
            if let outer = mapping(node, path) {
                checkKeys(outer, allowed: Self.outerKeys, path)
                if let value = required(outer, "metric", node, path).flatMap({
                    string($0, FieldPath.key(path, "metric"))
                }) {
                    rewards.outer.metric = value
                }
                if let node = optional(outer, "latency_budget_ms") {
                    rewards.outer.latencyBudgetMilliseconds = int(node, FieldPath.key(path, "latency_budget_ms"))
                }
                if let node = optional(outer, "diversity_floor") {
                    rewards.outer.diversityFloor = double(node, FieldPath.key(path, "diversity_floor"))
                }
            }
        }
        return rewards
    }

    // MARK: - Node helpers

    typealias Entries = [(key: String, keyNode: Node, value: Node)]

    private mutating func mapping(_ node: Node, _ field: String) -> Entries? {
        record(field, node)
        guard case .mapping(let mapping) = node else {
            issue(.wrongType, field, node, "expected a mapping (key: value lines), found \(describe(node))")
            poison(field)
            return nil
        }
        var entries: Entries = []
        for (key, value) in mapping {
            guard case .scalar(let scalar) = key else {
                issue(.wrongType, field, key, "a key must be plain text, found \(describe(key))")
                continue
            }
            record(FieldPath.key(field, scalar.string), value)
            entries.append((scalar.string, key, value))
        }
        return entries
    }

    private mutating func sequence(_ node: Node, _ field: String) -> [Node]? {
        record(field, node)
        guard case .sequence(let sequence) = node else {
            issue(.wrongType, field, node, "expected a list (lines starting with '- '), found \(describe(node))")
            poison(field)
            return nil
        }
        let items = Array(sequence)
        for (index, item) in items.enumerated() { record(FieldPath.index(field, index), item) }
        return items
    }

    private mutating func checkKeys(_ entries: Entries, allowed: [String], _ field: String) {
        for entry in entries where !allowed.contains(entry.key) {
            let path = FieldPath.key(field, entry.key)
            issue(
                .unknownKey, path, entry.keyNode,
                "unknown key '\(entry.key)'\(Suggest.hint(entry.key, allowed)); allowed here: \(allowed.joined(separator: ", "))"
            )
            poison(path)
        }
    }

    /// The value of `key`, treating `key:` with nothing after it as absent.
    private func optional(_ entries: Entries, _ key: String) -> Node? {
        guard let value = entries.first(where: { $0.key == key })?.value else { return nil }
        return isNull(value) ? nil : value
    }

    private mutating func required(_ entries: Entries, _ key: String, _ parent: Node, _ parentField: String) -> Node? {
        if let value = optional(entries, key) { return value }
        let field = FieldPath.key(parentField, key)
        issue(.missingField, field, parent, "missing required field '\(key)'")
        poison(field)
        return nil
    }

    private mutating func string(_ node: Node, _ field: String) -> String? {
        guard case .scalar(let scalar) = node else {
            issue(.wrongType, field, node, "expected text, found \(describe(node))")
            poison(field)
            return nil
        }
        return scalar.string
    }

    private mutating func stringOrList(_ node: Node, _ field: String) -> [String] {
        if case .scalar = node { return string(node, field).map { [$0] } ?? [] }
        guard let items = sequence(node, field) else { return [] }
        return items.enumerated().compactMap { string($1, FieldPath.index(field, $0)) }
    }

    private mutating func int(_ node: Node, _ field: String) -> Int? {
        if case .int(let value) = scalarValue(node, field, quiet: true) { return value }
        issue(.wrongType, field, node, "expected an integer, found \(describe(node))")
        poison(field)
        return nil
    }

    private mutating func double(_ node: Node, _ field: String) -> Double? {
        switch scalarValue(node, field, quiet: true) {
        case .int(let value): return Double(value)
        case .double(let value): return value
        default:
            issue(.wrongType, field, node, "expected a number, found \(describe(node))")
            poison(field)
            return nil
        }
    }

    private mutating func bool(_ node: Node, _ field: String) -> Bool? {
        if case .bool(let value) = scalarValue(node, field, quiet: true) { return value }
        issue(.wrongType, field, node, "expected true or false, found \(describe(node))")
        poison(field)
        return nil
    }

    /// A scalar typed the way YAML reads it: plain `5` is an int, `"5"` is text.
    private mutating func scalarValue(_ node: Node, _ field: String, quiet: Bool = false) -> ParameterValue? {
        guard case .scalar(let scalar) = node else {
            if !quiet {
                issue(.wrongType, field, node, "expected a single value, found \(describe(node))")
                poison(field)
            }
            return nil
        }
        switch Self.plainTag(scalar) {
        case .int: return node.int.map(ParameterValue.int)
        case .float:
            guard let value = node.float else { return nil }
            guard value.isFinite else {
                if !quiet {
                    issue(.invalidValue, field, node, "expected a finite number, found \(scalar.string)")
                    poison(field)
                }
                return nil
            }
            return .double(value)
        case .bool: return node.bool.map(ParameterValue.bool)
        default: return .string(scalar.string)
        }
    }

    static func plainTag(_ scalar: Node.Scalar) -> Tag.Name {
        guard scalar.style == .plain else { return .str }
        return resolvedTag(scalar.string)
    }

    /// What YAML makes of `text` written plain (unquoted).
    static func resolvedTag(_ text: String) -> Tag.Name {
        // Only a boolean or a null among YAML's implicit types begins with a letter: names,
        // kinds and keys are text without a regular expression.
        if let first = text.utf8.first, (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(first | 0x20),
           !wordsWithOtherTypes.contains(text)
        {
            return .str
        }
        return plainNumberTag(text) ?? Resolver.default.resolveTag(of: Node(text))
    }

    /// `[-+]?digits` and `[-+]?digits.digits*`, typed as the default resolver types them
    /// (its int rule first: a leading zero means octal, so "09" is a float); nil for anything
    /// else (underscores, exponents, bases, sexagesimal, timestamps…).
    private static func plainNumberTag(_ text: String) -> Tag.Name? {
        var digits = Substring(text)
        if digits.first == "+" || digits.first == "-" { digits = digits.dropFirst() }
        let point = digits.firstIndex(of: ".")
        let whole = digits[..<(point ?? digits.endIndex)]
        let isDigit = { (c: Character) in c.isASCII && c.isNumber }
        guard !whole.isEmpty, whole.allSatisfy(isDigit) else { return nil }
        if let point {
            return digits[digits.index(after: point)...].allSatisfy(isDigit) ? .float : nil
        }
        if whole == "0" || whole.first != "0" { return .int }
        return whole.allSatisfy { $0 < "8" } ? .int : .float
    }

    /// The plain words Yams's default resolver gives a type other than text.
    private static let wordsWithOtherTypes: Set<String> = [
        "yes", "Yes", "YES", "no", "No", "NO", "true", "True", "TRUE", "false", "False", "FALSE",
        "on", "On", "ON", "off", "Off", "OFF", "null", "Null", "NULL",
    ]

    private func isNull(_ node: Node) -> Bool {
        guard case .scalar(let scalar) = node else { return false }
        return Self.plainTag(scalar) == .null
    }

    private func describe(_ node: Node) -> String {
        switch node {
        case .mapping: "a mapping"
        case .sequence: "a list"
        case .alias: "an alias"
        case .scalar(let scalar):
            switch Self.plainTag(scalar) {
            case .null: "nothing"
            case .int: "the integer \(scalar.string)"
            case .float: "the number \(scalar.string)"
            case .bool: "the boolean \(scalar.string)"
            default: "the text '\(scalar.string)'"
            }
        }
    }

    // MARK: - Reporting

    private mutating func record(_ field: String, _ node: Node) {
        if let mark = node.mark { sourceMap.record(field, line: mark.line, column: mark.column) }
    }

    private mutating func poison(_ field: String) { poisoned.insert(field) }

    private mutating func issue(_ code: ValidationIssue.Code, _ field: String, _ node: Node, _ message: String) {
        let mark = node.mark
        issue(code, field, line: mark?.line ?? 0, column: mark?.column ?? 0, message)
    }

    private mutating func issue(
        _ code: ValidationIssue.Code, _ field: String, line: Int, column: Int, _ message: String
    ) {
        issues.append(
            ValidationIssue(code: code, file: file, line: line, column: column, field: field, message: message))
    }

    private mutating func reportSyntax(_ error: any Error) {
        guard let error = error as? YamlError else {
            issue(.syntax, "", line: 1, column: 1, "cannot parse YAML: \(error)")
            return
        }
        switch error {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
            .composer(let context, let problem, let mark, _):
            let during = context.map { " (\($0.text) at line \($0.mark.line), column \($0.mark.column))" } ?? ""
            issue(.syntax, "", line: mark.line, column: mark.column, "YAML syntax error: \(problem)\(during)")
        case .duplicatedKeysInMapping(let duplicates, let context):
            issue(
                .syntax, "", line: context.mark.line, column: context.mark.column,
                "duplicate key\(duplicates.count == 1 ? "" : "s") \(duplicates.map { "'\($0)'" }.joined(separator: ", ")) in one mapping"
            )
        case .reader(let problem, let offset, _, _):
            issue(
                .syntax, "", line: 1, column: 1,
                "cannot read the file: \(problem)\(offset.map { " at offset \($0)" } ?? "")")
        default:
            issue(.syntax, "", line: 1, column: 1, "cannot parse YAML: \(error)")
        }
    }
}
