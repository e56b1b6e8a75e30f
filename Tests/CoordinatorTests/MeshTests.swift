import AgenticTesting
import AgentProtocol
import Foundation
import Synchronization
import Testing
import Transport

@testable import Coordinator

/// The whole mesh as users run it: `agentic up` with its gateway, requests over HTTP and
/// NNG, agents killed under a steady stream of requests.
@Suite("Mesh through the gateway", .serialized, .timeLimit(.minutes(3)))
struct MeshTests {
    /// `agentic up` of minimal.yaml with every agent at `replicas`, an NNG front, and a
    /// deadline long enough for a retry on the other replica.
    final class Mesh: Sendable {
        let directory: ShortDirectory
        let cluster: TestCluster
        var runDirectory: String { cluster.runDirectory }
        var up: TestProcess { cluster.up }
        var gateway: String { cluster.baseURL }

        init(replicas: Int) async throws {
            directory = try ShortDirectory()
            var text = try String(contentsOfFile: "\(topologyDirectory)/minimal.yaml", encoding: .utf8)
            text = text.replacingOccurrences(of: "    replicas: 2           # two processes; callers spread requests over them\n", with: "")
            text = text.replacingOccurrences(of: "    kind: ", with: "    replicas: \(replicas)\n    kind: ")
            text = text.replacingOccurrences(of: "  deadline_ms: 200", with: "  deadline_ms: 2000\n  nng: ipc://gw")
            cluster = try await TestCluster(topology: try directory.write("t.yaml", text), in: directory)
        }

        func status() async throws -> ClusterStatus {
            let process = try TestProcess.agentic(["status", "--run-dir", runDirectory, "--json"])
            let line = try await process.waitForLine { $0.hasPrefix("{") }
            _ = try await process.waitForExit()
            return try JSONDecoder().decode(ClusterStatus.self, from: Data(line.utf8))
        }

        /// One recommendation over HTTP: the status, and the `degraded` list when it is 200.
        func recommend(user: String, k: Int = 5) async -> (status: Int, degraded: [String], items: Int) {
            let (status, body) = await HTTP.postJSON(gateway + "/v1/recommend", #"{"user": "\#(user)", "k": \#(k)}"#)
            return (status, body["degraded"] as? [String] ?? [], (body["items"] as? [Any])?.count ?? 0)
        }

        func down() async throws {
            let process = try TestProcess.agentic(["down", "--run-dir", runDirectory])
            #expect(try await process.waitForExit(timeout: .seconds(40)) == 0)
            #expect(try await up.waitForExit() == 0)
            let sockets = (try? FileManager.default.contentsOfDirectory(atPath: "\(runDirectory)/s")) ?? []
            #expect(sockets.isEmpty, "socket files left behind: \(sockets)")
        }

    }

    /// Counts of a request stream.
    final class Tally: Sendable {
        private let counts = Mutex((ok: 0, failed: 0, degraded: 0))
        func record(_ status: Int, degraded: Bool) {
            counts.withLock {
                if status == 200 { $0.ok += 1 } else { $0.failed += 1 }
                if degraded { $0.degraded += 1 }
            }
        }
        var value: (ok: Int, failed: Int, degraded: Int) { counts.withLock { $0 } }
    }

    /// Runs `clients` request loops until `stop` is set.
    static func stream(_ mesh: Mesh, clients: Int, tally: Tally, stop: AtomicFlag) -> Task<Void, Never> {
        Task {
            await withTaskGroup(of: Void.self) { group in
                for client in 0..<clients {
                    group.addTask {
                        var n = 0
                        while !stop.isSet {
                            let answer = await mesh.recommend(user: "u\(client)-\(n)")
                            tally.record(answer.status, degraded: !answer.degraded.isEmpty)
                            n += 1
                        }
                    }
                }
            }
        }
    }

    @Test("up serves through the HTTP gateway and its NNG front; down leaves nothing behind")
    func servesOverHTTPAndNNG() async throws {
        let mesh = try await Mesh(replicas: 1)
        let answer = await mesh.recommend(user: "42", k: 5)
        #expect(answer.status == 200)
        #expect(answer.items == 5)
        #expect(answer.degraded.isEmpty)

        let requester = try Requester()
        defer { requester.close() }
        try requester.dial("ipc://\(mesh.runDirectory)/gw")
        let reply = try await requester.request(
            Message(envelope: Envelope(type: .request, requestID: 7, payload: Array(#"{"user": "42", "k": 3}"#.utf8))),
            timeout: .seconds(10)
        ).envelope()
        #expect(reply.type == .reply)
        let body = try JSONSerialization.jsonObject(with: Data(reply.payload)) as? [String: Any]
        #expect((body?["items"] as? [Any])?.count == 3)
        try await mesh.down()
    }

    @Test("with 2 replicas of every agent, kill -9 of each agent's first instance under load loses zero requests")
    func killEachAgentUnderLoad() async throws {
        let mesh = try await Mesh(replicas: 2)
        let tally = Tally()
        let stop = AtomicFlag()
        let stream = Self.stream(mesh, clients: 4, tally: tally, stop: stop)
        try await waitUntil("the stream is flowing") { tally.value.ok > 20 }
        let initial = try await mesh.status()
        for name in ["router", "static.a", "static.b", "fusion", "rank"] {
            let victim = try #require(initial.agents.first { $0.name == name && $0.replica == 0 })
            kill(victim.pid, SIGKILL)
            try await waitUntil("\(name)#0 is restarted", timeout: .seconds(30)) {
                let now = try await mesh.status().agents.first { $0.name == name && $0.replica == 0 }
                return now.map { $0.pid != victim.pid && $0.state == .serving } ?? false
            }
            let served = tally.value.ok
            try await waitUntil("requests flow after \(name) restarted") { tally.value.ok > served + 10 }
        }
        stop.set()
        await stream.value
        let (ok, failed, degraded) = tally.value
        #expect(failed == 0)
        #expect(ok > 100)
        // With a second replica the gateway retries there instead of skipping the agent.
        #expect(degraded == 0, "\(degraded) of \(ok) answers were degraded")
        try await mesh.down()
    }

    @Test("killing an agent that has no replica degrades answers instead of failing them, until it is back")
    func killSingleInstanceDegrades() async throws {
        let mesh = try await Mesh(replicas: 1)
        let tally = Tally()
        let stop = AtomicFlag()
        let stream = Self.stream(mesh, clients: 2, tally: tally, stop: stop)
        try await waitUntil("the stream is flowing") { tally.value.ok > 10 }
        let victim = try #require(try await mesh.status().agents.first { $0.name == "fusion" })
        kill(victim.pid, SIGKILL)
        try await waitUntil("fusion is restarted", timeout: .seconds(30)) {
            let now = try await mesh.status().agents.first { $0.name == "fusion" }
            return now.map { $0.pid != victim.pid && $0.state == .serving && $0.restarts == 1 } ?? false
        }
        let served = tally.value.ok
        try await waitUntil("requests flow after the restart") { tally.value.ok > served + 10 }
        stop.set()
        await stream.value
        #expect(tally.value.failed == 0)
        try await mesh.down()
    }

    @Test("a bad topology file: validate and up print every error with file, line and field, and start nothing")
    func badTopologyFile() async throws {
        let directory = try ShortDirectory()
        let file = try directory.write("bad.yaml", """
            epoch: 0
            name: bad
            agents:
              - name: a
                kind: recall.static
                parameters: { k: 5000 }
              - name: a
                kind: recall.nonexistent
            edges:
              - { from: a, to: ghost }
            gateway:
              listen: ["http://0.0.0.0:8080"]
              entry: a
              exit: a
            """)
        let validate = try TestProcess.agentic(["validate", file])
        #expect(try await validate.waitForExit() == 1)
        let lines = validate.output()
        for expected in [":6:", ":7:", ":8:", ":10:", ":12:"] {
            #expect(lines.contains { $0.hasPrefix(file + expected) }, "no error at line \(expected) in \(lines)")
        }
        let up = try TestProcess.agentic(["up", file, "--run-dir", "\(directory.path)/r"])
        #expect(try await up.waitForExit() != 0)
        #expect(!FileManager.default.fileExists(atPath: "\(directory.path)/r/s"))
    }
}
