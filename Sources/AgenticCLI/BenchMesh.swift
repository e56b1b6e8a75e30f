import ArgumentParser
import Benchmarks

/// `agentic bench mesh` (see ``MeshBenchmark``).
struct BenchMesh: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mesh",
        abstract: "Throughput at saturation and latency at a fixed rate: the mesh against the same agents in one process."
    )

    @Flag(help: "Print one JSON object instead of a table.") var json = false
    @Option(help: "The topology (default: topology/movielens.yaml when its kinds can be made here, else topology/minimal.yaml).")
    var topology: String?
    @Option(help: "Seconds per saturation figure.") var seconds = 5.0
    @Option(help: "Requests in flight at saturation.") var concurrency = 32
    @Option(help: "The fixed moderate rate (requests per second) for the latency figures.") var rate = 200.0
    @Option(help: "Seconds of load at that rate.") var rateSeconds = 5.0
    @Option(help: "A split file (TSV with a user column) whose users are asked for, in order.") var users: String?
    @Option(help: "Saturation rounds, in-process and mesh alternating; the figures are medians.") var rounds = 3

    func validate() throws {
        guard seconds > 0, seconds <= 3600, rateSeconds > 0, rateSeconds <= 3600, rate > 0, concurrency > 0, (1...99).contains(rounds) else {
            throw ValidationError("seconds, rate-seconds, rate and concurrency must be positive, rounds 1...99")
        }
    }

    func run() async throws {
        var configuration = MeshBenchmark.Configuration()
        configuration.topology = topology
        configuration.seconds = seconds
        configuration.concurrency = concurrency
        configuration.rate = rate
        configuration.rateSeconds = rateSeconds
        configuration.users = users
        configuration.rounds = rounds
        let json = self.json
        let result = try await MeshBenchmark(configuration: configuration, factory: { Kinds.factory(topologyPath: $0) })
            .run(log: { if !json { printError($0) } })
        print(json ? result.jsonLine() : result.table())
    }
}
