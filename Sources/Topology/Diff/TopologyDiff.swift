/// What changed between two topologies: for the coordinator's log, for a human reviewing an
/// evolution step, and (as JSON) for the knowledge base.
public struct TopologyDiff: Sendable, Equatable, Codable, CustomStringConvertible {
    /// One changed field, with both values rendered as YAML would show them (`nil` = absent).
    public struct FieldChange: Sendable, Equatable, Codable, CustomStringConvertible {
        /// The field's path, relative to what changed (e.g. `parameters.lambda`, `deadline_ms`).
        public var field: String
        /// The value before.
        public var old: String?
        /// The value after.
        public var new: String?

        public init(field: String, old: String?, new: String?) {
            self.field = field
            self.old = old
            self.new = new
        }

        public var description: String { "\(field) \(old ?? "(none)") -> \(new ?? "(none)")" }
    }

    /// The changes to one agent present in both topologies.
    public struct AgentChange: Sendable, Equatable, Codable, CustomStringConvertible {
        /// The agent's name.
        public var name: String
        /// Its changed fields: `kind`, `version`, `replicas`, `parameters.<p>`, `decision_space.<p>`,
        /// `restart`, `inner_reward`.
        public var changes: [FieldChange]

        public init(name: String, changes: [FieldChange]) {
            self.name = name
            self.changes = changes
        }

        public var description: String { "\(name): \(changes.map(\.description).joined(separator: "; "))" }
    }

    /// A change to an edge present in both topologies: which requests take it.
    public struct EdgeChange: Sendable, Equatable, Codable, CustomStringConvertible {
        /// The upstream agent.
        public var from: String
        /// The downstream agent.
        public var to: String
        /// The edge's `segments` before and after (`nil`: every request takes it).
        public var segments: FieldChange

        public init(from: String, to: String, segments: FieldChange) {
            self.from = from
            self.to = to
            self.segments = segments
        }

        public var description: String { "\(from) -> \(to): \(segments)" }
    }

    /// The epoch before.
    public var fromEpoch: Int
    /// The epoch after.
    public var toEpoch: Int
    /// Agents only in the new topology.
    public var agentsAdded: [String]
    /// Agents only in the old topology.
    public var agentsRemoved: [String]
    /// Agents in both whose spec changed.
    public var agentsChanged: [AgentChange]
    /// Edges only in the new topology.
    public var edgesAdded: [Edge]
    /// Edges only in the old topology.
    public var edgesRemoved: [Edge]
    /// Edges in both whose segments changed.
    public var edgesChanged: [EdgeChange]
    /// Changes to the gateway (`listen`, `nng`, `entry`, `exit`, `deadline_ms`, `allow_non_loopback`,
    /// `max_in_flight`, `max_queued`, `max_wait_ms`, `max_body_bytes`).
    public var gatewayChanges: [FieldChange]
    /// Changes elsewhere: `name`, `transport.*`, `rewards.*`.
    public var otherChanges: [FieldChange]

    /// The changes that turn `old` into `new`.
    public init(from old: TopologySpec, to new: TopologySpec) {
        fromEpoch = old.epoch
        toEpoch = new.epoch
        let oldNames = Set(old.agents.map(\.name))
        let newNames = Set(new.agents.map(\.name))
        agentsAdded = new.agents.map(\.name).filter { !oldNames.contains($0) }
        agentsRemoved = old.agents.map(\.name).filter { !newNames.contains($0) }
        agentsChanged = new.agents.compactMap { agent in
            guard let before = old.agent(named: agent.name) else { return nil }
            let changes = Self.changes(before, agent)
            return changes.isEmpty ? nil : AgentChange(name: agent.name, changes: changes)
        }
        // An edge is the pair of agents it joins; its segments are a change to it.
        let oldEdges = Dictionary(old.edges.map { (Edge(from: $0.from, to: $0.to), $0) }) { first, _ in first }
        let newEdges = Dictionary(new.edges.map { (Edge(from: $0.from, to: $0.to), $0) }) { first, _ in first }
        edgesAdded = new.edges.filter { oldEdges[Edge(from: $0.from, to: $0.to)] == nil }
        edgesRemoved = old.edges.filter { newEdges[Edge(from: $0.from, to: $0.to)] == nil }
        edgesChanged = new.edges.compactMap { edge in
            guard let before = oldEdges[Edge(from: edge.from, to: edge.to)], before.segments != edge.segments else {
                return nil
            }
            return EdgeChange(
                from: edge.from, to: edge.to,
                segments: FieldChange(
                    field: "segments", old: before.segments.map(YAMLWriter.list),
                    new: edge.segments.map(YAMLWriter.list)))
        }

        var gateway: [FieldChange] = []
        let (a, b) = (old.gateway, new.gateway)
        Self.compare("listen", a.listen.joined(separator: ", "), b.listen.joined(separator: ", "), into: &gateway)
        Self.compare("nng", a.nng, b.nng, into: &gateway)
        Self.compare("entry", a.entry.joined(separator: ", "), b.entry.joined(separator: ", "), into: &gateway)
        Self.compare("exit", a.exit, b.exit, into: &gateway)
        Self.compare("deadline_ms", String(a.deadlineMilliseconds), String(b.deadlineMilliseconds), into: &gateway)
        Self.compare("allow_non_loopback", String(a.allowNonLoopback), String(b.allowNonLoopback), into: &gateway)
        let limit = { (value: Int?) in value.map(String.init) ?? "default" }
        Self.compare("max_in_flight", limit(a.maximumInFlight), limit(b.maximumInFlight), into: &gateway)
        Self.compare("max_queued", limit(a.maximumQueued), limit(b.maximumQueued), into: &gateway)
        Self.compare("max_wait_ms", limit(a.maximumWaitMilliseconds), limit(b.maximumWaitMilliseconds), into: &gateway)
        Self.compare("max_body_bytes", limit(a.maximumBodyBytes), limit(b.maximumBodyBytes), into: &gateway)
        gatewayChanges = gateway

        var other: [FieldChange] = []
        Self.compare("name", old.name, new.name, into: &other)
        let (t, u) = (old.transport, new.transport)
        Self.compare("transport.kind", t.kind.rawValue, u.kind.rawValue, into: &other)
        Self.compare("transport.run_dir", t.runDirectory, u.runDirectory, into: &other)
        Self.compare("transport.host", t.host, u.host, into: &other)
        Self.compare("transport.base_port", String(t.basePort), String(u.basePort), into: &other)
        Self.compare(
            "transport.allow_non_loopback", String(t.allowNonLoopback), String(u.allowNonLoopback), into: &other)
        for agent in Set(old.rewards.inner.keys).union(new.rewards.inner.keys).sorted() {
            Self.compare("rewards.inner.\(agent)", old.rewards.inner[agent], new.rewards.inner[agent], into: &other)
        }
        let (r, s) = (old.rewards.outer, new.rewards.outer)
        Self.compare("rewards.outer.metric", r.metric, s.metric, into: &other)
        Self.compare(
            "rewards.outer.latency_budget_ms", r.latencyBudgetMilliseconds.map(String.init),
            s.latencyBudgetMilliseconds.map(String.init), into: &other)
        Self.compare(
            "rewards.outer.diversity_floor", r.diversityFloor.map(YAMLWriter.double),
            s.diversityFloor.map(YAMLWriter.double), into: &other)
        otherChanges = other
    }

    /// Whether the two topologies are the same apart from their epochs.
    public var isEmpty: Bool {
        agentsAdded.isEmpty && agentsRemoved.isEmpty && agentsChanged.isEmpty && edgesAdded.isEmpty
            && edgesRemoved.isEmpty && edgesChanged.isEmpty && gatewayChanges.isEmpty && otherChanges.isEmpty
    }

    /// One change per line: `+` added, `-` removed, `~` changed.
    public var description: String {
        var lines = ["topology epoch \(fromEpoch) -> \(toEpoch)\(isEmpty ? ": no changes" : "")"]
        lines += agentsAdded.map { "+ agent \($0)" }
        lines += agentsRemoved.map { "- agent \($0)" }
        lines += agentsChanged.map { "~ agent \($0)" }
        lines += edgesAdded.map { "+ edge \($0)" }
        lines += edgesRemoved.map { "- edge \($0)" }
        lines += edgesChanged.map { "~ edge \($0)" }
        lines += gatewayChanges.map { "~ gateway.\($0)" }
        lines += otherChanges.map { "~ \($0)" }
        return lines.joined(separator: "\n")
    }

    // Written by hand only so that a diff from a build without `edgesChanged` still decodes.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        fromEpoch = try container.decode(Int.self, forKey: .fromEpoch)
        toEpoch = try container.decode(Int.self, forKey: .toEpoch)
        agentsAdded = try container.decode([String].self, forKey: .agentsAdded)
        agentsRemoved = try container.decode([String].self, forKey: .agentsRemoved)
        agentsChanged = try container.decode([AgentChange].self, forKey: .agentsChanged)
        edgesAdded = try container.decode([Edge].self, forKey: .edgesAdded)
        edgesRemoved = try container.decode([Edge].self, forKey: .edgesRemoved)
        edgesChanged = try container.decodeIfPresent([EdgeChange].self, forKey: .edgesChanged) ?? []
        gatewayChanges = try container.decode([FieldChange].self, forKey: .gatewayChanges)
        otherChanges = try container.decode([FieldChange].self, forKey: .otherChanges)
    }

    private static func changes(_ old: AgentSpec, _ new: AgentSpec) -> [FieldChange] {
        var changes: [FieldChange] = []
        compare("kind", old.kind, new.kind, into: &changes)
        compare("version", old.version, new.version, into: &changes)
        compare("replicas", String(old.replicas), String(new.replicas), into: &changes)
        for name in Set(old.parameters.keys).union(new.parameters.keys).sorted() {
            compare(
                "parameters.\(name)", old.parameters[name].map(YAMLWriter.value),
                new.parameters[name].map(YAMLWriter.value),
                into: &changes, equal: old.parameters[name] == new.parameters[name])
        }
        for name in Set(old.decisionSpace.keys).union(new.decisionSpace.keys).sorted() {
            compare(
                "decision_space.\(name)", old.decisionSpace[name].map(YAMLWriter.dimension),
                new.decisionSpace[name].map(YAMLWriter.dimension), into: &changes)
        }
        if old.restart != new.restart {
            changes.append(FieldChange(field: "restart", old: restart(old.restart), new: restart(new.restart)))
        }
        compare("inner_reward", old.innerReward, new.innerReward, into: &changes)
        return changes
    }

    private static func restart(_ policy: RestartPolicy) -> String {
        "\(policy.strategy) \(policy.intensity)/\(policy.periodSeconds)s backoff \(policy.backoffMilliseconds)…\(policy.maxBackoffMilliseconds)ms"
    }

    private static func compare(
        _ field: String, _ old: String?, _ new: String?, into changes: inout [FieldChange], equal: Bool? = nil
    ) {
        if !(equal ?? (old == new)) { changes.append(FieldChange(field: field, old: old, new: new)) }
    }
}
