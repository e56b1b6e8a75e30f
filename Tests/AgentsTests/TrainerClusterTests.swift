import AgenticTesting
import Foundation
import Testing

/// The learning loop with real processes: clicks through the gateway, the trainer's snapshot,
/// the refit by the fitting job, and the new epoch, while requests keep being answered.
@Suite("The trainer in a running cluster", .serialized, .timeLimit(.minutes(4)))
struct TrainerClusterTests {
    static let topology = """
        epoch: 0
        name: trainer-test
        transport:
          kind: ipc
        agents:
          - name: itemknn
            kind: recall.itemknn
            parameters: { k: 10, neighbours: 20 }
          - name: store
            kind: store
          - name: trainer
            kind: trainer
            parameters: { every_events: 12, poll_ms: 100 }
        edges: []
        gateway:
          listen: [ "http://127.0.0.1:0" ]
          entry: itemknn
          exit: itemknn
          deadline_ms: 2000

        """

    static func agentic(_ arguments: [String], run: String) async throws -> [String: Any] {
        let process = try TestProcess.agentic(arguments + ["--run-dir", run, "--json"])
        _ = try await process.waitForExit(timeout: .seconds(30))
        let text = process.output().drop { !$0.hasPrefix("{") }.joined(separator: "\n")
        return (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:]
    }

    @Test("after every_events clicks the trainer snapshots them and a refit serves as a new epoch, no request failing")
    func refitFromFeedback() async throws {
        let directory = try ShortDirectory()
        let data = try Fixture.write(to: directory.path + "/ml")
        let cluster = try await TestCluster(
            topology: try directory.write("t.yaml", Self.topology), in: directory, environment: ["AGENTIC_DATA": data])
        defer { Task { await cluster.stop() } }
        #expect(cluster.ready.hasSuffix(" 0 failed"), "\(cluster.ready)")
        let load = ArtifactClusterTests.Load(gateway: cluster.baseURL)
        try await waitUntil("requests flow") { load.value.ok > 10 }

        // Twelve users click the top item of their list.
        var clicks: [(user: String, item: String)] = []
        for user in 1...12 {
            let (_, body) = await HTTP.postJSON(cluster.baseURL + "/v1/recommend", #"{"user": "\#(user)", "k": 5}"#)
            let item = try #require((body["items"] as? [[String: Any]])?.first?["item"] as? String)
            let (status, _) = await HTTP.postJSON(
                cluster.baseURL + "/v1/feedback", #"{"user": "\#(user)", "item": "\#(item)", "event": "click"}"#)
            #expect(status == 200)
            clicks.append((String(user), item))
        }

        var reason = ""
        try await waitUntil("the trainer's epoch", timeout: .seconds(120)) {
            let history = try await Self.agentic(["history"], run: cluster.runDirectory)
            let epochs = history["epochs"] as? [[String: Any]] ?? []
            reason = epochs.compactMap { $0["reason"] as? String }.first { $0.hasPrefix("trainer:") } ?? ""
            return !reason.isEmpty
        }
        #expect(reason.contains("12 events"), "\(reason)")
        let id = try #require(reason.split(separator: " ").dropFirst(2).first.map { String($0).trimmingCharacters(in: [","]) })
        // The served topology names the snapshot; the artifacts hold it and itemknn fitted on it.
        let served = try String(contentsOfFile: cluster.runDirectory + "/topology.yaml", encoding: .utf8)
        #expect(served.contains("training_snapshot: \(id)"), "\(served)")
        let artifacts = (try? FileManager.default.contentsOfDirectory(atPath: cluster.runDirectory + "/artifacts")) ?? []
        #expect(artifacts.contains { $0.hasPrefix("snapshot.feedback-") }, "\(artifacts)")
        #expect(artifacts.count { $0.hasPrefix("recall.itemknn-") } == 2, "\(artifacts)")
        // The refitted agent still knows every click: none is recommended again.
        for click in clicks {
            let (_, body) = await HTTP.postJSON(cluster.baseURL + "/v1/recommend", #"{"user": "\#(click.user)", "k": 10}"#)
            let items = (body["items"] as? [[String: Any]] ?? []).compactMap { $0["item"] as? String }
            #expect(items.count == 10 && !items.contains(click.item), "user \(click.user): \(items)")
        }
        let counts = await load.stop()
        #expect(counts.failed == 0 && counts.ok > 0, "\(counts)")
        await cluster.stop()
    }
}
