import Testing
import Topology

@testable import Experiments

/// Where `agentic up --evolve` takes its candidates from when nothing can be judged offline.
@Suite("The evolve loop's proposals")
struct EvolveLoopTests {
    static func spec(space: [String: DecisionDimension]) -> TopologySpec {
        TopologySpec(
            name: "t",
            agents: [
                AgentSpec(name: "r", kind: "recall.static", parameters: ["k": .int(10)]),
                AgentSpec(name: "m", kind: "rerank.mmr", parameters: ["lambda": .double(0.5)], decisionSpace: space),
            ],
            edges: [Edge(from: "r", to: "m")], gateway: GatewaySpec(entry: ["r"], exit: "m"))
    }

    @Test func withoutOfflineJudgmentTheCandidateIsADecisionSpaceSampleOfOneAgent() async throws {
        let current = Self.spec(space: ["lambda": .double(0...1)])
        let loop = EvolveLoop(runDirectory: "/nonexistent", topologyPath: "/nonexistent/t.yaml")
        let (candidate, proposal, offline) = try #require(try await loop.propose(from: current, seed: 3))
        #expect(offline == nil)
        #expect(proposal.hasPrefix("decision-space sample of m: lambda="))
        // Only the tunable agent changed, inside its space.
        #expect(candidate.agents[0] == current.agents[0])
        let lambda = try #require(candidate.agents[1].parameters["lambda"]?.number)
        #expect(lambda != 0.5 && (0...1).contains(lambda))
        #expect(candidate.edges == current.edges)
    }

    @Test func withNothingTunableThereIsNoCandidate() async throws {
        let loop = EvolveLoop(runDirectory: "/nonexistent", topologyPath: "/nonexistent/t.yaml")
        #expect(try await loop.propose(from: Self.spec(space: [:]), seed: 3) == nil)
    }
}
