import AgentProtocol
import AgenticTesting
import Foundation
import Store
import Synchronization
import Testing
import Transport


/// The feedback path with real processes: `agentic up` with a store agent and the gateway.
@Suite("Store cluster", .serialized, .timeLimit(.minutes(3)))
struct StoreClusterTests {
    static let topology = """
        epoch: 0
        name: store-test
        transport:
          kind: ipc
        agents:
          - name: catalogue
            kind: recall.static
          - name: store
            kind: store
            restart: { policy: permanent, intensity: 50, period_s: 60, backoff_ms: 50, max_backoff_ms: 500 }
        edges: []
        gateway:
          listen: [ "http://127.0.0.1:0" ]
          entry: catalogue
          exit: catalogue
          deadline_ms: 1000

        """

    /// A running cluster, stopped when dropped.
    final class Cluster: Sendable {
        let directory: ShortDirectory
        let cluster: TestCluster
        var runDirectory: String { cluster.runDirectory }
        var up: TestProcess { cluster.up }
        var baseURL: String { cluster.baseURL }

        init() async throws {
            directory = try ShortDirectory()
            cluster = try await TestCluster(topology: try directory.write("t.yaml", StoreClusterTests.topology))
        }

        var databasePath: String { runDirectory + "/" + KnowledgeStore.defaultFileName }

        func post(_ path: String, _ body: String) async throws -> (Int, [String: Any]) {
            let answer = try await HTTP.request("POST", baseURL + path, body: Data(body.utf8), timeout: .seconds(20))
            return (answer.status, answer.object)
        }

        /// The store instance's pid and restarts, from `agentic status --json`.
        func store() async throws -> (pid: Int32, state: String) {
            let process = try TestProcess.agentic(["status", "--run-dir", runDirectory, "--json"])
            let line = try await process.waitForLine { $0.hasPrefix("{") }
            _ = try await process.waitForExit()
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            let agents = object?["agents"] as? [[String: Any]] ?? []
            guard let store = agents.first(where: { $0["name"] as? String == "store" }) else {
                throw TestFailure("no store in the status")
            }
            return (Int32((store["pid"] as? Int) ?? 0), store["state"] as? String ?? "")
        }

        func report() async throws -> [String: Any] {
            let process = try TestProcess.agentic(["report", "--run-dir", runDirectory, "--json"])
            let line = try await process.waitForLine { $0.hasPrefix("{") }
            #expect(try await process.waitForExit() == 0)
            return try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] ?? [:]
        }

        func down() async throws {
            let process = try TestProcess.agentic(["down", "--run-dir", runDirectory])
            #expect(try await process.waitForExit(timeout: .seconds(40)) == 0)
            #expect(try await up.waitForExit() == 0)
        }

    }

    @Test("feedback is acknowledged once stored, published after commit, stored once per event id; malformed → 400")
    func feedbackPath() async throws {
        let cluster = try await Cluster()
        // An agent's view: the store's publisher.
        let subscriber = try Subscriber()
        defer { subscriber.close() }
        try subscriber.subscribe(topic: Topics.feedback)
        try subscriber.dial(RunLayout(runDirectory: cluster.runDirectory).storeEvents(agent: "store", replica: 0))
        try await waitUntil("subscribed to the store's events") { subscriber.socket.pipeCount > 0 }

        let body = #"{"event_id": "ev-1", "user": "u-new", "item": "i-new", "event": "click"}"#
        let (status, answer) = try await cluster.post("/v1/feedback", body)
        #expect(status == 200)
        #expect(answer["stored"] as? Bool == true)
        #expect(answer["duplicates"] as? Int == 0)
        let (again, second) = try await cluster.post("/v1/feedback", body)
        #expect(again == 200)
        #expect(second["duplicates"] as? Int == 1, "a resent event is acknowledged as a duplicate")

        let heard = Heard()
        let listener = Task {
            for await message in subscriber.messages {
                guard let (_, envelope) = try? message.topicEnvelope() else { continue }
                for payload in FeedbackBatch.events(in: envelope.payload) {
                    guard let event = try? WireCodec.decode(FeedbackEvent.self, from: Array(payload)) else { continue }
                    heard.events.withLock { $0.append(event) }
                }
            }
        }
        defer { listener.cancel() }
        try await waitUntil("the stored event is published", timeout: .seconds(10)) {
            !heard.events.withLock { $0.isEmpty }
        }
        // A later event, published after the duplicate would have been: once it is heard, a
        // published duplicate would have been heard before it (one publisher, in order).
        let (third, _) = try await cluster.post("/v1/feedback", #"{"event_id": "ev-later", "user": "u-new", "item": "i-new", "event": "click"}"#)
        #expect(third == 200)
        try await waitUntil("the later event is published", timeout: .seconds(10)) {
            heard.events.withLock { $0.contains { $0.eventID == "ev-later" } }
        }
        let events = heard.events.withLock { $0 }
        #expect(events.map(\.eventID) == ["ev-1", "ev-later"], "published once: the duplicate is not published again")
        #expect(events.first?.user == "u-new")

        for malformed in [
            #"{"user": "u1", "event": "click"}"#, "{not json", #"{"user": "u1", "item": "i", "event": "purchase"}"#,
            #"{"events": [{"user": "u1", "item": "i", "event": "click", "event_id": "ok-1"}, {"user": "u1", "event": "click"}]}"#,
            #"{"events": []}"#,
        ] {
            let (code, problem) = try await cluster.post("/v1/feedback", malformed)
            #expect(code == 400, "\(malformed)")
            #expect((problem["error"] as? [String: Any])?["message"] is String)
        }
        let (batchStatus, batch) = try await cluster.post(
            "/v1/feedback",
            #"{"events": [{"user": "u1", "item": "i1", "event": "rating", "value": 4, "event_id": "ev-2"}, {"user": "u2", "item": "i2", "event": "click", "event_id": "ev-1"}]}"#
        )
        #expect(batchStatus == 200)
        #expect(batch["duplicates"] as? Int == 1)
        #expect(batch["event_ids"] as? [String] == ["ev-2", "ev-1"])

        // Concurrent single-event posts are coalesced into one store append by the gateway:
        // each post still hears its own outcome (the resent ev-2 alone is a duplicate).
        let ids = (0..<24).map { "ev-c\($0)" } + ["ev-2"]
        let answers = try await withThrowingTaskGroup(of: (String, Int, Int?).self) { group in
            for id in ids {
                group.addTask {
                    let (status, answer) = try await cluster.post(
                        "/v1/feedback", #"{"event_id": "\#(id)", "user": "u1", "item": "i1", "event": "click"}"#)
                    return (id, status, answer["duplicates"] as? Int)
                }
            }
            return try await group.reduce(into: [:]) { $0[$1.0] = ($1.1, $1.2) }
        }
        #expect(answers.values.allSatisfy { $0.0 == 200 })
        #expect(answers.filter { $0.value.1 == 1 }.map(\.key) == ["ev-2"])
        #expect(answers.values.filter { $0.1 == 0 }.count == 24)

        let store = try KnowledgeStore(path: cluster.databasePath, create: false)
        #expect(try store.feedbackEventIDs().sorted() == (["ev-1", "ev-later", "ev-2"] + ids.dropLast()).sorted(), "the rejected batch stored nothing")
        let counts = try store.counts()
        #expect(counts.users == 2)
        #expect(counts.items == 2)
        try await cluster.down()
    }

    @Test("kill -9 of the store during a stream of feedback: every acknowledged event is stored exactly once")
    func killedStoreLosesNothing() async throws {
        let cluster = try await Cluster()
        let stream = Stream()
        let streams = (0..<6).map { number in
            Task {
                var sequence = 0
                while !stream.stop.load(ordering: .relaxed) {
                    sequence += 1
                    let id = "s\(number)-\(sequence)"
                    let body = #"{"event_id": "\#(id)", "user": "u\#(sequence % 50)", "item": "i\#(sequence % 200)", "event": "click"}"#
                    let answer = try? await cluster.post("/v1/feedback", body)
                    if answer?.0 == 200, answer?.1["stored"] as? Bool == true {
                        stream.acknowledged.withLock { $0.append(id) }
                    } else {
                        stream.failures.add(1, ordering: .relaxed)
                    }
                }
            }
        }
        func count() -> Int { stream.acknowledged.withLock { $0.count } }
        for round in 1...5 {
            let before = count()
            try await waitUntil("feedback flows (round \(round))", timeout: .seconds(30)) { count() > before + 50 }
            let victim = try await cluster.store()
            #expect(victim.pid > 0)
            kill(victim.pid, SIGKILL)
            try await waitUntil("the store is restarted", timeout: .seconds(30)) {
                let now = try await cluster.store()
                return now.pid != victim.pid && now.pid > 0 && now.state == "serving"
            }
        }
        let before = count()
        try await waitUntil("feedback flows after the last restart", timeout: .seconds(30)) { count() > before + 50 }
        stream.stop.store(true, ordering: .relaxed)
        for task in streams { await task.value }

        let ids = stream.acknowledged.withLock { $0 }
        let store = try KnowledgeStore(path: cluster.databasePath, create: false)
        let stored = try store.feedbackEventIDs()
        let storedSet = Set(stored)
        #expect(stored.count == storedSet.count, "no event id twice")
        let missing = ids.filter { !storedSet.contains($0) }
        #expect(missing.isEmpty, "\(missing.count) of \(ids.count) acknowledged events are missing")
        #expect(ids.count > 200)
        // Every row is an event that was sent: the stored set holds nothing unknown.
        #expect(storedSet.allSatisfy { $0.hasPrefix("s") })
        try await cluster.down()
    }

    /// Events heard on the store's publisher.
    final class Heard: Sendable {
        let events = Mutex<[FeedbackEvent]>([])
    }

    /// What the feedback streams share.
    final class Stream: Sendable {
        let acknowledged = Mutex<[String]>([])
        let failures = Atomic<Int>(0)
        let stop = Atomic<Bool>(false)
    }

    @Test("served lists are logged with attribution; the report's rewards match the clicks sent")
    func report() async throws {
        let cluster = try await Cluster()
        var lists: [(String, [String])] = []
        for user in 1...4 {
            let (status, answer) = try await cluster.post("/v1/recommend", #"{"user": "u\#(user)", "k": 5}"#)
            #expect(status == 200)
            let items = (answer["items"] as? [[String: Any]] ?? []).compactMap { $0["item"] as? String }
            lists.append((answer["request_id"] as? String ?? "", items))
        }
        #expect(lists.allSatisfy { $0.1.count == 5 })
        // Clicks on ranks 1 and 3 of the first list and rank 2 of the second; nothing on the others.
        let clicks = [(0, 0), (0, 2), (1, 1)]
        for (number, (list, rank)) in clicks.enumerated() {
            let (request, items) = lists[list]
            let (status, _) = try await cluster.post(
                "/v1/feedback",
                #"{"event_id": "c\#(number)", "user": "u\#(list + 1)", "item": "\#(items[rank])", "event": "click", "request_id": "\#(request)"}"#
            )
            #expect(status == 200)
        }
        var report: [String: Any] = [:]
        try await waitUntil("the served lists are in the store") {
            report = try await cluster.report()
            return ((report["counts"] as? [String: Any])?["served_lists"] as? Int) == 4
        }
        let agents = report["agents"] as? [[String: Any]] ?? []
        let catalogue = try #require(agents.first { $0["agent"] as? String == "catalogue@1" })
        #expect(catalogue["contributed"] as? Int == 20)
        #expect(catalogue["clicked"] as? Int == 3)
        #expect(abs((catalogue["inner_ctr"] as? Double ?? 0) - 0.15) < 1e-9)
        #expect(catalogue["lists"] as? Int == 4)
        #expect(abs((catalogue["lists_clicked"] as? Double ?? 0) - 0.5) < 1e-9)
        // NDCG: list 1 clicks at ranks 1 and 3, list 2 at rank 2, lists 3 and 4 none.
        let first = (1 + 1 / log2(4.0)) / (1 + 1 / log2(3.0))
        let second = (1 / log2(3.0)) / 1
        #expect(abs((catalogue["ndcg"] as? Double ?? 0) - (first + second) / 4) < 1e-9)
        let epochs = report["epochs"] as? [[String: Any]] ?? []
        #expect(epochs.count == 1)
        #expect(epochs.first?["clicked"] as? Int == 3)
        try await cluster.down()
    }
}
