import AgentProtocol
import ArgumentParser
import Artifacts
import Foundation
import Agents
import Topology
import Transport

/// `agentic bench startup`: how long each agent of a topology takes from `exec` to its first
/// answer when its model is loaded from an artifact, against the same agent fitting its model
/// at start (the old way), in one invocation.
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

    struct Row: Codable {
        var agent: String
        var kind: String
        /// Median wall time from spawn to the first answer, model from an artifact.
        var fromArtifactSeconds: Double
        /// The same with no artifact (fitting at start); nil for kinds with no model.
        var fittingAtStartSeconds: Double?
        var ratio: Double?

        enum CodingKeys: String, CodingKey {
            case agent, kind, ratio
            case fromArtifactSeconds = "from_artifact_s"
            case fittingAtStartSeconds = "fitting_at_start_s"
        }
    }

    func run() async throws {
        guard (1...20).contains(`repeat`) else { throw ValidationError("--repeat is 1 … 20") }
        Logs.bootstrap(defaultLevel: .error)
        let say: (String) -> Void = { if !json { printError($0) } }
        let factory = Kinds.factory(topologyPath: topology)
        let spec: TopologySpec
        do {
            spec = try TopologyValidator.load(contentsOf: topology, catalogue: factory.catalogue)
        } catch {
            throw CLIError("\(topology): \(error.description)")
        }
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

        say("fitting \(ModelFitting.modelAgents(in: spec).count) models into \(fitted)")
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
            for _ in 0..<`repeat` {
                loaded.append(try await Self.timeStart(agent.name, topology: withArtifacts, run: run))
                if hasModel {
                    try? FileManager.default.removeItem(atPath: empty)
                    baseline.append(try await Self.timeStart(agent.name, topology: withoutArtifacts, run: run))
                }
            }
            let row = Row(
                agent: agent.name, kind: agent.kind, fromArtifactSeconds: Self.median(loaded),
                fittingAtStartSeconds: hasModel ? Self.median(baseline) : nil,
                ratio: hasModel ? Self.median(loaded) / max(Self.median(baseline), 1e-9) : nil)
            let baselineText = row.fittingAtStartSeconds.map {
                String(format: "   %6.3f s fitting at start   ratio %.3f", $0, row.ratio ?? 0)
            }
            say(
                agent.name.padding(toLength: 12, withPad: " ", startingAt: 0) + " "
                    + agent.kind.padding(toLength: 18, withPad: " ", startingAt: 0)
                    + String(format: " %6.3f s from artifact", row.fromArtifactSeconds) + (baselineText ?? ""))
            rows.append(row)
        }
        let slowest = rows.map(\.fromArtifactSeconds).max() ?? 0
        if json {
            struct Report: Codable {
                var topology: String
                var repeats: Int
                var agents: [Row]
                var slowestFromArtifactSeconds: Double
                var targetSeconds: Double
                var met: Bool
                enum CodingKeys: String, CodingKey {
                    case topology, repeats, agents, met
                    case slowestFromArtifactSeconds = "slowest_from_artifact_s"
                    case targetSeconds = "target_s"
                }
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            let report = Report(
                topology: topology, repeats: `repeat`, agents: rows, slowestFromArtifactSeconds: slowest,
                targetSeconds: target, met: slowest <= target)
            emitLine(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            emitLine(
                String(format: "slowest start from artifacts %.3f s (target %.3f s): ", slowest, target)
                    + (slowest <= target ? "met" : "missed"))
        }
    }

    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        return sorted.isEmpty ? 0 : sorted[sorted.count / 2]
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
        throw CLIError("\(agent) did not answer within 120 s")
    }
}
