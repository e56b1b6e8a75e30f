import AgentProtocol
import Evaluation
import Evolution
import Foundation
import Topology

/// `agentic up FILE --evolve`: in the coordinator's process, repeatedly take a candidate from
/// the offline evolution (one Evolver round judged on valid with the TopologyEvaluator) or, with
/// no data set, a Tuner sample of one agent's decision space; when it differs from the serving
/// topology (offline: when it won on valid), run it as a live experiment; continue from what
/// serves afterwards (the winner when promoted). Every experiment lands in the store.
public struct EvolveLoop: Sendable {
    var runDirectory: String
    var topologyPath: String
    var share = 0.5
    var budget = 2000
    var maximumDuration: Duration = .seconds(300)
    var idle: Duration = .seconds(5)

    public init(runDirectory: String, topologyPath: String) {
        self.runDirectory = runDirectory
        self.topologyPath = topologyPath
    }

    /// Runs until cancelled.
    /// - Parameters:
    ///   - emit: a line for stdout (each experiment's decision).
    ///   - warn: a line for stderr (a failed round).
    public func run(emit: @Sendable (String) -> Void, warn: @Sendable (String) -> Void) async {
        var seed: UInt64 = 1
        while !Task.isCancelled {
            seed &+= 1
            do {
                guard let current = try? TopologyValidator.load(contentsOf: RunLayout(runDirectory: runDirectory).topologyFile) else {
                    try await Task.sleep(for: idle)
                    continue
                }
                guard let (candidate, proposal, offline) = try await propose(from: current, seed: seed) else {
                    try await Task.sleep(for: idle)
                    continue
                }
                let outcome = try await LiveExperiment(
                    runDirectory: runDirectory, database: nil,
                    policy: ExperimentPolicy(test: SequentialTest(budget: budget)), share: share,
                    maximumDuration: maximumDuration
                ).run(candidate: candidate.renderYAML(), file: "evolve-\(seed).yaml", proposal: proposal, offlineResults: offline)
                emit("evolve: experiment \(outcome.experiment) \(outcome.decision): \(outcome.reason); epoch \(outcome.epoch)")
            } catch is CancellationError {
                return
            } catch {
                warn("evolve: \(error)")
                try? await Task.sleep(for: idle)
            }
        }
    }

    /// The next candidate, why, and its offline results; nil when there is none.
    func propose(from current: TopologySpec, seed: UInt64) async throws -> (TopologySpec, String, String?)? {
        // Offline judgment needs MovieLens kinds (the evaluator cannot fit `recall.static`).
        let fittable = Set(EvaluatorObjective.routeKinds)
        if let data = dataDirectory(), current.agents.contains(where: { fittable.contains($0.kind) }),
            !current.agents.contains(where: { $0.kind == "recall.static" })
        {
            let objective = try EvaluatorObjective(
                evaluator: TopologyEvaluator(configuration: .init(dataDirectory: data)))
            let journal = try JSONLinesJournal(path: runDirectory + "/lineage.jsonl")
            let evolver = Evolver(
                objective: objective, composer: Composer(configuration: .init(routeKinds: EvaluatorObjective.routeKinds)),
                journal: journal, configuration: .init(rounds: 1, trialsPerAgent: 4, proposalsPerRound: 4, seed: seed))
            let outcome = try await evolver.run(current)
            guard outcome.best.agents != outcome.start.agents || outcome.best.edges != outcome.start.edges else { return nil }
            let metric = current.rewards.outer.metric
            let offline = "valid \(metric): start \(outcome.startVerdict.reward), best \(outcome.bestVerdict.reward)"
            return (outcome.best, "evolve round (seed \(seed)): \(TopologyDiff(from: current, to: outcome.best))", offline)
        }
        // No data: a sample of one agent's decision space (nothing to judge offline).
        let tunable = current.agents.filter { !$0.decisionSpace.isEmpty }
        guard !tunable.isEmpty else { return nil }
        let agent = tunable[Int(seed % UInt64(tunable.count))]
        var tuner = Tuner(space: try SearchSpace(agent.decisionSpace), configuration: .init(seed: seed))
        let trial = tuner.ask()
        var candidate = current
        guard let index = candidate.agents.firstIndex(where: { $0.name == agent.name }) else { return nil }
        for (name, value) in trial.parameters { candidate.agents[index].parameters[name] = value }
        guard candidate.agents != current.agents else { return nil }
        return (candidate, "decision-space sample of \(agent.name): \(trial.parameters.keys.sorted().map { "\($0)=\(trial.parameters[$0]!)" }.joined(separator: " "))", nil)
    }

    /// The MovieLens folder the agents use, when there is one.
    func dataDirectory() -> String? {
        let topologyFolder = URL(fileURLWithPath: topologyPath).deletingLastPathComponent()
        var candidates: [String] = []
        if let given = ProcessInfo.processInfo.environment["AGENTIC_DATA"] { candidates.append(given) }
        candidates.append(topologyFolder.appendingPathComponent("../data/ml-100k").standardized.path)
        candidates.append(FileManager.default.currentDirectoryPath + "/data/ml-100k")
        return candidates.first { FileManager.default.fileExists(atPath: $0 + "/ml-100k.inter") }
    }
}
