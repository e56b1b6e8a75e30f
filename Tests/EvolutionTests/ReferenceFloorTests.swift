import Foundation
import Testing
import Topology

@testable import Evolution

/// MMR's `lambda` trades accuracy for diversity: the higher, the better NDCG@10 and the inner
/// reward, the lower ILD@10. The topology named `reference` measures ILD@10 0.7 on valid.
private actor TradeOffObjective: TopologyObjective {
    private(set) var evaluated: [(name: String, stage: Stage)] = []

    func evaluate(_ spec: TopologySpec, stage: Stage, fraction: Double) throws(EvolutionError) -> TopologyMeasurement {
        evaluated.append((spec.name, stage))
        if spec.name == "reference" {
            return TopologyMeasurement(metrics: ["ndcg@10": 0.1, "ild@10": 0.7, "coverage@10": 0.2], seconds: 0)
        }
        let lambda = spec.agent(named: "mmr")?.parameters["lambda"]?.number ?? 0
        return TopologyMeasurement(
            metrics: ["ndcg@10": 0.2 + 0.1 * lambda, "ild@10": 0.9 - 0.5 * lambda, "coverage@10": 0.3],
            innerRewards: ["mmr": lambda], seconds: 0)
    }
}

private func topology(name: String, lambda: Double) -> TopologySpec {
    TopologySpec(
        name: name,
        agents: [
            AgentSpec(name: "router", kind: "router"),
            AgentSpec(name: "items", kind: "recall.static"),
            AgentSpec(
                name: "mmr", kind: "rerank.mmr", parameters: ["lambda": .double(lambda)],
                decisionSpace: ["lambda": .double(0...1)], innerReward: "ndcg@10"),
        ],
        edges: [Edge(from: "router", to: "items"), Edge(from: "items", to: "mmr")],
        gateway: GatewaySpec(entry: ["router"], exit: "mmr"))
}

@Suite struct ReferenceFloorTests {
    @Test func aReferenceMeasuredOnValidSetsFloorsThatTheTunerRespects() async throws {
        let objective = TradeOffObjective()
        var configuration = Evolver.Configuration(rounds: 2, trialsPerAgent: 12, maxTuneSweeps: 2, proposalsPerRound: 0, seed: 3)
        configuration.reference = topology(name: "reference", lambda: 0)
        let evolver = Evolver(objective: objective, journal: MemoryJournal(), configuration: configuration)
        // λ = 0.9 is the most accurate start, but less diverse (ILD 0.45) than the reference.
        let outcome = try await evolver.run(topology(name: "start", lambda: 0.9))

        #expect(outcome.floors == ["ild@10": 0.7, "coverage@10": 0.2])
        #expect(!outcome.startVerdict.feasible)
        #expect(outcome.startVerdict.violations.contains { $0.contains("ild@10") && $0.contains("reference") })
        // The best is feasible: λ ≤ 0.4, and among feasible trials the tuner kept an accurate one.
        #expect(outcome.bestVerdict.feasible)
        let lambda = try #require(outcome.best.agent(named: "mmr")?.parameters["lambda"]?.number)
        #expect(lambda <= 0.4 && lambda > 0.1, "λ \(lambda)")
        // The reference was measured once, on valid; nothing was measured on test.
        let evaluated = await objective.evaluated
        #expect(evaluated.filter { $0.name == "reference" }.map(\.stage) == [.valid])
        #expect(evaluated.allSatisfy { $0.stage == .valid })
    }

    @Test func withoutAReferenceThereAreNoFloors() async throws {
        let evolver = Evolver(
            objective: TradeOffObjective(), journal: MemoryJournal(),
            configuration: .init(rounds: 1, trialsPerAgent: 4, proposalsPerRound: 0, seed: 3))
        let outcome = try await evolver.run(topology(name: "start", lambda: 0.9))
        #expect(outcome.floors.isEmpty)
        #expect(outcome.bestVerdict.feasible)
    }
}
