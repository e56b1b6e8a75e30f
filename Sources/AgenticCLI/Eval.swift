import ArgumentParser
import Evaluation
import Foundation
import Topology

/// `agentic eval FILE`: the offline protocol P1 (or a given split) on a topology.
struct Eval: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Evaluate a topology file as written: valid (fitted on train) and test (fitted on train+valid, as it serves).",
        discussion: """
            Runs the agents `agentic up` would start, made in this process by the same factory, \
            through the gateway's own graph walk, asking each held-out user for --k items as \
            shared/eval/served.py asks a live gateway: the figures are what the file serves. \
            Nothing is tuned here: `agentic evolve FILE --out BEST` searches and writes a file. \
            Fetch the data first with deploy/fetch-data.sh (the README's main command does).
            """
    )

    @Argument(help: "Topology file: its agents and edges are the pipeline evaluated.") var file: String
    @Option(help: "Folder with ml-100k.inter, ml-100k.item, ml-100k.user.") var data = "data/ml-100k"
    @Option(help: "Split: p1 (computed from the data by the protocol's hash).") var split = "p1"
    @Option(help: "Train split file (user item rating timestamp, header line).") var train: String?
    @Option(help: "Valid split file.") var valid: String?
    @Option(help: "Test split file.") var test: String?
    @Option(help: "Write the served test lists (user item rank) here, for shared/eval/score.py.") var out: String?
    @Option(help: "Items asked for per user (served.py asks 20).") var k = 20
    @Option(help: "Stages to run: valid, test or both (choose settings on valid alone).") var stage = "both"
    @Flag(help: "Print the report as JSON.") var json = false
    @Flag(help: "Print progress to standard error.") var verbose = false

    func validate() throws {
        let files = [train, valid, test].compactMap { $0 }
        guard files.isEmpty || files.count == 3 else { throw ValidationError("--train, --valid and --test go together") }
        guard !files.isEmpty || split == "p1" else { throw ValidationError("unknown split '\(split)': p1, or give --train, --valid and --test") }
        guard ["valid", "test", "both"].contains(stage) else { throw ValidationError("--stage is valid, test or both") }
        guard (1...100).contains(k) else { throw ValidationError("--k must be in 1...100, as the gateway's k") }
    }

    func run() async throws {
        Logs.bootstrap(defaultLevel: verbose ? .info : .warning)
        let spec: TopologySpec
        do {
            spec = try TopologyValidator.load(contentsOf: file)
        } catch {
            (error.issues.isEmpty ? [error.message] : error.issues.map(\.description)).forEach { printError($0) }
            throw ExitCode(1)
        }
        var configuration = OfflineEvaluation.Configuration(dataDirectory: data, recommendationsPath: out)
        if let train, let valid, let test { configuration.split = .files(train: train, valid: valid, test: test) }
        configuration.listLength = k
        if let only = EvaluationStage(rawValue: stage) { configuration.stages = [only] }
        if verbose { configuration.log = { printError($0) } }
        let report: EvaluationReport
        do {
            report = try await OfflineEvaluation.run(topology: spec, file: file, configuration: configuration)
        } catch {
            printError("agentic eval: \(error)")
            throw ExitCode(1)
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            print(EvaluationReportFormatter.text(report))
        }
    }
}
