import AgentProtocol
import AgentRuntime
import AgenticTesting
import Foundation
import Testing
import Topology

@testable import Agents

/// The MovieLens agents keep what they learned from feedback across a restart: they ask their
/// host for the store's feedback at start, and their live view takes an event again without
/// harm (a replay overlaps the live topic).
@Suite("Feedback replay into the MovieLens agents", .serialized, .computeBound)
struct ReplayTests {
    let directory: ShortDirectory
    let data: DataConfiguration
    let topologyPath = "\(topologyDirectory)/movielens-small.yaml"

    init() throws {
        directory = try ShortDirectory()
        data = DataConfiguration(directory: try Fixture.write(to: directory.path + "/ml"))
    }

    @Test("the agents that keep a live view ask for the store's feedback after sequence 0; fusion, which keeps none, asks for nothing")
    func optIn() async throws {
        let factory = AgentKinds.factory(topologyPath: topologyPath, data: data)
        let spec = try TopologyValidator.load(contentsOf: topologyPath, catalogue: factory.catalogue)
        var asked: [String: FeedbackReplay?] = [:]
        for agent in spec.agents {
            let made = try factory.make(AgentContext(spec: spec, agent: agent.name, replica: 0, catalogue: factory.catalogue))
            asked[agent.name] = await made.feedbackReplay
        }
        for name in ["router", "popularity", "itemknn", "content", "ranker", "mmr"] {
            #expect(asked[name] == FeedbackReplay(after: 0), "\(name)")
        }
        #expect(asked["fusion"] == .some(nil))
    }

    @Test("applying events again (a replay overlapping the live topic) leaves the live view as applying them once")
    func applyIsIdempotent() throws {
        let loaded = try MovieLensData.load(data)
        let events = [
            FeedbackPayload(user: "3", item: "5", event: "click", value: 1),
            FeedbackPayload(user: "3", item: "7", event: "rating", value: 2),
            FeedbackPayload(user: "new", item: "brand-new", event: "click", value: 1),
            FeedbackPayload(user: "3", item: "7", event: "rating", value: 5),
            FeedbackPayload(user: "4", item: "1", event: "skip", value: 1),
        ]
        var once = LiveData(data: loaded)
        for event in events { _ = once.apply(event) }
        // Replayed in full, then the tail again in commit order, as the live topic delivers
        // what was committed while the replay ran.
        var twice = LiveData(data: loaded)
        for event in events + events.suffix(3) { _ = twice.apply(event) }
        #expect(twice.itemIDs == once.itemIDs)
        #expect(twice.popularity == once.popularity)
        #expect(twice.logPopularity == once.logPopularity)
        for user in ["3", "4", "new"] {
            #expect(twice.history(user) == once.history(user), "user \(user)")
        }
        #expect(once.history("3").ratings.last == 5, "the latest rating stands")
        let again = twice.apply(events[0])
        #expect(again?.newInteraction == false && again?.newItem == false)
    }
}

/// A recall agent killed with -9 and restarted by the coordinator answers as it did before:
/// the store's feedback is replayed into it before it serves.
@Suite("Feedback replay after a restart", .serialized, .timeLimit(.minutes(3)))
struct RestartReplayTests {
    /// One recall route as the whole graph, beside a store: the gateway's answer is the route's
    /// own list, so it shows what the restarted process knows.
    static let topology = """
        epoch: 0
        name: replay-test
        transport:
          kind: ipc
        agents:
          - name: itemknn
            kind: recall.itemknn
            parameters: { k: 10, neighbours: 20 }
            restart: { policy: permanent, intensity: 5, period_s: 60, backoff_ms: 50, max_backoff_ms: 500 }
          - name: store
            kind: store
        edges: []
        gateway:
          listen: [ "http://127.0.0.1:0" ]
          entry: itemknn
          exit: itemknn
          deadline_ms: 2000

        """

    /// An instance's pid, state and restarts, from `agentic status --json`.
    static func instance(_ name: String, in cluster: TestCluster) async throws -> (pid: Int32, state: String, restarts: Int) {
        let process = try TestProcess.agentic(["status", "--run-dir", cluster.runDirectory, "--json"])
        let line = try await process.waitForLine { $0.hasPrefix("{") }
        _ = try await process.waitForExit()
        let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
        let agents = object?["agents"] as? [[String: Any]] ?? []
        guard let agent = agents.first(where: { $0["name"] as? String == name }) else {
            throw TestFailure("no \(name) in the status")
        }
        return (Int32((agent["pid"] as? Int) ?? 0), agent["state"] as? String ?? "", agent["restarts"] as? Int ?? 0)
    }

    /// The gateway's answer for `user`: status, items, and the agents that degraded it.
    static func recommend(_ user: String, in cluster: TestCluster) async -> (status: Int, items: [String], degraded: [String]) {
        let (status, body) = await HTTP.postJSON(cluster.baseURL + "/v1/recommend", #"{"user": "\#(user)", "k": 10}"#)
        let items = (body["items"] as? [[String: Any]] ?? []).compactMap { $0["item"] as? String }
        return (status, items, body["degraded"] as? [String] ?? [])
    }

    @Test("kill -9 of a recall agent: once it serves again, a user's list is the one before the kill, clicked items still excluded")
    func restartedAgentKeepsFeedback() async throws {
        let directory = try ShortDirectory()
        let data = try Fixture.write(to: directory.path + "/ml")
        let cluster = try await TestCluster(
            topology: try directory.write("t.yaml", Self.topology), in: directory, environment: ["AGENTIC_DATA": data])
        #expect(cluster.ready.hasSuffix(" 0 failed"), "\(cluster.ready)")

        // User 3 clicks the top three items of their list; the store commits each click and
        // publishes it, and the agent drops them from the next answer.
        let first = await Self.recommend("3", in: cluster)
        #expect(first.status == 200 && first.items.count == 10, "\(first)")
        let clicked = Array(first.items.prefix(3))
        for item in clicked {
            let (status, answer) = await HTTP.postJSON(
                cluster.baseURL + "/v1/feedback", #"{"user": "3", "item": "\#(item)", "event": "click"}"#)
            #expect(status == 200 && answer["stored"] as? Bool == true, "\(status) \(answer)")
        }
        var before: [String] = []
        try await waitUntil("the clicks leave user 3's list", timeout: .seconds(20)) {
            let answer = await Self.recommend("3", in: cluster)
            before = answer.items
            return answer.status == 200 && answer.degraded.isEmpty && !answer.items.isEmpty
                && clicked.allSatisfy { !answer.items.contains($0) }
        }

        let victim = try await Self.instance("itemknn", in: cluster)
        #expect(victim.pid > 0 && victim.state == "serving")
        kill(victim.pid, SIGKILL)
        try await waitUntil("itemknn is restarted and serves", timeout: .seconds(60)) {
            let now = try await Self.instance("itemknn", in: cluster)
            return now.pid != victim.pid && now.pid > 0 && now.state == "serving" && now.restarts == 1
        }
        // The gateway reconnects on its own time: wait for an answer the route took part in,
        // then compare that one answer.
        var after = (status: 0, items: [String](), degraded: [String]())
        try await waitUntil("the gateway reaches the restarted itemknn", timeout: .seconds(20)) {
            after = await Self.recommend("3", in: cluster)
            return after.status == 200 && after.degraded.isEmpty && !after.items.isEmpty
        }
        #expect(after.items == before, "the restarted agent answers as before the kill")
        #expect(clicked.allSatisfy { !after.items.contains($0) }, "clicked items stay excluded: \(after.items)")
        await cluster.stop()
    }
}
