import ArgumentParser
import Benchmarks

/// `agentic bench swaps` (see ``SwapsBenchmark``).
struct BenchSwaps: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "swaps",
        abstract: "Swaps under steady load: failed requests and p99 during swaps against steady-state p99, one run.",
        discussion: """
            Each swap changes one numeric parameter of an agent inside its decision space (recall \
            routes, ranker, re-ranker in turn), through the coordinator as `agentic swap` does. The \
            load is open loop: requests leave on schedule whatever the answers do, so queueing \
            behind a swap shows in the latency.
            """)

    @Flag(help: "Print one JSON object instead of a table.") var json = false
    @Option(help: "The topology (default: topology/movielens.yaml when its kinds can be made here, else topology/minimal.yaml).")
    var topology: String?
    @Option(help: "How many swaps, one after another.") var swaps = 20
    @Option(help: "The load, as a fraction of the measured saturation throughput.") var load = 0.5
    @Option(help: "Seconds of the saturation measurement.") var seconds = 5.0
    @Option(help: "Requests in flight at saturation.") var concurrency = 32
    @Option(name: .customLong("steady-seconds"), help: "Seconds of load without a swap before each swap (together, the baseline p99).")
    var steadySeconds = 2.0
    @Flag(
        help: "Leave the models the swaps need unfitted, so the coordinator's fitting job fits them during the measurement (default: fit them first, as `agentic fit` of a candidate would before it goes out).")
    var fitDuringSwaps = false

    func validate() throws {
        guard swaps > 0, swaps <= 1000, load > 0, load <= 1, seconds > 0, seconds <= 600, steadySeconds > 0,
            steadySeconds <= 3600, concurrency > 0
        else {
            throw ValidationError("swaps in 1...1000, load in (0, 1], positive seconds, steady-seconds and concurrency")
        }
    }

    func run() async throws {
        var configuration = SwapsBenchmark.Configuration()
        configuration.topology = topology
        configuration.swaps = swaps
        configuration.load = load
        configuration.seconds = seconds
        configuration.concurrency = concurrency
        configuration.steadySeconds = steadySeconds
        configuration.fitDuringSwaps = fitDuringSwaps
        let json = self.json
        let result = try await SwapsBenchmark(configuration: configuration, factory: { Kinds.factory(topologyPath: $0) })
            .run(log: { if !json { printError($0) } })
        print(json ? result.jsonLine() : result.table())
    }
}
