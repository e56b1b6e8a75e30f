import Testing
import Topology

@testable import Demo

/// The pure parts of the demo's plan: which parameter the hot swap moves, how the offline
/// search's find is carried onto what serves, and how its summary is read.
@Suite("The demo's plan")
struct PlanTests {
    @Test func theSwapMovesTheExitAgentsFirstNumericParameterATenthOfItsRange() throws {
        let spec = TopologySpec(
            name: "t",
            agents: [
                AgentSpec(name: "r", kind: "router", decisionSpace: ["k": .int(10...100)]),
                AgentSpec(
                    name: "m", kind: "rerank.mmr", parameters: ["lambda": .double(0.5)],
                    decisionSpace: ["a": .choice(["x", "y"]), "lambda": .double(0...1)]),
            ],
            edges: [Edge(from: "r", to: "m")], gateway: GatewaySpec(entry: ["r"], exit: "m"))
        let target = try #require(SwapTarget(spec))
        #expect(target.agent == "m")
        #expect(target.parameter == "lambda")
        #expect((target.from, target.to) == ("0.5", "0.6"))
    }

    @Test func atTheTopOfItsRangeTheSwapMovesDownAndSkipsIntegersThatWouldNotChange() throws {
        let spec = TopologySpec(
            name: "t",
            agents: [
                AgentSpec(
                    name: "r", kind: "router", parameters: ["a": .int(0), "k": .int(100)],
                    // From 0, a tenth of 0...1 rounds back to 0: no swap there.
                    decisionSpace: ["a": .int(0...1), "k": .int(10...100)]),
                AgentSpec(name: "m", kind: "rerank.mmr", parameters: ["lambda": .double(1)]),
            ],
            edges: [Edge(from: "r", to: "m")], gateway: GatewaySpec(entry: ["r"], exit: "m"))
        let target = try #require(SwapTarget(spec))
        #expect((target.agent, target.parameter) == ("r", "k"))
        #expect((target.from, target.to) == ("100", "91"))
        #expect(SwapTarget.format(1) == "1.0")
        #expect(SwapTarget.format(0.125) == "0.125")

        var fixed = spec
        fixed.agents[0].decisionSpace = ["mode": .choice(["a", "b"])]
        #expect(SwapTarget(fixed) == nil)
    }

    @Test func rebaseCarriesOnlyWhatTheSearchChangedOntoTheServedTopology() {
        let searched = TopologySpec(
            name: "t",
            agents: [
                AgentSpec(name: "a", kind: "recall.static", version: "1", parameters: ["k": .int(10)]),
                AgentSpec(name: "b", kind: "rerank.mmr", version: "1", parameters: ["lambda": .double(0.5)]),
                AgentSpec(name: "d", kind: "recall.static", version: "1"),
            ],
            edges: [Edge(from: "a", to: "b"), Edge(from: "d", to: "b")], gateway: GatewaySpec(entry: ["a", "d"], exit: "b"))
        // Meanwhile the hot swap changed b (a new version) and a's version moved on.
        var current = searched
        current.agents[1].parameters["lambda"] = .double(0.6)
        current.agents[1].version = "2"
        current.agents[0].version = "3"
        // The search changed a's k, dropped d, added c and rewired the edges.
        var found = searched
        found.agents[0].parameters["k"] = .int(20)
        found.agents[0].version = "9"
        found.agents.removeAll { $0.name == "d" }
        found.agents.append(AgentSpec(name: "c", kind: "recall.static"))
        found.edges = [Edge(from: "a", to: "b"), Edge(from: "c", to: "b")]

        let rebased = EvolutionCandidate.rebase(found, from: searched, onto: current)
        #expect(rebased.agents.map(\.name) == ["a", "b", "c"])
        // The search's change, under the served version.
        #expect(rebased.agent(named: "a")?.parameters["k"] == .int(20))
        #expect(rebased.agent(named: "a")?.version == "3")
        // The swap's change survives: the search did not touch b.
        #expect(rebased.agent(named: "b") == current.agents[1])
        #expect(rebased.edges == found.edges)
        #expect(rebased.gateway == current.gateway)

        // A find that differs only in versions changes nothing.
        var versions = searched
        versions.agents[2].version = "7"
        #expect(EvolutionCandidate.rebase(versions, from: searched, onto: current) == current)
    }

    @Test func theOfflineSearchIsReadFromItsJSONSummaryAndWithoutOneItFails() throws {
        let arguments = OfflineSearch.arguments(startFile: "s.yaml", directory: "d", data: "ml", budgetSeconds: 39.6)
        #expect(arguments.starts(with: ["evolve", "s.yaml", "--budget", "40s", "--no-test", "--json"]))
        let summary = try OfflineSearch.summary(
            ["{", #""start_valid_ndcg@10": 0.3, "best_valid_ndcg@10": 0.35,"#, #""evaluations": 12, "seconds": 40.5}"#],
            directory: "d")
        #expect(summary.metric == "ndcg@10")
        #expect((summary.startValid, summary.bestValid) == (0.3, 0.35))
        #expect((summary.evaluations, summary.seconds) == (12, 40.5))
        #expect(throws: DemoError(.search, "")) {
            try OfflineSearch.summary(["evolve: no data"], directory: "d")
        }
    }
}
