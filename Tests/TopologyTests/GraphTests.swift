import Testing
import Topology

@Suite("The topology graph")
struct GraphTests {
    @Test("topological order puts every agent after those that feed it")
    func topologicalOrder() throws {
        let graph = sampleSpec().graph
        let order = try #require(graph.topologicalOrder())
        #expect(order == ["router", "a", "b", "fusion", "rank"])
    }

    @Test("predecessors, successors and reachability")
    func neighbours() {
        var spec = sampleSpec()
        spec.agents.append(AgentSpec(name: "store", kind: "store"))
        let graph = spec.graph
        #expect(graph.predecessors(of: "fusion") == ["a", "b"])
        #expect(graph.successors(of: "router") == ["a", "b"])
        #expect(graph.reachableFromEntry == ["router", "a", "b", "fusion", "rank"])
        #expect(graph.reachable(from: ["b"]) == ["b", "fusion", "rank"])
    }

    @Test("cycles are found and named, a self-loop too")
    func cycles() {
        var spec = sampleSpec()
        spec.edges.append(Edge(from: "rank", to: "a"))
        spec.edges.append(Edge(from: "router", to: "router"))
        let graph = spec.graph
        #expect(graph.topologicalOrder() == nil)
        #expect(graph.cycles() == [["router"], ["a", "fusion", "rank"]])
    }
}
