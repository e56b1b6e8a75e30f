import AgenticTesting
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import Synchronization
import Testing

@testable import Gateway

/// The gateway's door: never more inside than the limit, everyone gets in, in arrival order,
/// and a waiter whose task is cancelled leaves the queue without taking a place.
@Suite("Admission gate")
struct AdmissionGateTests {
    /// Shared counters for the tasks of one test.
    final class Shared<Value: Sendable>: Sendable {
        let value: Mutex<Value>
        init(_ value: Value) { self.value = Mutex(value) }
        func with<R>(_ body: (inout Value) -> R) -> R { value.withLock { body(&$0) } }
    }

    @Test("at most the limit inside, all admitted")
    func bounded() async {
        let gate = AdmissionGate(limit: 3)
        let peak = Shared((inside: 0, peak: 0, done: 0))
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<40 {
                group.addTask {
                    let entry = await gate.enter()
                    #expect(entry == .admitted)
                    peak.with { $0.inside += 1; $0.peak = max($0.peak, $0.inside) }
                    try? await Task.sleep(for: .milliseconds(1))
                    peak.with { $0.inside -= 1; $0.done += 1 }
                    gate.leave()
                }
            }
        }
        let result = peak.with { $0 }
        #expect(result.done == 40)
        #expect(result.peak <= 3)
        #expect(result.peak >= 1)
        #expect(gate.inside == 0)
        #expect(gate.waiting == 0)
    }

    @Test("waiters get in in arrival order")
    func fifo() async throws {
        let gate = AdmissionGate(limit: 1)
        #expect(await gate.enter() == .admitted)
        let order = Shared<[Int]>([])
        var tasks: [Task<Void, Never>] = []
        for index in 0..<5 {
            tasks.append(
                Task {
                    if await gate.enter() == .admitted {
                        order.with { $0.append(index) }
                        gate.leave()
                    }
                })
            // Each waiter queued before the next one starts.
            try await waitUntil("waiter \(index) queues") { gate.waiting >= index + 1 }
        }
        gate.leave()
        for task in tasks { await task.value }
        #expect(order.with { $0 } == [0, 1, 2, 3, 4])
        #expect(gate.inside == 0)
    }

    @Test("a cancelled waiter leaves the queue without a place")
    func cancelled() async throws {
        let gate = AdmissionGate(limit: 1)
        #expect(await gate.enter() == .admitted)
        let waiter = Task { await gate.enter() }
        try await waitUntil("the waiter queues") { gate.waiting >= 1 }
        waiter.cancel()
        #expect(await waiter.value == .cancelled)
        #expect(gate.waiting == 0)
        #expect(gate.inside == 1)
        gate.leave()
        #expect(gate.inside == 0)
        // The place is free for the next one at once.
        #expect(await gate.enter() == .admitted)
        gate.leave()
    }

    @Test("limit 0 is no limit")
    func unlimited() async {
        let gate = AdmissionGate(limit: 0)
        for _ in 0..<100 { #expect(await gate.enter() == .admitted) }
        #expect(gate.waiting == 0)
    }

    @Test("past the queue limit a request is turned away at once; a place freed lets the queue move")
    func boundedQueue() async throws {
        let gate = AdmissionGate(limit: 1, queueLimit: 2)
        #expect(await gate.enter() == .admitted)
        let waiters = (0..<2).map { _ in Task { await gate.enter() } }
        try await waitUntil("two wait") { gate.waiting == 2 }
        #expect(await gate.enter() == .full)
        #expect(await gate.enter() == .full)
        #expect(gate.waiting == 2 && gate.inside == 1, "a turned-away request holds nothing")
        gate.leave()
        #expect(await waiters[0].value == .admitted)
        gate.leave()
        #expect(await waiters[1].value == .admitted)
        gate.leave()
        #expect(gate.inside == 0 && gate.waiting == 0)
    }

    @Test("a request that waited past the bound is turned away when its turn comes, the next one gets in")
    func lateWaiter() async throws {
        let gate = AdmissionGate(limit: 1, maximumWait: .milliseconds(50))
        #expect(await gate.enter() == .admitted)
        let old = Task { await gate.enter() }
        try await waitUntil("the first waiter queues") { gate.waiting == 1 }
        try await Task.sleep(for: .milliseconds(120))
        let fresh = Task { await gate.enter() }
        try await waitUntil("the second waiter queues") { gate.waiting == 2 }
        gate.leave()
        #expect(await old.value == .late)
        #expect(await fresh.value == .admitted)
        #expect(gate.inside == 1 && gate.waiting == 0)
        gate.leave()
    }

    @Test("a request that would wait past the bound, by the time requests spend inside, is turned away at once")
    func expectedWait() async throws {
        let gate = AdmissionGate(limit: 2, maximumWait: .milliseconds(100))
        #expect(gate.serviceSeconds == 0)
        // Requests spend 40 ms inside: two places drain one request per 20 ms, so 100 ms of
        // waiting holds four requests ahead of a newcomer (the fifth would wait 100 ms).
        #expect(await gate.enter() == .admitted)
        gate.leave(after: .milliseconds(40))
        #expect(abs(gate.serviceSeconds - 0.04) < 1e-9)
        #expect(await gate.enter() == .admitted)
        #expect(await gate.enter() == .admitted)
        let waiters = (0..<5).map { _ in Task { await gate.enter() } }
        try await waitUntil("five wait") { gate.waiting == 5 }
        #expect(await gate.enter() == .full)
        #expect(gate.waiting == 5 && gate.inside == 2, "a turned-away request holds nothing")
        for task in waiters { task.cancel() }
        for task in waiters { _ = await task.value }
        gate.leave()
        gate.leave()
    }
}

/// The door in the gateway's own request path: a request cancelled while it waits is
/// answered at once and never reaches an agent; one past the queue limit is 503 at once.
@Suite("Admission in the gateway", .timeLimit(.minutes(1)))
struct GatewayAdmissionTests {
    @Test("a request cancelled at the door asks nothing of the graph")
    func cancelledAtTheDoor() async throws {
        let run = try TestRun()
        defer { run.stop() }
        // The one agent never answers: the first request holds the only place until it is cancelled.
        let agent = try run.fake("only", .silent)
        let path = try run.write("t.yaml", topologyYAML(
            epoch: 1, agents: [.init(name: "only", kind: "recall.static")], edges: [], entry: "only", exit: "only",
            deadlineMilliseconds: 30_000))
        var configuration = Gateway.Configuration(runDirectory: run.directory, topologyPath: path)
        configuration.maximumInFlight = 1
        let core = try GatewayCore(
            spec: try GatewayCore.load(path), layout: run.layout, configuration: configuration, log: Logger(label: "test"))

        let first = Task { try? await core.recommend(user: "u1", k: 5) }
        // Inside, and its request at the agent (the dial may take a moment on a busy machine).
        try await waitUntil("the first request reaches the agent") { agent.requests >= 1 }
        let second = Task { try? await core.recommend(user: "u2", k: 5) }
        try await waitUntil("the second request waits at the door") { core.admission.waiting >= 1 }
        second.cancel()
        let cancelled = try #require(await second.value)
        #expect(cancelled.items.isEmpty)
        // Not run at all: a graph walked by a cancelled task would name the agent it skipped.
        #expect(cancelled.degraded.isEmpty)
        // Answered while the first still holds the place, not after it.
        #expect(core.admission.inside == 1)
        #expect(agent.requests == 1)
        first.cancel()
        _ = await first.value
        #expect(agent.requests == 1)
        #expect(core.admission.inside == 0)
        await core.shutdown()
    }

    @Test("a request past the door's queue is 503 overloaded with Retry-After, at once, and counted")
    func overloadedAtTheDoor() async throws {
        let harness = try GatewayHarness()
        defer { harness.stop() }
        // The one agent never answers: the first request holds the only place.
        let agent = try harness.fake("only", .silent)
        let topology = topologyYAML(
            epoch: 1, agents: [.init(name: "only", kind: "recall.static")], edges: [], entry: "only", exit: "only",
            deadlineMilliseconds: 2_000) + "  max_in_flight: 1\n  max_queued: 1\n  max_wait_ms: 0\n"
        // The limits come from the topology's gateway section (no wait bound: the one waiting
        // waits out the first one's deadline; with one, it would be turned away when its turn came).
        try await harness.test(topology: topology) { client in
            let body = ByteBuffer(string: #"{"user": "u1"}"#)
            let headers: HTTPFields = [.contentType: "application/json"]
            try await withThrowingTaskGroup(of: Void.self) { group in
                // One inside, at the silent agent, holding the only place.
                group.addTask { try await client.execute(uri: "/v1/recommend", method: .post, headers: headers, body: body) { _ in } }
                try await waitUntil("the first request is inside") { agent.requests >= 1 }
                // Two more: whichever reaches the door first waits (the queue holds one), the other is turned away.
                let answers = try await withThrowingTaskGroup(of: (HTTPResponse.Status, String?, String).self) { more in
                    for _ in 0..<2 {
                        more.addTask {
                            try await client.execute(uri: "/v1/recommend", method: .post, headers: headers, body: body) { response in
                                (response.status, response.headers[.retryAfter], String(buffer: response.body))
                            }
                        }
                    }
                    return try await more.reduce(into: []) { $0.append($1) }
                }
                let shed = answers.filter { $0.0 == .serviceUnavailable }
                #expect(shed.count == 1)
                #expect(shed.first?.1 == "1")
                #expect(shed.first?.2.contains(#""code":"overloaded""#) == true)
                #expect(answers.filter { $0.0 == .ok }.count == 1, "the one that waited is answered (degraded, at its deadline)")
                try await client.execute(uri: "/metrics", method: .get) { response in
                    #expect(String(buffer: response.body).contains("agentic_gateway_shed_total 1"))
                }
                try await group.waitForAll()
            }
        }
    }
}
