import AgentProtocol
import AgentRuntime
import AgenticTesting
import Foundation
import Testing
import Topology

@testable import Agents

/// The property the binding exists for: every parameter the catalogue declares is honoured
/// by the live agent. For each kind with an agent and each declared parameter, the agent is
/// made through `AgentKinds.factory(spec:data:)` with the parameter at its default and
/// at another valid value, and must answer at least one fixed request differently.
@Suite("Every declared parameter changes its agent's answer", .serialized, .computeBound)
struct ParameterPropertyTests {
    /// Another valid value per (kind, parameter), and the other parameters that give it a
    /// meaning. Every declared parameter must be here (the test says which is missing).
    static let variations: [String: [String: [(value: ParameterValue, given: [String: ParameterValue])]]] = [
        "router": ["cold_max_history": [(20, [:])], "light_max_history": [(1, [:])]],
        "recall.popularity": ["k": [(10, [:])]],
        "recall.itemknn": [
            "k": [(10, [:])], "neighbours": [(5, [:])], "shrinkage": [(0.0, [:])], "rating_exponent": [(1.0, [:])],
        ],
        "recall.rp3beta": [
            "k": [(10, [:])], "alpha": [(0.5, [:])], "beta": [(0.0, [:])], "neighbours": [(5, [:])],
            "rating_exponent": [(1.0, [:])],
        ],
        "recall.ease": [
            "k": [(10, [:])], "lambda": [(20.0, [:])], "dropout": [(1.0, [:])], "zero_diagonal": [(false, [:])],
            "rating_exponent": [(1.0, [:])], "user_normalization": [(0.5, [:])],
        ],
        "recall.content": [
            "k": [(10, [:])], "genre_weight": [(0.2, [:])], "year_weight": [(0.9, [:])], "title_weight": [(1.0, [:])],
        ],
        "recall.als": [
            "k": [(10, [:])], "factors": [(8, [:])], "reg": [(5.0, [:])], "alpha": [(1.0, [:])],
            "iterations": [(2, [:])], "rating_exponent": [(1.0, [:])],
        ],
        "recall.static": ["k": [(5, [:])], "items": [("7,8,9", [:])]],
        "fusion": ["method": [("rank", [:]), ("weighted", [:])], "weight.ease": [(0.2, [:])]],
        "rank.learned": [
            "k": [(10, [:])], "l2": [(5.0, [:]), (5.0, ["model": "boosted"])],
            "model": [("boosted", [:]), ("none", [:])],
            // Tree settings mean something only for boosted trees.
            "trees": [(20, ["model": "boosted"])], "depth": [(2, ["model": "boosted"])],
            "learning_rate": [(0.3, ["model": "boosted"])],
        ],
        "rank.passthrough": ["k": [(5, [:])]],
        "rerank.mmr": [
            "k": [(3, [:])], "lambda": [(1.0, [:])], "genre_cap": [(1, [:])], "popularity_penalty": [(1.0, [:])],
        ],
    ]

    /// Parameters that may leave every answer of this test unchanged, and why. Keep it short.
    static let exceptions: Set<String> = []

    /// Kinds with no agent to ask here.
    /// The store and the trainer serve no decisions; their parameters act on the database and
    /// on the training loop (the trainer's cluster test changes them).
    static let skipped: Set<String> = ["store", "trainer"]
    /// `training_snapshot` names a snapshot in an artifact directory, which agents made here do
    /// not have: `ArtifactTests` checks it changes the data a model fits on.
    static let skippedParameters: Set<String> = ["training_snapshot"]

    /// One agent per kind. The ranker reads its routes and fusion from this graph, so the
    /// static route and the pass-through sit beside it, not in fusion's inputs.
    static let topology = """
        epoch: 0
        name: every-kind
        agents:
          - { name: router, kind: router }
          - { name: popularity, kind: recall.popularity }
          - { name: itemknn, kind: recall.itemknn }
          - { name: rp3beta, kind: recall.rp3beta }
          - { name: ease, kind: recall.ease }
          - { name: content, kind: recall.content }
          - { name: als, kind: recall.als }
          - { name: static, kind: recall.static }
          - { name: fusion, kind: fusion }
          - { name: ranker, kind: rank.learned }
          - { name: passthrough, kind: rank.passthrough }
          - { name: mmr, kind: rerank.mmr }
        edges:
          - { from: router, to: popularity }
          - { from: router, to: itemknn }
          - { from: router, to: rp3beta }
          - { from: router, to: ease }
          - { from: router, to: content }
          - { from: router, to: als }
          - { from: router, to: static }
          - { from: popularity, to: fusion }
          - { from: itemknn, to: fusion }
          - { from: rp3beta, to: fusion }
          - { from: ease, to: fusion }
          - { from: content, to: fusion }
          - { from: als, to: fusion }
          - { from: fusion, to: ranker }
          - { from: static, to: passthrough }
          - { from: ranker, to: mmr }
          - { from: passthrough, to: mmr }
        gateway: { entry: router, exit: mmr }
        """

    /// Known users, and one who arrived later and rated three items below the top rating
    /// (so live scoring's rating weights matter).
    static let users = ["1", "2", "3", "4", "newcomer"]
    static let ratings = [("2", 3.0), ("6", 4.0), ("10", 3.0)]

    let directory: ShortDirectory
    let data: DataConfiguration
    let spec: TopologySpec

    init() throws {
        directory = try ShortDirectory()
        data = DataConfiguration(directory: try Fixture.write(to: directory.path + "/ml"))
        spec = try TopologyValidator.load(source: Self.topology, file: "every-kind.yaml")
    }

    /// `spec` with `agent`'s parameters set to `values`.
    func spec(_ agent: String, _ values: [String: ParameterValue]) throws -> TopologySpec {
        var copy = spec
        let index = try #require(copy.agents.firstIndex { $0.name == agent })
        copy.agents[index].parameters.merge(values) { _, new in new }
        return copy
    }

    /// The agent `name` of `spec`, made as `agentic agent` makes it, having heard the
    /// newcomer's ratings.
    func make(_ name: String, in spec: TopologySpec) async throws -> any Agent {
        let factory = AgentKinds.factory(spec: spec, data: data)
        let agent = try factory.make(AgentContext(spec: spec, agent: name, replica: 0, catalogue: factory.catalogue))
        for (item, rating) in Self.ratings {
            await agent.feedback(
                Array(#"{"user": "newcomer", "item": "\#(item)", "event": "rating", "value": \#(rating)}"#.utf8))
        }
        return agent
    }

    /// The agents at their defaults, and what each is given per user.
    struct Upstream {
        var agents: [String: any Agent] = [:]
        var inputs: [String: [AgentOutput]] = [:]
    }

    /// The inputs a downstream agent gets for `user`: what its predecessors answer at their
    /// defaults, in topology order.
    func inputs(of name: String, user: String, upstream: inout Upstream) async throws -> [AgentOutput] {
        if let known = upstream.inputs[name + "|" + user] { return known }
        var outputs: [AgentOutput] = []
        for predecessor in spec.graph.predecessors(of: name) {
            let request = DecisionRequest(
                requestID: "p", user: user, k: 10, epoch: 0,
                inputs: try await inputs(of: predecessor, user: user, upstream: &upstream))
            if upstream.agents[predecessor] == nil {
                upstream.agents[predecessor] = try await make(predecessor, in: spec)
            }
            outputs.append(try await upstream.agents[predecessor]!.decide(request))
        }
        upstream.inputs[name + "|" + user] = outputs
        return outputs
    }

    /// What the agent answers for every test user: items, scores and segment.
    func answers(_ agent: any Agent, inputs: [String: [AgentOutput]]) async throws -> [AgentOutput] {
        var answers: [AgentOutput] = []
        for user in Self.users {
            answers.append(
                try await agent.decide(
                    DecisionRequest(requestID: "t", user: user, k: 10, epoch: 0, inputs: inputs[user] ?? [])))
        }
        return answers
    }

    @Test("every parameter of every kind with an agent changes an answer")
    func everyParameterMatters() async throws {
        let catalogue = KindCatalogue.builtin
        var upstream = Upstream()
        var unchanged: [String] = []
        var checked = 0
        for kind in catalogue.names where !Self.skipped.contains(kind) {
            let descriptor = try #require(catalogue[kind])
            let name = try #require(spec.agents.first { $0.kind == kind }?.name, "the test topology has no \(kind)")
            var inputs: [String: [AgentOutput]] = [:]
            for user in Self.users { inputs[user] = try await self.inputs(of: name, user: user, upstream: &upstream) }
            var parameters = descriptor.parameters.map(\.name).filter {
                !$0.hasSuffix(".*") && !Self.skippedParameters.contains($0)
            }
            if kind == "fusion" { parameters.append("weight.ease") }
            var baselines: [[String: ParameterValue]: [AgentOutput]] = [:]
            for parameter in parameters {
                let variations = try #require(
                    Self.variations[kind]?[parameter], "no variation for \(kind).\(parameter)")
                let spec = try #require(descriptor.parameter(named: parameter))
                for (value, given) in variations {
                    #expect(value != spec.defaultValue, "\(kind).\(parameter): \(value) is the default")
                    if let number = value.number {
                        #expect(
                            number >= (spec.min ?? -.infinity) && number <= (spec.max ?? .infinity),
                            "\(kind).\(parameter)")
                    }
                    if baselines[given] == nil {
                        baselines[given] = try await answers(make(name, in: self.spec(name, given)), inputs: inputs)
                    }
                    var changed = given
                    changed[parameter] = value
                    let varied = try await answers(make(name, in: self.spec(name, changed)), inputs: inputs)
                    checked += 1
                    if varied == baselines[given] { unchanged.append("\(kind).\(parameter)=\(value) given \(given)") }
                }
            }
        }
        let unexpected = unchanged.filter { entry in !Self.exceptions.contains { entry.hasPrefix($0 + "=") } }
        #expect(unexpected.isEmpty, "parameters that change nothing: \(unexpected)")
        #expect(checked >= 40)
    }
}
