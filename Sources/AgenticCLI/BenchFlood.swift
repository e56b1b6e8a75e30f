import ArgumentParser
import Benchmarks

/// `agentic bench flood` (see ``FloodBenchmark``).
struct BenchFlood: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flood",
        abstract: "The gateway under many times the load it can serve: shed answers, admitted latency, memory, survival."
    )

    @Flag(help: "Print one JSON object instead of a table.") var json = false
    @Option(help: "The topology (default: topology/movielens.yaml when its kinds can be made here, else topology/minimal.yaml).")
    var topology: String?
    @Option(help: "Clients at saturation (the baseline).") var concurrency = 32
    @Option(help: "Clients in the flood, as a multiple of --concurrency.") var factor = 10.0
    @Option(help: "Seconds of flood.") var seconds = 30.0
    @Option(help: "Seconds of the saturation baseline.") var baselineSeconds = 5.0
    @Option(help: "The bound on the gateway's resident memory, MiB.") var rssBoundMb = 512.0
    @Option(help: "A split file (TSV with a user column) whose users are asked for.") var users: String?

    func validate() throws {
        guard (1...4096).contains(concurrency), factor > 1, factor <= 100, Double(concurrency) * factor <= 8192 else {
            throw ValidationError("concurrency must be 1...4096 and factor above 1, at most 100, with at most 8192 flood clients")
        }
        guard seconds > 0, seconds <= 3600, baselineSeconds > 0, baselineSeconds <= 3600, rssBoundMb > 0 else {
            throw ValidationError("seconds, baseline-seconds and rss-bound-mb must be positive (seconds at most 3600)")
        }
    }

    func run() async throws {
        var configuration = FloodBenchmark.Configuration()
        configuration.topology = topology
        configuration.concurrency = concurrency
        configuration.factor = factor
        configuration.seconds = seconds
        configuration.baselineSeconds = baselineSeconds
        configuration.rssBoundMegabytes = rssBoundMb
        configuration.users = users
        let json = self.json
        let result = try await FloodBenchmark(configuration: configuration, factory: { Kinds.factory(topologyPath: $0) })
            .run(log: { if !json { printError($0) } })
        print(json ? result.jsonLine() : result.table())
    }
}
