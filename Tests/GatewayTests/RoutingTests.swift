import AgentProtocol
import Testing
import Topology
@testable import Gateway

/// Agents in the test process: the router answers a fixed segment (or fails), a recall route
/// answers its own name as the item, fusion and `post` pass on what came in. Each call is recorded
/// with the agents whose outputs it got.
private actor FakeAgents {
    let segment: String?
    let failing: Set<String>
    private(set) var calls: [String: [String]] = [:]

    init(segment: String?, failing: Set<String> = []) {
        self.segment = segment
        self.failing = failing
    }

    func ask(_ agent: String, _ request: DecisionRequest) -> AgentOutput? {
        calls[agent] = request.inputs.map(\.agent)
        if failing.contains(agent) || (agent == "router" && segment == nil) { return nil }
        switch agent {
        case "router":
            return AgentOutput(agent: agent, version: "1", items: [], segment: segment)
        case "fusion", "post":
            return AgentOutput(agent: agent, version: "1", items: request.inputs.flatMap(\.items))
        default:
            return AgentOutput(agent: agent, version: "1", items: [ScoredItem(item: agent, score: 1)])
        }
    }

    var called: Set<String> { Set(calls.keys) }
}

/// The router feeds `pop` (every request), `warm` (light and heavy) and `deep` (heavy only);
/// `warm` reaches fusion through `post`, so skipping `warm` must skip `post` too.
private func routedSpec() throws -> TopologySpec {
    let spec = TopologySpec(
        epoch: 1, name: "routed",
        agents: [
            AgentSpec(name: "router", kind: "router"),
            AgentSpec(name: "pop", kind: "recall.static"),
            AgentSpec(name: "warm", kind: "recall.static"),
            AgentSpec(name: "deep", kind: "recall.static"),
            AgentSpec(name: "post", kind: "rank.passthrough"),
            AgentSpec(name: "fusion", kind: "fusion"),
        ],
        edges: [
            Edge(from: "router", to: "pop"),
            Edge(from: "router", to: "warm", segments: ["light", "heavy"]),
            Edge(from: "router", to: "deep", segments: ["heavy"]),
            Edge(from: "warm", to: "post"),
            Edge(from: "pop", to: "fusion"),
            Edge(from: "post", to: "fusion"),
            Edge(from: "deep", to: "fusion"),
        ],
        gateway: GatewaySpec(entry: ["router"], exit: "fusion"))
    return try TopologyValidator.validate(spec).get()
}

private func trace(_ agents: FakeAgents) async throws -> InProcessGraph.Trace {
    let graph = try InProcessGraph(spec: try routedSpec()) { name, request in await agents.ask(name, request) }
    return await graph.trace(user: "u1", k: 10)
}

@Suite("The walk follows the router's segment")
struct RoutingTests {
    @Test("a cold request runs only the unrestricted route; the others are skipped, not degraded")
    func coldSkipsRestrictedRoutes() async throws {
        let agents = FakeAgents(segment: "cold")
        let result = try await trace(agents)
        #expect(await agents.called == ["router", "pop", "fusion"])
        #expect(await agents.calls["fusion"] == ["pop"])
        #expect(result.skipped == ["warm", "deep", "post"])
        #expect(result.degraded.isEmpty)
        #expect(result.segment == "cold")
        #expect(result.items.map(\.item) == ["pop"])
        #expect(Set(result.outputs.keys) == ["router", "pop", "fusion"])
        #expect(result.outputs["router"]?.segment == "cold")
    }

    @Test("a light request takes the light route and what follows it, not the heavy one")
    func lightRunsItsRoutes() async throws {
        let agents = FakeAgents(segment: "light")
        let result = try await trace(agents)
        #expect(await agents.called == ["router", "pop", "warm", "post", "fusion"])
        #expect(await agents.calls["fusion"] == ["pop", "post"])
        #expect(result.skipped == ["deep"])
        #expect(Set(result.items.map(\.item)) == ["pop", "warm"])
    }

    @Test("a heavy request runs everything")
    func heavyRunsEverything() async throws {
        let agents = FakeAgents(segment: "heavy")
        let result = try await trace(agents)
        #expect(await agents.called == ["router", "pop", "warm", "deep", "post", "fusion"])
        #expect(await agents.calls["fusion"] == ["pop", "post", "deep"])
        #expect(result.skipped.isEmpty)
        #expect(result.segment == "heavy")
    }

    @Test("when the router fails no segment is known and every route runs")
    func routerFailureRunsEverything() async throws {
        let agents = FakeAgents(segment: nil)
        let result = try await trace(agents)
        #expect(await agents.called == ["router", "pop", "warm", "deep", "post", "fusion"])
        #expect(result.degraded == ["router"])
        #expect(result.skipped.isEmpty)
        #expect(result.segment == nil)
        #expect(Set(result.items.map(\.item)) == ["pop", "warm", "deep"])
    }

    @Test("a segment no edge can name counts as unknown: every route runs")
    func unknownSegmentRunsEverything() async throws {
        let agents = FakeAgents(segment: "vip")
        let result = try await trace(agents)
        #expect(await agents.called == ["router", "pop", "warm", "deep", "post", "fusion"])
        #expect(result.segment == "vip")
        #expect(result.skipped.isEmpty)
    }

    @Test("a route that failed still counts as run: fusion runs with what arrived, only the failure is degraded")
    func failedRouteIsDegradedNotSkipped() async throws {
        let agents = FakeAgents(segment: "light", failing: ["warm"])
        let result = try await trace(agents)
        #expect(await agents.called == ["router", "pop", "warm", "post", "fusion"])
        #expect(await agents.calls["post"] == [])
        #expect(result.degraded == ["warm"])
        #expect(result.skipped == ["deep"])
        #expect(result.items.map(\.item) == ["pop"])
    }

    @Test("recommend serves what trace serves")
    func recommendMatchesTrace() async throws {
        let agents = FakeAgents(segment: "cold")
        let graph = try InProcessGraph(spec: try routedSpec()) { name, request in await agents.ask(name, request) }
        let answer = await graph.recommend(user: "u1", k: 10)
        #expect(answer.items.map(\.item) == ["pop"])
        #expect(answer.degraded.isEmpty)
    }

    @Test("the gateway's plan shape carries each edge's segments")
    func shapeMasks() throws {
        let shape = try GraphShape(try routedSpec())
        #expect(shape.order == ["router", "pop", "warm", "deep", "post", "fusion"])
        #expect(shape.exit == 5)
        #expect(shape.isEntry == [true, false, false, false, false, false])
        let deep = try #require(shape.incoming[3].first)
        #expect(deep.from == 0)
        #expect(deep.segments.overlaps(SegmentMask(request: "heavy")))
        #expect(!deep.segments.overlaps(SegmentMask(request: "light")))
        #expect(deep.segments.overlaps(.every))
        #expect(shape.incoming[1].first?.segments == .every)
        #expect(SegmentMask(request: "vip") == .every)
    }
}
