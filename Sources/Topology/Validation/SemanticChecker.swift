/// Checks a decoded spec against the catalogue and against itself, and normalises it
/// (int literals given to double parameters become doubles).
struct SemanticChecker {
    let catalogue: KindCatalogue
    let file: String
    let sourceMap: SourceMap
    let poisoned: Set<String>
    private(set) var issues: [ValidationIssue] = []

    init(catalogue: KindCatalogue, file: String, sourceMap: SourceMap = SourceMap(), poisoned: Set<String> = []) {
        self.catalogue = catalogue
        self.file = file
        self.sourceMap = sourceMap
        self.poisoned = poisoned
    }

    static let replicaRange = 1...16
    static let deadlineRange = 1...600_000
    static let inFlightRange = 0...100_000
    static let queuedRange = 0...10_000_000
    static let waitRange = 0...3_600_000
    static let bodyBytesRange = 1_024...(16 << 20)
    static let maxNameLength = 64

    mutating func check(_ spec: inout TopologySpec) {
        if spec.epoch < 0 { issue(.outOfRange, "epoch", "epoch must be 0 or more, found \(spec.epoch)") }
        if spec.name.isBlank { issue(.invalidValue, "name", "the topology needs a non-empty name") }
        checkTransport(spec.transport)
        if let directory = spec.artifacts, directory.isBlank {
            issue(.invalidValue, "artifacts", "artifacts must not be empty; leave it out to keep them in the run directory")
        }

        var firstDeclared: [String: Int] = [:]
        for index in spec.agents.indices {
            let path = FieldPath.index("agents", index)
            let name = spec.agents[index].name
            checkName(name, FieldPath.key(path, "name"))
            if let first = firstDeclared[name] {
                let line = sourceMap.locate(FieldPath.key(FieldPath.index("agents", first), "name"))?.line ?? 0
                issue(
                    .duplicateName, FieldPath.key(path, "name"),
                    "duplicate agent name '\(name)' (first declared as agents[\(first)]\(line > 0 ? " at line \(line)" : ""))"
                )
            } else {
                firstDeclared[name] = index
            }
        }
        // References are judged only when every agent name is known; otherwise each would be a false alarm.
        let namesComplete = !poisoned.contains {
            FieldPath.isWithin($0, "agents") && ($0 == "agents" || $0.hasSuffix(".name"))
        }
        let names = Set(spec.agents.map(\.name))
        let graph = spec.graph

        for index in spec.agents.indices {
            checkAgent(
                &spec.agents[index], FieldPath.index("agents", index), graph: graph, namesComplete: namesComplete)
        }

        var seenEdges: [Edge: Int] = [:]
        for (index, edge) in spec.edges.enumerated() {
            let path = FieldPath.index("edges", index)
            if namesComplete {
                for (key, name) in [("from", edge.from), ("to", edge.to)] where !names.contains(name) {
                    issue(
                        .unknownAgent, FieldPath.key(path, key),
                        "no agent is named '\(name)'\(Suggest.hint(name, names))")
                }
            }
            // Two edges between the same agents are one too many, whatever their segments.
            let ends = Edge(from: edge.from, to: edge.to)
            if let first = seenEdges[ends] {
                issue(.invalidValue, path, "duplicate edge \(ends) (also edges[\(first)])")
            } else {
                seenEdges[ends] = index
            }
        }
        let cycles = graph.cycles()
        let edgesComplete = !poisoned.contains { FieldPath.isWithin($0, "edges") }
        for cycle in cycles {
            let closing = Edge(from: cycle[cycle.count - 1], to: cycle[0])
            let index = spec.edges.firstIndex { $0.from == closing.from && $0.to == closing.to } ?? 0
            issue(
                .cycle, FieldPath.index("edges", index),
                "the edges form a cycle: \((cycle + [cycle[0]]).joined(separator: " -> ")); the graph must be acyclic")
        }

        checkGateway(
            spec.gateway, names: names, namesComplete: namesComplete,
            graph: cycles.isEmpty && edgesComplete ? graph : nil)
        checkSegments(&spec, names: names, graph: cycles.isEmpty && edgesComplete && namesComplete ? graph : nil)
        checkRewards(spec, names: names, namesComplete: namesComplete)
    }

    // MARK: - Parts

    private mutating func checkTransport(_ transport: TransportSpec) {
        if !TransportKind.known.contains(transport.kind) {
            issue(
                .invalidValue, "transport.kind",
                "unknown transport '\(transport.kind)'\(Suggest.hint(transport.kind.rawValue, TransportKind.known.map(\.rawValue))); use ipc or tcp"
            )
        }
        if !(0...65535).contains(transport.basePort) {
            issue(
                .outOfRange, "transport.base_port",
                "base_port must be in 0…65535 (0 picks free ports), found \(transport.basePort)")
        }
        if let directory = transport.runDirectory, directory.isBlank {
            issue(
                .invalidValue, "transport.run_dir",
                "run_dir must not be empty; leave it out for a private run directory")
        }
        if transport.kind == .tcp {
            if transport.host.isEmpty {
                issue(.invalidValue, "transport.host", "host must not be empty")
            } else if !transport.allowNonLoopback && !Address.isLoopback(host: transport.host) {
                issue(
                    .nonLoopback, "transport.host",
                    "'\(transport.host)' is not a loopback address; set transport.allow_non_loopback: true to listen on it"
                )
            }
        }
    }

    private mutating func checkName(_ name: String, _ field: String) {
        let allowed = name.unicodeScalars.allSatisfy {
            ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_" || $0 == "." || $0 == "-"
        }
        if name.isEmpty {
            issue(.invalidValue, field, "an agent name must not be empty")
        } else if !allowed {
            issue(.invalidValue, field, "agent name '\(name)' may use only a-z, 0-9, '_', '.' and '-'")
        } else if name.count > Self.maxNameLength {
            issue(.invalidValue, field, "agent name '\(name)' is longer than \(Self.maxNameLength) characters")
        }
    }

    private mutating func checkAgent(
        _ agent: inout AgentSpec, _ path: String, graph: TopologyGraph, namesComplete: Bool
    ) {
        if !Self.replicaRange.contains(agent.replicas) {
            issue(.outOfRange, FieldPath.key(path, "replicas"), "replicas must be in 1…16, found \(agent.replicas)")
        }
        if agent.version.isBlank {
            issue(.invalidValue, FieldPath.key(path, "version"), "version must not be empty")
        }
        if let reward = agent.innerReward, reward.isBlank {
            issue(.invalidValue, FieldPath.key(path, "inner_reward"), "inner_reward must name a metric")
        }
        checkRestart(agent.restart, FieldPath.key(path, "restart"))

        guard let kind = catalogue[agent.kind] else {
            issue(
                .unknownKind, FieldPath.key(path, "kind"),
                "unknown kind '\(agent.kind)'\(Suggest.hint(agent.kind, catalogue.names)); known kinds: \(catalogue.names.joined(separator: ", "))"
            )
            return
        }
        for name in agent.parameters.keys.sorted() {
            let field = FieldPath.key(FieldPath.key(path, "parameters"), name)
            guard let spec = kind.parameter(named: name) else {
                issue(
                    .unknownParameter, field,
                    "kind '\(kind.name)' has no parameter '\(name)'\(Suggest.hint(name, kind.parameters.map(\.name)))\(Self.listing(kind))"
                )
                continue
            }
            guard let value = coerce(agent.parameters[name]!, to: spec, field) else { continue }
            agent.parameters[name] = value
            if checkRange(value, spec: spec, kind: kind.name, field) {
                if let dimension = agent.decisionSpace[name], dimension.type == spec.type {
                    checkInside(value, dimension, field, what: "'\(name)' = \(value)")
                }
            }
            if spec.isWildcard && spec.suffixNamesPredecessor && namesComplete {
                let route = String(name.dropFirst(spec.wildcardPrefix.count))
                let feeding = graph.predecessors(of: agent.name)
                if !feeding.contains(route) {
                    issue(
                        .unknownAgent, field,
                        "'\(route)' is not an agent feeding '\(agent.name)'\(feeding.isEmpty ? "" : " (fed by: \(feeding.joined(separator: ", ")))")"
                    )
                }
            }
        }
        for name in agent.decisionSpace.keys.sorted() {
            let field = FieldPath.key(FieldPath.key(path, "decision_space"), name)
            guard let spec = kind.parameter(named: name) else {
                issue(
                    .unknownParameter, field,
                    "kind '\(kind.name)' has no parameter '\(name)' to search\(Suggest.hint(name, kind.parameters.map(\.name)))\(Self.listing(kind))"
                )
                continue
            }
            checkDimension(agent.decisionSpace[name]!, spec: spec, kind: kind.name, field)
            if agent.parameters[name] == nil, let value = spec.defaultValue, !poisoned.contains(field),
                agent.decisionSpace[name]!.type == spec.type,
                checkRange(value, spec: spec, kind: kind.name, field, quiet: true)
            {
                checkInside(value, agent.decisionSpace[name]!, field, what: "the default of '\(name)' (\(value))")
            }
        }
    }

    private mutating func checkRestart(_ restart: RestartPolicy, _ path: String) {
        if !RestartStrategy.known.contains(restart.strategy) {
            issue(
                .invalidValue, FieldPath.key(path, "policy"),
                "unknown restart policy '\(restart.strategy)'\(Suggest.hint(restart.strategy.rawValue, RestartStrategy.known.map(\.rawValue))); use permanent, transient or temporary"
            )
        }
        if !(0...1000).contains(restart.intensity) {
            issue(
                .outOfRange, FieldPath.key(path, "intensity"), "intensity must be in 0…1000, found \(restart.intensity)"
            )
        }
        if !(1...86400).contains(restart.periodSeconds) {
            issue(
                .outOfRange, FieldPath.key(path, "period_s"),
                "period_s must be in 1…86400, found \(restart.periodSeconds)")
        }
        if !(0...600_000).contains(restart.backoffMilliseconds) {
            issue(
                .outOfRange, FieldPath.key(path, "backoff_ms"),
                "backoff_ms must be in 0…600000, found \(restart.backoffMilliseconds)")
        }
        if restart.maxBackoffMilliseconds < restart.backoffMilliseconds || restart.maxBackoffMilliseconds > 600_000 {
            issue(
                .outOfRange, FieldPath.key(path, "max_backoff_ms"),
                "max_backoff_ms must be in backoff_ms…600000 (\(restart.backoffMilliseconds)…600000), found \(restart.maxBackoffMilliseconds)"
            )
        }
    }

    /// The value in the parameter's own type, or `nil` after reporting why it cannot be.
    private mutating func coerce(_ value: ParameterValue, to spec: ParameterSpec, _ field: String) -> ParameterValue? {
        switch (spec.type, value) {
        case (.int, .int), (.double, .double), (.bool, .bool), (.string, .string): return value
        case (.double, .int(let number)): return .double(Double(number))
        case (.string, .int), (.string, .double): return .string(value.description)
        case (.choice, .string(let text)):
            if let values = spec.values, !values.contains(text) {
                issue(
                    .invalidValue, field,
                    "'\(text)' is not one of \(values.joined(separator: ", "))\(Suggest.hint(text, values))")
                return nil
            }
            return value
        default:
            let wanted =
                spec.type == .choice
                ? "one of \((spec.values ?? []).joined(separator: ", "))" : "a value of type \(spec.type)"
            issue(.wrongType, field, "expected \(wanted), found the \(value.typeName) \(value)")
            return nil
        }
    }

    /// Whether `value` lies in the catalogue's range; reports when it does not (unless `quiet`).
    @discardableResult
    private mutating func checkRange(
        _ value: ParameterValue, spec: ParameterSpec, kind: String, _ field: String, quiet: Bool = false
    ) -> Bool {
        guard let number = value.number else { return true }
        let low = spec.min ?? -.infinity
        let high = spec.max ?? .infinity
        if low <= number && number <= high { return true }
        if !quiet {
            issue(
                .outOfRange, field,
                "\(Self.format(number)) is outside \(Self.format(low))…\(Self.format(high)), the range \(kind) allows")
        }
        return false
    }

    private mutating func checkInside(
        _ value: ParameterValue, _ dimension: DecisionDimension, _ field: String, what: String
    ) {
        guard !dimension.admits(value) else { return }
        if dimension.type == .choice {
            issue(
                .outOfRange, field,
                "\(what) is not among the decision space's values \((dimension.values ?? []).joined(separator: ", "))")
            return
        }
        if let low = dimension.min, let high = dimension.max {
            issue(
                .outOfRange, field,
                "\(what) is outside the declared decision space \(Self.format(low))…\(Self.format(high))")
        }
    }

    private mutating func checkDimension(
        _ dimension: DecisionDimension, spec: ParameterSpec, kind: String, _ field: String
    ) {
        guard ParameterType.searchable.contains(dimension.type) else {
            issue(
                .invalidValue, FieldPath.key(field, "type"),
                "type must be int, double or choice, found '\(dimension.type)'")
            return
        }
        guard dimension.type == spec.type else {
            issue(
                .wrongType, FieldPath.key(field, "type"),
                "type \(dimension.type) does not match the parameter's type \(spec.type) in \(kind)")
            return
        }
        if dimension.type == .choice {
            if dimension.min != nil || dimension.max != nil {
                issue(.invalidValue, field, "min and max are for int and double; a choice lists its values")
            }
            guard let values = dimension.values, !values.isEmpty else {
                issue(.missingField, FieldPath.key(field, "values"), "a choice needs a non-empty list of values")
                return
            }
            let allowed = spec.values ?? []
            for (index, value) in values.enumerated() where !allowed.contains(value) {
                issue(
                    .outOfRange, FieldPath.index(FieldPath.key(field, "values"), index),
                    "'\(value)' is not a value \(kind) allows (\(allowed.joined(separator: ", ")))")
            }
            return
        }
        if dimension.values != nil {
            issue(
                .invalidValue, FieldPath.key(field, "values"), "values are for choice; a number range uses min and max")
        }
        guard let low = dimension.min, let high = dimension.max else {
            for (key, value) in [("min", dimension.min), ("max", dimension.max)] where value == nil {
                if !poisoned.contains(FieldPath.key(field, key)) {
                    issue(.missingField, FieldPath.key(field, key), "a \(dimension.type) range needs '\(key)'")
                }
            }
            return
        }
        if dimension.type == .int {
            for (key, value) in [("min", low), ("max", high)] where value.rounded() != value {
                issue(
                    .wrongType, FieldPath.key(field, key),
                    "an int range needs whole numbers, found \(Self.format(value))")
            }
        }
        if low > high {
            issue(.outOfRange, field, "min \(Self.format(low)) is greater than max \(Self.format(high))")
        }
        if let catalogueLow = spec.min, low < catalogueLow {
            issue(
                .outOfRange, FieldPath.key(field, "min"),
                "min \(Self.format(low)) widens \(kind)'s range \(Self.range(spec)); a decision space may only narrow it"
            )
        }
        if let catalogueHigh = spec.max, high > catalogueHigh {
            issue(
                .outOfRange, FieldPath.key(field, "max"),
                "max \(Self.format(high)) widens \(kind)'s range \(Self.range(spec)); a decision space may only narrow it"
            )
        }
        if dimension.log && low <= 0 {
            issue(
                .invalidValue, FieldPath.key(field, "log"), "a log-scale range needs min > 0, found \(Self.format(low))"
            )
        }
    }

    private mutating func checkGateway(
        _ gateway: GatewaySpec, names: Set<String>, namesComplete: Bool, graph: TopologyGraph?
    ) {
        if gateway.listen.isEmpty && gateway.nng == nil {
            issue(.missingField, "gateway.listen", "the gateway needs a listen address or an nng address")
        }
        for (key, value, range) in [
            ("max_in_flight", gateway.maximumInFlight, Self.inFlightRange), ("max_queued", gateway.maximumQueued, Self.queuedRange),
            ("max_wait_ms", gateway.maximumWaitMilliseconds, Self.waitRange),
            ("max_body_bytes", gateway.maximumBodyBytes, Self.bodyBytesRange),
        ] {
            if let value, !range.contains(value) {
                issue(.outOfRange, "gateway.\(key)", "\(key) must be in \(range.lowerBound)…\(range.upperBound), found \(value)")
            }
        }
        for (index, address) in gateway.listen.enumerated() {
            checkAddress(
                address, FieldPath.index("gateway.listen", index), schemes: ["http"],
                allowNonLoopback: gateway.allowNonLoopback)
        }
        if let nng = gateway.nng {
            checkAddress(nng, "gateway.nng", schemes: ["ipc", "tcp"], allowNonLoopback: gateway.allowNonLoopback)
        }
        if gateway.entry.isEmpty && !poisoned.contains("gateway.entry") {
            issue(.missingField, "gateway.entry", "the gateway needs at least one entry agent")
        }
        if namesComplete {
            for (index, name) in gateway.entry.enumerated() where !names.contains(name) {
                let field = gateway.entry.count == 1 ? "gateway.entry" : FieldPath.index("gateway.entry", index)
                issue(.unknownAgent, field, "entry names no agent: '\(name)'\(Suggest.hint(name, names))")
            }
            if !names.contains(gateway.exit) {
                issue(
                    .unknownAgent, "gateway.exit",
                    "exit names no agent: '\(gateway.exit)'\(Suggest.hint(gateway.exit, names))")
            } else if let graph {
                for name in gateway.entry
                where names.contains(name) && !graph.reachable(from: [name]).contains(gateway.exit) {
                    issue(
                        .unreachable, "gateway.exit",
                        "exit '\(gateway.exit)' cannot be reached from entry '\(name)' along the edges")
                }
            }
        }
        if !Self.deadlineRange.contains(gateway.deadlineMilliseconds) {
            issue(
                .outOfRange, "gateway.deadline_ms",
                "deadline_ms must be in 1…\(Self.deadlineRange.upperBound), found \(gateway.deadlineMilliseconds)")
        }
    }

    /// Edges' `segments`: known names, each once; taken only downstream of a router (elsewhere
    /// the segment may not be known yet when the edge is reached, and which agents run would
    /// depend on timing); and for every segment the exit still reachable from the entry, or that
    /// segment's users would get nothing. Valid lists are put in the catalogue's order, so equal
    /// restrictions compare equal. `graph` is nil when names, edges or acyclicity are in doubt.
    private mutating func checkSegments(_ spec: inout TopologySpec, names: Set<String>, graph: TopologyGraph?) {
        let known = KindCatalogue.routerSegments
        var wellFormed = true
        for (index, edge) in spec.edges.enumerated() {
            guard let segments = edge.segments else { continue }
            let path = FieldPath.key(FieldPath.index("edges", index), "segments")
            guard !segments.isEmpty else {
                issue(
                    .invalidValue, path,
                    "segments must name at least one of \(known.joined(separator: ", ")); leave it out for an edge every request takes"
                )
                wellFormed = false
                continue
            }
            var seen = Set<String>()
            for (position, segment) in segments.enumerated() {
                let field = FieldPath.index(path, position)
                if !known.contains(segment) {
                    issue(
                        .invalidValue, field,
                        "unknown segment '\(segment)'\(Suggest.hint(segment, known)); a router answers \(known.joined(separator: ", "))"
                    )
                    wellFormed = false
                } else if !seen.insert(segment).inserted {
                    issue(.invalidValue, field, "segment '\(segment)' is listed twice")
                    wellFormed = false
                }
            }
        }
        if wellFormed {
            for index in spec.edges.indices {
                if let segments = spec.edges[index].segments {
                    spec.edges[index].segments = known.filter { segments.contains($0) }
                }
            }
        }
        guard let graph, spec.edges.contains(where: { $0.segments != nil }) else { return }

        let routers = spec.agents.filter { catalogue[$0.kind]?.role == .router }.map(\.name)
        let downstream = graph.reachable(from: routers)
        for (index, edge) in spec.edges.enumerated() where edge.segments != nil && !downstream.contains(edge.from) {
            let why =
                routers.isEmpty
                ? "the topology has no router to choose a segment"
                : "'\(edge.from)' is neither a router nor fed by one, so the segment may not be known yet when this edge is reached"
            issue(
                .invalidValue, FieldPath.key(FieldPath.index("edges", index), "segments"),
                "segments need a router upstream: \(why)")
        }

        let exit = spec.gateway.exit
        let entry = spec.gateway.entry.filter(names.contains)
        if wellFormed, names.contains(exit), !entry.isEmpty, graph.reachable(from: entry).contains(exit) {
            for segment in known where !graph.reachable(from: entry, segment: segment).contains(exit) {
                let closed = spec.edges.indices.filter {
                    spec.edges[$0].segments.map { !$0.contains(segment) } ?? false
                }
                guard let first = closed.first else { continue }
                issue(
                    .unreachable, FieldPath.key(FieldPath.index("edges", first), "segments"),
                    "for segment '\(segment)' the exit '\(exit)' cannot be reached from the entry over the edges it takes (not taken: \(closed.map { spec.edges[$0].description }.joined(separator: ", "))), so its users would get nothing"
                )
            }
        }
    }

    private mutating func checkAddress(_ text: String, _ field: String, schemes: [String], allowNonLoopback: Bool) {
        switch Address.parse(text) {
        case .failure(let error):
            issue(.invalidValue, field, error.message)
        case .success(let address):
            if !schemes.contains(address.scheme) {
                issue(
                    .invalidValue, field,
                    "scheme '\(address.scheme)' is not allowed here; use \(schemes.joined(separator: " or "))")
            } else if !address.isLocal && !allowNonLoopback {
                issue(
                    .nonLoopback, field,
                    "'\(address.host)' is not a loopback address (127.0.0.0/8, ::1, localhost); set gateway.allow_non_loopback: true to listen on it"
                )
            }
        }
    }

    private mutating func checkRewards(_ spec: TopologySpec, names: Set<String>, namesComplete: Bool) {
        for agent in spec.rewards.inner.keys.sorted() {
            let field = FieldPath.key("rewards.inner", agent)
            let metric = spec.rewards.inner[agent]!
            if namesComplete && !names.contains(agent) {
                issue(.unknownAgent, field, "no agent is named '\(agent)'\(Suggest.hint(agent, names))")
            }
            if metric.isBlank { issue(.invalidValue, field, "the inner reward must name a metric") }
            if let own = spec.agent(named: agent)?.innerReward, own != metric {
                issue(.invalidValue, field, "conflicts with the agent's own inner_reward '\(own)'")
            }
        }
        let outer = spec.rewards.outer
        if outer.metric.isBlank && !poisoned.contains("rewards.outer.metric") {
            issue(.invalidValue, "rewards.outer.metric", "the outer reward must name a metric")
        }
        if let budget = outer.latencyBudgetMilliseconds, budget <= 0 {
            issue(.outOfRange, "rewards.outer.latency_budget_ms", "latency_budget_ms must be positive, found \(budget)")
        }
        if let floor = outer.diversityFloor, !(0...1).contains(floor) {
            issue(
                .outOfRange, "rewards.outer.diversity_floor",
                "diversity_floor must be in 0…1, found \(Self.format(floor))")
        }
    }

    // MARK: - Reporting

    private mutating func issue(_ code: ValidationIssue.Code, _ field: String, _ message: String) {
        if poisoned.contains(where: { FieldPath.isWithin(field, $0) }) { return }
        let location = sourceMap.locate(field)
        issues.append(
            ValidationIssue(
                code: code, file: file, line: location?.line ?? 0, column: location?.column ?? 0, field: field,
                message: message))
    }

    static func format(_ number: Double) -> String {
        if number.isInfinite { return number < 0 ? "-∞" : "∞" }
        if number.rounded() == number && abs(number) < 1e15 { return String(Int(number)) }
        return String(number)
    }

    private static func range(_ spec: ParameterSpec) -> String {
        "\(format(spec.min ?? -.infinity))…\(format(spec.max ?? .infinity))"
    }

    private static func listing(_ kind: KindDescriptor) -> String {
        kind.parameters.isEmpty ? " (it has none)" : "; it has: \(kind.parameters.map(\.name).joined(separator: ", "))"
    }
}

extension String {
    var isBlank: Bool { allSatisfy(\.isWhitespace) }
}
