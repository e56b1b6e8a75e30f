import AgentProtocol
import AgentRuntime
import AgenticTesting
import Foundation
import Gateway
import Testing
import Topology

@testable import Agents

/// A user nobody has seen is `cold`: the router's segment sends them to popularity and content
/// only, and since popularity's fusion weight is 0 (as in movielens.yaml) and content has no
/// history to go on, fusion weighs what arrived equally: the list is popularity's order, not
/// item-id order, and the co-occurrence route never runs for them.
@Suite(.computeBound) struct ColdUserTests {
    static let topology = """
        epoch: 0
        name: cold
        agents:
          - { name: router, kind: router, parameters: { cold_max_history: 4, light_max_history: 99 } }
          - { name: popularity, kind: recall.popularity, parameters: { k: 40 } }
          - { name: itemknn, kind: recall.itemknn, parameters: { k: 40, neighbours: 10 } }
          - { name: content, kind: recall.content, parameters: { k: 20 } }
          - name: fusion
            kind: fusion
            parameters: { weight.popularity: 0.0, weight.itemknn: 1.0, weight.content: 0.0 }
          - { name: mmr, kind: rerank.mmr, parameters: { k: 10, lambda: 1.0 } }
        edges:
          - { from: router, to: popularity }
          - { from: router, to: itemknn, segments: [light, heavy] }
          - { from: router, to: content }
          - { from: popularity, to: fusion }
          - { from: itemknn, to: fusion }
          - { from: content, to: fusion }
          - { from: fusion, to: mmr }
        gateway:
          listen: [ "http://127.0.0.1:0" ]
          entry: router
          exit: mmr
        """

    @Test func anUnknownUserGetsThePopularityOrderFromTheColdRoutes() async throws {
        let directory = try ShortDirectory()
        let data = DataConfiguration(directory: try Fixture.write(to: directory.path + "/ml"), training: .all)
        let spec = try TopologyValidator.load(source: Self.topology, file: "cold.yaml")
        let factory = AgentKinds.factory(spec: spec, data: data)
        var agents: [String: any Agent] = [:]
        for agent in spec.agents {
            agents[agent.name] = try factory.make(
                AgentContext(spec: spec, agent: agent.name, replica: 0, catalogue: factory.catalogue))
        }
        let walk = try InProcessGraph(spec: spec) { [agents] name, request in try? await agents[name]?.decide(request) }

        let cold = await walk.trace(user: "100000", k: 10)
        #expect(cold.segment == "cold")
        #expect(cold.skipped == ["itemknn"])
        let popular = try #require(cold.outputs["popularity"]).items.map(\.item)
        #expect(cold.items.map(\.item) == Array(popular.prefix(10)))
        // Item-id order would start 1, 2, 3: the fixture's popularity does not.
        #expect(cold.items.map(\.item) != (1...10).map(String.init))

        // A user with history runs every route.
        let warm = await walk.trace(user: "1", k: 10)
        #expect(warm.segment == "light")
        #expect(warm.skipped.isEmpty)
        #expect(warm.outputs["itemknn"] != nil)
    }
}
