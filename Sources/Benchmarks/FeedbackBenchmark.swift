import Coordinator
import Foundation
import LoadGenerator
import Store
import Synchronization

/// `agentic bench feedback`: feedback ingestion through the gateway's HTTP at saturation, into
/// a store agent, then a check that the database holds every acknowledged event. Brings up a
/// small cluster (a static recall agent and a store) in a temporary run directory, drives
/// POST /v1/feedback from keep-alive connections, stops the cluster, then looks up every
/// acknowledged event id in the database; `kills` times during the run the store is killed
/// with SIGKILL (the coordinator restarts it).
public struct FeedbackBenchmark: Sendable {
    public struct Configuration: Sendable {
        /// How long to drive load, in seconds.
        public var seconds = 5.0
        /// Concurrent HTTP connections.
        public var connections = 32
        /// Events per POST (1 sends the single-event body).
        public var batch = 20
        /// kill -9 the store this many times, evenly spread over the run.
        public var kills = 0
        public init() {}
    }

    public let configuration: Configuration
    public init(configuration: Configuration) { self.configuration = configuration }

    /// Runs it, saying what it does through `log`.
    public func run(log: @Sendable (String) -> Void) async throws -> Result {
        let (seconds, connections, batch, kills) = (configuration.seconds, configuration.connections, configuration.batch, configuration.kills)
        let directory = try TemporaryDirectory(prefix: "agb")
        defer { directory.remove() }
        let runDirectory = directory.path + "/r"
        let topology = directory.path + "/bench.yaml"
        try Self.topology.write(toFile: topology, atomically: true, encoding: .utf8)
        // The cluster's logs would drown the figures; AGENTIC_LOG_LEVEL still wins when set.
        setenv("AGENTIC_LOG_LEVEL", "warning", 0)
        log("starting a cluster in \(runDirectory)")
        let (up, url) = try await BenchCluster.up(topology, runDirectory: runDirectory)
        guard let port = URLComponents(string: url)?.port else {
            up.stop()
            throw BenchmarkError("the gateway's address \(url) has no port")
        }
        log("driving \(connections) connections × \(batch) events per POST for \(seconds) s at the gateway on port \(port)")
        let killer = Task { [kills, seconds] in await Self.killStore(runDirectory: runDirectory, times: kills, over: seconds) }
        let load = try await Self.drive(port: port, connections: connections, batch: batch, seconds: seconds)
        let killed = await killer.value
        log("stopping the cluster")
        up.stop()
        let store = try KnowledgeStore(path: runDirectory + "/" + KnowledgeStore.defaultFileName, create: false)
        let stored = Set(try store.feedbackEventIDs())
        let lost = load.acknowledged.count { !stored.contains($0) }
        let result = Result(
            eventsPerSecond: Double(load.acknowledged.count) / load.elapsed,
            requestsPerSecond: Double(load.requests) / load.elapsed, acknowledged: load.acknowledged.count,
            failed: load.failed, lost: lost, stored: stored.count, batch: batch, connections: connections,
            seconds: load.elapsed, kills: killed)
        return result
    }

    static let topology = """
        epoch: 0
        name: bench-feedback
        transport:
          kind: ipc
        agents:
          - name: catalogue
            kind: recall.static
          - name: store
            kind: store
            restart: { policy: permanent, intensity: 200, period_s: 60, backoff_ms: 50, max_backoff_ms: 500 }
        edges: []
        gateway:
          listen: [ "http://127.0.0.1:0" ]
          entry: catalogue
          exit: catalogue
          deadline_ms: 1000

        """

    /// Kills the store instance `times` times, evenly over `seconds`; returns how many kills hit.
    static func killStore(runDirectory: String, times: Int, over seconds: Double) async -> Int {
        guard times > 0 else { return 0 }
        let client = CoordinatorClient(runDirectory: runDirectory)
        var killed = 0
        var last: Int32 = 0
        for _ in 0..<times {
            try? await Task.sleep(for: .seconds(seconds / Double(times + 1)))
            // The previous victim's successor must be up before the next kill.
            var pid: Int32 = 0
            for _ in 0..<100 {
                let store = try? await client.status().agents.first { $0.kind == "store" }
                if let store, store.pid != last, store.pid > 0, store.state == .serving {
                    pid = store.pid
                    break
                }
                try? await Task.sleep(for: .milliseconds(20))
            }
            guard pid > 0 else { continue }
            if kill(pid, SIGKILL) == 0 { killed += 1 }
            last = pid
        }
        return killed
    }

    struct Load: Sendable {
        var acknowledged: [String] = []
        var failed = 0
        var requests = 0
        var elapsed = 0.0
    }

    /// Blocking keep-alive connections on threads of their own: the load generator must not
    /// compete with itself for Swift's two pool threads.
    static func drive(port: Int, connections: Int, batch: Int, seconds: Double) async throws -> Load {
        let collector = Collector()
        let started = Date()
        let stopAt = started.addingTimeInterval(seconds)
        let run = UUID().uuidString.prefix(8)
        let storedTrue = Array(#""stored":true"#.utf8)
        for worker in 0..<connections {
            Thread.detachNewThread {
                var local = Load()
                defer {
                    collector.total.withLock {
                        $0.acknowledged += local.acknowledged
                        $0.failed += local.failed
                        $0.requests += local.requests
                    }
                    collector.finished.add(1, ordering: .releasing)
                }
                var connection: HTTPConnection?
                var sequence = 0
                while Date() < stopAt {
                    var ids: [String] = []
                    var events: [String] = []
                    for _ in 0..<batch {
                        sequence += 1
                        let id = "\(run)-\(worker)-\(sequence)"
                        ids.append(id)
                        events.append(
                            #"{"event_id":"\#(id)","user":"u\#(sequence % 943)","item":"i\#(sequence % 1682)","event":"click"}"#)
                    }
                    let body = batch == 1 ? events[0] : #"{"events":[\#(events.joined(separator: ","))]}"#
                    do {
                        if connection == nil { connection = try HTTPConnection(port: port) }
                        let (status, response) = try connection!.post("/v1/feedback", body: Array(body.utf8))
                        local.requests += 1
                        if status == 200, HTTPConnection.find(storedTrue, in: response) {
                            local.acknowledged += ids
                        } else {
                            local.failed += batch
                        }
                    } catch {
                        connection = nil
                        local.failed += batch
                        usleep(10_000)
                    }
                }
            }
        }
        while collector.finished.load(ordering: .acquiring) < connections { try await Task.sleep(for: .milliseconds(20)) }
        var load = collector.total.withLock { $0 }
        load.elapsed = Date().timeIntervalSince(started)
        return load
    }

    /// JSON keys: events_per_s, requests_per_s, acknowledged, failed, lost, stored, batch,
    /// connections, seconds, kills.
    public struct Result: Codable, Sendable {
        public var eventsPerSecond: Double
        public var requestsPerSecond: Double
        public var acknowledged: Int
        public var failed: Int
        public var lost: Int
        public var stored: Int
        public var batch: Int
        public var connections: Int
        public var seconds: Double
        public var kills: Int

        enum CodingKeys: String, CodingKey {
            case acknowledged, failed, lost, stored, batch, connections, seconds, kills
            case eventsPerSecond = "events_per_s"
            case requestsPerSecond = "requests_per_s"
        }
    }
}

/// What the load threads add up.
final class Collector: Sendable {
    let total = Mutex(FeedbackBenchmark.Load())
    let finished = Atomic<Int>(0)
}

