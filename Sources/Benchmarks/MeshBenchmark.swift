import AgentProtocol
import AgentRuntime
import Foundation
import Gateway
import LoadGenerator
import Recommender
import Synchronization
import Topology

/// `agentic bench mesh`: one topology's pipeline through the real multi-process mesh
/// (`agentic up`, HTTP through the gateway) against the same agents called in this process
/// (same factory, same graph walk, no sockets), same users, same machine, one run.
public struct MeshBenchmark: Sendable {
    public struct Configuration: Sendable {
        /// nil: topology/movielens.yaml when its kinds can be made here, else topology/minimal.yaml.
        public var topology: String?
        /// Seconds per saturation figure.
        public var seconds = 5.0
        /// Requests in flight at saturation.
        public var concurrency = 32
        /// The fixed moderate rate (requests per second) for the latency figures.
        public var rate = 200.0
        /// Seconds of load at that rate.
        public var rateSeconds = 5.0
        /// A split file (TSV with a user column) whose users are asked for, in order; nil: 1 … 943.
        public var users: String?
        /// Saturation rounds, in-process and mesh alternating; the figures are medians.
        public var rounds = 3
        public init() {}
    }

    public let configuration: Configuration
    let factory: FactoryForTopology

    public init(configuration: Configuration, factory: @escaping FactoryForTopology) {
        self.configuration = configuration
        self.factory = factory
    }

    /// Runs it, saying what it does through `log`.
    public func run(log: @Sendable (String) -> Void) async throws -> Result {
        let (seconds, concurrency, rate, rateSeconds, rounds) = (
            configuration.seconds, configuration.concurrency, configuration.rate, configuration.rateSeconds, configuration.rounds)
        let (path, note) = try BenchCluster.pickTopology(
            configuration.topology, factory: self.factory(configuration.topology ?? "topology/movielens.yaml"))
        let factory = self.factory(path)
        log("topology \(path)\(note.map { " (\($0))" } ?? "")")
        let spec = try BenchCluster.load(path, factory: factory)
        let userList = try configuration.users.map { path in
            do { return try LoadGenerator.users(fromTSV: path) } catch { throw BenchmarkError("\(error)") }
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
        let (up, endpoint) = try await BenchCluster.up(path, runDirectory: runDirectory.path + "/r")
        defer { up.stop() }
        let client = RecommendClient(url: endpoint, connections: max(concurrency, 256))
        let meshSend: @Sendable (OpenLoop.Call) async -> RequestOutcome = { call in
            await client.recommend(user: userList[call.index % userList.count], k: k, deadline: call.deadline)
        }
        // At saturation the generator shares the two cores with the mesh: blocking
        // connections on threads of their own cost it a fraction of AsyncHTTPClient's CPU.
        let blocking: BlockingRecommendClient
        do { blocking = try BlockingRecommendClient(url: endpoint) } catch { throw BenchmarkError("\(error)") }
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
        _ = await BenchCluster.saturate(concurrency: concurrency, seconds: min(1, seconds), timeout: timeout, send: localSend)
        _ = await saturateMesh(min(1, seconds))
        var saturation: [(local: LoadReport, mesh: LoadReport)] = []
        for round in 1...rounds {
            log("round \(round)/\(rounds): saturation in process, then mesh")
            let local = await BenchCluster.saturate(concurrency: concurrency, seconds: seconds, timeout: timeout, send: localSend)
            let mesh = await saturateMesh(seconds)
            saturation.append((local, mesh))
        }
        log("\(rate)/s: in process, then mesh")
        let localRate = await BenchCluster.atRate(rate, seconds: rateSeconds, timeout: timeout, send: localSend)
        let meshRate = await BenchCluster.atRate(rate, seconds: rateSeconds, timeout: timeout, send: meshSend)
        await client.shutdown()

        return Result(
            topology: path, note: note, concurrency: concurrency, rate: rate,
            saturation: saturation, local: localRate, mesh: meshRate)
        }

    public struct Result: Sendable {
        let topology: String
        let note: String?
        let concurrency: Int
        let rate: Double
        /// One pair per round, in the order run.
        let saturation: [(local: LoadReport, mesh: LoadReport)]
        /// At the fixed rate.
        let local: LoadReport
        let mesh: LoadReport

        static func fullRPS(_ report: LoadReport) -> Double { BenchCluster.fullRPS(report) }
        static func ratio(_ a: Double, _ b: Double) -> Double { BenchCluster.ratio(a, b) }
        /// The mean of the two middle values for an even count.
        static func median(_ values: [Double]) -> Double {
            let sorted = values.sorted()
            guard !sorted.isEmpty else { return 0 }
            let middle = sorted.count / 2
            return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
        }

        var object: [String: any Sendable] {
            let r = Rounding.round
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

        /// The figures as one JSON object on one line.
        public func jsonLine() -> String { LoadReport.jsonLine(object) }

        /// The figures for people.
        public func table() -> String {
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
