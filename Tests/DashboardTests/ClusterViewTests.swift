import AgentProtocol
import AgenticTesting
import Coordinator
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import Topology
@testable import Dashboard

/// The view the page draws, built from the coordinator's answers, and the page's routes.
@Suite("Dashboard view")
struct ClusterViewTests {
    static let yaml = """
        epoch: 3
        name: tiny
        agents:
          - { name: a, kind: recall.static, parameters: { k: 2, items: "1,2" } }
          - { name: rank, kind: rank.passthrough, version: "2", parameters: { k: 2 } }
        edges:
          - { from: a, to: rank }
        gateway: { listen: [ "http://127.0.0.1:0" ], entry: [a], exit: rank, deadline_ms: 100 }
        """

    static func spec() throws -> TopologySpec { try TopologyValidator.load(source: yaml, file: "tiny.yaml") }

    static func instance(_ name: String, version: String, replica: Int = 0, pid: Int32, served: Int) -> InstanceStatus {
        InstanceStatus(
            name: name, replica: replica, kind: name == "a" ? "recall.static" : "rank.passthrough", version: version, pid: pid,
            address: "ipc://x", state: .serving, uptimeSeconds: 1, restarts: name == "a" ? 1 : 0, served: served, failed: 0,
            latencyP99Microseconds: Double(100 * (replica + 1)))
    }

    static func status(_ agents: [InstanceStatus], experiment: ExperimentStatus? = nil) -> ClusterStatus {
        ClusterStatus(
            runDirectory: "/r", coordinatorPID: 1, topology: "/r/topology.yaml", epoch: 3, state: "serving",
            gateway: "http://127.0.0.1:1", agents: agents, experiment: experiment)
    }

    @Test("instances are grouped per agent version; roles say serving, candidate or retiring; sums and worst p99")
    func roles() throws {
        let status = Self.status(
            [
                Self.instance("a", version: "1", pid: 10, served: 5), Self.instance("a", version: "1", replica: 1, pid: 11, served: 5),
                Self.instance("rank", version: "1", pid: 12, served: 1), Self.instance("rank", version: "2", pid: 13, served: 1),
                Self.instance("a", version: "2", pid: 14, served: 0),
            ],
            experiment: ExperimentStatus(experiment: "exp-1", share: 0.2, candidates: ["a@2"]))
        let view = ClusterView.make(
            status: status, spec: try Self.spec(), history: [], throughput: ["a@1#0": 2, "a@1#1": 3], experiments: [],
            reward: nil, pageLoads: 0, time: Date())
        #expect(view.agents.map { "\($0.name)@\($0.version):\($0.role)" } == ["a@1:serving", "rank@1:retiring", "rank@2:serving", "a@2:candidate"])
        #expect(view.agents[0].instances.count == 2 && view.agents[0].throughput == 5 && view.agents[0].restarts == 2)
        #expect(view.agents[0].latencyP99Microseconds == 200)
        #expect(view.edges == [EdgeView(from: "a", to: "rank", segments: nil)] && view.entry == ["a"] && view.exit == "rank")
        #expect(view.store == nil && view.experiment?.experiment == "exp-1")
    }

    @Test("listen addresses: HOST:PORT with or without http://; anything else is a clear error")
    func listen() throws {
        #expect(try Dashboard.parse(listen: "127.0.0.1:0") == ("127.0.0.1", 0))
        #expect(try Dashboard.parse(listen: "http://localhost:8080/") == ("localhost", 8080))
        #expect(try Dashboard.parse(listen: "[::1]:9") == ("::1", 9))
        for bad in ["8080", "host:port", ":80", "h:70000", ""] {
            #expect(throws: DashboardError.self) { try Dashboard.parse(listen: bad) }
        }
    }

    @Test("the sampler: an unreachable coordinator is said so; throughput from served counts; a new process starts again")
    func sampler() async throws {
        let source = ScriptedSource(spec: try Self.spec())
        let sampler = ClusterSampler(source: source, runDirectory: "/r", rewardBucket: .seconds(5), rewardWindow: .seconds(60), log: .init(label: "t"))
        await sampler.sample(now: Date(timeIntervalSince1970: 100))
        var view = await sampler.current
        #expect(!view.reachable && view.error?.contains("does not answer") == true)

        source.set([Self.instance("a", version: "1", pid: 10, served: 100), Self.instance("rank", version: "2", pid: 12, served: 0)])
        await sampler.sample(now: Date(timeIntervalSince1970: 101))
        source.set([Self.instance("a", version: "1", pid: 10, served: 130), Self.instance("rank", version: "2", pid: 12, served: 0)])
        await sampler.sample(now: Date(timeIntervalSince1970: 103))
        view = await sampler.current
        #expect(view.reachable && view.name == "tiny" && view.epoch == 3)
        #expect(view.agents.first { $0.name == "a" }?.throughput == 15)
        #expect(view.reward?.note == "this topology has no store")

        // Restarted: a new pid counting from zero is not a negative rate.
        source.set([Self.instance("a", version: "1", pid: 20, served: 3), Self.instance("rank", version: "2", pid: 12, served: 0)])
        await sampler.sample(now: Date(timeIntervalSince1970: 104))
        view = await sampler.current
        #expect(view.agents.first { $0.name == "a" }?.throughput == 0)
        #expect(source.topologyAsked == 1)
    }

    @Test("the routes: the page (counted), its state as JSON, health; nothing else")
    func routes() async throws {
        let source = ScriptedSource(spec: try Self.spec())
        source.set([Self.instance("a", version: "1", pid: 10, served: 1)])
        let dashboard = try Dashboard(configuration: .init(runDirectory: "/r"), source: source)
        await dashboard.sampleOnce()
        let app = Application(router: dashboard.makeRouter())
        try await app.test(.router) { client in
            let page = try await client.execute(uri: "/", method: .get)
            #expect(page.status == .ok && page.headers[.contentType]?.hasPrefix("text/html") == true)
            #expect(String(buffer: page.body).contains("/api/state"))
            await dashboard.sampleOnce()
            let state = try await client.execute(uri: "/api/state", method: .get)
            #expect(state.status == .ok)
            let view = try JSONDecoder().decode(ClusterView.self, from: Data(buffer: state.body))
            #expect(view.pageLoads == 1 && view.agents.map(\.name) == ["a"])
            #expect(try await client.execute(uri: "/healthz", method: .get).status == .ok)
            #expect(try await client.execute(uri: "/nothing", method: .get).status == .notFound)
        }
    }
}

/// A coordinator that answers what the test set (or does not answer while nothing is set).
final class ScriptedSource: ClusterSource, @unchecked Sendable {
    private let lock = NSLock()
    private var agents: [InstanceStatus]?
    private var asked = 0
    let spec: TopologySpec

    init(spec: TopologySpec) { self.spec = spec }

    func set(_ agents: [InstanceStatus]) { lock.withLock { self.agents = agents } }
    var topologyAsked: Int { lock.withLock { asked } }

    func status() async throws -> ClusterStatus {
        guard let agents = lock.withLock({ self.agents }) else { throw TestFailure("connection refused") }
        return ClusterViewTests.status(agents)
    }
    func topology() async throws -> ServingTopology {
        lock.withLock { asked += 1 }
        return ServingTopology(epoch: 3, spec: spec)
    }
    func history() async throws -> HistoryReport {
        HistoryReport(epoch: 3, epochs: [EpochRecord(epoch: 3, time: "2026-12-05T08:00:00Z", reason: "start", changes: [])])
    }
}
