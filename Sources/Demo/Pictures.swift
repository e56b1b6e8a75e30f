import Foundation
public import Topology

/// Text made safe for XML and HTML, in element content and in quoted attributes alike.
enum Markup {
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            // Control characters other than tab and newline are not allowed in XML 1.0 at all.
            case "\t", "\n": out.unicodeScalars.append(scalar)
            case _ where scalar.value < 0x20 || (0xFFFE...0xFFFF).contains(scalar.value): out += "\u{FFFD}"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    static func number(_ value: Double) -> String { String(format: "%.1f", value) }
}

/// The picture of one topology epoch: agents (name, kind, version, replicas) and edges.
public enum TopologyPicture {
    /// What the picture shows of a topology.
    public struct Graph: Sendable, Equatable {
        public struct Node: Sendable, Equatable {
            public var name: String
            public var kind: String
            public var version: String
            public var replicas: Int
        }
        public var epoch: Int
        public var name: String
        public var nodes: [Node]
        public var edges: [(from: String, to: String)]
        /// The agents the gateway sends requests to, and the one whose list it answers with.
        public var entries: [String]
        public var exit: String

        public init(_ spec: TopologySpec, epoch: Int) {
            self.epoch = epoch
            name = spec.name
            nodes = spec.agents.map { Node(name: $0.name, kind: $0.kind, version: $0.version, replicas: $0.replicas) }
            edges = spec.edges.map { ($0.from, $0.to) }
            entries = spec.gateway.entry
            exit = spec.gateway.exit
        }

        public static func == (lhs: Graph, rhs: Graph) -> Bool {
            lhs.epoch == rhs.epoch && lhs.name == rhs.name && lhs.nodes == rhs.nodes
                && lhs.edges.map { "\($0.from)\u{0}\($0.to)" } == rhs.edges.map { "\($0.from)\u{0}\($0.to)" }
                && lhs.entries == rhs.entries && lhs.exit == rhs.exit
        }

        func label(_ node: Node) -> [String] {
            [node.name, "\(node.kind) v\(node.version)" + (node.replicas > 1 ? " ×\(node.replicas)" : "")]
        }
    }

    /// The Graphviz source of the picture (`dot -Tsvg` draws it).
    public static func dot(_ graph: Graph) -> String {
        // DOT strings: only the double quote and the backslash need escaping.
        func quoted(_ text: String) -> String {
            "\""
                + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
                .replacingOccurrences(of: "\n", with: " ") + "\""
        }
        var lines = [
            "digraph topology {",
            "  rankdir=LR;",
            "  label=\(quoted("\(graph.name), epoch \(graph.epoch)")); labelloc=t; fontname=\"Helvetica\";",
            "  node [shape=box, style=\"rounded,filled\", fillcolor=\"#eef3fb\", fontname=\"Helvetica\", fontsize=11];",
            "  edge [color=\"#555555\"];",
            "  \"gateway in\" [shape=oval, fillcolor=\"#fff4d6\"];",
            "  \"gateway out\" [shape=oval, fillcolor=\"#fff4d6\"];",
        ]
        for node in graph.nodes {
            let label = graph.label(node).map { quoted($0).dropFirst().dropLast() }.joined(separator: "\\n")
            lines.append("  \(quoted(node.name)) [label=\"\(label)\"];")
        }
        for edge in graph.edges { lines.append("  \(quoted(edge.from)) -> \(quoted(edge.to));") }
        for entry in graph.entries { lines.append("  \"gateway in\" -> \(quoted(entry)) [style=dashed];") }
        lines.append("  \(quoted(graph.exit)) -> \"gateway out\" [style=dashed];")
        lines.append("}")
        return lines.joined(separator: "\n") + "\n"
    }

    /// Draws with Graphviz's `dot` when it is installed, else with ``builtin(_:)``.
    /// - Returns: the SVG and which renderer drew it (`dot` or `builtin`).
    public static func svg(_ graph: Graph, dotPath: String? = Graphviz.dotPath) -> (svg: String, renderer: String) {
        if let dotPath, let drawn = Graphviz.render(dot(graph), dotPath: dotPath) { return (drawn, "dot") }
        return (builtin(graph), "builtin")
    }

    /// A layered drawing without Graphviz: columns by longest path from the sources.
    public static func builtin(_ graph: Graph) -> String {
        var depth: [String: Int] = [:]
        for node in graph.nodes { depth[node.name] = 0 }
        // Longest path by relaxation; the topology is acyclic, so |nodes| rounds suffice.
        for _ in 0..<max(1, graph.nodes.count) {
            var changed = false
            for edge in graph.edges {
                let next = (depth[edge.from] ?? 0) + 1
                if next > (depth[edge.to] ?? 0), next <= graph.nodes.count {
                    depth[edge.to] = next
                    changed = true
                }
            }
            if !changed { break }
        }
        let columns = Dictionary(grouping: graph.nodes, by: { depth[$0.name] ?? 0 })
        let boxWidth = 170.0
        let boxHeight = 44.0
        let columnGap = 60.0
        let rowGap = 18.0
        let margin = 30.0
        let titleHeight = 30.0
        let tallest = columns.values.map(\.count).max() ?? 1
        let width = margin * 2 + Double(columns.count) * boxWidth + Double(max(0, columns.count - 1)) * columnGap
        let height = margin * 2 + titleHeight + Double(tallest) * boxHeight + Double(max(0, tallest - 1)) * rowGap
        var position: [String: (x: Double, y: Double)] = [:]
        for (column, nodes) in columns {
            let columnHeight = Double(nodes.count) * boxHeight + Double(nodes.count - 1) * rowGap
            let top = margin + titleHeight + (height - margin * 2 - titleHeight - columnHeight) / 2
            for (row, node) in nodes.enumerated() {
                position[node.name] = (
                    margin + Double(column) * (boxWidth + columnGap), top + Double(row) * (boxHeight + rowGap)
                )
            }
        }
        let n = Markup.number
        var svg = [
            ##"<?xml version="1.0" encoding="UTF-8"?>"##,
            ##"<svg xmlns="http://www.w3.org/2000/svg" width="\##(n(width))" height="\##(n(height))" viewBox="0 0 \##(n(width)) \##(n(height))" font-family="Helvetica, Arial, sans-serif">"##,
            ##"<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#555"/></marker></defs>"##,
            ##"<rect width="100%" height="100%" fill="white"/>"##,
            ##"<text x="\##(n(margin))" y="\##(n(margin + 8))" font-size="14" font-weight="bold">\##(Markup.escape("\(graph.name), epoch \(graph.epoch)"))</text>"##,
        ]
        for edge in graph.edges {
            guard let a = position[edge.from], let b = position[edge.to] else { continue }
            svg.append(
                ##"<line x1="\##(n(a.x + boxWidth))" y1="\##(n(a.y + boxHeight / 2))" x2="\##(n(b.x))" y2="\##(n(b.y + boxHeight / 2))" stroke="#555" marker-end="url(#arrow)"/>"##
            )
        }
        for node in graph.nodes {
            guard let p = position[node.name] else { continue }
            let fill = graph.entries.contains(node.name) || node.name == graph.exit ? "#fff4d6" : "#eef3fb"
            let label = graph.label(node)
            svg.append(
                ##"<g><title>\##(Markup.escape(node.name))</title><rect x="\##(n(p.x))" y="\##(n(p.y))" width="\##(n(boxWidth))" height="\##(n(boxHeight))" rx="8" fill="\##(fill)" stroke="#345"/>"##
                    + ##"<text x="\##(n(p.x + boxWidth / 2))" y="\##(n(p.y + 18))" font-size="12" text-anchor="middle" font-weight="bold">\##(Markup.escape(label[0]))</text>"##
                    + ##"<text x="\##(n(p.x + boxWidth / 2))" y="\##(n(p.y + 34))" font-size="10" text-anchor="middle">\##(Markup.escape(label[1]))</text></g>"##
            )
        }
        svg.append("</svg>")
        return svg.joined(separator: "\n") + "\n"
    }
}

/// Graphviz's `dot`, when installed (Debian package `graphviz`).
public enum Graphviz {
    public static var dotPath: String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return (path.split(separator: ":").map { "\($0)/dot" } + ["/usr/bin/dot"])
            .first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Runs `dot -Tsvg`; nil when it fails, says nothing, or takes more than 20 s.
    static func render(_ source: String, dotPath: String) -> String? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: dotPath)
        process.arguments = ["-Tsvg"]
        let input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch { return nil }
        // Read on another thread while writing, so neither pipe can fill up and block both sides.
        let collected = Collected()
        let reader = Thread {
            collected.set(output.fileHandleForReading.readDataToEndOfFile())
        }
        reader.start()
        try? input.fileHandleForWriting.write(contentsOf: Data(source.utf8))
        try? input.fileHandleForWriting.close()
        let deadline = Date().addingTimeInterval(20)
        while process.isRunning, Date() < deadline { usleep(5_000) }
        if process.isRunning {
            process.terminate()
            return nil
        }
        while !collected.done, Date() < deadline.addingTimeInterval(2) { usleep(2_000) }
        guard process.terminationStatus == 0, let data = collected.data, !data.isEmpty else { return nil }
        return String(decoding: data, as: UTF8.self)
    }

    private final class Collected: @unchecked Sendable {
        private let lock = NSLock()
        private var value: Data?
        func set(_ data: Data) { lock.withLock { value = data } }
        var data: Data? { lock.withLock { value } }
        var done: Bool { data != nil }
    }
}

/// `evolution.svg`: the reward of each epoch, online (NDCG@10 and hit rate of the replay)
/// and offline (what evolution measured on split P1), and the online NDCG@10 over time.
public enum EvolutionChart {
    public static func svg(_ report: DemoReport) -> String {
        let width = 760.0
        let panelHeight = 220.0
        let margin = 56.0
        let gap = 70.0
        let height = margin * 2 + panelHeight * 2 + gap
        let n = Markup.number
        var svg = [
            ##"<?xml version="1.0" encoding="UTF-8"?>"##,
            ##"<svg xmlns="http://www.w3.org/2000/svg" width="\##(n(width))" height="\##(n(height))" viewBox="0 0 \##(n(width)) \##(n(height))" font-family="Helvetica, Arial, sans-serif" font-size="11">"##,
            ##"<rect width="100%" height="100%" fill="white"/>"##,
        ]
        // Panel 1: reward per epoch.
        let epochs = Array(Set(report.epochs.map(\.epoch) + report.offline.map(\.epoch))).sorted()
        let values =
            report.epochs.flatMap { [$0.ndcgAt10, $0.hitRate] } + report.offline.map(\.value)
        let top = niceCeiling(values.max() ?? 0)
        let plotWidth = width - margin * 2
        let y1 = { (v: Double) in margin + panelHeight - (top > 0 ? v / top : 0) * panelHeight }
        let x1 = { (index: Int) in
            margin + (epochs.count <= 1 ? plotWidth / 2 : Double(index) * plotWidth / Double(epochs.count - 1))
        }
        svg += axes(
            title: "Reward per topology epoch", x: margin, y: margin, width: plotWidth, height: panelHeight, top: top)
        for (index, epoch) in epochs.enumerated() {
            svg.append(
                ##"<text x="\##(n(x1(index)))" y="\##(n(margin + panelHeight + 16))" text-anchor="middle">epoch \##(epoch)</text>"##
            )
        }
        let online = report.epochs.sorted { $0.epoch < $1.epoch }
        let series: [(name: String, color: String, dash: String, points: [(Int, Double)])] = [
            (
                "online NDCG@10", "#1f77b4", "",
                online.compactMap { e in epochs.firstIndex(of: e.epoch).map { ($0, e.ndcgAt10) } }
            ),
            (
                "online hit rate", "#2ca02c", "6,4",
                online.compactMap { e in epochs.firstIndex(of: e.epoch).map { ($0, e.hitRate) } }
            ),
            (
                report.offline.isEmpty ? "offline (none measured)" : "offline", "#d62728", "2,3",
                report.offline.compactMap { o in epochs.firstIndex(of: o.epoch).map { ($0, o.value) } }
            ),
        ]
        for (number, line) in series.enumerated() {
            if line.points.count > 1 {
                let path = line.points.map { "\(n(x1($0.0))),\(n(y1($0.1)))" }.joined(separator: " ")
                svg.append(
                    ##"<polyline points="\##(path)" fill="none" stroke="\##(line.color)" stroke-width="2"\##(line.dash.isEmpty ? "" : " stroke-dasharray=\"\(line.dash)\"")/>"##
                )
            }
            for point in line.points {
                svg.append(
                    ##"<circle cx="\##(n(x1(point.0)))" cy="\##(n(y1(point.1)))" r="4" fill="\##(line.color)"><title>\##(Markup.escape("\(line.name): \(String(format: "%.4f", point.1))"))</title></circle>"##
                )
            }
            let legendX = margin + 10 + Double(number) * 160
            svg.append(
                ##"<rect x="\##(n(legendX))" y="\##(n(margin + 6))" width="12" height="12" fill="\##(line.color)"/>"##)
            svg.append(
                ##"<text x="\##(n(legendX + 18))" y="\##(n(margin + 16))">\##(Markup.escape(line.name))</text>"##)
        }
        // Panel 2: online NDCG@10 over time, one colour band per epoch.
        let top2Y = margin + panelHeight + gap
        let timeline = report.timeline
        let top2 = niceCeiling(timeline.map { max($0.ndcgAt10, $0.hitRate) }.max() ?? 0)
        let span = max(report.elapsedSeconds, timeline.last?.tSeconds ?? 0, 1)
        let x2 = { (t: Double) in margin + t / span * plotWidth }
        let y2 = { (v: Double) in top2Y + panelHeight - (top2 > 0 ? v / top2 : 0) * panelHeight }
        svg += axes(
            title: "Online reward over time (5 s windows)", x: margin, y: top2Y, width: plotWidth, height: panelHeight,
            top: top2)
        for epoch in report.epochs where epoch.firstSeenSeconds > 0 {
            svg.append(
                ##"<line x1="\##(n(x2(epoch.firstSeenSeconds)))" y1="\##(n(top2Y))" x2="\##(n(x2(epoch.firstSeenSeconds)))" y2="\##(n(top2Y + panelHeight))" stroke="#999" stroke-dasharray="4,3"/>"##
            )
            svg.append(
                ##"<text x="\##(n(x2(epoch.firstSeenSeconds) + 3))" y="\##(n(top2Y + 12))" fill="#666">epoch \##(epoch.epoch)</text>"##
            )
        }
        for (name, color, pick) in [
            ("NDCG@10", "#1f77b4", { (p: DemoReport.Point) in p.ndcgAt10 }),
            ("hit rate", "#2ca02c", { (p: DemoReport.Point) in p.hitRate }),
        ] {
            if !timeline.isEmpty {
                let path = timeline.map { "\(n(x2($0.tSeconds))),\(n(y2(pick($0))))" }.joined(separator: " ")
                svg.append(
                    ##"<polyline points="\##(path)" fill="none" stroke="\##(color)" stroke-width="2"><title>\##(Markup.escape(name))</title></polyline>"##
                )
            }
        }
        svg.append(
            ##"<text x="\##(n(margin + plotWidth / 2))" y="\##(n(top2Y + panelHeight + 30))" text-anchor="middle">seconds into the run (\##(n(span)) s)</text>"##
        )
        svg.append("</svg>")
        return svg.joined(separator: "\n") + "\n"
    }

    private static func axes(title: String, x: Double, y: Double, width: Double, height: Double, top: Double)
        -> [String]
    {
        let n = Markup.number
        var out = [
            ##"<text x="\##(n(x))" y="\##(n(y - 14))" font-size="14" font-weight="bold">\##(Markup.escape(title))</text>"##,
            ##"<line x1="\##(n(x))" y1="\##(n(y + height))" x2="\##(n(x + width))" y2="\##(n(y + height))" stroke="#333"/>"##,
            ##"<line x1="\##(n(x))" y1="\##(n(y))" x2="\##(n(x))" y2="\##(n(y + height))" stroke="#333"/>"##,
        ]
        for step in 0...4 {
            let value = top * Double(step) / 4
            let lineY = y + height - Double(step) / 4 * height
            out.append(
                ##"<line x1="\##(n(x))" y1="\##(n(lineY))" x2="\##(n(x + width))" y2="\##(n(lineY))" stroke="#eee"/>"##)
            out.append(
                ##"<text x="\##(n(x - 6))" y="\##(n(lineY + 4))" text-anchor="end">\##(String(format: "%.2f", value))</text>"##
            )
        }
        return out
    }

    private static func niceCeiling(_ value: Double) -> Double {
        guard value > 0 else { return 1 }
        return min(1, (value * 1.15 * 20).rounded(.up) / 20)
    }
}
