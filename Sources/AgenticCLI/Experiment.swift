import ArgumentParser
import Coordinator
import Evolution
import Experiments
import Foundation
import Store

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
