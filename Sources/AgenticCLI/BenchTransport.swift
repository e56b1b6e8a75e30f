import ArgumentParser
import Benchmarks

/// `agentic bench transport` (see ``TransportBenchmark``).
struct BenchTransport: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "transport",
        abstract: "Req/rep latency and throughput and pub/sub rate, Swift against a raw-C baseline, over ipc and tcp."
    )

    @Flag(help: "Print one JSON object instead of a table.") var json = false
    @Option(help: "Round trips measured per latency figure.") var count = 10_000
    @Option(help: "Milliseconds per throughput figure.") var durationMs = 1_000
    @Option(help: "Messages per pub/sub figure.") var messages = 100_000
    @Option(help: "Rounds of C and Swift alternated; each figure is the median over rounds.") var rounds = 3
    @Option(help: "Transports to measure (ipc, tcp).") var transports: [String] = ["ipc", "tcp"]

    func validate() throws {
        for transport in transports where transport != "ipc" && transport != "tcp" {
            throw ValidationError("unknown transport \(transport)")
        }
    }

    func run() async throws {
        var configuration = TransportBenchmark.Configuration()
        configuration.count = count
        configuration.durationMs = durationMs
        configuration.messages = messages
        configuration.rounds = rounds
        configuration.transports = transports
        let json = self.json
        let result = try await TransportBenchmark(configuration: configuration).run(log: { line in if !json { printError(line) } })
        print(json ? try result.jsonLine() : result.table())
    }
}
