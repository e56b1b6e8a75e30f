import Topology

/// Proposals without a model: structured mutations of the current topology (one to three random
/// composer edits) and recombinations of past good topologies (parameters and routes of one elite
/// topology carried into the current one). Seeded, so a run is reproducible.
public actor OfflineProposer: Proposer {
    private var generator: SeededGenerator
    private let composer: Composer
    public nonisolated var name: String { "offline" }

    public init(composer: Composer = Composer(), seed: UInt64 = 7) {
        self.composer = composer
        self.generator = SeededGenerator(seed: seed)
    }

    public func propose(_ context: ArchitectContext) throws(EvolutionError) -> Proposal {
        let others = context.elite.filter { $0 != context.current }
        if !others.isEmpty, generator.next() % 2 == 0 {
            let parent = others[Int(generator.next() % UInt64(others.count))]
            let edits = recombine(context.current, parent)
            if !edits.isEmpty { return Proposal(rationale: "recombination with a past good topology", edits: Array(edits.prefix(4))) }
        }
        var spec = context.current
        var edits: [Edit] = []
        let count = 1 + Int(generator.next() % 3)
        for _ in 0..<count {
            guard let edit = composer.randomEdit(for: spec, using: &generator),
                let next = try? composer.apply(edit, to: spec)
            else { continue }
            edits.append(edit)
            spec = next
        }
        guard !edits.isEmpty else { throw EvolutionError(.invalidProposal, "no edit applies to this topology") }
        return Proposal(rationale: "mutation", edits: edits)
    }

    /// Edits bringing into `current` some of `parent`'s routes and parameter values.
    func recombine(_ current: TopologySpec, _ parent: TopologySpec) -> [Edit] {
        var edits: [Edit] = []
        let currentRoutes = Set(composer.routes(current))
        let parentFusion = composer.fusion(parent).flatMap { parent.agent(named: $0) }
        for route in composer.routes(parent) where !currentRoutes.contains(route) && generator.next() % 2 == 0 {
            guard let agent = parent.agent(named: route) else { continue }
            edits.append(Edit(.addRoute, agent: route, kind: agent.kind, value: parentFusion?.parameters["weight.\(route)"] ?? .double(0.5)))
            for (name, value) in agent.parameters.sorted(by: { $0.key < $1.key }) where name != "k" {
                edits.append(Edit(.setParameter, agent: route, parameter: name, value: value))
            }
        }
        for edge in parent.edges {
            guard let mine = current.edges.first(where: { $0.from == edge.from && $0.to == edge.to }),
                mine.segments != edge.segments, generator.next() % 2 == 0
            else { continue }
            edits.append(Edit(.routeEdge, from: edge.from, to: edge.to, segments: edge.segments))
        }
        for agent in parent.agents {
            guard let mine = current.agent(named: agent.name), mine.kind == agent.kind else { continue }
            for (name, value) in agent.parameters.sorted(by: { $0.key < $1.key })
            where mine.parameters[name] != value && generator.next() % 2 == 0 {
                if name.hasPrefix("weight."), !currentRoutes.contains(String(name.dropFirst(7))) { continue }
                // A value outside the space this topology declares would only be refused.
                if let dimension = mine.decisionSpace[name], !dimension.admits(value) { continue }
                edits.append(Edit(.setParameter, agent: agent.name, parameter: name, value: value))
            }
        }
        return edits
    }
}
