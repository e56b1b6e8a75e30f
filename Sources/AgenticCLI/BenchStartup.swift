import ArgumentParser
import Benchmarks
import Foundation

/// `agentic bench startup` (see ``StartupBenchmark``).
struct BenchStartup: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "startup",
        abstract: "Start-up of every agent from existing artifacts against fitting at start, one run.",
        discussion: """
            Fits the topology's models into a fresh artifact directory first (the fitting job, \
            not timed), then starts each agent alone as `agentic up` would (`agentic agent`), \
            --repeat times, and times it from the spawn to its first answer to a real decision \
            request on its socket. The baseline starts each model agent with an empty artifact \
            directory, so it fits at start. Medians are reported; the target is 0.3 s each.
            """)

    @Flag(help: "Print one JSON object instead of a table.") var json = false
    @Option(help: "The topology.") var topology = "topology/movielens.yaml"
    @Option(help: "Starts per agent and mode (the median is reported).") var `repeat` = 3
    @Option(help: "The start-up target, in seconds.") var target = 0.3

    func validate() throws {
        guard (1...20).contains(`repeat`) else { throw ValidationError("--repeat is 1 … 20") }
    }

    func run() async throws {
        Logs.bootstrap(defaultLevel: .error)
        var configuration = StartupBenchmark.Configuration()
        configuration.topology = topology
        configuration.repeats = `repeat`
        configuration.target = target
        let json = self.json
        let report = try await StartupBenchmark(configuration: configuration, factory: { Kinds.factory(topologyPath: $0) })
            .run(log: { if !json { printError($0) } })
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            emitLine(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            emitLine(
                String(format: "slowest start from artifacts %.3f s (target %.3f s): ", report.slowestFromArtifactSeconds, report.targetSeconds)
                    + (report.met ? "met" : "missed"))
        }
    }
}
