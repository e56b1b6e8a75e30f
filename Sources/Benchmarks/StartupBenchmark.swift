import AgentProtocol
import AgentRuntime
import Artifacts
import Agents
import Foundation
import Topology
import Transport

/// `agentic bench startup`: how long each agent of a topology takes from `exec` to its first
/// answer when its model is loaded from an artifact, against the same agent fitting its model
/// at start (the old way), in one invocation.
///
/// Fits the topology's models into a fresh artifact directory first (the fitting job, not
/// timed), then starts each agent alone as `agentic up` would (`agentic agent`), `repeats`
/// times, and times it from the spawn to its first answer to a real decision request on its
/// socket. The baseline starts each model agent with an empty artifact directory, so it fits
/// at start. Medians are reported.
public struct StartupBenchmark: Sendable {
    public struct Configuration: Sendable {
        public var topology = "topology/movielens.yaml"
        /// Starts per agent and mode (the median is reported).
        public var repeats = 3
        /// The start-up target, in seconds.
        public var target = 0.3
        public init() {}
    }

    public struct Row: Codable, Sendable {
        public var agent: String
        public var kind: String
        /// Median wall time from spawn to the first answer, model from an artifact.
        public var fromArtifactSeconds: Double
        /// The same with no artifact (fitting at start); nil for kinds with no model.
        public var fittingAtStartSeconds: Double?
        public var ratio: Double?

        enum CodingKeys: String, CodingKey {
            case agent, kind, ratio
            case fromArtifactSeconds = "from_artifact_s"
            case fittingAtStartSeconds = "fitting_at_start_s"
        }
    }

    public struct Report: Codable, Sendable {
        public var topology: String
        public var repeats: Int
        public var agents: [Row]
        public var slowestFromArtifactSeconds: Double
        public var targetSeconds: Double
        public var met: Bool
        enum CodingKeys: String, CodingKey {
            case topology, repeats, agents, met
            case slowestFromArtifactSeconds = "slowest_from_artifact_s"
            case targetSeconds = "target_s"
        }
    }

    public let configuration: Configuration
    let factory: FactoryForTopology

    public init(configuration: Configuration, factory: @escaping FactoryForTopology) {
        self.configuration = configuration
        self.factory = factory
    }

    /// Runs it, a line per agent through `log`.
    public func run(log: @Sendable (String) -> Void) async throws -> Report {
        let (topology, repeats, target) = (configuration.topology, configuration.repeats, configuration.target)
        let factory = self.factory(topology)
        let spec = try BenchCluster.load(topology, factory: factory)
        let dataConfiguration = try DataConfiguration.resolve(
            topologyPath: topology, environment: ProcessInfo.processInfo.environment)
        setenv(DataConfiguration.directoryVariable, dataConfiguration.directory, 1)
        let temporary = try TemporaryDirectory(prefix: "agt")
        defer { temporary.remove() }
        let run = temporary.path + "/r"
        try FileManager.default.createDirectory(atPath: run + "/s", withIntermediateDirectories: true)
        // Two copies of the topology: one with the fitted artifacts, one with an empty directory.
        let fitted = run + "/artifacts", empty = run + "/empty"
        func write(_ artifacts: String, to file: String) throws -> String {
            var copy = spec
            copy.artifacts = artifacts
            try copy.renderYAML().write(toFile: file, atomically: true, encoding: .utf8)
            return file
        }
        let withArtifacts = try write(fitted, to: run + "/with.yaml")
        let withoutArtifacts = try write(empty, to: run + "/without.yaml")

        log("fitting \(ModelFitting.modelAgents(in: spec).count) models into \(fitted)")
        for agent in ModelFitting.modelAgents(in: spec) {
            _ = try ModelFitting.fit(
                agent: agent, spec: spec, catalogue: factory.catalogue, data: dataConfiguration,
                artifacts: ArtifactStore(directory: fitted))
        }
        var rows: [Row] = []
        // The stores first, and kept running while the others start: agents that learn from
        // feedback read the store's log before they serve, as they do when they restart in a
        // running cluster. The first start of a store seeds its database: it is not timed.
        var stores: [ChildProcess] = []
        for agent in spec.agents where agent.kind == "store" {
            stores.append(try await Self.start(agent.name, topology: withArtifacts, run: run).child)
        }
        defer { stores.forEach { $0.stop() } }
        for agent in spec.agents.sorted(by: { ($0.kind == "store" ? 1 : 0) < ($1.kind == "store" ? 1 : 0) })
        where agent.replicas > 0 {
            var loaded: [Double] = []
            var baseline: [Double] = []
            let hasModel = ModelFitting.fittedKinds.contains(agent.kind)
            if agent.kind == "store" {
                // Timed last, alone: the running instance gives its sockets up first.
                stores.forEach { $0.stop() }
                stores.removeAll()
            }
            for _ in 0..<repeats {
                loaded.append(try await Self.timeStart(agent.name, topology: withArtifacts, run: run))
                if hasModel {
                    try? FileManager.default.removeItem(atPath: empty)
                    baseline.append(try await Self.timeStart(agent.name, topology: withoutArtifacts, run: run))
                }
            }
            let row = Row(
                agent: agent.name, kind: agent.kind, fromArtifactSeconds: median(loaded),
                fittingAtStartSeconds: hasModel ? median(baseline) : nil,
                ratio: hasModel ? median(loaded) / max(median(baseline), 1e-9) : nil)
            let baselineText = row.fittingAtStartSeconds.map {
                String(format: "   %6.3f s fitting at start   ratio %.3f", $0, row.ratio ?? 0)
            }
            log(
                agent.name.padding(toLength: 12, withPad: " ", startingAt: 0) + " "
                    + agent.kind.padding(toLength: 18, withPad: " ", startingAt: 0)
                    + String(format: " %6.3f s from artifact", row.fromArtifactSeconds) + (baselineText ?? ""))
            rows.append(row)
        }
        let slowest = rows.map(\.fromArtifactSeconds).max() ?? 0
        return Report(
            topology: topology, repeats: repeats, agents: rows, slowestFromArtifactSeconds: slowest,
            targetSeconds: target, met: slowest <= target)
    }

    /// Starts `agent` alone, times it to its first answer, stops it.
    static func timeStart(_ agent: String, topology: String, run: String) async throws -> Double {
        let started = try await start(agent, topology: topology, run: run)
        started.child.stop()
        return started.seconds
    }

    /// Starts `agent` and waits for its first answer; the caller stops it.
    static func start(_ agent: String, topology: String, run: String) async throws -> (seconds: Double, child: ChildProcess) {
        let layout = RunLayout(runDirectory: run)
        let address = layout.decisionAddress(agent: agent, version: "1", replica: 0)
        unlink(String(address.dropFirst("ipc://".count)))
        let began = ContinuousClock.now
        let child = try ChildProcess(
            executable: Executables.sibling("agentic"),
            arguments: ["agent", "--run-dir", run, "--topology", topology, "--agent", agent, "--parent-pid", String(getpid()), "--watch-stdin"])
        // Redial every 5 ms: with the default backoff (up to 0.5 s between attempts while the
        // agent has not yet listened) the bench would time NNG's wait, not the start.
        var configuration = Requester.Configuration()
        configuration.socket.reconnectMinimum = .milliseconds(5)
        configuration.socket.reconnectMaximum = .milliseconds(5)
        let requester = try Requester(configuration: configuration)
        defer { Thread.detachNewThread { requester.close() } }
        try requester.dial(address)
        var attempt: UInt64 = 0
        while ContinuousClock.now - began < .seconds(120) {
            attempt += 1
            let request = DecisionRequest(requestID: "startup-\(attempt)", user: "1", k: 10, epoch: 0)
            if let payload = try? WireCodec.encode(request),
                let message = try? Message(envelope: Envelope(type: .request, requestID: attempt, payload: payload)),
                let reply = try? await requester.request(message, timeout: .milliseconds(200)),
                let envelope = try? reply.envelope(), envelope.type == .reply
            {
                let took = ContinuousClock.now - began
                return (Double(took.components.seconds) + Double(took.components.attoseconds) / 1e18, child)
            }
            try await Task.sleep(for: .milliseconds(2))
        }
        child.stop()
        throw BenchmarkError("\(agent) did not answer within 120 s")
    }
}
