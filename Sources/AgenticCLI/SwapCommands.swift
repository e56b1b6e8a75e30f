import ArgumentParser
import Coordinator
import Foundation
import Topology

/// `agentic swap NAME`: replace one agent's processes while the cluster serves.
struct Swap: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Replace every instance of an agent with new processes, without downtime.",
        discussion: """
            Starts the new processes beside the old, gates them on real requests answered \
            correctly within the deadline, publishes a new epoch, lets the gateway switch, then \
            drains and stops the old. When the gate fails the new processes are stopped, nothing \
            changes, the reason is printed and the exit status is 1.
            """
    )

    @Argument(help: "The agent's name.") var name: String
    @Option(name: .customLong("set"), help: "A parameter value, key=value (repeatable).") var settings: [String] = []
    @Option(help: "The new version (default: the next one).") var version: String?
    @Option(help: "Another kind with the same interface.") var kind: String?
    @Option(help: "The run directory (default: /tmp/agentic-UID/default).") var runDir: String?
    @Flag(help: "Print the report as one JSON object.") var json = false

    func run() async throws {
        var parameters: [String: String] = [:]
        for setting in settings {
            guard let equals = setting.firstIndex(of: "="), equals != setting.startIndex else {
                printError("--set \(setting): expected key=value")
                throw ExitCode(2)
            }
            parameters[String(setting[..<equals])] = String(setting[setting.index(after: equals)...])
        }
        let client = CoordinatorClient(runDirectory: absolute(runDir ?? RunDirectory.defaultPath))
        try await ChangeOutput.finish(json: json) {
            try await client.swap(agent: name, parameters: parameters, version: version, kind: kind)
        }
    }
}

/// `agentic apply FILE`: rewire the running cluster to a topology file.
struct Apply: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Change the running cluster to a topology file (agents added, removed, swapped, edges rewired).")

    @Argument(help: "The topology file (YAML); its epoch is ignored: the change gets the next one.") var file: String
    @Option(help: "The run directory (default: /tmp/agentic-UID/default).") var runDir: String?
    @Flag(help: "Print the report as one JSON object.") var json = false

    func run() async throws {
        let text: String
        do {
            text = try String(contentsOfFile: file, encoding: .utf8)
        } catch {
            printError("\(file): cannot read: \(error.localizedDescription)")
            throw ExitCode(1)
        }
        let client = CoordinatorClient(runDirectory: absolute(runDir ?? RunDirectory.defaultPath))
        try await ChangeOutput.finish(json: json) { try await client.apply(topology: text, file: file) }
    }
}

/// `agentic rollback EPOCH`: back to an earlier epoch's agents and wiring, as a new epoch.
struct Rollback: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Swap back to an earlier epoch's agents and wiring (recorded as a new epoch).")

    @Argument(help: "The epoch to return to (see `agentic history`).") var epoch: Int
    @Option(help: "The run directory (default: /tmp/agentic-UID/default).") var runDir: String?
    @Flag(help: "Print the report as one JSON object.") var json = false

    func run() async throws {
        let client = CoordinatorClient(runDirectory: absolute(runDir ?? RunDirectory.defaultPath))
        try await ChangeOutput.finish(json: json) { try await client.rollback(to: epoch) }
    }
}

/// `agentic history`: the run's epochs.
struct History: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the running cluster's epochs: time, reason, changes.")

    @Option(help: "The run directory (default: /tmp/agentic-UID/default).") var runDir: String?
    @Flag(help: "Print one JSON object with an `epochs` array.") var json = false

    func run() async throws {
        let report: HistoryReport
        do {
            report = try await CoordinatorClient(runDirectory: absolute(runDir ?? RunDirectory.defaultPath)).history()
        } catch {
            printError("\(error)")
            throw ExitCode(1)
        }
        if json {
            print(try ChangeOutput.json(report))
            return
        }
        for record in report.epochs {
            let current = record.epoch == report.epoch ? "  (current)" : ""
            print("epoch \(record.epoch)  \(record.time)  \(record.reason)\(current)")
            for change in record.changes { print("  \(change)") }
        }
    }
}

/// `agentic diff A B`: what changed between two epochs of the run.
struct DiffCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff", abstract: "Show what changed between two epochs of the running cluster.")

    @Argument(help: "The first epoch.") var from: Int
    @Argument(help: "The second epoch.") var to: Int
    @Option(help: "The run directory (default: /tmp/agentic-UID/default).") var runDir: String?
    @Flag(help: "Print the diff as JSON.") var json = false

    func run() async throws {
        let diff: TopologyDiff
        do {
            diff = try await CoordinatorClient(runDirectory: absolute(runDir ?? RunDirectory.defaultPath))
                .diff(from: from, to: to)
        } catch {
            printError("\(error)")
            throw ExitCode(1)
        }
        print(json ? try ChangeOutput.json(diff) : diff.description)
    }
}

enum ChangeOutput {
    static func json(_ value: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    /// Prints a change's report; exit status 1 when it was rolled back or refused.
    static func finish(json: Bool, _ change: () async throws -> SwapReport) async throws {
        let report: SwapReport
        do {
            report = try await change()
        } catch {
            printError("\(error)")
            throw ExitCode(1)
        }
        if json {
            print(try Self.json(report))
        } else {
            switch report.outcome {
            case "rolled_back":
                print("rolled back: \(report.reason ?? "the gate failed"); epoch \(report.epoch) unchanged")
            case "unchanged":
                print("no changes; epoch \(report.epoch)")
            default:
                print(
                    "epoch \(report.previousEpoch) -> \(report.epoch): new serving in "
                        + String(format: "%.0f ms, old gone in %.0f ms", report.servingMilliseconds, report.totalMilliseconds))
                for change in report.changes { print("  \(change)") }
                if !report.started.isEmpty { print("  started \(report.started.joined(separator: ", "))") }
                if !report.stopped.isEmpty { print("  stopped \(report.stopped.joined(separator: ", "))") }
            }
        }
        if report.outcome == "rolled_back" { throw ExitCode(1) }
    }
}
