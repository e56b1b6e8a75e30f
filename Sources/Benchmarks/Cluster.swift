public import AgentRuntime
import Foundation
import LoadGenerator
import Topology

/// What the cluster benchmarks share: `agentic up` in a private run directory, the load
/// shapes, and the topology they fall back to.
enum BenchCluster {
    /// Starts `agentic up FILE` in `runDirectory` and waits until it is up; the caller stops it.
    /// - Returns: the process and the gateway's recommend endpoint.
    static func up(_ topology: String, runDirectory: String) async throws -> (ChildProcess, String) {
        // With our pid and stdin: if this benchmark is killed, the cluster stops too.
        let up = try ChildProcess(
            executable: Executables.sibling("agentic"),
            arguments: ["up", topology, "--run-dir", runDirectory, "--parent-pid", String(getpid()), "--watch-stdin"])
        do {
            var gateway: String?
            while true {
                let line = try await up.nextLine(timeout: .seconds(120))
                if line.hasPrefix("gateway ") { gateway = String(line.dropFirst("gateway ".count)) }
                if line.hasPrefix("up ") { break }
            }
            guard let gateway else { throw BenchmarkError("agentic up started no gateway") }
            do {
                return (up, try LoadGenerator.Configuration(url: gateway, rate: 1, duration: .seconds(1)).url)
            } catch {
                throw BenchmarkError("\(error)")
            }
        } catch {
            up.stop()
            throw error
        }
    }

    /// Throughput counts only full answers: a degraded answer skipped agents, so it is cheaper.
    static func saturate(
        concurrency: Int, seconds: Double, timeout: Duration, send: @escaping @Sendable (OpenLoop.Call) async -> RequestOutcome
    ) async -> LoadReport {
        var loop = ClosedLoop(concurrency: concurrency, duration: .milliseconds(Int64(seconds * 1000)))
        loop.timeout = timeout
        return await loop.run(send: send)
    }

    /// `rate` requests per second for `seconds`, open loop. Both must be positive.
    static func atRate(
        _ rate: Double, seconds: Double, timeout: Duration, send: @escaping @Sendable (OpenLoop.Call) async -> RequestOutcome
    ) async -> LoadReport {
        var configuration = OpenLoop.Configuration(schedule: try! Schedule(rate: rate, duration: .milliseconds(Int64(seconds * 1000))))
        configuration.timeout = timeout
        configuration.grace = timeout
        return await OpenLoop(configuration: configuration).run(send: send)
    }

    /// Full answers per second.
    static func fullRPS(_ report: LoadReport) -> Double {
        report.elapsedSeconds > 0 ? Double(report.ok - report.degraded) / report.elapsedSeconds : 0
    }

    static func ratio(_ a: Double, _ b: Double) -> Double { b > 0 ? Rounding.round(a / b) : 0 }

    /// The topology to use, and why when it is the fallback: `given`, else
    /// topology/movielens.yaml when `factory` can make its kinds, else topology/minimal.yaml.
    static func pickTopology(_ given: String?, factory: AgentFactory) throws -> (String, String?) {
        if let given {
            guard FileManager.default.fileExists(atPath: given) else { throw BenchmarkError("no topology file \(given)") }
            return (absolute(given), nil)
        }
        let full = absolute("topology/movielens.yaml")
        let minimal = absolute("topology/minimal.yaml")
        guard FileManager.default.fileExists(atPath: minimal) else {
            throw BenchmarkError("no topology/minimal.yaml here: run from the repository or pass --topology")
        }
        if let spec = try? TopologyValidator.load(contentsOf: full, catalogue: factory.catalogue) {
            let missing = Set(spec.agents.map(\.kind)).subtracting(factory.kinds).sorted()
            if missing.isEmpty { return (full, nil) }
            return (minimal, "movielens.yaml needs kinds this build cannot make: \(missing.joined(separator: ", "))")
        }
        return (minimal, "movielens.yaml does not load with this build's kinds")
    }

    /// Loads `path` against `factory`'s kinds, the error naming the file.
    static func load(_ path: String, factory: AgentFactory) throws -> TopologySpec {
        do {
            return try TopologyValidator.load(contentsOf: path, catalogue: factory.catalogue)
        } catch {
            throw BenchmarkError("\(path): \(error.description)")
        }
    }

    static func absolute(_ path: String) -> String {
        path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
    }
}

/// How a benchmark gets the kinds this build runs for a topology file (the command line's
/// factory: data-free, MovieLens, trainer and store kinds).
public typealias FactoryForTopology = @Sendable (_ topologyPath: String) -> AgentFactory
