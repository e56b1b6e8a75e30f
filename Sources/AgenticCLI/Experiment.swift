import ArgumentParser
import Coordinator
import Evolution
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

/// What a live experiment ended with (`agentic experiment start --json`).
struct ExperimentOutcome: Codable, Sendable {
    /// `exp-ID` (ID: the row of the store's experiments table).
    var experiment: String
    /// `promote`, `rollback`, `stop` or `gate_failed`.
    var decision: String
    var reason: String
    /// The epoch serving afterwards.
    var epoch: Int
    var arms: [ExperimentArmCounts]
    var seconds: Double
}

/// The experiment agent: records the proposal, starts the canary through the coordinator,
/// reads per-arm outcomes from the store, decides with the policy and ends the canary.
/// `agentic up --evolve` (when it lands) runs the same loop for each offline winner.
struct LiveExperiment: Sendable {
    var runDirectory: String
    var database: String?
    var policy: ExperimentPolicy
    var share: Double
    var maximumDuration: Duration
    var poll: Duration = .milliseconds(250)

    func run(candidate text: String, file: String, proposal: String, offlineResults: String? = nil) async throws -> ExperimentOutcome {
        let began = ContinuousClock.now
        let store = try KnowledgeStore(path: database ?? runDirectory + "/" + KnowledgeStore.defaultFileName, create: false)
        let serving = try? TopologyValidator.load(contentsOf: runDirectory + "/topology.yaml")
        let candidateSpec = try? TopologyValidator.load(source: text, file: file)
        let diff = serving.flatMap { old in candidateSpec.map { TopologyDiff(from: old, to: $0).description } }
        let id = try store.recordExperiment(proposal: proposal, diff: diff, offlineResults: offlineResults)
        let experiment = "exp-\(id)"
        var policy = self.policy
        policy.latencyBudgetMilliseconds = nil  // per-arm latency is not measured yet
        let client = CoordinatorClient(runDirectory: runDirectory)
        func seconds() -> Double {
            let elapsed = ContinuousClock.now - began
            return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        }
        let started = try await client.startExperiment(topology: text, file: file, experiment: experiment, share: share)
        if started.outcome == "rolled_back" {
            let reason = "the candidate failed its gate: \(started.reason ?? "")"
            try store.decideExperiment(id: id, onlineResults: nil, decision: "gate_failed: " + reason)
            return ExperimentOutcome(experiment: experiment, decision: "gate_failed", reason: reason, epoch: started.epoch, arms: [], seconds: seconds())
        }
        var verdict = ExperimentVerdict.continue
        var reason = ""
        var arms: [ExperimentArmCounts] = []
        while verdict == .continue {
            try await Task.sleep(for: poll)
            arms = try store.experimentArms(experiment: experiment)
            func outcome(_ name: String) -> ArmOutcome {
                let arm = arms.first { $0.arm == name }
                return ArmOutcome(lists: arm?.lists ?? 0, reward: Double(arm?.clicked ?? 0))
            }
            (verdict, reason) = policy.decide(
                control: outcome("control"), candidate: outcome("candidate"),
                health: .init(requests: 0, errors: 0, p99Milliseconds: nil))
            if verdict == .continue, ContinuousClock.now - began > maximumDuration {
                verdict = .stop
                reason = "time budget spent without a significant difference: " + reason
            }
        }
        let ended = try await client.endExperiment(promote: verdict == .promote, reason: "experiment \(experiment) \(verdict.rawValue): \(reason)")
        var decision = verdict.rawValue
        if verdict == .promote, ended.outcome != "swapped" {
            decision = "rollback"
            reason = "promotion failed its gate: \(ended.reason ?? "")"
        }
        arms = (try? store.experimentArms(experiment: experiment)) ?? arms
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let online = String(decoding: (try? encoder.encode(arms)) ?? Data(), as: UTF8.self)
        try store.decideExperiment(id: id, onlineResults: online, decision: decision + ": " + reason)
        return ExperimentOutcome(experiment: experiment, decision: decision, reason: reason, epoch: ended.epoch, arms: arms, seconds: seconds())
    }
}
