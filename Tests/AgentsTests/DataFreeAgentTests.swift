import AgentProtocol
import Testing
import Topology

import AgentRuntime
@testable import Agents

/// The data-free agents' decisions and the parameter checks, in process.
@Suite("Data-free agents", .timeLimit(.minutes(2)))
struct DataFreeAgentTests {
    static let factory = AgentKinds.dataFree(includingTestKinds: false)

    static func context(_ kind: String, _ parameters: [String: ParameterValue] = [:], predecessors: [String] = [])
        -> AgentContext
    {
        AgentContext(name: "a", kind: factory.catalogue[kind]!, parameters: parameters, predecessors: predecessors)
    }

    static func request(_ inputs: [AgentOutput] = [], k: Int = 10) -> DecisionRequest {
        DecisionRequest(requestID: "r1", user: "u1", k: k, epoch: 0, inputs: inputs)
    }

    static func output(_ agent: String, _ items: [(String, Double)]) -> AgentOutput {
        AgentOutput(agent: agent, version: "1", items: items.map { ScoredItem(item: $0.0, score: $0.1) })
    }

    @Test("the router calls everyone cold without data, and segments by history when it is known")
    func routerSegments() async throws {
        let cold = try RouterAgent(Self.context("router"))
        let answer = try await cold.decide(Self.request([Self.output("x", [("1", 1)])]))
        #expect(answer.segment == "cold")
        #expect(answer.items.map(\.item) == ["1"])
        let known = try RouterAgent(Self.context("router", ["cold_max_history": 5, "light_max_history": 30])) { user in
            ["new": 2, "some": 10, "lots": 300][user]
        }
        #expect(await known.segment(historyCount: 2) == "cold")
        #expect(await known.segment(historyCount: 10) == "light")
        #expect(await known.segment(historyCount: 300) == "heavy")
        #expect(
            try await known.decide(DecisionRequest(requestID: "r", user: "lots", k: 5, epoch: 0)).segment == "heavy")
    }

    @Test("recall.static scores its items by position and keeps the first k")
    func staticRecall() async throws {
        let agent = StaticRecallAgent(Self.context("recall.static", ["items": "7, 8,9,7,10", "k": 3]))
        let items = try await agent.decide(Self.request()).items
        #expect(items.map(\.item) == ["7", "8", "9"])
        #expect(items.map(\.score) == [1, 0.75, 0.5])
        let builtin = StaticRecallAgent(Self.context("recall.static", ["k": 5]))
        #expect(try await builtin.decide(Self.request()).items.map(\.item) == ["1", "2", "3", "4", "5"])
    }

    @Test("weighted fusion sums weight times score over the routes")
    func weightedFusion() async throws {
        let agent = try FusionAgent(
            Self.context("fusion", ["method": "weighted", "weight.a": 1.0, "weight.b": 0.5], predecessors: ["a", "b"]))
        let fused = try await agent.decide(
            Self.request([Self.output("a", [("1", 1), ("2", 0.5)]), Self.output("b", [("2", 1), ("3", 0.8)])])
        ).items
        #expect(fused.map(\.item) == ["1", "2", "3"])
        #expect(fused.map(\.score) == [1, 1, 0.4])
    }

    @Test("zscore fusion makes routes on different scales comparable; rank fusion ignores scales")
    func zscoreAndRankFusion() async throws {
        let inputs = [Self.output("a", [("1", 1000), ("2", 0)]), Self.output("b", [("3", 0.2), ("4", 0.1)])]
        let zscore = try FusionAgent(Self.context("fusion", ["method": "zscore"], predecessors: ["a", "b"]))
        let z = await zscore.fuse(inputs)
        #expect(z.map { ($0.score * 1e9).rounded() / 1e9 } == [1, 1, -1, -1])
        #expect(Set(z.prefix(2).map(\.item)) == ["1", "3"])
        let rank = try FusionAgent(
            Self.context("fusion", ["method": "rank", "weight.b": 2.0], predecessors: ["a", "b"]))
        #expect(await rank.fuse(inputs).map(\.item) == ["3", "4", "1", "2"])
    }

    @Test("rank.passthrough keeps the order and truncates to k; rerank.mmr dedupes and truncates to the smaller k")
    func rankAndRerank() async throws {
        let input = Self.output("f", [("5", 3), ("4", 2), ("5", 1), ("3", 0.5), ("2", 0.1)])
        let rank = PassthroughRankAgent(Self.context("rank.passthrough", ["k": 3]))
        #expect(try await rank.decide(Self.request([input])).items.map(\.item) == ["5", "4", "3"])
        let rerank = MMRRerankAgent(Self.context("rerank.mmr", ["k": 10]))
        #expect(try await rerank.decide(Self.request([input], k: 2)).items.map(\.item) == ["5", "4"])
        #expect(try await rerank.decide(Self.request([input], k: 0)).items.map(\.item) == ["5", "4", "3", "2"])
    }

    @Test("parameters are validated against the kind: all or nothing")
    func parameterValidation() async throws {
        let agent = try FusionAgent(Self.context("fusion", ["method": "weighted"], predecessors: ["a", "b"]))
        try await agent.setParameters(["weight.a": "2.5", "method": "rank"])
        #expect(await agent.parameters["weight.a"] == .double(2.5))
        #expect(await agent.parameters["method"] == .string("rank"))
        for bad in [["method": "median"], ["weight.a": "11"], ["weight.c": "1"], ["nope": "1"], ["weight.a": "x"]] {
            await #expect(throws: AgentRuntimeError(.invalidParameter, "")) { try await agent.setParameters(bad) }
        }
        await #expect(throws: AgentRuntimeError(.invalidParameter, "")) {
            try await agent.setParameters(["weight.a": "3", "method": "median"])
        }
        #expect(await agent.parameters["weight.a"] == .double(2.5))
        let router = try RouterAgent(Self.context("router"))
        await #expect(throws: AgentRuntimeError(.invalidParameter, "")) {
            try await router.setParameters(["cold_max_history": "1.5"])
        }
        try await router.setParameters(["cold_max_history": "7"])
        #expect(await router.parameters["cold_max_history"] == .int(7))
    }

    @Test("a parameter write rebinds the rule the agent serves with")
    func writesRebind() async throws {
        let router = try RouterAgent(Self.context("router", ["cold_max_history": 5, "light_max_history": 30]))
        #expect(await router.segment(historyCount: 7) == "light")
        try await router.setParameters(["cold_max_history": "7"])
        #expect(await router.segment(historyCount: 7) == "cold")
        let fusion = try FusionAgent(Self.context("fusion", ["method": "weighted"], predecessors: ["a", "b"]))
        let inputs = [Self.output("a", [("1", 1)]), Self.output("b", [("2", 0.9)])]
        #expect(await fusion.fuse(inputs).map(\.item) == ["1", "2"])
        try await fusion.setParameters(["weight.b": "2"])
        #expect(await fusion.fuse(inputs).map(\.item) == ["2", "1"])
    }

    @Test("fusion weighs the inputs equally when every input with items weighs 0")
    func zeroWeights() async throws {
        let fusion = try FusionAgent(
            Self.context("fusion", ["method": "weighted", "weight.a": 0.0, "weight.b": 0.0], predecessors: ["a", "b"]))
        // Only zero-weighted routes answered: their scores decide, not the item ids.
        let fused = await fusion.fuse([Self.output("a", [("9", 3), ("1", 1)]), Self.output("b", [])])
        #expect(fused.map(\.item) == ["9", "1"])
        #expect(fused.map(\.score) == [3, 1])
        // A weighted route with items keeps the zero-weighted ones at zero.
        let mixed = try FusionAgent(
            Self.context("fusion", ["method": "weighted", "weight.a": 0.0], predecessors: ["a", "b"]))
        let both = await mixed.fuse([Self.output("a", [("9", 3)]), Self.output("b", [("1", 1)])])
        #expect(both.map(\.item) == ["1", "9"])
        #expect(both.map(\.score) == [1, 0])
    }

    @Test("the factory makes every data-free kind, knows the test kind only when asked, and refuses unknown kinds")
    func factory() throws {
        #expect(Self.factory.kinds == ["fusion", "rank.passthrough", "recall.static", "rerank.mmr", "router"])
        #expect(Self.factory.catalogue["test.probe"] == nil)
        #expect(AgentKinds.dataFree(includingTestKinds: true).catalogue["test.probe"] != nil)
        let ease = AgentContext(name: "e", kind: Self.factory.catalogue["recall.ease"]!)
        #expect(throws: AgentRuntimeError(.unknownKind, "")) { try Self.factory.make(ease) }
    }

    @Test("an agent's context comes from the topology: version, parameters with defaults, decision space, predecessors")
    func contextFromTopology() throws {
        let spec = try TopologyValidator.load(
            source: """
                epoch: 3
                name: t
                agents:
                  - { name: s, kind: recall.static, version: "7", replicas: 2, parameters: { k: 5 } }
                  - name: f
                    kind: fusion
                    inner_reward: ndcg@10
                    decision_space: { weight.s: { type: double, min: 0, max: 2 } }
                edges: [ { from: s, to: f } ]
                gateway: { entry: s, exit: f }
                """, file: "t.yaml")
        let s = try AgentContext(spec: spec, agent: "s", replica: 1, catalogue: Self.factory.catalogue)
        #expect(
            s.version == "7" && s.replica == 1 && s.parameters["k"] == .int(5) && s.parameters["items"] == .string(""))
        let f = try AgentContext(spec: spec, agent: "f", replica: 0, catalogue: Self.factory.catalogue)
        #expect(f.predecessors == ["s"] && f.innerRewardMetric == "ndcg@10" && f.decisionSpace["weight.s"] != nil)
        // No declared space: the kind's own ranges.
        #expect(s.decisionSpace["k"] == DecisionDimension.int(1...1000) && s.decisionSpace["items"] == nil)
        #expect(f.decisionSpace.count == 1)
        #expect(throws: AgentRuntimeError(.unknownAgent, "")) {
            try AgentContext(spec: spec, agent: "s", replica: 2, catalogue: Self.factory.catalogue)
        }
        #expect(throws: AgentRuntimeError(.unknownAgent, "")) {
            try AgentContext(spec: spec, agent: "x", replica: 0, catalogue: Self.factory.catalogue)
        }
    }
}
