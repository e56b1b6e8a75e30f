import AgenticTesting
import Foundation
import Testing
import Topology

@testable import Evolution

/// A known objective over topologies, so the loop can be tested without data: more good routes, a
/// well-tuned item-kNN and a ranker help; a ranker without a re-ranker breaks the diversity floor.
actor SyntheticObjective: TopologyObjective {
    private(set) var stages: [Stage] = []
    private(set) var calls = 0

    func evaluate(_ spec: TopologySpec, stage: Stage, fraction: Double) throws(EvolutionError) -> TopologyMeasurement {
        stages.append(stage)
        calls += 1
        let kinds = Set(spec.agents.map(\.kind))
        var ndcg = 0.05
        for (kind, gain) in [("recall.ease", 0.06), ("recall.rp3beta", 0.04), ("recall.als", 0.02)] where kinds.contains(kind) {
            ndcg += gain
        }
        var innerRewards: [String: Double] = [:]
        if let knn = spec.agents.first(where: { $0.kind == "recall.itemknn" }) {
            let n = knn.parameters["neighbours"]?.number ?? 100
            let fit = max(0, 1 - abs(log10(n / 300)))
            ndcg += 0.04 * fit
            innerRewards[knn.name] = 0.2 + 0.3 * fit
        }
        let ranker = kinds.contains("rank.learned"), reranker = kinds.contains("rerank.mmr")
        if ranker { ndcg += 0.03 }
        if reranker { ndcg -= 0.005 }
        let ild = ranker && !reranker ? 0.2 : 0.6
        return TopologyMeasurement(metrics: ["ndcg@10": ndcg, "ild@10": ild, "coverage@10": 0.3], innerRewards: innerRewards, seconds: 0)
    }
}

@Suite(.computeBound) struct EvolverTests {
    @Test func evolutionImprovesOnValidAndRecordsTheLineage() async throws {
        let weak = try Fixtures.topology("weak.yaml")
        let objective = SyntheticObjective()
        let journal = MemoryJournal()
        let evolver = Evolver(
            objective: objective, journal: journal,
            configuration: .init(rounds: 4, trialsPerAgent: 6, maxTuneSweeps: 1, proposalsPerRound: 12, seed: 4))
        let outcome = try await evolver.run(weak)

        #expect(outcome.bestVerdict.reward > outcome.startVerdict.reward + 0.05,
                "start \(outcome.startVerdict.reward) best \(outcome.bestVerdict.reward)")
        #expect(outcome.bestVerdict.feasible)
        #expect((outcome.bestValid.metrics["ild@10"] ?? 0) >= 0.3)
        #expect(outcome.best.epoch == weak.epoch + 1)
        guard case .success = TopologyValidator.validate(outcome.best) else { Issue.record("best is invalid"); return }
        // Test data is never used to choose.
        #expect(await objective.stages.allSatisfy { $0 == .valid })

        let entries = await journal.entries
        #expect(entries.first?.source == .start)
        #expect(entries.last?.source == .final)
        #expect(entries.map(\.sequence) == Array(1...entries.count))
        let sources = Set(entries.map(\.source))
        #expect(sources.isSuperset(of: [.tuner, .composer, .offline]))
        let accepted = entries.filter { $0.decision == .accepted }
        #expect(accepted.count == outcome.accepted)
        // Every adoption raised the reward on valid, or made the topology feasible.
        var last = outcome.startVerdict.reward
        for entry in accepted {
            let reward = try #require(entry.outerReward)
            #expect(reward >= last - 1e-9 || (entry.metrics?["ild@10"] ?? 0) >= 0.3)
            last = reward
        }
        // A winning tuner trial changed the item-kNN's version.
        if accepted.contains(where: { $0.source == .tuner && $0.agent == "itemknn" }) {
            #expect(outcome.best.agent(named: "itemknn")?.version != weak.agent(named: "itemknn")?.version)
        }
    }

    @Test func theSameSeedGivesTheSameLineage() async throws {
        func run() async throws -> [String] {
            let journal = MemoryJournal()
            let evolver = Evolver(
                objective: SyntheticObjective(), journal: journal,
                configuration: .init(rounds: 2, trialsPerAgent: 4, maxTuneSweeps: 1, proposalsPerRound: 6, seed: 9))
            _ = try await evolver.run(try Fixtures.topology("weak.yaml"))
            return await journal.entries.map {
                "\($0.source) \($0.decision) \($0.edits) \(($0.parameters ?? [:]).sorted { $0.key < $1.key }) \($0.outerReward ?? -1)"
            }
        }
        #expect(try await run() == run())
    }

    @Test func theJournalFileRoundTrips() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("lineage-\(UUID().uuidString).jsonl").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let journal = try JSONLinesJournal(path: path)
        let evolver = Evolver(
            objective: SyntheticObjective(), journal: journal,
            configuration: .init(rounds: 1, trialsPerAgent: 3, maxTuneSweeps: 1, proposalsPerRound: 4, seed: 2))
        _ = try await evolver.run(try Fixtures.topology("weak.yaml"))
        let entries = try JSONLinesJournal.read(path: path)
        #expect(entries.count > 5)
        #expect(entries.contains { $0.decision == .trial && $0.parameters?["neighbours"] != nil })
    }

    @Test func aBudgetStopsTheSearch() async throws {
        let evolver = Evolver(
            objective: SyntheticObjective(),
            configuration: .init(rounds: nil, budget: .milliseconds(1), trialsPerAgent: 50, proposalsPerRound: 50))
        let outcome = try await evolver.run(try Fixtures.topology("weak.yaml"))
        #expect(outcome.evaluations < 20)
    }

    @Test func rewardsFollowTheTopology() async throws {
        let weak = try Fixtures.topology("weak.yaml")
        let evolver = Evolver(objective: SyntheticObjective())
        let m = TopologyMeasurement(metrics: ["ndcg@10": 0.3, "recall@200": 0.5], innerRewards: ["itemknn": 0.7])
        // An agent with its own metric answers to it; one declaring `outer` answers to the outer reward.
        #expect(await evolver.innerReward(of: "itemknn", in: weak, m) == 0.7)
        #expect(await evolver.innerReward(of: "popularity", in: weak, m) == 0.5)
        #expect(await evolver.innerReward(of: "router", in: weak, m) == 0.3)
        #expect(await evolver.innerReward(of: "fusion", in: weak, m) == 0.3)
    }
}
