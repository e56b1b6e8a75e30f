import AgenticTesting
import Dataset
import Foundation
import Testing
import Topology

@testable import Demo

#if canImport(FoundationXML)
    import FoundationXML
#endif

/// The repository root (the tests read its topology files and data).
let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path

/// Whether `text` is well-formed XML, by Foundation's parser.
func parsesAsXML(_ text: String) -> Bool {
    XMLParser(data: Data(text.utf8)).parse()
}

@Suite("Online quality and pictures")
struct DemoUnitTests {
    @Test func aListIsScoredAgainstTheHeldOutItemsWithBinaryNDCG() {
        let score = OnlineQuality.score(items: ["1", "2", "3"], clicks: ["2", "9"], k: 10)
        #expect(score.hit)
        #expect(score.clicked == ["2"])
        // One hit at rank 2 out of an ideal of two hits at ranks 1 and 2.
        #expect(abs(score.ndcg - (1 / log2(3.0)) / (1 + 1 / log2(3.0))) < 1e-12)
        let miss = OnlineQuality.score(items: ["5"], clicks: ["2"], k: 10)
        #expect(!miss.hit && miss.ndcg == 0 && miss.clicked.isEmpty)
        // Only the first k items count.
        #expect(!OnlineQuality.score(items: ["1", "2"], clicks: ["2"], k: 1).hit)
    }

    @Test func epochFiguresComeWithTheirIntervals() {
        var tally = Tally()
        for index in 0..<100 { tally.add(Outcome(epoch: 0, hit: index < 50, ndcg: index < 50 ? 1 : 0)) }
        let hit = tally.hitRateInterval
        // Wilson score interval of 50 of 100.
        #expect(abs(hit[0] - 0.4038) < 1e-3 && abs(hit[1] - 0.5962) < 1e-3)
        let ndcg = tally.ndcgInterval
        #expect(abs(ndcg[0] - 0.402) < 1e-3 && abs(ndcg[1] - 0.598) < 1e-3)
        let summary = DemoReport.EpochSummary(0, tally, firstSeen: 0)
        #expect(summary.scored == 100 && summary.hitRateInterval == hit)
        // Nothing judged: the interval says nothing is known.
        #expect(Tally().hitRateInterval == [0, 1])
    }

    @Test func eachVisitIsJudgedOnTheUsersNextItemInTimeOrder() async {
        let held = HeldOutUsers(
            test: [
                Interaction(user: 7, item: 9, rating: 4, timestamp: 200), Interaction(user: 7, item: 2, rating: 5, timestamp: 100),
                Interaction(user: 7, item: 5, rating: 3, timestamp: 200), Interaction(user: 3, item: 1, rating: 3, timestamp: 50),
            ], source: "test")
        let user = try! #require(held.users.first { $0.id == "7" })
        #expect(user.sequence == ["2", "5", "9"], "time order, then item id")
        let ledger = SequenceLedger()
        #expect(await ledger.take(user) == "2")
        #expect(await ledger.take(user) == "5")
        #expect(await ledger.take(user) == "9")
        #expect(await ledger.take(user) == nil)
        // A visit with nothing left counts as served, not as a zero-quality list.
        var tally = Tally()
        tally.add(Outcome(epoch: 0, hit: true, ndcg: 1, clicks: 1))
        tally.add(Outcome(epoch: 0, scored: false))
        #expect(tally.ok == 2 && tally.scored == 1)
        #expect(tally.ndcg == 1 && tally.hitRate == 1)
    }

    @Test func picturesAndThePageEscapeHostileNamesAndStayWellFormed() throws {
        let hostile = #"a<b>&"c'd"#
        let spec = TopologySpec(
            name: hostile,
            agents: [
                AgentSpec(name: "r", kind: "router"),
                AgentSpec(name: hostile, kind: "recall.static", version: "2<3"),
            ],
            edges: [Edge(from: "r", to: hostile)], gateway: GatewaySpec(entry: ["r"], exit: hostile))
        let graph = TopologyPicture.Graph(spec, epoch: 3)
        let builtin = TopologyPicture.builtin(graph)
        #expect(parsesAsXML(builtin))
        #expect(builtin.contains("a&lt;b&gt;&amp;&quot;c&#39;d"))
        #expect(!builtin.contains(hostile))
        if let dot = Graphviz.dotPath {
            let (svg, renderer) = TopologyPicture.svg(graph, dotPath: dot)
            #expect(renderer == "dot")
            #expect(parsesAsXML(svg))
        }
        var report = DemoReport(
            topology: hostile, runDirectory: "/tmp/x", gateway: "http://127.0.0.1:1", heldOut: hostile, users: 1,
            plannedSeconds: 1, elapsedSeconds: 1, rate: 1, interrupted: false, requests: .init(), feedback: .init(),
            latency: .init(), hitRate: 0.5, ndcgAt10: 0.25, epochs: [], timeline: [], steps: [], offline: [],
            failures: [hostile: 1], renderer: "builtin", files: .init())
        report.steps = [
            .init(name: hostile, plannedSeconds: 0, startedSeconds: 0, finishedSeconds: 1, outcome: hostile, ok: true)
        ]
        report.offline = [.init(epoch: 0, metric: hostile, value: 0.3)]
        report.experiments = [
            .init(
                id: hostile, step: hostile, candidate: hostile, decision: hostile, reason: hostile,
                arms: [.init(arm: hostile, lists: 2, clicked: 1)], epoch: 1, seconds: 1)
        ]
        #expect(parsesAsXML(EvolutionChart.svg(report)))
        let html = ReportWriter.html(report)
        #expect(!html.contains(hostile))
        #expect(html.contains("a&lt;b&gt;&amp;&quot;c&#39;d"))
    }
}

@Suite("agentic demo end to end", .serialized, .timeLimit(.minutes(6)))
struct DemoEndToEndTests {
    /// The demo's arguments for a small run (minimal.yaml needs no model data; the held-out
    /// users come from MovieLens, or from shared/eval's test split when the data is not fetched).
    func arguments(runDirectory: String, duration: Int, rate: Int, topology: String = "minimal") -> [String] {
        [
            "demo", "--topology", topology.hasPrefix("/") ? topology : "\(repository)/topology/\(topology).yaml",
            "--duration", "\(duration)", "--rate",
            "\(rate)", "--run-dir", runDirectory, "--data", "\(repository)/data/ml-100k", "--test-split",
            "\(repository)/../shared/eval/p1_test.tsv",
        ]
    }

    /// The processes still running whose command line names `runDirectory`.
    func processes(of runDirectory: String) -> [String] {
        let pids = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return pids.filter { Int($0) != nil }.compactMap { pid in
            guard let raw = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return nil }
            let line = String(decoding: raw.map { $0 == 0 ? UInt8(ascii: " ") : $0 }, as: UTF8.self)
            return line.contains(runDirectory) ? "\(pid): \(line)" : nil
        }
    }

    func checkFiles(_ report: DemoReport, runDirectory: String) throws {
        #expect(report.requests.sent > 0)
        #expect(report.requests.sent == report.requests.ok + report.requests.failed)
        #expect(report.requests.failed == 0, "failures: \(report.failures)")
        #expect(report.feedback.failed == 0)
        #expect(report.epochs.reduce(0) { $0 + $1.requests } == report.requests.ok)
        #expect(!report.epochs.isEmpty)
        #expect(report.latency.p99Milliseconds >= report.latency.p50Milliseconds)
        for name in ["report.json", "report.html", "evolution.svg"] {
            #expect(FileManager.default.fileExists(atPath: "\(runDirectory)/\(name)"), "\(name) is missing")
        }
        // A picture per epoch of the cluster; an epoch that began just before the replay ended
        // may have a picture and no answers.
        #expect(report.files.topologySVGs.count >= report.epochs.count)
        for svg in report.files.topologySVGs + [report.files.evolutionSVG] {
            let text = try String(contentsOfFile: svg, encoding: .utf8)
            #expect(parsesAsXML(text), "\(svg) is not well-formed XML")
        }
        // A swap that went through a second or more before the replay ended must show up as a
        // new epoch in the gateway's answers.
        if let swap = report.steps.first(where: { $0.name.hasPrefix("swap") }), swap.ok,
            swap.finishedSeconds < report.elapsedSeconds - 1
        {
            #expect(report.epochs.count >= 2, "a swap ran but no answer named a new epoch")
        }
        #expect(processes(of: runDirectory).isEmpty, "left running: \(processes(of: runDirectory))")
        let sockets = (try? FileManager.default.contentsOfDirectory(atPath: "\(runDirectory)/s")) ?? []
        #expect(sockets.isEmpty, "socket files left: \(sockets)")
    }

    /// The MovieLens mesh of cheap kinds when the data is fetched (else the data-free one):
    /// the plan's hot swap of MMR's lambda must change the epoch without a failed request.
    @Test func aShortRunHotSwapsAndReportsConsistentNumbersAndWellFormedPictures() async throws {
        let directory = try ShortDirectory()
        let runDirectory = "\(directory.path)/r"
        let movieLens = FileManager.default.fileExists(atPath: "\(repository)/data/ml-100k/ml-100k.inter")
        // movielens-small with a store: the live experiment's per-arm rewards come from it.
        let small = try String(contentsOfFile: "\(repository)/topology/movielens-small.yaml", encoding: .utf8)
        let topology = "\(directory.path)/movielens-small-store.yaml"
        try small.replacingOccurrences(of: "\nedges:", with: "\n  - name: store\n    kind: store\n\nedges:")
            .write(toFile: topology, atomically: true, encoding: .utf8)
        let demo = try TestProcess.agentic(
            arguments(runDirectory: runDirectory, duration: 30, rate: 20, topology: movieLens ? topology : "minimal")
                + ["--json"],
            // The agents find the data beside the topology file, which is not in the repository here.
            environment: ["AGENTIC_DATA": "\(repository)/data/ml-100k"], errorFile: "\(directory.path)/demo.err")
        // A hang guard, not a speed check: a 30 s replay in a debug build beside the rest of the
        // suite took 110–141 s over the last runs here (start-up fits, the search, shutdown).
        let status = try await demo.waitForExit(timeout: .seconds(300))
        // It failed once in a full run (no JSON, exit not 0) and not alone: say why when it does.
        let errors = (try? String(contentsOfFile: "\(directory.path)/demo.err", encoding: .utf8)) ?? ""
        try #require(status == 0, "agentic demo exited \(status); its stderr ends with:\n\(errors.split(separator: "\n").suffix(30).joined(separator: "\n"))")
        let report = try JSONDecoder().decode(
            DemoReport.self, from: Data(demo.output().joined(separator: "\n").utf8))
        #expect(!report.interrupted)
        #expect(report.steps.contains { $0.name.hasPrefix("swap ") && $0.ok }, "steps: \(report.steps)")
        // Every planned step is in the report: run, or skipped with the reason when the swap
        // before it ran past the end of the replay (a debug build on a loaded machine).
        for name in ["offline search", "cluster check", "evolve"] {
            let step = try #require(report.steps.first { $0.name == name }, "steps: \(report.steps)")
            #expect(step.ok || step.outcome.hasPrefix("skipped: the replay ended"), "\(step)")
        }
        // The MovieLens mesh has a store, so evolution is a live experiment with per-arm counts
        // from it and a decision (unless the evolve step started too late to leave it time).
        let evolve = try #require(report.steps.first { $0.name == "evolve" })
        if movieLens, evolve.ok, !evolve.outcome.contains("too late for a live experiment") {
            let experiment = try #require(report.experiments?.first, "evolve: \(evolve.outcome)")
            #expect(["promote", "rollback", "stop"].contains(experiment.decision), "\(experiment)")
            #expect(!experiment.reason.isEmpty && experiment.id.hasPrefix("exp-"))
            #expect(evolve.outcome.contains("experiment \(experiment.id)") && evolve.outcome.contains(experiment.decision))
            for arm in experiment.arms {
                #expect(["control", "candidate"].contains(arm.arm))
                #expect(arm.lists >= arm.clicked && arm.clicked >= 0, "\(arm.arm): \(arm.lists) lists, \(arm.clicked) clicked")
            }
            // Each arm's lists are lists the replay was answered with.
            #expect(experiment.arms.reduce(0) { $0 + $1.lists } <= report.requests.ok)
        }
        try checkFiles(report, runDirectory: runDirectory)
    }

    @Test func ctrlCStopsEverythingAndStillReports() async throws {
        let directory = try ShortDirectory()
        let runDirectory = "\(directory.path)/r"
        let demo = try TestProcess.agentic(arguments(runDirectory: runDirectory, duration: 120, rate: 20))
        _ = try await demo.waitForLine(timeout: .seconds(90)) { $0.hasPrefix("ready ") }
        // Plain progress lines (stdout is a pipe): wait for one that counts answered requests.
        _ = try await demo.waitForLine(timeout: .seconds(30)) { line in
            line.hasPrefix("[") && line.contains("| ok ") && !line.contains("| ok 0 ")
        }
        demo.signal(SIGINT)
        #expect(try await demo.waitForExit(timeout: .seconds(60)) == 0)
        #expect(demo.output().contains { $0.hasPrefix("demo interrupted after") })
        let report = try JSONDecoder().decode(
            DemoReport.self, from: Data(contentsOf: URL(fileURLWithPath: "\(runDirectory)/report.json")))
        #expect(report.interrupted)
        try checkFiles(report, runDirectory: runDirectory)
    }
}
