import AgentProtocol
import AgentRuntime
import ArgumentParser
import Foundation
import Gateway
import LoadGenerator
import Recommender
import Synchronization
import Topology

/// `agentic bench mesh`: one topology's pipeline through the real multi-process mesh
/// (`agentic up`, HTTP through the gateway) against the same agents called in this process
/// (same factory, same graph walk, no sockets), same users, same machine, one run.
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

    func run() async throws {
        let log: (String) -> Void = { line in if !json { printError(line) } }
        guard seconds > 0, seconds <= 3600, rateSeconds > 0, rateSeconds <= 3600, rate > 0, concurrency > 0, (1...99).contains(rounds) else {
            throw ValidationError("seconds, rate-seconds, rate and concurrency must be positive, rounds 1...99")
        }
        let (path, note) = try Self.pickTopology(topology, factory: Kinds.factory(topologyPath: topology ?? "topology/movielens.yaml"))
        let factory = Kinds.factory(topologyPath: path)
        log("topology \(path)\(note.map { " (\($0))" } ?? "")")
        let spec: TopologySpec
        do {
            spec = try TopologyValidator.load(contentsOf: path, catalogue: factory.catalogue)
        } catch {
            throw CLIError("\(path): \(error.description)")
        }
        let userList = try users.map { path in
            do { return try LoadGenerator.users(fromTSV: path) } catch { throw CLIError("\(error)") }
        } ?? (1...943).map(String.init)
        let k = 10
        let timeout = Duration.seconds(2)

        // The agents' processes get one OpenBLAS thread each (see Coordinator's Child); the
        // in-process side gets the same, so the comparison is of the mesh, not of BLAS settings.
        limitLinearAlgebraThreads(to: 1)
        // In process: every instance the topology names, made by the agents' own factory.
        log("in process: making the agents")
        let local = try InProcessAgents(spec: spec, factory: factory)
        let graph = try InProcessGraph(spec: spec) { name, request in await local.ask(name, request) }
        let localSend: @Sendable (OpenLoop.Call) async -> RequestOutcome = { call in
            let answer = await graph.recommend(user: userList[call.index % userList.count], k: k)
            return answer.items.isEmpty && !answer.degraded.isEmpty ? .failed(reason: "no answer") : .ok(degraded: answer.degraded)
        }

        // The mesh: `agentic up` in a private run directory, requests over HTTP. It idles
        // while the in-process side runs.
        let runDirectory = try TemporaryDirectory(prefix: "agt")
        defer { runDirectory.remove() }
        log("mesh: agentic up in \(runDirectory.path)")
        let (up, endpoint) = try await Self.up(path, runDirectory: runDirectory.path + "/r")
        defer { up.stop() }
        let client = RecommendClient(url: endpoint, connections: max(concurrency, 256))
        let meshSend: @Sendable (OpenLoop.Call) async -> RequestOutcome = { call in
            await client.recommend(user: userList[call.index % userList.count], k: k, deadline: call.deadline)
        }
        // At saturation the generator shares the two cores with the mesh: blocking
        // connections on threads of their own cost it a fraction of AsyncHTTPClient's CPU.
        let blocking: BlockingRecommendClient
        do { blocking = try BlockingRecommendClient(url: endpoint) } catch { throw CLIError("\(error)") }
        defer { blocking.shutdown() }
        let saturateMesh = { (seconds: Double) async -> LoadReport in
            var loop = ClosedLoop(concurrency: concurrency, duration: .milliseconds(Int64(seconds * 1000)))
            loop.timeout = timeout
            return await loop.runOnThreads { worker, call in
                blocking.recommend(worker: worker, user: userList[call.index % userList.count], k: k, timeout: timeout)
            }
        }

        // Saturation rounds alternate between the two sides: this machine's speed drifts by
        // tens of percent within a minute (other tenants), and a ratio of two figures taken
        // a minute apart measured the drift as much as the mesh. Each round's ratio compares
        // neighbours; the figures reported are medians over the rounds.
        log("warm-up: in process, then mesh")
        _ = await Self.saturate(concurrency: concurrency, seconds: min(1, seconds), timeout: timeout, send: localSend)
        _ = await saturateMesh(min(1, seconds))
        var saturation: [(local: LoadReport, mesh: LoadReport)] = []
        for round in 1...rounds {
            log("round \(round)/\(rounds): saturation in process, then mesh")
            let local = await Self.saturate(concurrency: concurrency, seconds: seconds, timeout: timeout, send: localSend)
            let mesh = await saturateMesh(seconds)
            saturation.append((local, mesh))
        }
        log("\(rate)/s: in process, then mesh")
        let localRate = await Self.atRate(rate, seconds: rateSeconds, timeout: timeout, send: localSend)
        let meshRate = await Self.atRate(rate, seconds: rateSeconds, timeout: timeout, send: meshSend)
        await client.shutdown()

        let result = Result(
            topology: path, note: note, concurrency: concurrency, rate: rate,
            saturation: saturation, local: localRate, mesh: meshRate)
        if json { print(result.jsonLine()) } else { print(result.table()) }
    }

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
            guard let gateway else { throw CLIError("agentic up started no gateway") }
            do {
                return (up, try LoadGenerator.Configuration(url: gateway, rate: 1, duration: .seconds(1)).url)
            } catch {
                throw CLIError("\(error)")
            }
        } catch {
            up.stop()
            throw error
        }
    }

    /// Throughput counts only full answers: a degraded answer skipped agents, so it is cheaper.
    static func saturate(concurrency: Int, seconds: Double, timeout: Duration, send: @escaping @Sendable (OpenLoop.Call) async -> RequestOutcome) async -> LoadReport {
        var loop = ClosedLoop(concurrency: concurrency, duration: .milliseconds(Int64(seconds * 1000)))
        loop.timeout = timeout
        return await loop.run(send: send)
    }

    static func atRate(_ rate: Double, seconds: Double, timeout: Duration, send: @escaping @Sendable (OpenLoop.Call) async -> RequestOutcome) async -> LoadReport {
        // Validated above: positive rate and duration.
        var configuration = OpenLoop.Configuration(schedule: try! Schedule(rate: rate, duration: .milliseconds(Int64(seconds * 1000))))
        configuration.timeout = timeout
        configuration.grace = timeout
        return await OpenLoop(configuration: configuration).run(send: send)
    }

    /// The topology to use, and why when it is the fallback.
    static func pickTopology(_ given: String?, factory: AgentFactory) throws -> (String, String?) {
        if let given {
            guard FileManager.default.fileExists(atPath: given) else { throw CLIError("no topology file \(given)") }
            return (absolute(given), nil)
        }
        let full = absolute("topology/movielens.yaml")
        let minimal = absolute("topology/minimal.yaml")
        guard FileManager.default.fileExists(atPath: minimal) else {
            throw CLIError("no topology/minimal.yaml here: run from the repository or pass --topology")
        }
        if let spec = try? TopologyValidator.load(contentsOf: full, catalogue: factory.catalogue) {
            let missing = Set(spec.agents.map(\.kind)).subtracting(factory.kinds).sorted()
            if missing.isEmpty { return (full, nil) }
            return (minimal, "movielens.yaml needs kinds this build cannot make: \(missing.joined(separator: ", "))")
        }
        return (minimal, "movielens.yaml does not load with this build's kinds")
    }

    struct Result {
        let topology: String
        let note: String?
        let concurrency: Int
        let rate: Double
        /// One pair per round, in the order run.
        let saturation: [(local: LoadReport, mesh: LoadReport)]
        /// At the fixed rate.
        let local: LoadReport
        let mesh: LoadReport

        static func fullRPS(_ report: LoadReport) -> Double {
            report.elapsedSeconds > 0 ? Double(report.ok - report.degraded) / report.elapsedSeconds : 0
        }
        static func ratio(_ a: Double, _ b: Double) -> Double { b > 0 ? LoadReportRounding.round(a / b) : 0 }
        static func median(_ values: [Double]) -> Double {
            let sorted = values.sorted()
            guard !sorted.isEmpty else { return 0 }
            let middle = sorted.count / 2
            return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
        }

        var object: [String: any Sendable] {
            let r = LoadReportRounding.round
            let localRounds = saturation.map { Self.fullRPS($0.local) }
            let meshRounds = saturation.map { Self.fullRPS($0.mesh) }
            let ratios = zip(meshRounds, localRounds).map { $1 > 0 ? $0 / $1 : 0 }
            let sum = { (reports: [LoadReport], value: (LoadReport) -> Int) in reports.reduce(0) { $0 + value($1) } }
            let localReports = saturation.map(\.local) + [local]
            let meshReports = saturation.map(\.mesh) + [mesh]
            var object: [String: any Sendable] = [
                "topology": topology, "concurrency": concurrency, "rate": rate, "rounds": saturation.count,
                "inprocess_rps": r(Self.median(localRounds)), "mesh_rps": r(Self.median(meshRounds)),
                "mesh_over_inprocess_rps": r(Self.median(ratios)),
                "inprocess_rps_rounds": localRounds.map(r), "mesh_rps_rounds": meshRounds.map(r),
                "mesh_over_inprocess_rps_rounds": ratios.map(r),
                "inprocess_p50_ms_at_rate": r(local.p50), "inprocess_p99_ms_at_rate": r(local.p99),
                "mesh_p50_ms_at_rate": r(mesh.p50), "mesh_p99_ms_at_rate": r(mesh.p99),
                "mesh_over_inprocess_p50": Self.ratio(mesh.p50, local.p50),
                "mesh_over_inprocess_p99": Self.ratio(mesh.p99, local.p99),
                "inprocess_p99_ms_at_saturation": r(Self.median(saturation.map(\.local.p99))),
                "mesh_p99_ms_at_saturation": r(Self.median(saturation.map(\.mesh.p99))),
                "inprocess_failed": sum(localReports, \.failed),
                "mesh_failed": sum(meshReports, \.failed),
                "inprocess_degraded": sum(localReports, \.degraded),
                "mesh_degraded": sum(meshReports, \.degraded),
            ]
            if let note { object["topology_note"] = note }
            return object
        }

        func jsonLine() -> String { LoadReport.jsonLine(object) }

        func table() -> String {
            let o = object
            func number(_ key: String) -> String { String(format: "%.3f", (o[key] as? Double) ?? 0) }
            func list(_ key: String) -> String { ((o[key] as? [Double]) ?? []).map { String(format: "%.3f", $0) }.joined(separator: " ") }
            return """
                topology \(topology)\(note.map { " (\($0))" } ?? "")
                                      in-process        mesh     mesh/in-process
                rps (saturation, \(concurrency) in flight, median of \(saturation.count))  \(number("inprocess_rps"))  \(number("mesh_rps"))  \(number("mesh_over_inprocess_rps"))
                  rounds: in-process \(list("inprocess_rps_rounds")); mesh \(list("mesh_rps_rounds")); ratio \(list("mesh_over_inprocess_rps_rounds"))
                p50 ms at \(rate)/s   \(number("inprocess_p50_ms_at_rate"))  \(number("mesh_p50_ms_at_rate"))  \(number("mesh_over_inprocess_p50"))
                p99 ms at \(rate)/s   \(number("inprocess_p99_ms_at_rate"))  \(number("mesh_p99_ms_at_rate"))  \(number("mesh_over_inprocess_p99"))
                failed  in-process \(o["inprocess_failed"] ?? 0)  mesh \(o["mesh_failed"] ?? 0);  degraded  in-process \(o["inprocess_degraded"] ?? 0)  mesh \(o["mesh_degraded"] ?? 0)
                """
        }
    }
}

enum LoadReportRounding {
    static func round(_ value: Double) -> Double { (value * 1000).rounded() / 1000 }
}

/// Every instance of every agent in the topology, made in this process, asked round robin
/// over an agent's replicas, with the request encoded and decoded as nowhere (no sockets).
final class InProcessAgents: Sendable {
    private let agents: [String: [any Agent]]
    private let next = Atomic<Int>(0)

    init(spec: TopologySpec, factory: AgentFactory) throws {
        var agents: [String: [any Agent]] = [:]
        for agent in spec.agents {
            agents[agent.name] = try (0..<max(1, agent.replicas)).map { replica in
                try factory.make(AgentContext(spec: spec, agent: agent.name, replica: replica, catalogue: factory.catalogue))
            }
        }
        self.agents = agents
    }

    func ask(_ name: String, _ request: DecisionRequest) async -> AgentOutput? {
        guard let instances = agents[name], !instances.isEmpty else { return nil }
        let instance = instances[next.wrappingAdd(1, ordering: .relaxed).oldValue % instances.count]
        return try? await instance.decide(request)
    }
}
