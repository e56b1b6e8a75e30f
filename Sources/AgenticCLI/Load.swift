import ArgumentParser
import Foundation
import LoadGenerator
import Synchronization

/// `agentic load`: open-loop load against a gateway, reported as counts and latency percentiles.
struct Load: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Send recommendations to a gateway on a fixed schedule (open loop) and report latency.",
        discussion: """
            Requests go out at --rate per second for --duration seconds whether or not earlier \
            ones returned; each is timed from when it was due, so queueing shows as latency. \
            In-flight requests get a grace period after the schedule, then count as failed.
            """
    )

    @Option(help: "The gateway (http://HOST:PORT) or its recommend endpoint.") var url: String
    @Option(help: "Requests per second.") var rate: Double
    @Option(help: "Seconds of load.") var duration: Double
    @Option(help: "A split file (TSV with a user column) whose users are replayed in order, cycling.") var users: String?
    @Option(help: "Items per recommendation.") var k = 10
    @Option(help: "Seconds one request may take from its due time.") var timeout = 2.0
    @Option(help: "Write every request's due time, latency and outcome to this TSV file.") var trace: String?
    @Flag(help: "Print one JSON object instead of text.") var json = false

    func run() async throws {
        var configuration: LoadGenerator.Configuration
        do {
            guard duration.isFinite, duration > 0, duration <= 86_400 else { throw LoadError(.invalidArgument, "the duration must be between 0 and 86400 seconds") }
            guard timeout.isFinite, timeout > 0, timeout <= 3_600 else { throw LoadError(.invalidArgument, "the timeout must be between 0 and 3600 seconds") }
            configuration = try LoadGenerator.Configuration(url: url, rate: rate, duration: .milliseconds(Int64(duration * 1000)))
            if let users { configuration.users = try LoadGenerator.users(fromTSV: users) }
        } catch {
            printError("agentic load: \(error)")
            throw ExitCode(2)
        }
        configuration.k = k
        configuration.timeout = .milliseconds(Int64(timeout * 1000))
        configuration.grace = configuration.timeout
        if !json {
            printError("load: \(configuration.schedule.count) requests at \(rate)/s to \(configuration.url)")
        }
        let results = Mutex<[RequestResult]>([])
        let report = await LoadGenerator(configuration: configuration).run { result in
            if trace != nil { results.withLock { $0.append(result) } }
        }
        if let trace {
            do {
                try Self.traceText(results.withLock { $0 }).write(toFile: trace, atomically: true, encoding: .utf8)
            } catch {
                printError("agentic load: cannot write \(trace): \(error)")
                throw ExitCode(1)
            }
        }
        print(json ? report.jsonLine() : report.text)
    }

    /// One line per request in schedule order: when it was due (ms from the start), its
    /// latency (ms), and `ok`, `degraded` or `failed`.
    static func traceText(_ results: [RequestResult]) -> String {
        func ms(_ duration: Duration) -> String {
            let c = duration.components
            return String(format: "%.3f", Double(c.seconds) * 1000 + Double(c.attoseconds) / 1e15)
        }
        var text = "index\tdue_ms\tlatency_ms\toutcome\n"
        for result in results.sorted(by: { $0.index < $1.index }) {
            let outcome: String
            switch result.outcome {
            case .ok(let degraded): outcome = degraded.isEmpty ? "ok" : "degraded"
            case .failed: outcome = "failed"
            }
            text += "\(result.index)\t\(ms(result.intended))\t\(ms(result.latency))\t\(outcome)\n"
        }
        return text
    }
}
