import ArgumentParser
import Benchmarks
import Foundation

/// `agentic bench feedback` (see ``FeedbackBenchmark``).
struct BenchFeedback: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "feedback",
        abstract: "Feedback events per second through the gateway into the store, and a check that none acknowledged is lost.",
        discussion: """
            Brings up a small cluster (a static recall agent and a store) in a temporary run directory, \
            drives POST /v1/feedback from keep-alive connections for --seconds, stops the cluster, \
            then looks up every acknowledged event id in the database. JSON keys: events_per_s, \
            acknowledged, failed, lost, stored, requests_per_s, batch, connections, seconds, kills. \
            With --kills N the store is killed with SIGKILL N times during the run.
            """
    )

    @Flag(help: "Print one JSON object.") var json = false
    @Option(help: "How long to drive load, in seconds.") var seconds = 5.0
    @Option(help: "Concurrent HTTP connections.") var connections = 32
    @Option(help: "Events per POST (1 sends the single-event body).") var batch = 20
    @Option(help: "kill -9 the store this many times, evenly spread over the run (the coordinator restarts it).")
    var kills = 0

    func validate() throws {
        guard seconds > 0, seconds <= 600 else { throw ValidationError("--seconds must be in (0, 600]") }
        guard (1...512).contains(connections) else { throw ValidationError("--connections must be in 1…512") }
        guard (1...200).contains(batch) else { throw ValidationError("--batch must be in 1…200") }
        guard (0...100).contains(kills) else { throw ValidationError("--kills must be in 0…100") }
    }

    func run() async throws {
        var configuration = FeedbackBenchmark.Configuration()
        configuration.seconds = seconds
        configuration.connections = connections
        configuration.batch = batch
        configuration.kills = kills
        let json = self.json
        let result = try await FeedbackBenchmark(configuration: configuration)
            .run(log: { line in if !json { printError(line) } })
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(result), as: UTF8.self))
        } else {
            print(String(format: "events_per_s    %.0f", result.eventsPerSecond))
            print(String(format: "requests_per_s  %.0f  (%d events per POST, %d connections, %.1f s)", result.requestsPerSecond, batch, connections, result.seconds))
            print("acknowledged    \(result.acknowledged)")
            print("failed          \(result.failed)")
            print("lost            \(result.lost)  (acknowledged but not in the database)")
            print("stored          \(result.stored)")
            if kills > 0 { print("kills           \(result.kills)  (kill -9 of the store during the run)") }
        }
        if result.lost > 0 { throw ExitCode(1) }
    }
}
