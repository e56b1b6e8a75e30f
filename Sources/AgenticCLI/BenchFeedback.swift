import ArgumentParser
import Coordinator
import Foundation
import LoadGenerator
import Store
import Synchronization

/// `agentic bench feedback`: feedback ingestion through the gateway's HTTP at saturation,
/// into a store agent, then a check that the database holds every acknowledged event.
struct BenchFeedback: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "feedback",
        abstract: "Feedback events per second through the gateway into the store, and a check that none acknowledged is lost.",
        discussion: """
            Brings up a small cluster (a static recall agent and a store) in a temporary run directory, \
            drives POST /v1/feedback from keep-alive connections for --seconds, stops the cluster, \
            then looks up every acknowledged event id in the database. JSON keys: events_per_s, \
            acknowledged, failed, lost, stored, requests_per_s, batch, connections, seconds, kills. \
            With --kills N the store is killed with SIGKILL N times during the run.
            """
    )

    @Flag(help: "Print one JSON object.") var json = false
    @Option(help: "How long to drive load, in seconds.") var seconds = 5.0
    @Option(help: "Concurrent HTTP connections.") var connections = 32
    @Option(help: "Events per POST (1 sends the single-event body).") var batch = 20
    @Option(help: "kill -9 the store this many times, evenly spread over the run (the coordinator restarts it).")
    var kills = 0

    func validate() throws {
        guard seconds > 0, seconds <= 600 else { throw ValidationError("--seconds must be in (0, 600]") }
        guard (1...512).contains(connections) else { throw ValidationError("--connections must be in 1…512") }
        guard (1...200).contains(batch) else { throw ValidationError("--batch must be in 1…200") }
        guard (0...100).contains(kills) else { throw ValidationError("--kills must be in 0…100") }
    }

    func run() async throws {
        let say: (String) -> Void = { line in if !json { FileHandle.standardError.write(Data((line + "\n").utf8)) } }
        let directory = try TemporaryDirectory(prefix: "agb")
        defer { directory.remove() }
        let runDirectory = directory.path + "/r"
        let topology = directory.path + "/bench.yaml"
        try Self.topology.write(toFile: topology, atomically: true, encoding: .utf8)
        // The cluster's logs would drown the figures; AGENTIC_LOG_LEVEL still wins when set.
        setenv("AGENTIC_LOG_LEVEL", "warning", 0)
        say("starting a cluster in \(runDirectory)")
        let (up, url) = try await BenchMesh.up(topology, runDirectory: runDirectory)
        guard let port = URLComponents(string: url)?.port else {
            up.stop()
            throw CLIError("the gateway's address \(url) has no port")
        }
        say("driving \(connections) connections × \(batch) events per POST for \(seconds) s at the gateway on port \(port)")
        let killer = Task { [kills, seconds] in await Self.killStore(runDirectory: runDirectory, times: kills, over: seconds) }
        let load = try await Self.drive(port: port, connections: connections, batch: batch, seconds: seconds)
        let killed = await killer.value
        say("stopping the cluster")
        up.stop()
        let store = try KnowledgeStore(path: runDirectory + "/" + KnowledgeStore.defaultFileName, create: false)
        let stored = Set(try store.feedbackEventIDs())
        let lost = load.acknowledged.count { !stored.contains($0) }
        let result = BenchFeedbackResult(
            eventsPerSecond: Double(load.acknowledged.count) / load.elapsed,
            requestsPerSecond: Double(load.requests) / load.elapsed, acknowledged: load.acknowledged.count,
            failed: load.failed, lost: lost, stored: stored.count, batch: batch, connections: connections,
            seconds: load.elapsed, kills: killed)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(result), as: UTF8.self))
        } else {
            print(String(format: "events_per_s    %.0f", result.eventsPerSecond))
            print(String(format: "requests_per_s  %.0f  (%d events per POST, %d connections, %.1f s)", result.requestsPerSecond, batch, connections, result.seconds))
            print("acknowledged    \(result.acknowledged)")
            print("failed          \(result.failed)")
            print("lost            \(result.lost)  (acknowledged but not in the database)")
            print("stored          \(result.stored)")
            if kills > 0 { print("kills           \(killed)  (kill -9 of the store during the run)") }
        }
        if lost > 0 { throw ExitCode(1) }
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
}

/// What the load threads add up.
final class Collector: Sendable {
    let total = Mutex(BenchFeedback.Load())
    let finished = Atomic<Int>(0)
}

struct BenchFeedbackResult: Encodable {
    var eventsPerSecond: Double
    var requestsPerSecond: Double
    var acknowledged: Int
    var failed: Int
    var lost: Int
    var stored: Int
    var batch: Int
    var connections: Int
    var seconds: Double
    var kills: Int

    enum CodingKeys: String, CodingKey {
        case acknowledged, failed, lost, stored, batch, connections, seconds, kills
        case eventsPerSecond = "events_per_s"
        case requestsPerSecond = "requests_per_s"
    }
}
