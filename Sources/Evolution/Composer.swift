import Foundation
public import Topology

/// One edit of a topology's graph or settings: what the composer draws, the architect proposes and
/// the lineage journal records. A flat record (an operation and its operands) so a chat model can
/// write it as JSON.
public struct Edit: Sendable, Equatable, Codable, CustomStringConvertible {
    /// What an edit does.
    public enum Operation: String, Sendable, Codable, CaseIterable {
        /// Add a recall route of `kind` (wired from the router into fusion with weight `value`).
        case addRoute = "add_route"
        /// Drop the recall route `agent` (and its fusion weight).
        case dropRoute = "drop_route"
        /// Set the fusion method to `value` (`zscore`, `rank`, `weighted`).
        case setFusionMethod = "set_fusion_method"
        /// Set fusion's weight of route `agent` to `value`.
        case setWeight = "set_weight"
        /// Insert a ranker of `kind` after fusion.
        case insertRanker = "insert_ranker"
        /// Remove the ranker.
        case removeRanker = "remove_ranker"
        /// Insert a re-ranker of `kind` at the end of the pipeline.
        case insertReranker = "insert_reranker"
        /// Remove the re-ranker.
        case removeReranker = "remove_reranker"
        /// Set `parameter` of `agent` to `value`.
        case setParameter = "set_parameter"
        /// Move a router segment boundary (`parameter` `cold_max_history` or `light_max_history`) to
        /// `value`, so those users take the edges of the other segment (see `route_edge`).
        case routeSegment = "route_segment"
        /// Let only the requests of `segments` take the edge `from` → `to`; no segments (or an
        /// empty list) lets every request take it.
        case routeEdge = "route_edge"
        /// Run `value` replicas of `agent`.
        case setReplicas = "set_replicas"
    }

    public var op: Operation
    public var agent: String?
    public var kind: String?
    public var parameter: String?
    public var value: ParameterValue?
    /// The upstream agent of the edge `route_edge` changes.
    public var from: String?
    /// The downstream agent of that edge.
    public var to: String?
    /// The segments whose requests take it; nil or empty: every request.
    public var segments: [String]?

    public init(
        _ op: Operation, agent: String? = nil, kind: String? = nil, parameter: String? = nil,
        value: ParameterValue? = nil, from: String? = nil, to: String? = nil, segments: [String]? = nil
    ) {
        self.op = op
        self.agent = agent
        self.kind = kind
        self.parameter = parameter
        self.value = value
        self.from = from
        self.to = to
        self.segments = segments
    }

    public var description: String {
        var parts = [op.rawValue]
        if let agent { parts.append(agent) }
        if let kind { parts.append(kind) }
        if let parameter { parts.append(parameter) }
        if let value { parts.append("= \(value)") }
        if let from, let to { parts.append("\(from) -> \(to)") }
        if op == .routeEdge {
            let segments = segments ?? []
            parts.append(segments.isEmpty ? "for every segment" : "for \(segments.joined(separator: ", "))")
        }
        return parts.joined(separator: " ")
    }
}

/// Compositional evolution: applies edits to a topology so that the result always validates, and
/// draws random applicable edits.
public struct Composer: Sendable {
    /// Options of a ``Composer``.
    public struct Configuration: Sendable {
        /// The kinds edits may use.
        public var catalogue: KindCatalogue
        /// Recall kinds `add_route` may draw; nil means every recall kind of the catalogue.
        public var routeKinds: [String]?
        /// The most recall routes a topology may have.
        public var maxRoutes: Int
        /// How often `add_route` draws each recall kind (relative; missing kinds weigh 1), so
        /// a search can favour the kinds known to be strong on its data.
        public var routeKindWeights: [String: Double] = [:]

        /// Parameters a new agent's decision space leaves out: list lengths, and the costly knobs
        /// (model family, tree counts, sweeps) that would make every trial a slow refit.
        public var untunedParameters: Set<String>

        /// Recall kinds that work from the user's history, which cold users barely have:
        /// `route_edge` proposals keep those users off them.
        public var historyRouteKinds: Set<String> = ["recall.itemknn", "recall.rp3beta", "recall.ease", "recall.als"]

        /// How often `randomEdit` draws each operation (relative; 0 never). Structural edits weigh
        /// more than single parameter changes, which the tuner covers.
        public var operationWeights: [Edit.Operation: Double]

        public init(
            catalogue: KindCatalogue = .builtin, routeKinds: [String]? = nil, routeKindWeights: [String: Double] = [:], maxRoutes: Int = 8,
            untunedParameters: Set<String> = ["k", "model", "trees", "depth", "learning_rate", "iterations", "factors"],
            operationWeights: [Edit.Operation: Double] = [
                .addRoute: 3, .dropRoute: 1, .setFusionMethod: 1, .setWeight: 2, .insertRanker: 2, .removeRanker: 1,
                .insertReranker: 2, .removeReranker: 1, .setParameter: 2, .routeSegment: 1, .routeEdge: 1, .setReplicas: 0.5,
            ]
        ) {
            self.catalogue = catalogue
            self.routeKinds = routeKinds
            self.routeKindWeights = routeKindWeights
            self.maxRoutes = maxRoutes
            self.untunedParameters = untunedParameters
            self.operationWeights = operationWeights
        }
    }

    public let configuration: Configuration

    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    var catalogue: KindCatalogue { configuration.catalogue }

    /// The recall kinds `add_route` may use.
    public var routeKinds: [String] {
        configuration.routeKinds ?? catalogue.names.filter { catalogue[$0]?.role == .recall }
    }

    // MARK: - Structure

    /// The names of agents whose kind has `role`, in file order.
    func agents(_ spec: TopologySpec, role: AgentRole) -> [String] {
        spec.agents.filter { catalogue[$0.kind]?.role == role }.map(\.name)
    }

    func fusion(_ spec: TopologySpec) -> String? { agents(spec, role: .fusion).first }

    /// The recall routes feeding fusion (or every recall agent when there is no fusion).
    func routes(_ spec: TopologySpec) -> [String] {
        let recall = agents(spec, role: .recall)
        guard let fusion = fusion(spec) else { return recall }
        let feeding = Set(spec.graph.predecessors(of: fusion))
        return recall.filter { feeding.contains($0) }
    }

    // MARK: - Applying

    /// `spec` with `edit` applied, validated against the catalogue; changed agents get a new version.
    /// - Throws: ``EvolutionError/Code/invalidEdit`` with the reason when the edit does not apply or
    ///   the result does not validate.
    public func apply(_ edit: Edit, to spec: TopologySpec) throws(EvolutionError) -> TopologySpec {
        var out = spec
        switch edit.op {
        case .addRoute: try addRoute(edit, &out)
        case .dropRoute: try dropRoute(edit, &out)
        case .setFusionMethod:
            let fusion = try need(fusion(out), "the topology has no fusion agent")
            try setParameter(&out, agent: fusion, name: "method", value: try need(edit.value, "set_fusion_method needs a value"))
        case .setWeight:
            let fusion = try need(fusion(out), "the topology has no fusion agent")
            let route = try need(edit.agent, "set_weight needs the route agent")
            guard routes(out).contains(route) else { throw invalid("'\(route)' is not a recall route feeding fusion") }
            try setParameter(&out, agent: fusion, name: "weight.\(route)", value: try need(edit.value, "set_weight needs a value"))
        case .insertRanker: try insertStage(edit, role: .rank, after: try need(fusion(out), "the topology has no fusion agent"), &out)
        case .removeRanker: try removeStage(role: .rank, &out)
        case .insertReranker: try insertStage(edit, role: .rerank, after: out.gateway.exit, &out)
        case .removeReranker: try removeStage(role: .rerank, &out)
        case .setParameter:
            try setParameter(
                &out, agent: try need(edit.agent, "set_parameter needs an agent"),
                name: try need(edit.parameter, "set_parameter needs a parameter"),
                value: try need(edit.value, "set_parameter needs a value"))
        case .routeSegment:
            let router = try need(agents(out, role: .router).first, "the topology has no router")
            let name = try need(edit.parameter, "route_segment needs cold_max_history or light_max_history")
            guard ["cold_max_history", "light_max_history"].contains(name) else {
                throw invalid("route_segment moves cold_max_history or light_max_history, not '\(name)'")
            }
            try setParameter(&out, agent: router, name: name, value: try need(edit.value, "route_segment needs a value"))
        case .routeEdge:
            let from = try need(edit.from, "route_edge needs from")
            let to = try need(edit.to, "route_edge needs to")
            guard let index = out.edges.firstIndex(where: { $0.from == from && $0.to == to }) else {
                throw invalid("there is no edge \(from) -> \(to)")
            }
            // No agent changes: the processes stay, only the gateway's routing does.
            out.edges[index].segments = edit.segments.flatMap { $0.isEmpty ? nil : $0 }
        case .setReplicas:
            let name = try need(edit.agent, "set_replicas needs an agent")
            guard let index = out.agents.firstIndex(where: { $0.name == name }) else { throw invalid("no agent named '\(name)'") }
            guard let replicas = edit.value?.int else { throw invalid("set_replicas needs a whole number") }
            out.agents[index].replicas = replicas
        }
        switch TopologyValidator.validate(out, file: "<proposal>", catalogue: catalogue) {
        case .success(let valid): return valid
        case .failure(let error):
            let reasons = error.issues.isEmpty ? [error.message] : error.issues.map { "\($0.field): \($0.message)" }
            throw invalid("the result does not validate: \(reasons.joined(separator: "; "))")
        }
    }

    /// `spec` with every edit applied in order.
    public func apply(_ edits: [Edit], to spec: TopologySpec) throws(EvolutionError) -> TopologySpec {
        var out = spec
        for edit in edits { out = try apply(edit, to: out) }
        return out
    }

    private func invalid(_ message: String) -> EvolutionError { EvolutionError(.invalidEdit, message) }

    private func need<T>(_ value: T?, _ message: String) throws(EvolutionError) -> T {
        guard let value else { throw invalid(message) }
        return value
    }

    private func setParameter(_ spec: inout TopologySpec, agent: String, name: String, value: ParameterValue)
        throws(EvolutionError)
    {
        guard let index = spec.agents.firstIndex(where: { $0.name == agent }) else { throw invalid("no agent named '\(agent)'") }
        guard let kind = catalogue[spec.agents[index].kind], kind.parameter(named: name) != nil else {
            throw invalid("kind '\(spec.agents[index].kind)' has no parameter '\(name)'")
        }
        if spec.agents[index].parameters[name] != value {
            spec.agents[index].parameters[name] = value
            spec.agents[index].version = Self.nextVersion(spec.agents[index].version)
        }
    }

    /// The version after `version`: `3` → `4`, anything else gains `.1` (`1.2` → `1.3`, `a` → `a.1`).
    public static func nextVersion(_ version: String) -> String {
        if let n = Int(version) { return String(n + 1) }
        if let dot = version.lastIndex(of: "."), let n = Int(version[version.index(after: dot)...]) {
            return version[..<dot] + "." + String(n + 1)
        }
        return version + ".1"
    }

    /// A fresh agent name for `kind` (`recall.ease` → `ease`, then `ease-2`, …).
    func freshName(_ kind: String, in spec: TopologySpec) -> String {
        let base = kind.split(separator: ".").last.map(String.init) ?? kind
        let taken = Set(spec.agents.map(\.name))
        if !taken.contains(base) { return base }
        var n = 2
        while taken.contains("\(base)-\(n)") { n += 1 }
        return "\(base)-\(n)"
    }

    /// The searchable ranges of a kind's numeric and choice parameters (all but `k`), so a new agent
    /// can be tuned at once: log scale where the range spans two decades above zero.
    public func defaultDecisionSpace(kind: String) -> [String: DecisionDimension] {
        guard let descriptor = catalogue[kind] else { return [:] }
        var space: [String: DecisionDimension] = [:]
        for parameter in descriptor.parameters
        where !configuration.untunedParameters.contains(parameter.name) && !parameter.name.hasSuffix(".*") {
            switch parameter.type {
            case .int, .double:
                guard let low = parameter.min, let high = parameter.max, low < high else { continue }
                let log = low > 0 && high / low >= 100
                space[parameter.name] = DecisionDimension(type: parameter.type, min: low, max: high, log: log)
            case .choice:
                if let values = parameter.values, values.count > 1 { space[parameter.name] = .choice(values) }
            default: continue
            }
        }
        return space
    }

    private func addRoute(_ edit: Edit, _ spec: inout TopologySpec) throws(EvolutionError) {
        let kind = try need(edit.kind, "add_route needs a kind")
        guard let descriptor = catalogue[kind] else { throw invalid("unknown agent kind '\(kind)'") }
        guard descriptor.role == .recall else { throw invalid("'\(kind)' is a \(descriptor.role) kind, not a recall route") }
        let fusion = try need(fusion(spec), "the topology has no fusion agent to feed")
        let existing = routes(spec)
        guard existing.count < configuration.maxRoutes else { throw invalid("already \(existing.count) routes, the most allowed") }
        let name = edit.agent ?? freshName(kind, in: spec)
        guard spec.agent(named: name) == nil else { throw invalid("an agent named '\(name)' already exists") }
        // The new route is fed by whatever feeds the existing routes (the router), else the entry.
        let feeders = existing.first.map { spec.graph.predecessors(of: $0) } ?? spec.gateway.entry
        let sibling = existing.first.flatMap { spec.agent(named: $0) }
        var parameters: [String: ParameterValue] = [:]
        if descriptor.parameter(named: "k") != nil, let k = sibling?.parameters["k"] { parameters["k"] = k }
        let k = parameters["k"]?.int ?? descriptor.parameter(named: "k")?.defaultValue?.int ?? 100
        let agent = AgentSpec(
            name: name, kind: kind, parameters: parameters, decisionSpace: defaultDecisionSpace(kind: kind),
            innerReward: sibling?.innerReward ?? "recall@\(k)")
        // Insert after the last route so the file reads in pipeline order.
        let position = existing.last.flatMap { last in spec.agents.firstIndex { $0.name == last } }.map { $0 + 1 } ?? spec.agents.count
        spec.agents.insert(agent, at: position)
        for feeder in feeders where feeder != name { spec.edges.append(Edge(from: feeder, to: name)) }
        spec.edges.append(Edge(from: name, to: fusion))
        if let index = spec.agents.firstIndex(where: { $0.name == fusion }) {
            let weight = edit.value?.number ?? 0.5
            spec.agents[index].parameters["weight.\(name)"] = .double(weight)
            // A fusion whose weights are tuned gets a dimension for the new route too.
            if spec.agents[index].decisionSpace.keys.contains(where: { $0.hasPrefix("weight.") }) {
                spec.agents[index].decisionSpace["weight.\(name)"] = .double(0...max(2, min(10, weight)))
            }
            spec.agents[index].version = Self.nextVersion(spec.agents[index].version)
        }
    }

    private func dropRoute(_ edit: Edit, _ spec: inout TopologySpec) throws(EvolutionError) {
        let name = try need(edit.agent, "drop_route needs the route agent")
        let existing = routes(spec)
        guard existing.contains(name) else { throw invalid("'\(name)' is not a recall route") }
        guard existing.count > 1 else { throw invalid("'\(name)' is the last recall route") }
        remove(name, &spec)
        if let fusion = fusion(spec), let index = spec.agents.firstIndex(where: { $0.name == fusion }) {
            spec.agents[index].parameters["weight.\(name)"] = nil
            spec.agents[index].decisionSpace["weight.\(name)"] = nil
            spec.agents[index].version = Self.nextVersion(spec.agents[index].version)
        }
    }

    private func remove(_ name: String, _ spec: inout TopologySpec) {
        spec.agents.removeAll { $0.name == name }
        spec.edges.removeAll { $0.from == name || $0.to == name }
        spec.rewards.inner[name] = nil
    }

    private func insertStage(_ edit: Edit, role: AgentRole, after anchor: String, _ spec: inout TopologySpec)
        throws(EvolutionError)
    {
        let kind = try need(edit.kind, "\(edit.op.rawValue) needs a kind")
        guard let descriptor = catalogue[kind] else { throw invalid("unknown agent kind '\(kind)'") }
        guard descriptor.role == role else { throw invalid("'\(kind)' is a \(descriptor.role) kind, not \(role)") }
        guard agents(spec, role: role).isEmpty else { throw invalid("the topology already has a \(role) agent") }
        guard spec.agent(named: anchor) != nil else { throw invalid("no agent named '\(anchor)'") }
        let name = edit.agent ?? freshName(role == .rank ? "ranker" : "rerank", in: spec)
        guard spec.agent(named: name) == nil else { throw invalid("an agent named '\(name)' already exists") }
        let agent = AgentSpec(
            name: name, kind: kind, decisionSpace: defaultDecisionSpace(kind: kind),
            innerReward: role == .rank ? "ndcg@100" : "ndcg@10")
        let position = (spec.agents.firstIndex { $0.name == anchor } ?? spec.agents.count - 1) + 1
        spec.agents.insert(agent, at: position)
        // Whatever the anchor fed now hangs off the new stage, for the same segments.
        spec.edges = spec.edges.map { $0.from == anchor ? Edge(from: name, to: $0.to, segments: $0.segments) : $0 }
        spec.edges.append(Edge(from: anchor, to: name))
        if spec.gateway.exit == anchor { spec.gateway.exit = name }
    }

    private func removeStage(role: AgentRole, _ spec: inout TopologySpec) throws(EvolutionError) {
        guard let name = agents(spec, role: role).first else { throw invalid("the topology has no \(role) agent") }
        let graph = spec.graph
        let predecessors = graph.predecessors(of: name), successors = graph.successors(of: name)
        if spec.gateway.exit == name {
            guard predecessors.count == 1 else { throw invalid("'\(name)' is the exit and has \(predecessors.count) inputs") }
            spec.gateway.exit = predecessors[0]
        }
        guard !spec.gateway.entry.contains(name) else { throw invalid("'\(name)' is an entry agent") }
        remove(name, &spec)
        for p in predecessors {
            for s in successors where !spec.edges.contains(where: { $0.from == p && $0.to == s }) {
                // The bridge is taken by the requests that took both edges it replaces.
                let segments = Self.common(graph.segments(from: p, to: name), graph.segments(from: name, to: s))
                if segments?.isEmpty == true { continue }
                spec.edges.append(Edge(from: p, to: s, segments: segments))
            }
        }
    }

    /// The segments in both lists; nil stands for every segment.
    private static func common(_ a: [String]?, _ b: [String]?) -> [String]? {
        guard let a else { return b }
        guard let b else { return a }
        return a.filter { b.contains($0) }
    }

    // MARK: - Random edits

    /// `route_edge` options that apply: keep cold users off the history-based routes (the edges
    /// into them taken by `light` and `heavy` only), or let every request take a restricted edge
    /// again. Each is tried, since a restriction must leave cold users a path to the exit.
    func edgeRoutings(_ spec: TopologySpec) -> [Edit] {
        guard !agents(spec, role: .router).isEmpty else { return [] }
        let routes = Set(routes(spec))
        var options: [Edit] = []
        for edge in spec.edges {
            if edge.segments != nil {
                options.append(Edit(.routeEdge, from: edge.from, to: edge.to))
            } else if routes.contains(edge.to), let kind = spec.agent(named: edge.to)?.kind,
                configuration.historyRouteKinds.contains(kind)
            {
                options.append(Edit(.routeEdge, from: edge.from, to: edge.to, segments: ["light", "heavy"]))
            }
        }
        return options.filter { (try? apply($0, to: spec)) != nil }
    }

    /// `value` kept inside the range `agent` declares for `parameter`, if it declares one: the
    /// validator holds parameters to their decision space.
    private func clamp(_ value: Double, _ agent: AgentSpec, _ parameter: String) -> Double {
        guard let d = agent.decisionSpace[parameter], let low = d.min, let high = d.max else { return value }
        return min(max(value, low), high)
    }

    /// A random edit that applies to `spec`: an operation drawn by weight, then one of its options.
    public func randomEdit(for spec: TopologySpec, using generator: inout SeededGenerator) -> Edit? {
        var options: [Edit] = []
        let existing = routes(spec)
        let present = Set(existing.compactMap { spec.agent(named: $0)?.kind })
        if fusion(spec) != nil, existing.count < configuration.maxRoutes {
            // Prefer kinds not yet present; a second route of a kind present is allowed but rarer.
            for kind in routeKinds where !present.contains(kind) {
                options.append(Edit(.addRoute, kind: kind, value: .double([0.3, 0.5, 1.0][Int(generator.next() % 3)])))
            }
        }
        if existing.count > 1 {
            // With restricted edges a route may be some segment's only way to the exit.
            let restricted = spec.edges.contains { $0.segments != nil }
            for route in existing {
                let edit = Edit(.dropRoute, agent: route)
                if !restricted || (try? apply(edit, to: spec)) != nil { options.append(edit) }
            }
        }
        if let fusion = fusion(spec), let agent = spec.agent(named: fusion) {
            for method in catalogue[agent.kind]?.parameter(named: "method")?.values ?? []
            where agent.parameters["method"]?.string != method {
                options.append(Edit(.setFusionMethod, value: .string(method)))
            }
            for route in existing {
                let current = agent.parameters["weight.\(route)"]?.number ?? 1
                let factor = [0.5, 0.7, 1.4, 2.0][Int(generator.next() % 4)]
                let weight = clamp(min(10, max(0, (current * factor * 100).rounded() / 100)), agent, "weight.\(route)")
                if weight != current { options.append(Edit(.setWeight, agent: route, value: .double(weight))) }
            }
        }
        let rankKinds = catalogue.names.filter { catalogue[$0]?.role == .rank }
        let rerankKinds = catalogue.names.filter { catalogue[$0]?.role == .rerank }
        if agents(spec, role: .rank).isEmpty, fusion(spec) != nil {
            for kind in rankKinds { options.append(Edit(.insertRanker, kind: kind)) }
        } else if !agents(spec, role: .rank).isEmpty {
            options.append(Edit(.removeRanker))
        }
        if agents(spec, role: .rerank).isEmpty {
            for kind in rerankKinds { options.append(Edit(.insertReranker, kind: kind)) }
        } else {
            options.append(Edit(.removeReranker))
        }
        if let router = agents(spec, role: .router).first.flatMap({ spec.agent(named: $0) }) {
            let cold = router.parameters["cold_max_history"]?.int ?? 5
            let light = router.parameters["light_max_history"]?.int ?? 30
            let newCold = Int(clamp(Double(max(0, min(light - 1, cold + [-2, -1, 1, 2][Int(generator.next() % 4)]))), router, "cold_max_history"))
            if newCold != cold { options.append(Edit(.routeSegment, parameter: "cold_max_history", value: .int(newCold))) }
            let newLight = Int(clamp(Double(max(cold + 1, min(500, Int((Double(light) * [0.7, 1.4][Int(generator.next() % 2)]).rounded())))), router, "light_max_history"))
            if newLight != light { options.append(Edit(.routeSegment, parameter: "light_max_history", value: .int(newLight))) }
        }
        options += edgeRoutings(spec)
        for agent in spec.agents where !agent.decisionSpace.isEmpty {
            guard let space = try? SearchSpace(agent.decisionSpace) else { continue }
            let index = Int(generator.next() % UInt64(space.dimensions.count))
            let u = space.isChoice(index) ? Double(Int(generator.next() % UInt64(space.categoryCount(index)))) : generator.unit()
            options.append(Edit(.setParameter, agent: agent.name, parameter: space.dimensions[index].name, value: space.value(index, at: u)))
        }
        if let agent = spec.agents.randomElement(using: &generator) {
            let replicas = agent.replicas + (agent.replicas > 1 && generator.next() % 2 == 0 ? -1 : 1)
            if (1...16).contains(replicas) { options.append(Edit(.setReplicas, agent: agent.name, value: .int(replicas))) }
        }
        // First an operation (by weight, among those with an option), then one of its options.
        let byOperation = Dictionary(grouping: options, by: \.op)
        let weighted = Edit.Operation.allCases.compactMap { op -> (Edit.Operation, Double)? in
            let weight = configuration.operationWeights[op] ?? 1
            return byOperation[op] != nil && weight > 0 ? (op, weight) : nil
        }
        let total = weighted.reduce(0) { $0 + $1.1 }
        guard total > 0 else { return nil }
        var r = generator.unit() * total
        var chosen = weighted[weighted.count - 1].0
        for (op, weight) in weighted {
            r -= weight
            if r < 0 {
                chosen = op
                break
            }
        }
        let choices = byOperation[chosen]!
        if chosen == .addRoute, !configuration.routeKindWeights.isEmpty {
            let weights = choices.map { max(0, configuration.routeKindWeights[$0.kind ?? ""] ?? 1) }
            var r = generator.unit() * weights.reduce(0, +)
            for (choice, weight) in zip(choices, weights) {
                r -= weight
                if r < 0 { return choice }
            }
        }
        return choices[Int(generator.next() % UInt64(choices.count))]
    }
}
