import AgenticTesting
import AgentProtocol
import Foundation
import Synchronization
import Testing
import Topology

@testable import Coordinator

/// Swaps, rewiring and rollbacks of a running cluster, under a steady request load through
/// the gateway, with real processes: zero failed requests, and the run's topology file and
/// history follow what happened.
@Suite("Swap under load", .serialized, .timeLimit(.minutes(3)))
struct SwapTests {
    /// `agentic up` of minimal.yaml (deadline 500 ms, test kinds on) with its gateway.
    final class Run: Sendable {
        let directory: ShortDirectory
        let cluster: TestCluster
        var runDirectory: String { cluster.runDirectory }
        var up: TestProcess { cluster.up }
        var gateway: String { cluster.baseURL }
        static let environment = ["AGENTIC_TEST_KINDS": "1"]

        init() async throws {
            directory = try ShortDirectory()
            let text = try String(contentsOfFile: "\(topologyDirectory)/minimal.yaml", encoding: .utf8)
                .replacingOccurrences(of: "  deadline_ms: 200", with: "  deadline_ms: 500")
            cluster = try await TestCluster(
                topology: try directory.write("t.yaml", text), in: directory, environment: Self.environment)
        }

        /// Runs `agentic ARGS --run-dir … ` and returns its exit status and output lines.
        func agentic(_ arguments: [String], timeout: Duration = .seconds(60)) async throws -> (Int32, [String]) {
            let process = try TestProcess.agentic(
                arguments + ["--run-dir", runDirectory], environment: Self.environment)
            let status = try await process.waitForExit(timeout: timeout)
            return (status, process.output())
        }

        func json<T: Decodable>(_ type: T.Type, _ arguments: [String]) async throws -> (Int32, T) {
            let (status, lines) = try await agentic(arguments + ["--json"])
            let line = try #require(lines.first { $0.hasPrefix("{") }, "no JSON in \(lines)")
            return (status, try JSONDecoder().decode(type, from: Data(line.utf8)))
        }

        func status() async throws -> ClusterStatus { try await json(ClusterStatus.self, ["status"]).1 }

        var topologyFile: String { "\(runDirectory)/topology.yaml" }

        func recommend(user: String) async -> (status: Int, degraded: Bool) {
            let (status, body) = await HTTP.postJSON(gateway + "/v1/recommend", #"{"user": "\#(user)", "k": 5}"#)
            let items = (body["items"] as? [Any])?.count ?? 0
            // An answer without items is as bad as a failure for a user.
            return (status == 200 && items == 5 ? 200 : status, !(body["degraded"] as? [String] ?? []).isEmpty)
        }

        func down() async throws {
            let (status, _) = try await agentic(["down"])
            #expect(status == 0)
            #expect(try await up.waitForExit() == 0)
        }

    }

    /// A steady load: `clients` request loops through the gateway until stopped.
    final class Load: Sendable {
        final class Counts: Sendable {
            let value = Mutex((ok: 0, failed: 0, degraded: 0))
        }
        private let counts: Counts
        private let stopped: AtomicFlag
        private let task: Task<Void, Never>

        init(_ run: Run, clients: Int = 4) {
            let counts = Counts()
            let stopped = AtomicFlag()
            self.counts = counts
            self.stopped = stopped
            task = Task {
                await withTaskGroup(of: Void.self) { group in
                    for client in 0..<clients {
                        group.addTask {
                            var n = 0
                            while !stopped.isSet {
                                let answer = await run.recommend(user: "u\(client)-\(n)")
                                counts.value.withLock {
                                    if answer.status == 200 { $0.ok += 1 } else { $0.failed += 1 }
                                    if answer.degraded { $0.degraded += 1 }
                                }
                                n += 1
                            }
                        }
                    }
                }
            }
        }

        var value: (ok: Int, failed: Int, degraded: Int) { counts.value.withLock { $0 } }

        func flowing() async throws {
            let start = value.ok
            try await waitUntil("requests flow") { self.value.ok > start + 20 }
        }

        func stop() async -> (ok: Int, failed: Int, degraded: Int) {
            stopped.set()
            await task.value
            return value
        }
    }

    @Test("ten consecutive swaps of different agents under load: zero failed requests; file, history and diff follow")
    func tenSwapsUnderLoad() async throws {
        let run = try await Run()
        let before = try await run.status()
        let load = Load(run)
        try await load.flowing()
        let swaps: [[String]] = [
            ["static.a", "--set", "k=15"],
            ["rank", "--set", "k=8"],
            ["fusion", "--set", "weight.static.b=0.7"],
            ["static.b"],
            ["router", "--set", "cold_max_history=3"],
            ["static.a", "--version", "7"],
            ["rank", "--kind", "rerank.mmr"],
            ["fusion", "--set", "method=rank"],
            ["static.b", "--set", "k=12"],
            ["router"],
        ]
        var reports: [SwapReport] = []
        for (index, arguments) in swaps.enumerated() {
            let (status, report) = try await run.json(SwapReport.self, ["swap"] + arguments)
            #expect(status == 0, "swap \(arguments): \(report)")
            #expect(report.outcome == "swapped" && report.epoch == index + 1 && report.gatewayConfirmed)
            #expect(!report.started.isEmpty && report.started.count == report.stopped.count)
            reports.append(report)
            try await load.flowing()
        }
        let (ok, failed, degraded) = await load.stop()
        #expect(failed == 0, "\(failed) of \(ok + failed) requests failed during 10 swaps")
        #expect(ok > 200)
        let after = try await run.status()
        #expect(after.epoch == 10)
        // One version of each agent serves; every process of the first epoch is gone.
        #expect(after.agents.count == before.agents.count)
        #expect(after.agents.allSatisfy { $0.state == .serving })
        for old in before.agents { #expect(!ProcessProbe.isAlive(old.pid), "\(old.name)#\(old.replica) still runs") }
        #expect(after.agents.first { $0.name == "static.a" }?.version == "7")
        #expect(after.agents.first { $0.name == "rank" }?.kind == "rerank.mmr")
        #expect(after.agents.first { $0.name == "router" }?.version == "3")

        // The file follows the system, and every epoch is in the run's history.
        let file = try TopologyValidator.load(contentsOf: run.topologyFile, catalogue: KindCatalogue.builtin)
            .epoch
        #expect(file == 10)
        let store = TopologyStore(path: run.topologyFile, configuration: .init(historyDirectory: "\(run.runDirectory)/history"))
        #expect(try store.history() == Array(0...10))
        let (historyStatus, history) = try await run.json(HistoryReport.self, ["history"])
        #expect(historyStatus == 0)
        #expect(history.epoch == 10 && history.epochs.map(\.epoch) == Array(0...10))
        #expect(history.epochs[1].reason.hasPrefix("swap static.a") && history.epochs[1].changes.contains { $0.contains("parameters.k 20 -> 15") })
        let (diffStatus, diff) = try await run.agentic(["diff", "1", "2"])
        #expect(diffStatus == 0)
        #expect(diff.contains { $0.hasPrefix("~ agent rank:") && $0.contains("parameters.k 10 -> 8") }, "\(diff)")
        try await run.down()
        let serving = reports.map(\.servingMilliseconds).sorted()
        let total = reports.map(\.totalMilliseconds).sorted()
        print("swap timings: new serving median \(serving[5]) ms max \(serving[9]) ms; old gone median \(total[5]) ms max \(total[9]) ms; requests ok \(ok) failed \(failed) degraded \(degraded)")
    }

    @Test("a swap whose new process fails its gate rolls back: zero failed requests, epoch and processes unchanged")
    func gateFailuresRollBack() async throws {
        let run = try await Run()
        let before = try await run.status()
        let load = Load(run)
        try await load.flowing()
        let failures: [(arguments: [String], reason: String)] = [
            (["static.a", "--set", "k=-5"], "k"),  // a bad parameter: refused before anything starts
            (["static.b", "--kind", "test.probe", "--set", "crash_on_start=true"], "exited before serving"),
            (["static.b", "--kind", "test.probe", "--set", "delay_ms=1500"], "too slow"),
            (["fusion", "--kind", "test.probe", "--set", "wrong_answers=true"], "wrong answer"),
            (["rank", "--kind", "test.probe", "--set", "fail_decisions=true"], "error"),
        ]
        for (arguments, reason) in failures {
            let (status, lines) = try await run.agentic(["swap"] + arguments)
            #expect(status == 1, "swap \(arguments) should fail")
            #expect(lines.contains { $0.contains("rolled back") && $0.contains(reason) } || arguments.contains("k=-5"), "\(lines)")
            try await load.flowing()
        }
        let (ok, failed, _) = await load.stop()
        #expect(failed == 0, "\(failed) of \(ok + failed) requests failed")
        let after = try await run.status()
        #expect(after.epoch == 0)
        #expect(after.agents.map(\.pid) == before.agents.map(\.pid))
        #expect(try TopologyValidator.load(contentsOf: run.topologyFile, catalogue: KindCatalogue.builtin).epoch == 0)
        let (_, history) = try await run.json(HistoryReport.self, ["history"])
        #expect(history.epochs.map(\.epoch) == [0])
        // No candidate process is left behind.
        let sockets = try FileManager.default.contentsOfDirectory(atPath: "\(run.runDirectory)/s")
        #expect(!sockets.contains { $0.contains("~") }, "\(sockets)")
        try await run.down()
    }

    @Test("adding and removing a recall route under load: zero failed requests; rollback brings it back as a new epoch")
    func addRemoveRouteUnderLoad() async throws {
        let run = try await Run()
        let load = Load(run)
        try await load.flowing()
        let original = try String(contentsOfFile: run.topologyFile, encoding: .utf8)
        let added = original
            .replacingOccurrences(
                of: "  - name: fusion\n",
                with: "  - name: static.c\n    kind: recall.static\n    parameters:\n      items: \"90,91,92\"\n  - name: fusion\n")
            .replacingOccurrences(
                of: "edges:\n",
                with: "edges:\n  - from: router\n    to: static.c\n  - from: static.c\n    to: fusion\n")
        #expect(added != original)
        let file = try run.directory.write("added.yaml", added)
        let (applied, report) = try await run.json(SwapReport.self, ["apply", file])
        #expect(applied == 0 && report.epoch == 1, "\(report)")
        #expect(report.started == ["static.c.0"] && report.stopped.isEmpty)
        #expect(report.changes.contains("+ edge static.c -> fusion"))
        try await load.flowing()
        #expect(try await run.status().agents.contains { $0.name == "static.c" && $0.state == .serving })

        let removed = try run.directory.write("removed.yaml", original)
        let (removedStatus, removal) = try await run.json(SwapReport.self, ["apply", removed])
        #expect(removedStatus == 0 && removal.epoch == 2 && removal.stopped == ["static.c.0"], "\(removal)")
        try await load.flowing()
        #expect(try await !run.status().agents.contains { $0.name == "static.c" })
        let (_, diff) = try await run.agentic(["diff", "1", "2"])
        #expect(diff.contains("- agent static.c") && diff.contains("- edge router -> static.c"), "\(diff)")

        let (rolledBack, rollback) = try await run.json(SwapReport.self, ["rollback", "1"])
        #expect(rolledBack == 0 && rollback.epoch == 3 && rollback.started == ["static.c.0"], "\(rollback)")
        try await load.flowing()
        let (ok, failed, _) = await load.stop()
        #expect(failed == 0, "\(failed) of \(ok + failed) requests failed")
        let (_, history) = try await run.json(HistoryReport.self, ["history"])
        #expect(history.epochs.map(\.epoch) == [0, 1, 2, 3])
        #expect(history.epochs.last?.reason == "rollback to epoch 1")
        #expect(try TopologyValidator.load(contentsOf: run.topologyFile, catalogue: KindCatalogue.builtin).epoch == 3)
        try await run.down()
    }

    @Test("versions: the next one, and version-distinct socket addresses")
    func versions() {
        #expect(Coordinator.nextVersion(after: "1") == "2")
        #expect(Coordinator.nextVersion(after: "1.9") == "1.10")
        #expect(Coordinator.nextVersion(after: "ease") == "ease.2")
        let layout = RunLayout(runDirectory: "/r")
        #expect(layout.decisionAddress(agent: "a", version: "1", replica: 0) == layout.decisionAddress(agent: "a", replica: 0))
        #expect(layout.decisionAddress(agent: "a", version: "2/x", replica: 1) == "ipc:///r/s/a~2_x.1.d")
    }
}
