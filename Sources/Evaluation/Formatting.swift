import Foundation

/// Human-readable rendering of an ``EvaluationReport``.
public enum EvaluationReportFormatter {
    static let columns: [(String, any KeyPath<MetricSet, Double> & Sendable)] = [
        ("Recall@10", \.recall10), ("Recall@20", \.recall20), ("NDCG@10", \.ndcg10), ("NDCG@20", \.ndcg20),
        ("HitRate@10", \.hitRate10), ("MRR@10", \.mrr10), ("Cov@10", \.coverage10), ("ILD@10", \.ild10),
    ]

    public static func text(_ report: EvaluationReport) -> String {
        var lines: [String] = []
        lines.append("\(report.topology) as written, split \(report.split): \(report.users) users, \(report.items) items")
        for case let (name, stage?) in [("valid", report.valid), ("test", report.test)] {
            lines.append("")
            lines.append(row("[\(name)]", columns.map(\.0) + ["users"]))
            lines.append(row("pipeline", metrics(stage.overall)))
            for (segment, m) in stage.segments.sorted(by: { $0.key < $1.key }) { lines.append(row("segment:\(segment)", metrics(m))) }
            for (route, m) in stage.routes.sorted(by: { $0.key < $1.key }) { lines.append(row("route:\(route)", metrics(m))) }
            let rewards = stage.innerRewards.sorted { $0.key < $1.key }.map { "\($0.key)=\(String(format: "%.4f", $0.value))" }
            lines.append("inner rewards: \(rewards.joined(separator: " "))")
        }
        lines.append("")
        let s = report.seconds.sorted { $0.key < $1.key }.map { "\($0.key)=\(String(format: "%.2f", $0.value))" }
        lines.append("seconds: \(s.joined(separator: " "))")
        if let file = report.recommendationsFile { lines.append("recommendations: \(file)") }
        return lines.joined(separator: "\n")
    }

    static func metrics(_ m: MetricSet) -> [String] {
        columns.map { String(format: "%.4f", m[keyPath: $0.1]) } + [String(m.users)]
    }

    static func row(_ label: String, _ cells: [String]) -> String {
        label.padding(toLength: 18, withPad: " ", startingAt: 0) + cells.map { $0.padding(toLength: 11, withPad: " ", startingAt: 0) }.joined()
    }
}
