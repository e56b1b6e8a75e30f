import ArgumentParser
import Benchmarks
import Foundation

/// `agentic bench learning` (see ``LearningBenchmark``).
struct BenchLearning: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "learning",
        abstract: "Hit rate of a replayed stream with the trainer refitting from feedback, against the same stream without.",
        discussion: """
            The stream is P1 test (what the served models never saw), in time order, its first \
            --events interactions (all of it by default: with the first 4,000 the 95 % \
            interval of the gain still held 0). Both arms start from the same artifacts. With the trainer on, \
            the replay waits at each --every events until the trainer's new epoch serves (the \
            stream's clock stops during a refit, as if refits were quick next to traffic), so \
            both arms see the same requests. Both arms learn online from every click (histories, \
            popularity); the difference is what refitting adds. Reported with a 95 % confidence \
            interval of the paired per-event difference.
            """)

    @Flag(help: "Print one JSON object instead of a table.") var json = false
    @Option(help: "The topology (its models are refitted by the trainer).") var topology = "topology/movielens.yaml"
    @Option(help: "Interactions replayed (the earliest of P1 test); default: all of it (10,785).") var events = Int.max
    @Option(help: "The trainer refits after this many new events.") var every = 1000
    @Option(
        help: "Agents the trainer refits (comma-separated); default: the recall routes that hold a model. The ranker's time features would read the gateway's clock, decades after MovieLens's.")
    var agents: String?
    @Option(help: "Items asked for per request.") var k = 10

    func validate() throws {
        guard events >= 10, every >= 1, every < events, (1...100).contains(k) else {
            throw ValidationError("--events ≥ 10, 1 ≤ --every < --events, --k in 1 … 100")
        }
    }

    func run() async throws {
        Logs.bootstrap(defaultLevel: .error)
        var configuration = LearningBenchmark.Configuration()
        configuration.topology = topology
        configuration.events = events
        configuration.every = every
        configuration.agents = agents?.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }
        configuration.k = k
        let json = self.json
        let report = try await LearningBenchmark(configuration: configuration, factory: { Kinds.factory(topologyPath: $0) })
            .run(log: { if !json { printError($0) } })
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            emitLine(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            emitLine(
                String(
                    format: "hit@%d, later half: trainer off %.4f, on %.4f (%d refits)", k, report.off.laterHitRate,
                    report.on.laterHitRate, report.on.refits))
            emitLine(
                String(
                    format: "difference %+.4f, 95%% CI [%+.4f, %+.4f]", report.laterHalfDifference, report.ci95[0], report.ci95[1]))
        }
    }
}
