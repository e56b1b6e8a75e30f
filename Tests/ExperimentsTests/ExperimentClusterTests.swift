import AgenticTesting
import Foundation
import Store
import Synchronization
import Testing


/// Live experiments with real processes: `agentic up` with a static recall agent and a store,
/// traffic and clicks through the gateway, and `agentic experiment start` canarying a better
/// and then a worse candidate.
@Suite("Experiment cluster", .serialized, .timeLimit(.minutes(3)))
struct ExperimentClusterTests {
    /// The test-side user: each shown item of this set is clicked with probability 0.15.
    static let good = Set((1...2).map(String.init) + (101...110).map(String.init))

    /// One static catalogue answering `items`; with `fresh`, a second one after it answers those
    /// and is the exit (a structural change: an agent, an edge and the gateway's exit).
    static func topology(items: [Int], fresh: [Int]? = nil) -> String {
        let added = fresh.map {
            """

              - name: fresh
                kind: recall.static
                parameters:
                  k: 10
                  items: "\($0.map(String.init).joined(separator: ","))"
            """
        } ?? ""
        return """
        epoch: 0
        name: experiment-test
        transport:
          kind: ipc
        agents:
          - name: catalogue
            kind: recall.static
            parameters:
              k: 10
              items: "\(items.map(String.init).joined(separator: ","))"
          - name: store
            kind: store\(added)
        edges: [\(fresh == nil ? "" : "{ from: catalogue, to: fresh }")]
        gateway:
          listen: [ "http://127.0.0.1:0" ]
          entry: catalogue
          exit: \(fresh == nil ? "catalogue" : "fresh")
          deadline_ms: 500
        rewards:
          outer:
            metric: ndcg@10
            latency_budget_ms: 450

        """
    }

    final class Traffic: Sendable {
        let sent = Atomic<Int>(0)
        let failed = Atomic<Int>(0)
        let arms = Mutex<[String: Int]>([:])
        let stopped = Atomic<Bool>(false)

        func post(_ url: String, _ body: [String: Any]) async -> (Int, [String: Any]) {
            let json = (try? JSONSerialization.data(withJSONObject: body)) ?? Data()
            return await HTTP.postJSON(url, String(decoding: json, as: UTF8.self), timeout: .seconds(20))
        }

        /// One worker: new users one after another, each asks once and clicks by the rule.
        func run(base: String, worker: Int) async {
            var generator = SystemRandomNumberGenerator()
            var n = 0
            while !stopped.load(ordering: .relaxed) {
                n += 1
                let user = "w\(worker)-u\(n)"
                sent.add(1, ordering: .relaxed)
                let (status, answer) = await post(base + "/v1/recommend", ["user": user, "k": 10])
                let items = (answer["items"] as? [[String: Any]])?.compactMap { $0["item"] as? String } ?? []
                guard status == 200, !items.isEmpty, (answer["degraded"] as? [String])?.isEmpty ?? true else {
                    failed.add(1, ordering: .relaxed)
                    continue
                }
                if let arm = answer["arm"] as? String { arms.withLock { $0[arm, default: 0] += 1 } }
                let requestID = answer["request_id"] as? String ?? ""
                for item in items where ExperimentClusterTests.good.contains(item) && Double.random(in: 0..<1, using: &generator) < 0.15 {
                    let (fed, _) = await post(
                        base + "/v1/feedback", ["user": user, "item": item, "event": "click", "request_id": requestID])
                    if fed != 200 { failed.add(1, ordering: .relaxed) }
                }
            }
        }
    }

    func experiment(_ file: String, run: String) async throws -> [String: Any] {
        let process = try TestProcess.agentic(["experiment", "start", file, "--run-dir", run, "--share", "0.5", "--min-per-arm", "20", "--budget", "3000", "--max-seconds", "60", "--json"])
        let line = try await process.waitForLine(timeout: .seconds(90)) { $0.hasPrefix("{") }
        #expect(try await process.waitForExit() == 0)
        return try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] ?? [:]
    }

    @Test("a better candidate (a new agent as the exit) is promoted (new epoch, file rewritten), a worse one rolled back; no request fails; lists logged with arm and propensity")
    func promoteThenRollBack() async throws {
        let directory = try ShortDirectory()
        let control = try directory.write("c.yaml", Self.topology(items: Array(1...10)))
        let better = try directory.write("g.yaml", Self.topology(items: Array(1...10), fresh: Array(101...110)))
        let worse = try directory.write("b.yaml", Self.topology(items: Array(201...210)))
        let cluster = try await TestCluster(topology: control)
        defer { cluster.up.stop() }
        let run = cluster.runDirectory, base = cluster.baseURL

        let traffic = Traffic()
        let workers = (0..<4).map { worker in Task { await traffic.run(base: base, worker: worker) } }

        let promoted = try await experiment(better, run: run)
        #expect(promoted["decision"] as? String == "promote", "\(promoted)")
        #expect(promoted["epoch"] as? Int == 1)
        #expect((promoted["reason"] as? String)?.hasPrefix("candidate significantly better") == true, "\(promoted)")
        let file = try String(contentsOfFile: run + "/topology.yaml", encoding: .utf8)
        #expect(file.contains("epoch: 1"))
        #expect(file.contains("101,102") && file.contains("exit: fresh"))

        // While an experiment runs, any other change of the cluster is refused, and changes nothing.
        async let running = experiment(worse, run: run)
        try await waitUntil("the second experiment starts") { FileManager.default.fileExists(atPath: run + "/experiment.json") }
        let swap = try TestProcess.agentic(["swap", "catalogue", "--set", "k=5", "--run-dir", run])
        #expect(try await swap.waitForExit(timeout: .seconds(60)) == 1)
        #expect(try String(contentsOfFile: run + "/topology.yaml", encoding: .utf8).contains("epoch: 1"))

        let rolledBack = try await running
        #expect(rolledBack["decision"] as? String == "rollback", "\(rolledBack)")
        #expect(rolledBack["epoch"] as? Int == 2)
        #expect((rolledBack["reason"] as? String)?.hasPrefix("candidate significantly worse") == true, "\(rolledBack)")
        let after = try String(contentsOfFile: run + "/topology.yaml", encoding: .utf8)
        #expect(after.contains("epoch: 2") && after.contains("101,102") && !after.contains("201,202"))
        // The same swap goes through once no experiment runs: the refusal above was the experiment's.
        let later = try TestProcess.agentic(["swap", "catalogue", "--set", "k=5", "--run-dir", run])
        #expect(try await later.waitForExit(timeout: .seconds(60)) == 0)
        #expect(try String(contentsOfFile: run + "/topology.yaml", encoding: .utf8).contains("epoch: 3"))

        traffic.stopped.store(true, ordering: .relaxed)
        for worker in workers { await worker.value }
        #expect(traffic.failed.load(ordering: .relaxed) == 0, "failed \(traffic.failed.load(ordering: .relaxed)) of \(traffic.sent.load(ordering: .relaxed))")
        let arms = traffic.arms.withLock { $0 }
        #expect((arms["candidate"] ?? 0) > 0 && (arms["control"] ?? 0) > 0, "\(arms)")

        let store = try KnowledgeStore(path: run + "/" + KnowledgeStore.defaultFileName, create: false)
        for outcome in [promoted, rolledBack] {
            let experiment = try #require(outcome["experiment"] as? String)
            let logged = try store.experimentArms(experiment: experiment)
            #expect(logged.map(\.arm) == ["candidate", "control"])
            #expect(logged.allSatisfy { $0.lists >= 20 && $0.propensity == 0.5 }, "\(logged)")
        }
        #expect(try store.counts().experiments == 2)

        let down = try TestProcess.agentic(["down", "--run-dir", run])
        #expect(try await down.waitForExit(timeout: .seconds(40)) == 0)
    }
}
