import ArgumentParser
import Evaluation
import Evolution
import Foundation
import Topology

/// `agentic evolve FILE`: offline evolution of a topology, choosing on valid only.
struct Evolve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Evolve a topology offline: tune agents, re-compose the graph, keep the best on valid.",
        discussion: """
            Individual rounds (each agent's decision space searched on its inner reward) alternate with \
            compositional rounds (composer edits and architect proposals judged by the outer reward). \
            Only valid data chooses; test is measured for the start and the best topology and reported. \
            Every proposal, its evaluation and the decision go to RUN_DIR/lineage.jsonl. The architect \
            asks the chat endpoint in AGENTIC_LLM_URL (AGENTIC_LLM_MODEL, AGENTIC_LLM_KEY) or --llm-url; \
            without one an offline proposer takes its place.
            """
    )

    @Argument(help: "Topology file to start from.") var file: String
    @Option(help: "Rounds (individual + compositional).") var rounds: Int?
    @Option(help: "Wall-time budget of the whole run, data loading included (the start is always evaluated), e.g. 600, 90s, 10m, 1h.") var budget: String?
    @Option(help: "Write the best topology (epoch bumped) here.") var out: String?
    @Flag(help: "Print the summary as JSON.") var json = false
    @Option(help: "Directory for the lineage journal and each accepted topology (default: a new one under /tmp).")
    var runDir: String?
    @Option(help: "Folder with ml-100k.inter, ml-100k.item, ml-100k.user.") var data = "data/ml-100k"
    @Option(help: "Train split file (user item rating timestamp, header line).") var train: String?
    @Option(help: "Valid split file.") var valid: String?
    @Option(help: "Test split file.") var test: String?
    @Option(help: "Seed of every random choice.") var seed: UInt64 = 1
    @Option(help: "A topology measured on valid at the start: its ILD@10 and Coverage@10 become floors for adoption (e.g. topology/ease.yaml).")
    var reference: String?
    @Option(help: "Tuner trials per agent per sweep.") var trials = 8
    @Option(help: "Compositional proposals per round.") var proposals = 8
    @Option(help: "Chat endpoint base URL (overrides AGENTIC_LLM_URL).") var llmURL: String?
    @Option(help: "Chat model name (overrides AGENTIC_LLM_MODEL).") var llmModel: String?
    @Option(help: "Seconds one chat request may take.") var llmTimeout = 60.0
    @Flag(help: "Print progress to standard error.") var verbose = false
    @Flag(help: "Do not measure test (saves two evaluations; `agentic demo` decides on valid and online reward).")
    var noTest = false

    func validate() throws {
        let files = [train, valid, test].compactMap { $0 }
        guard files.isEmpty || files.count == 3 else { throw ValidationError("--train, --valid and --test go together") }
        if let budget, Self.duration(budget) == nil { throw ValidationError("--budget: '\(budget)' is not a duration (600, 90s, 10m, 1h)") }
        if let rounds, rounds < 1 { throw ValidationError("--rounds must be at least 1") }
        guard trials >= 1, proposals >= 0 else { throw ValidationError("--trials must be at least 1, --proposals at least 0") }
    }

    static func duration(_ text: String) -> Duration? {
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)]
        for (suffix, scale) in units where text.hasSuffix(suffix) {
            guard let n = Double(text.dropLast(suffix.count)), n > 0 else { return nil }
            return .milliseconds(Int64(n * scale * 1000))
        }
        guard let n = Double(text), n > 0 else { return nil }
        return .milliseconds(Int64(n * 1000))
    }

    func run() async throws {
        Logs.bootstrap(defaultLevel: verbose ? .info : .warning)
        let began = ContinuousClock.now
        let start: TopologySpec
        do {
            start = try TopologyValidator.load(contentsOf: file)
        } catch {
            (error.issues.isEmpty ? [error.message] : error.issues.map(\.description)).forEach { printError($0) }
            throw ExitCode(1)
        }
        var referenceSpec: TopologySpec?
        if let reference {
            do {
                referenceSpec = try TopologyValidator.load(contentsOf: reference)
            } catch {
                (error.issues.isEmpty ? [error.message] : error.issues.map(\.description)).forEach { printError($0) }
                throw ExitCode(1)
            }
        }
        var log: (@Sendable (String) -> Void)?
        if verbose { log = { printError($0) } }
        let directory = try makeRunDirectory()

        var settings = TopologyEvaluator.Configuration(dataDirectory: data)
        if let train, let valid, let test { settings.split = .files(train: train, valid: valid, test: test) }
        let objective: EvaluatorObjective
        do {
            objective = try EvaluatorObjective(evaluator: TopologyEvaluator(configuration: settings))
        } catch {
            printError("agentic evolve: \(error)")
            throw ExitCode(1)
        }
        let composer = Composer(configuration: .init(routeKinds: EvaluatorObjective.routeKinds,
                                                     routeKindWeights: EvaluatorObjective.routeKindWeights))
        var chat = ChatProposer.Configuration.fromEnvironment()
        if let llmURL { chat = ChatProposer.Configuration(baseURL: llmURL, model: chat?.model ?? "default", apiKey: chat?.apiKey) }
        if let llmModel { chat?.model = llmModel }
        chat?.timeout = .milliseconds(Int64(llmTimeout * 1000))
        let architect = chat.map { Architect(proposer: ChatProposer(configuration: $0), composer: composer) }
        let journalPath = directory + "/lineage.jsonl"
        let journal = try JSONLinesJournal(path: journalPath)
        var evolution = Evolver.Configuration(
            // The budget bounds the whole command: loading the data counts (the search then
            // stops after the start's evaluation, which it needs in any case).
            rounds: rounds ?? (budget == nil ? 3 : nil),
            budget: budget.flatMap(Self.duration).map { max(.zero, $0 - (ContinuousClock.now - began)) }, trialsPerAgent: trials,
            proposalsPerRound: proposals, seed: seed)
        evolution.reference = referenceSpec
        let evolver = Evolver(
            objective: objective, composer: composer, architect: architect, journal: journal, configuration: evolution, log: log)
        log?("evolving \(file) (journal \(journalPath), architect: \(chat.map { "chat \($0.endpoint)" } ?? "offline"))")

        let outcome: Evolver.Outcome
        let startTest: TopologyMeasurement, bestTest: TopologyMeasurement
        do {
            outcome = try await evolver.run(start)
            // Test is measured for the report only; nothing above saw it.
            if noTest {
                startTest = TopologyMeasurement(metrics: [:])
                bestTest = startTest
            } else {
                startTest = try await objective.evaluate(outcome.start, stage: .test, fraction: 1)
                if outcome.best == outcome.start {
                    bestTest = startTest
                } else {
                    bestTest = try await objective.evaluate(outcome.best, stage: .test, fraction: 1)
                }
            }
        } catch {
            printError("agentic evolve: \(error)")
            throw ExitCode(1)
        }
        try write(outcome.best, to: directory + "/best.yaml", history: false)
        if let out { try write(outcome.best, to: out, history: true) }
        print(summary(outcome, startTest: startTest, bestTest: bestTest, journal: journalPath))
    }

    func makeRunDirectory() throws -> String {
        if let runDir {
            try FileManager.default.createDirectory(atPath: runDir, withIntermediateDirectories: true)
            return runDir
        }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent(
            "agentic-evolve-\(ProcessInfo.processInfo.processIdentifier)-\(Int(Date().timeIntervalSince1970))").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    func write(_ spec: TopologySpec, to path: String, history: Bool) throws {
        do {
            if history {
                // Keeps every epoch written there (history/<name>/epoch-N.yaml), diffable.
                _ = try TopologyStore(path: path, configuration: .init(requireEpochIncrease: false)).write(spec)
            } else {
                try spec.renderYAML().write(toFile: path, atomically: true, encoding: .utf8)
            }
        } catch {
            printError("agentic evolve: cannot write \(path): \(error)")
            throw ExitCode(1)
        }
    }

    func summary(_ o: Evolver.Outcome, startTest: TopologyMeasurement, bestTest: TopologyMeasurement, journal: String) -> String {
        let metric = o.start.rewards.outer.metric
        if json {
            var object: [String: Any] = [
                "start_valid_\(metric)": o.startVerdict.reward, "best_valid_\(metric)": o.bestVerdict.reward,
                "start_test_\(metric)": startTest.metrics[metric] ?? -1, "test_\(metric)": bestTest.metrics[metric] ?? -1,
                "best_test_\(metric)": bestTest.metrics[metric] ?? -1,
                "start": ["valid": o.startValid.metrics, "test": startTest.metrics],
                "best": ["valid": o.bestValid.metrics, "test": bestTest.metrics],
                "best_feasible": o.bestVerdict.feasible, "violations": o.bestVerdict.violations,
                "reference_floors": o.floors,
                "rounds": o.rounds, "evaluations": o.evaluations, "proposals": o.proposals, "accepted": o.accepted,
                "rejected": o.rejected, "seconds": o.seconds, "epoch": o.best.epoch, "journal": journal,
                "agents": o.best.agents.map(\.name), "diff": TopologyDiff(from: o.start, to: o.best).description,
            ]
            if let out { object["out"] = out }
            let data = (try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])) ?? Data()
            return String(decoding: data, as: UTF8.self)
        }
        func row(_ name: String, _ key: String) -> String {
            let values = [o.startValid.metrics[key], startTest.metrics[key], o.bestValid.metrics[key], bestTest.metrics[key]]
            return name.padding(toLength: 14, withPad: " ", startingAt: 0)
                + values.map { String(format: "%10.4f", $0 ?? .nan) }.joined()
        }
        var lines = [
            String(format: "evolved %@ in %.0f s: %d rounds, %d evaluations, %d proposals, %d accepted, %d rejected",
                   file, o.seconds, o.rounds, o.evaluations, o.proposals, o.accepted, o.rejected),
            "metric        start-val start-test  best-val best-test   (test is reported, never used to choose)",
        ]
        for key in [metric, "coverage@10", "ild@10", "recall@20"] where o.startValid.metrics[key] != nil { lines.append(row(key, key)) }
        lines.append("best: epoch \(o.best.epoch), agents \(o.best.agents.map(\.name).joined(separator: ", "))"
            + (o.bestVerdict.feasible ? "" : " (infeasible: \(o.bestVerdict.violations.joined(separator: "; ")))"))
        lines.append("changes: \(TopologyDiff(from: o.start, to: o.best))")
        lines.append("lineage: \(journal)")
        if let out { lines.append("wrote \(out)") }
        return lines.joined(separator: "\n")
    }
}
