import ArgumentParser
import Foundation
import LoadGenerator

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
        let report = await LoadGenerator(configuration: configuration).run()
        print(json ? report.jsonLine() : report.text)
    }
}
