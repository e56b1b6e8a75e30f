import AgenticTesting
import Foundation
import Hummingbird
import LoadGenerator
import Logging
import Synchronization
import Testing

/// The load generator against a deliberately slow local HTTP server: one request at a time,
/// 50 ms each, so a closed-loop client would send far fewer requests than scheduled.
@Suite("Load generator", .serialized, .timeLimit(.minutes(2)))
struct LoadGeneratorTests {
    /// Serves `POST /v1/recommend` one request at a time, each taking `service`.
    actor SlowServer {
        private var busy = false
        private var waiting: [CheckedContinuation<Void, Never>] = []
        private(set) var served = 0
        let service: Duration
        init(service: Duration) { self.service = service }

        func handle() async -> Int {
            if busy { await withCheckedContinuation { waiting.append($0) } }
            busy = true
            try? await Task.sleep(for: service)
            served += 1
            if waiting.isEmpty { busy = false } else { waiting.removeFirst().resume() }
            return served
        }
    }

    /// Runs a Hummingbird server on a free port until `body` returns.
    func withServer<T: Sendable>(_ server: SlowServer, degradeEvery: Int = 0, _ body: @Sendable (String) async throws -> T) async throws -> T {
        let router = Router()
        router.post("/v1/recommend") { _, _ -> Response in
            let served = await server.handle()
            let degraded = degradeEvery > 0 && served % degradeEvery == 0 ? #"["rank"]"# : "[]"
            let text = #"{"items":[],"epoch":0,"degraded":\#(degraded),"request_id":"x"}"#
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: .init(string: text)))
        }
        let port = Mutex<Int?>(nil)
        var log = Logger(label: "slow-server")
        log.logLevel = .critical
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in port.withLock { $0 = channel.localAddress?.port } }, logger: log)
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await app.runService(); return nil }
            try await waitUntil("the server listens") { port.withLock { $0 } != nil }
            let url = "http://127.0.0.1:\(port.withLock { $0 }!)"
            let result = try await body(url)
            group.cancelAll()
            return result
        }
    }

    @Test("requests follow the schedule, not the answers, and latency includes the queueing")
    func openLoop() async throws {
        let server = SlowServer(service: .milliseconds(50))
        let report = try await withServer(server, degradeEvery: 4) { url in
            var configuration = try LoadGenerator.Configuration(url: url, rate: 40, duration: .seconds(1))
            configuration.timeout = .seconds(20)
            configuration.grace = .seconds(20)
            return await LoadGenerator(configuration: configuration).run()
        }
        // Every scheduled request went out even though the server answers one per 50 ms.
        #expect(report.sent == 40)
        #expect(report.sent == report.ok + report.failed)
        #expect(report.failed == 0)
        #expect(report.degraded == 10)
        // The server needs at least 40 × 50 ms = 2 s; the last request was due by 1 s, so
        // measured from its due time it waited at least 1 s (a closed loop would hide that).
        #expect(report.max >= 1000)
        #expect(await server.served == 40)
    }

    @Test("the open loop launches on schedule while earlier calls are still running")
    func scheduleIsOpen() async throws {
        var configuration = OpenLoop.Configuration(schedule: try Schedule(rate: 100, duration: .milliseconds(500)))
        configuration.timeout = .seconds(20)
        configuration.grace = .seconds(20)
        let inFlight = Mutex((now: 0, peak: 0))
        let report = await OpenLoop(configuration: configuration).run { _ in
            inFlight.withLock { $0.now += 1; $0.peak = max($0.peak, $0.now) }
            try? await Task.sleep(for: .milliseconds(400))
            inFlight.withLock { $0.now -= 1 }
            return .ok(degraded: [])
        }
        #expect(report.sent == 50)
        #expect(report.ok == 50)
        // Each call takes 400 ms and the schedule sends 50 in 500 ms: many overlap.
        #expect(inFlight.withLock { $0.peak } > 1)
    }

    @Test("a refused connection counts every request as failed, with a reason, and ends")
    func refused() async throws {
        // A port that was free a moment ago: nothing listens there.
        let port = try freePort()
        var configuration = try LoadGenerator.Configuration(url: "http://127.0.0.1:\(port)", rate: 50, duration: .milliseconds(400))
        configuration.timeout = .seconds(1)
        configuration.grace = .seconds(1)
        let report = await LoadGenerator(configuration: configuration).run()
        #expect(report.sent == 20)
        #expect(report.failed == 20)
        #expect(report.ok == 0)
        #expect(report.sent == report.ok + report.failed)
        #expect(!report.failures.isEmpty)
    }

    @Test("calls still running at the cutoff count as failed and the run ends")
    func stragglers() async throws {
        var configuration = OpenLoop.Configuration(schedule: try Schedule(rate: 20, duration: .milliseconds(200)))
        // Generous enough that a quick call is never late on a loaded machine; the slow ones
        // sleep far past it.
        configuration.timeout = .seconds(2)
        configuration.grace = .seconds(2)
        let report = await OpenLoop(configuration: configuration).run { call in
            if call.index % 2 == 0 { try? await Task.sleep(for: .seconds(30)) }
            return .ok(degraded: [])
        }
        #expect(report.sent == 4)
        #expect(report.ok == 2)
        #expect(report.failed == 2)
        #expect(report.failures["timed out"] == 2)
    }

    @Test("the blocking client on worker threads: answers and degraded ones counted, a slow answer times out, a refused port fails")
    func blockingClosedLoop() async throws {
        let server = SlowServer(service: .milliseconds(5))
        try await withServer(server, degradeEvery: 3) { url in
            let client = try BlockingRecommendClient(url: url + "/v1/recommend")
            var loop = ClosedLoop(concurrency: 2, duration: .milliseconds(300))
            loop.timeout = .seconds(2)
            let report = await loop.runOnThreads { worker, call in client.recommend(worker: worker, user: "u\(call.index)", k: 3, timeout: .seconds(2)) }
            client.shutdown()
            #expect(report.failed == 0)
            #expect(report.ok > 3)
            #expect(report.sent == report.ok)
            // The server degrades every third answer it serves.
            #expect(report.degraded == report.ok / 3)
        }
        let slow = SlowServer(service: .milliseconds(600))
        try await withServer(slow) { url in
            let client = try BlockingRecommendClient(url: url)
            #expect(client.recommend(worker: 0, user: "u", k: 3, timeout: .milliseconds(100)) == .failed(reason: "timed out"))
            client.shutdown()
        }
        let refused = try BlockingRecommendClient(url: "http://127.0.0.1:\(try freePort())")
        guard case .failed = refused.recommend(worker: 0, user: "u", k: 3, timeout: .seconds(1)) else {
            Issue.record("a refused connection was answered")
            return
        }
        #expect(throws: LoadError(.invalidArgument, "")) { try BlockingRecommendClient(url: "http://example.com:80/v1/recommend") }
    }

    @Test("bad URLs and rates are refused up front")
    func badArguments() throws {
        #expect(throws: LoadError(.invalidArgument, "")) { try LoadGenerator.Configuration(url: "not a url", rate: 1, duration: .seconds(1)) }
        #expect(throws: LoadError(.invalidArgument, "")) { try LoadGenerator.Configuration(url: "ftp://host/x", rate: 1, duration: .seconds(1)) }
        #expect(throws: LoadError(.invalidArgument, "")) { try LoadGenerator.Configuration(url: "http://h:1", rate: 0, duration: .seconds(1)) }
        let configuration = try LoadGenerator.Configuration(url: "http://127.0.0.1:8080", rate: 1, duration: .seconds(1))
        #expect(configuration.url == "http://127.0.0.1:8080/v1/recommend")
    }

    @Test("a split file's users are replayed in the order they first appear")
    func usersFromSplit() throws {
        let directory = try ShortDirectory()
        let file = try directory.write("t.tsv", "user\titem\trating\ttimestamp\n3\t1\t5\t1\n3\t2\t4\t2\n1\t7\t3\t3\n2\t1\t1\t4\n")
        #expect(try LoadGenerator.users(fromTSV: file) == ["3", "1", "2"])
        let empty = try directory.write("e.tsv", "user\titem\n")
        #expect(throws: LoadError(.invalidUsers, "")) { try LoadGenerator.users(fromTSV: empty) }
    }

    func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        try withUnsafeMutablePointer(to: &address) { pointer in
            try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                guard bind(fd, $0, length) == 0, getsockname(fd, $0, &length) == 0 else { throw TestFailure("bind failed") }
            }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
