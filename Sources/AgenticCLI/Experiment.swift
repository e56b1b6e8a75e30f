import AgentProtocol
import ArgumentParser
import Coordinator
import Evaluation
import Evolution
import Experiments
import Foundation
import Store
import Topology

/// `agentic experiment`: live experiments (canaries) on the running cluster.
struct ExperimentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "experiment",
        abstract: "Run a candidate topology beside the serving one on a share of live users, then promote or roll back.",
        subcommands: [ExperimentStart.self, ExperimentStatus.self])
}

/// `agentic experiment start FILE`: canary, watch, decide.
struct ExperimentStart: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "start",
        abstract: "Canary a topology file against the running cluster until a sequential test decides.",
        discussion: """
            The candidate's new or changed agents start beside the serving ones, gated like a swap; \
            the gateway sends the users a hash of (user, experiment) puts under --share through the \
            candidate's graph and logs every list with the experiment, the arm and its propensity. \
            Per arm, the reward of a list is whether it got a click (from the store, joined by \
            request id); an always-valid mixture SPRT decides: promote (a swap to the candidate, \
            new epoch), roll back when worse, or stop at the budget (control kept). Control is \
            re-applied as a new epoch carrying the reason. Every experiment is recorded in the \
            store's experiments table.
            """)

    @Argument(help: "The candidate topology file.") var file: String
    @Option(help: "The share of users sent to the candidate, in (0, 1).") var share = 0.5
    @Option(help: "Stop (keeping control) after this many lists served in the experiment.") var budget = 2000
    @Option(name: .customLong("max-seconds"), help: "Stop (keeping control) after this long.") var maxSeconds = 600.0
    @Option(help: "The test's false-decision rate under continuous monitoring.") var alpha = 0.05
    @Option(name: .customLong("min-per-arm"), help: "No decision before each arm served this many lists.") var minPerArm = 30
    @Option(help: "The run directory (default: /tmp/agentic-UID/default).") var runDir: String?
    @Option(help: "The store's database (default: store.sqlite in the run directory).") var database: String?
    @Flag(help: "Print the decision as one JSON object.") var json = false

    func run() async throws {
        let run = absolute(runDir ?? RunDirectory.defaultPath)
        let text: String
        do {
            text = try String(contentsOfFile: file, encoding: .utf8)
        } catch {
            printError("\(file): cannot read: \(error.localizedDescription)")
            throw ExitCode(1)
        }
        let outcome: ExperimentOutcome
        do {
            outcome = try await LiveExperiment(
                runDirectory: run, database: database.map(absolute),
                policy: ExperimentPolicy(test: SequentialTest(alpha: alpha, minimumPerArm: minPerArm, budget: budget)),
                share: share, maximumDuration: .seconds(maxSeconds)
            ).run(candidate: text, file: file, proposal: "canary \(file) share \(share)")
        } catch {
            printError("\(error)")
            throw ExitCode(1)
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(outcome), as: UTF8.self))
        } else {
            print("experiment \(outcome.experiment): \(outcome.decision): \(outcome.reason)")
            for arm in outcome.arms {
                print("  \(arm.arm): \(arm.lists) lists, \(arm.clicked) clicked, propensity \(arm.propensity.map { String(format: "%.2f", $0) } ?? "-")")
            }
            print("epoch \(outcome.epoch)")
        }
    }
}

/// `agentic experiment status`: the running experiment and its arms so far.
struct ExperimentStatus: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "The running experiment and its per-arm results.")

    @Option(help: "The run directory (default: /tmp/agentic-UID/default).") var runDir: String?
    @Option(help: "The store's database (default: store.sqlite in the run directory).") var database: String?
    @Flag(help: "Print one JSON object.") var json = false

    func run() async throws {
        let run = absolute(runDir ?? RunDirectory.defaultPath)
        guard let data = FileManager.default.contents(atPath: run + "/experiment.json"),
            let note = try? JSONDecoder().decode(ExperimentNote.self, from: data)
        else {
            print(json ? #"{"running":false}"# : "no experiment running")
            return
        }
        let path = database.map(absolute) ?? run + "/" + KnowledgeStore.defaultFileName
        let arms = (try? KnowledgeStore(path: path, create: false).experimentArms(experiment: note.experiment)) ?? []
        if json {
            struct Output: Encodable {
                var running = true
                var experiment: String
                var share: Double
                var epoch: Int
                var arms: [ExperimentArmCounts]
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(Output(experiment: note.experiment, share: note.share, epoch: note.epoch, arms: arms)), as: UTF8.self))
        } else {
            print("experiment \(note.experiment): share \(note.share) beside epoch \(note.epoch)")
            for arm in arms { print("  \(arm.arm): \(arm.lists) lists, \(arm.clicked) clicked") }
        }
    }
}

/// `agentic up FILE --evolve`: in the coordinator's process, repeatedly take a candidate from
/// the offline evolution (one Evolver round judged on valid with the TopologyEvaluator) or, with
/// no data set, a Tuner sample of one agent's decision space; when it differs from the serving
/// topology (offline: when it won on valid), run it as a live experiment; continue from what
/// serves afterwards (the winner when promoted). Every experiment lands in the store.
struct EvolveLoop: Sendable {
    var runDirectory: String
    var topologyPath: String
    var share = 0.5
    var budget = 2000
    var maximumDuration: Duration = .seconds(300)
    var idle: Duration = .seconds(5)

    func run() async {
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
                emitLine("evolve: experiment \(outcome.experiment) \(outcome.decision): \(outcome.reason); epoch \(outcome.epoch)")
            } catch is CancellationError {
                return
            } catch {
                printError("evolve: \(error)")
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
