import AgenticTesting
import AgentProtocol
import Foundation
import Synchronization
import Testing
import Transport

@testable import Coordinator

/// `agentic up / status / down` with real processes, and one `agentic agent` on its own.
@Suite("Cluster", .serialized, .timeLimit(.minutes(2)))
struct ClusterTests {
    /// A running `agentic up` on a copy of topology/minimal.yaml (or `topology`), stopped when dropped.
    final class Cluster: Sendable {
        let directory: ShortDirectory
        let runDirectory: String
        let up: TestProcess
        let layout: RunLayout

        init(topology: String? = nil, arguments: [String] = [], environment: [String: String] = [:]) async throws {
            directory = try ShortDirectory()
            let text = try topology ?? String(contentsOfFile: "\(topologyDirectory)/minimal.yaml", encoding: .utf8)
            let file = try directory.write("t.yaml", text)
            runDirectory = "\(directory.path)/r"
            layout = RunLayout(runDirectory: runDirectory)
            up = try TestProcess.agentic(
                ["up", file, "--run-dir", runDirectory, "--no-gateway"] + arguments, environment: environment)
            _ = try await up.waitForLine(timeout: .seconds(60)) { $0.hasPrefix("up ") }
        }

        func status() async throws -> ClusterStatus {
            let process = try TestProcess.agentic(["status", "--run-dir", runDirectory, "--json"])
            // The exit can be seen before the reader thread has the output: wait for the line itself.
            let line = try await process.waitForLine { $0.hasPrefix("{") }
            #expect(try await process.waitForExit() == 0)
            return try JSONDecoder().decode(ClusterStatus.self, from: Data(line.utf8))
        }

        func down() async throws {
            let process = try TestProcess.agentic(["down", "--run-dir", runDirectory])
            #expect(try await process.waitForExit(timeout: .seconds(40)) == 0)
            #expect(try await up.waitForExit() == 0)
        }

        deinit { up.stop() }
    }

    static func decide(_ requester: Requester, _ request: DecisionRequest, timeout: Duration = .seconds(5)) async throws
        -> Envelope
    {
        let message = try Message(
            envelope: Envelope(type: .request, requestID: 1, traceID: .random(), payload: WireCodec.encode(request)))
        return try await requester.request(message, timeout: timeout).envelope()
    }

    static func requester(_ address: String) throws -> Requester {
        let requester = try Requester()
        try requester.dial(address)
        return requester
    }

    @Test(
        "up starts every instance; each answers decisions at its RunLayout address; status lists them; down cleans up")
    func upStatusDown() async throws {
        let cluster = try await Cluster()
        let status = try await cluster.status()
        #expect(
            status.agents.map { "\($0.name)#\($0.replica)" } == [
                "router#0", "static.a#0", "static.a#1", "static.b#0", "fusion#0", "rank#0",
            ])
        #expect(
            status.agents.allSatisfy {
                $0.state == .serving && $0.pid > 0 && ProcessProbe.isAlive($0.pid) && $0.version == "1"
            })
        #expect(Set(status.agents.map(\.pid)).count == 6)
        #expect(status.agents.first { $0.name == "fusion" }?.kind == "fusion")

        // Walk the graph by hand, as the gateway will: router → static.a/b → fusion → rank.
        func ask(_ agent: String, replica: Int = 0, _ inputs: [AgentOutput]) async throws -> AgentOutput {
            let requester = try Self.requester(cluster.layout.decisionAddress(agent: agent, replica: replica))
            defer { requester.close() }
            let reply = try await Self.decide(
                requester, DecisionRequest(requestID: "q-\(agent)", user: "u1", k: 10, epoch: 0, inputs: inputs))
            #expect(reply.type == .reply)
            let output = try WireCodec.decode(AgentOutput.self, from: reply.payload)
            #expect(output.agent == agent)
            return output
        }
        let routed = try await ask("router", [])
        #expect(routed.segment == "cold")
        let a0 = try await ask("static.a", replica: 0, [routed])
        let a1 = try await ask("static.a", replica: 1, [routed])
        #expect(a0.items == a1.items && a0.items.first?.item == "1" && a0.items.count == 20)
        let b = try await ask("static.b", [routed])
        #expect(b.items.first?.item == "50")
        let fused = try await ask("fusion", [a0, b])
        #expect(fused.items.count == 40 && fused.items.first?.item == "1")
        let ranked = try await ask("rank", [fused])
        #expect(ranked.items.count == 10)

        try await cluster.down()
        #expect(RunDirectory.socketFiles(cluster.runDirectory) == [])
        for agent in status.agents { #expect(!ProcessProbe.isAlive(agent.pid), "\(agent.name) still runs") }
    }

    @Test("kill -9 of one replica: it is restarted with a new pid while the other replica answers every request")
    func killedReplicaIsRestarted() async throws {
        let cluster = try await Cluster()
        let before = try await cluster.status()
        let victim = try #require(before.agents.first { $0.name == "static.a" && $0.replica == 0 })
        let requester = try Self.requester(cluster.layout.decisionAddress(agent: "static.a", replica: 1))
        defer { requester.close() }
        let stop = AtomicFlag()
        let stream = Task {
            var (answered, failed) = (0, 0)
            while !stop.isSet {
                let reply = try? await Self.decide(
                    requester, DecisionRequest(requestID: "s\(answered)", user: "u", k: 10, epoch: 0))
                if reply?.type == .reply { answered += 1 } else { failed += 1 }
            }
            return (answered, failed)
        }
        try await waitUntil("the stream is flowing") {
            (try await cluster.status().agents.first { $0.name == "static.a" && $0.replica == 1 }?.served ?? 0) > 5
        }
        kill(victim.pid, SIGKILL)
        try await waitUntil("static.a#0 is restarted") {
            guard let now = try await cluster.status().agents.first(where: { $0.name == "static.a" && $0.replica == 0 })
            else { return false }
            return now.pid != victim.pid && now.pid > 0 && now.state == .serving && now.restarts == 1
        }
        stop.set()
        let (answered, failed) = await stream.value
        #expect(failed == 0)
        #expect(answered > 0)
        try await cluster.down()
    }

    @Test("a hung agent (SIGSTOP: alive, but no heartbeats) is killed and restarted")
    func hungAgentIsRestarted() async throws {
        let cluster = try await Cluster()
        let victim = try #require(try await cluster.status().agents.first { $0.name == "static.b" })
        kill(victim.pid, SIGSTOP)
        try await waitUntil("static.b is restarted", timeout: .seconds(40)) {
            guard let now = try await cluster.status().agents.first(where: { $0.name == "static.b" }) else { return false }
            return now.pid != victim.pid && now.pid > 0 && now.state == .serving && now.restarts == 1
        }
        #expect(!ProcessProbe.isAlive(victim.pid))
        try await cluster.down()
    }

    @Test("a crash-looping agent escalates to failed instead of restarting forever")
    func crashLoopEscalates() async throws {
        let topology = """
            epoch: 0
            name: crashloop
            agents:
              - name: good
                kind: recall.static
              - name: bad
                kind: test.probe
                parameters: { crash_on_start: true }
                restart: { policy: permanent, intensity: 2, period_s: 60, backoff_ms: 10, max_backoff_ms: 50 }
            edges:
              - { from: good, to: bad }
            gateway: { entry: good, exit: bad }
            """
        let cluster = try await Cluster(topology: topology, environment: ["AGENTIC_TEST_KINDS": "1"])
        #expect(cluster.up.output().contains("ready 1 instances serving, 1 failed"))
        let status = try await cluster.status()
        let bad = try #require(status.agents.first { $0.name == "bad" })
        #expect(bad.state == .failed)
        #expect(bad.restarts == 2)
        #expect(bad.pid == 0)
        #expect(status.agents.first { $0.name == "good" }?.state == .serving)
        try await cluster.down()
    }

    @Test("the test kind is refused without AGENTIC_TEST_KINDS, with a clear error")
    func testKindIsHidden() async throws {
        let directory = try ShortDirectory()
        let file = try directory.write(
            "t.yaml",
            """
            epoch: 0
            name: hidden
            agents:
              - { name: bad, kind: test.probe }
            edges: []
            gateway: { entry: bad, exit: bad }
            """)
        let up = try TestProcess.agentic(["up", file, "--run-dir", "\(directory.path)/r", "--no-gateway"])
        #expect(try await up.waitForExit() == 1)
    }

    @Test("Ctrl-C on up stops everything as down does; then status says nothing runs and down has nothing to do")
    func interruptStopsEverything() async throws {
        let cluster = try await Cluster()
        let pids = try await cluster.status().agents.map(\.pid)
        kill(cluster.up.pid, SIGINT)
        #expect(try await cluster.up.waitForExit(timeout: .seconds(30)) == 0)
        #expect(!pids.contains(where: ProcessProbe.isAlive))
        #expect(RunDirectory.socketFiles(cluster.runDirectory) == [])
        let status = try TestProcess.agentic(["status", "--run-dir", cluster.runDirectory])
        #expect(try await status.waitForExit() == 1)
        let down = try TestProcess.agentic(["down", "--run-dir", cluster.runDirectory])
        #expect(try await down.waitForLine { $0.hasPrefix("no cluster is running") }.isEmpty == false)
        #expect(try await down.waitForExit() == 0)
    }

    @Test("up with --parent-pid and --watch-stdin stops the whole cluster when its parent's end of stdin closes")
    func orphanedUpStops() async throws {
        let cluster = try await Cluster(arguments: ["--parent-pid", String(getpid()), "--watch-stdin"])
        let pids = try await cluster.status().agents.map(\.pid)
        #expect(pids.count == 6 && pids.allSatisfy(ProcessProbe.isAlive))
        cluster.up.closeInput()
        #expect(try await cluster.up.waitForExit(timeout: .seconds(30)) == 0)
        #expect(!pids.contains(where: ProcessProbe.isAlive))
        #expect(RunDirectory.socketFiles(cluster.runDirectory) == [])
    }

    @Test("SIGKILL of the coordinator leaves no agent process behind")
    func coordinatorKilled() async throws {
        let cluster = try await Cluster()
        let pids = try await cluster.status().agents.map(\.pid)
        #expect(pids.count == 6 && pids.allSatisfy(ProcessProbe.isAlive))
        kill(cluster.up.pid, SIGKILL)
        try await waitUntil("every agent has exited") { !pids.contains(where: ProcessProbe.isAlive) }
    }

    // MARK: one agent on its own

    /// `agentic agent` for the `slow` test.probe of a small topology, without a coordinator.
    final class LoneAgent: Sendable {
        let directory: ShortDirectory
        let process: TestProcess
        let layout: RunLayout

        init(delayMs: Int) async throws {
            directory = try ShortDirectory()
            let file = try directory.write(
                "t.yaml",
                """
                epoch: 0
                name: lone
                agents:
                  - { name: slow, kind: test.probe, parameters: { delay_ms: \(delayMs) } }
                edges: []
                gateway: { entry: slow, exit: slow }
                """)
            layout = RunLayout(runDirectory: "\(directory.path)/r")
            try FileManager.default.createDirectory(atPath: layout.socketDirectory, withIntermediateDirectories: true)
            process = try TestProcess.agentic(
                [
                    "agent", "--run-dir", layout.runDirectory, "--topology", file, "--agent", "slow", "--replica", "0",
                    "--watch-stdin",
                ],
                environment: ["AGENTIC_TEST_KINDS": "1"])
            let control = try ClusterTests.requester(layout.controlAddress(agent: "slow", replica: 0))
            defer { control.close() }
            try await waitUntil("the agent serves") { (try? await Self.control(control, .health))?.state == .serving }
        }

        static func control(_ requester: Requester, _ command: ControlRequest.Command) async throws -> ControlResponse {
            let payload = try WireCodec.encode(ControlRequest(command: command))
            let reply = try await requester.request(
                Message(envelope: Envelope(type: .control, requestID: 1, payload: payload)), timeout: .seconds(2)
            ).envelope()
            return try WireCodec.decode(ControlResponse.self, from: reply.payload)
        }

        deinit { process.stop() }
    }

    @Test(
        "SIGTERM with requests in flight: they all finish, new ones are refused while draining, and the agent exits 0")
    func sigtermDrains() async throws {
        let agent = try await LoneAgent(delayMs: 1500)
        let requester = try Self.requester(agent.layout.decisionAddress(agent: "slow", replica: 0))
        defer { requester.close() }
        let control = try Self.requester(agent.layout.controlAddress(agent: "slow", replica: 0))
        defer { control.close() }
        let inFlight = Task {
            try await withThrowingTaskGroup(of: MessageType.self) { group in
                for i in 0..<8 {
                    group.addTask {
                        try await Self.decide(
                            requester, DecisionRequest(requestID: "f\(i)", user: "u", k: 3, epoch: 0),
                            timeout: .seconds(30)
                        ).type
                    }
                }
                return try await group.reduce(into: [MessageType]()) { $0.append($1) }
            }
        }
        try await waitUntil("8 requests are in flight") {
            try await LoneAgent.control(control, .stats).stats.inFlight == 8
        }
        kill(agent.process.pid, SIGTERM)
        try await waitUntil("the agent drains") { try await LoneAgent.control(control, .health).state == .draining }
        let refused = try await Self.decide(requester, DecisionRequest(requestID: "late", user: "u", k: 3, epoch: 0))
        #expect(refused.type == .error)
        #expect(try WireCodec.decode(ErrorReply.self, from: refused.payload).code == "draining")
        let types = try await inFlight.value
        #expect(types.count == 8)
        #expect(types.allSatisfy { $0 == .reply })
        #expect(try await agent.process.waitForExit() == 0)
    }

    @Test("control requests: health and stats report the instance; parameters are validated, then applied")
    func controlRequests() async throws {
        let agent = try await LoneAgent(delayMs: 0)
        let control = try Self.requester(agent.layout.controlAddress(agent: "slow", replica: 0))
        defer { control.close() }
        let requester = try Self.requester(agent.layout.decisionAddress(agent: "slow", replica: 0))
        defer { requester.close() }
        for i in 0..<5 {
            #expect(
                try await Self.decide(requester, DecisionRequest(requestID: "c\(i)", user: "u", k: 3, epoch: 0)).type
                    == .reply)
        }
        let stats = try await LoneAgent.control(control, .stats)
        #expect(
            stats.agent == "slow" && stats.kind == "test.probe" && stats.pid == agent.process.pid
                && stats.state == .serving)
        #expect(stats.stats.served == 5 && stats.stats.failed == 0 && stats.stats.latencyP99Microseconds > 0)
        #expect(stats.parameters["k"] == "10")

        func setParameters(_ parameters: [String: String]) async throws -> Envelope {
            let payload = try WireCodec.encode(ControlRequest(command: .parameters, parameters: parameters))
            return try await control.request(
                Message(envelope: Envelope(type: .control, requestID: 2, payload: payload)), timeout: .seconds(5)
            ).envelope()
        }
        let refused = try await setParameters(["k": "0"])
        #expect(refused.type == .error)
        #expect(try WireCodec.decode(ErrorReply.self, from: refused.payload).code == "invalid_parameter")
        let applied = try await setParameters(["k": "4"])
        #expect(applied.type == .reply)
        #expect(try WireCodec.decode(ControlResponse.self, from: applied.payload).parameters["k"] == "4")
        let reply = try await Self.decide(requester, DecisionRequest(requestID: "after", user: "u", k: 3, epoch: 0))
        #expect(try WireCodec.decode(AgentOutput.self, from: reply.payload).items.count == 4)
    }

    @Test("malformed frames, wrong types and undecodable payloads get an ErrorReply, and the agent keeps serving")
    func badInputGetsErrors() async throws {
        let agent = try await LoneAgent(delayMs: 0)
        let requester = try Self.requester(agent.layout.decisionAddress(agent: "slow", replica: 0))
        defer { requester.close() }
        let cases: [([UInt8], String)] = [
            (Array("hello".utf8), "malformed_frame"),
            ([0xA6, 0x17, 9, 1], "malformed_frame"),
            (Envelope(type: .feedback, requestID: 4).encoded(), "unexpected_type"),
            (Envelope(type: .request, requestID: 5, payload: Array("{not json".utf8)).encoded(), "bad_payload"),
            (Envelope(type: .request, requestID: 6, payload: Array("{}".utf8)).encoded(), "bad_payload"),
        ]
        for (bytes, code) in cases {
            let reply = try await requester.request(Message(bytes: bytes), timeout: .seconds(5)).envelope()
            #expect(reply.type == .error)
            #expect(try WireCodec.decode(ErrorReply.self, from: reply.payload).code == code)
        }
        let good = try await Self.decide(requester, DecisionRequest(requestID: "ok", user: "u", k: 3, epoch: 0))
        #expect(good.type == .reply)
        #expect(agent.process.isRunning)
    }
}

extension ClusterTests {
    @Test("a batch of requests gets a batch of replies in order; a malformed batch or a passed deadline gets an ErrorReply")
    func batchesAndDeadlines() async throws {
        let agent = try await LoneAgent(delayMs: 0)
        let requester = try Self.requester(agent.layout.decisionAddress(agent: "slow", replica: 0))
        defer { requester.close() }
        func request(_ id: UInt64, user: String, deadline: UInt64 = 0) throws -> Envelope {
            Envelope(
                type: .request, requestID: id, deadline: deadline,
                payload: try WireCodec.encode(DecisionRequest(requestID: "r\(id)", user: user, k: 3, epoch: 0)))
        }
        let members = [
            try request(11, user: "a"), Envelope(type: .request, requestID: 12, payload: Array("{}".utf8)), try request(13, user: "b"),
        ]
        let reply = try await requester.request(
            Message(envelope: Envelope(type: .batch, requestID: 10, payload: Batch.payload(members))), timeout: .seconds(5)
        ).envelope()
        #expect(reply.type == .batch && reply.requestID == 10)
        let replies = try Batch.envelopes(in: reply.payload)
        #expect(replies.map(\.requestID) == [11, 12, 13])
        #expect(replies.map(\.type) == [.reply, .error, .reply])
        #expect(try WireCodec.decode(ErrorReply.self, from: replies[1].payload).code == "bad_payload")
        #expect(try WireCodec.decode(AgentOutput.self, from: replies[2].payload).agent == "slow")

        // Malformed batches: one ErrorReply for the whole message, and the agent keeps serving.
        let valid = Batch.payload(members)
        let malformed: [[UInt8]] = [[], [0, 0, 0, 0], [0xFF, 0xFF, 0xFF, 0xFF], Array(valid.dropLast()), valid + [0], [0, 0, 0, 1, 0, 0, 0, 3, 1, 2, 3]]
        for payload in malformed {
            let reply = try await requester.request(
                Message(envelope: Envelope(type: .batch, requestID: 20, payload: payload)), timeout: .seconds(5)
            ).envelope()
            #expect(reply.type == .error)
            #expect(try WireCodec.decode(ErrorReply.self, from: reply.payload).code == "malformed_batch")
        }
        // A request whose caller has stopped waiting is not worked on.
        let late = try await requester.request(Message(envelope: try request(30, user: "c", deadline: 1)), timeout: .seconds(5)).envelope()
        #expect(late.type == .error)
        #expect(try WireCodec.decode(ErrorReply.self, from: late.payload).code == "deadline_exceeded")
        let good = try await Self.decide(requester, DecisionRequest(requestID: "ok", user: "u", k: 3, epoch: 0))
        #expect(good.type == .reply)
        #expect(agent.process.isRunning)
    }
}

/// A one-way switch shared between tasks.
final class AtomicFlag: Sendable {
    private let value = Mutex(false)
    func set() { value.withLock { $0 = true } }
    var isSet: Bool { value.withLock { $0 } }
}
