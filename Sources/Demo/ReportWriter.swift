import Foundation

/// Writes a run's files: `topology-<epoch>.svg` for each epoch seen, `evolution.svg`,
/// `report.json` and `report.html` (which shows the pictures with the tables).
public enum ReportWriter {
    /// Writes the files into `directory` and returns the report with their paths filled in.
    /// - Throws: ``DemoError/Code/write``.
    public static func write(_ result: DemoDriver.Result, into directory: String, dotPath: String? = Graphviz.dotPath)
        throws(DemoError) -> DemoReport
    {
        var report = result.report
        var renderers = Set<String>()
        for graph in result.topologies {
            let (svg, renderer) = TopologyPicture.svg(graph, dotPath: dotPath)
            renderers.insert(renderer)
            let path = "\(directory)/topology-\(graph.epoch).svg"
            try save(svg, to: path)
            report.files.topologySVGs.append(path)
        }
        report.renderer = renderers.sorted().joined(separator: ",")
        report.files.evolutionSVG = "\(directory)/evolution.svg"
        report.files.reportJSON = "\(directory)/report.json"
        report.files.reportHTML = "\(directory)/report.html"
        try save(EvolutionChart.svg(report), to: report.files.evolutionSVG)
        try save(json(report), to: report.files.reportJSON)
        try save(html(report), to: report.files.reportHTML)
        return report
    }

    public static func json(_ report: DemoReport) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return ((try? encoder.encode(report)).map { String(decoding: $0, as: UTF8.self) } ?? "{}") + "\n"
    }

    private static func save(_ text: String, to path: String) throws(DemoError) {
        do {
            try text.write(toFile: path, atomically: true, encoding: .utf8)
        } catch {
            throw DemoError(.write, "cannot write \(path): \(error)")
        }
    }

    /// One self-contained page; the pictures are referenced by file name, next to it.
    static func html(_ report: DemoReport) -> String {
        let e = Markup.escape
        let f = { (value: Double, digits: Int) in String(format: "%.\(digits)f", value) }
        func table(_ header: [String], _ rows: [[String]]) -> String {
            "<table><tr>" + header.map { "<th>\(e($0))</th>" }.joined() + "</tr>"
                + rows.map { "<tr>" + $0.map { "<td>\(e($0))</td>" }.joined() + "</tr>" }.joined() + "</table>"
        }
        var body: [String] = []
        body.append("<h1>agentic demo</h1>")
        body.append(
            "<p>\(e(report.interrupted ? "Interrupted" : "Finished")) after \(e(f(report.elapsedSeconds, 1))) s "
                + "(planned \(e(f(report.plannedSeconds, 0))) s at \(e(f(report.rate, 1))) requests/s) on "
                + "<code>\(e(report.topology))</code>; \(report.users) held-out users from \(e(report.heldOut)). "
                + "Run directory <code>\(e(report.runDirectory))</code>.</p>")
        body.append("<h2>Requests</h2>")
        body.append(
            table(
                ["sent", "ok", "failed", "degraded", "clicks sent", "clicks accepted", "p50 ms", "p99 ms", "max ms"],
                [
                    [
                        "\(report.requests.sent)", "\(report.requests.ok)", "\(report.requests.failed)",
                        "\(report.requests.degraded)", "\(report.feedback.sent)", "\(report.feedback.accepted)",
                        f(report.latency.p50Milliseconds, 2), f(report.latency.p99Milliseconds, 2),
                        f(report.latency.maxMilliseconds, 2),
                    ]
                ]))
        if !report.failures.isEmpty {
            body.append(
                table(
                    ["failure", "count"], report.failures.sorted { $0.key < $1.key }.map { [$0.key, "\($0.value)"] }))
        }
        body.append("<h2>Online reward per epoch</h2>")
        body.append(
            "<p>Overall: hit rate \(e(f(report.hitRate, 4))), NDCG@10 \(e(f(report.ndcgAt10, 4))).</p>")
        body.append(
            table(
                [
                    "epoch", "requests", "degraded", "hit rate (95 % CI)", "NDCG@10 (95 % CI)", "clicks", "p50 ms", "p99 ms",
                    "first seen s", "offline",
                ],
                report.epochs.map { epoch in
                    [
                        "\(epoch.epoch)", "\(epoch.requests)", "\(epoch.degraded)",
                        "\(f(epoch.hitRate, 4)) [\(f(epoch.hitRateInterval[0], 3)), \(f(epoch.hitRateInterval[1], 3))]",
                        "\(f(epoch.ndcgAt10, 4)) [\(f(epoch.ndcgAt10Interval[0], 3)), \(f(epoch.ndcgAt10Interval[1], 3))]",
                        "\(epoch.clicks)", f(epoch.p50Milliseconds, 2),
                        f(epoch.p99Milliseconds, 2), f(epoch.firstSeenSeconds, 1),
                        report.offline.filter { $0.epoch == epoch.epoch }.map { "\($0.metric) \(f($0.value, 4))" }
                            .joined(separator: ", "),
                    ]
                }))
        body.append(##"<p><img src="evolution.svg" alt="reward per epoch and over time"></p>"##)
        body.append("<h2>Swaps and experiments</h2>")
        body.append(
            report.steps.isEmpty
                ? "<p>No scenario steps ran.</p>"
                : table(
                    ["step", "planned s", "started s", "finished s", "result"],
                    report.steps.map {
                        [
                            $0.name, f($0.plannedSeconds, 1), f($0.startedSeconds, 1), f($0.finishedSeconds, 1),
                            ($0.ok ? "" : "failed: ") + $0.outcome,
                        ]
                    }))
        if let experiments = report.experiments, !experiments.isEmpty {
            body.append("<h2>Live experiments</h2>")
            body.append(
                table(
                    ["experiment", "step", "candidate", "arms (lists, clicked)", "decision", "reason", "epoch after", "s"],
                    experiments.map {
                        [$0.id, $0.step, $0.candidate, $0.armsText, $0.decision, $0.reason, "\($0.epoch)", f($0.seconds, 1)]
                    }))
        }
        if let store = report.store, !store.isEmpty {
            body.append("<h2>Rewards per agent version (knowledge store)</h2>")
            body.append(
                table(
                    [
                        "agent@version", "items contributed", "clicked", "inner CTR", "lists", "lists clicked",
                        "outer NDCG",
                    ],
                    store.map {
                        [
                            $0.agent, "\($0.contributed)", "\($0.clicked)", f($0.innerCTR, 4), "\($0.lists)",
                            f($0.listsClicked, 4), f($0.ndcg, 4),
                        ]
                    }))
        }
        body.append("<h2>Topologies</h2>")
        for path in report.files.topologySVGs {
            let name = (path as NSString).lastPathComponent
            body.append("<h3>\(e(name))</h3><p><img src=\"\(e(name))\" alt=\"\(e(name))\"></p>")
        }
        body.append("<h2>Timeline</h2>")
        body.append(
            table(
                ["t s", "epoch", "requests", "hit rate", "NDCG@10", "p99 ms"],
                report.timeline.map {
                    [
                        f($0.tSeconds, 1), "\($0.epoch)", "\($0.requests)", f($0.hitRate, 4), f($0.ndcgAt10, 4),
                        f($0.p99Milliseconds, 2),
                    ]
                }))
        return """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>agentic demo report</title>
            <style>
            body { font-family: Helvetica, Arial, sans-serif; margin: 2em; color: #222; max-width: 60em; }
            table { border-collapse: collapse; margin: 0.5em 0 1em; }
            th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: right; }
            th { background: #f2f2f2; }
            td:first-child { text-align: left; }
            img { max-width: 100%; border: 1px solid #eee; }
            </style></head><body>
            \(body.joined(separator: "\n"))
            </body></html>

            """
    }
}
