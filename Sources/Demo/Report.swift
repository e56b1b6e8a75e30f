public import AgentProtocol
import Foundation

/// The result of a demo run, as `report.json` holds it (keys in snake case).
public struct DemoReport: Codable, Sendable {
    public struct Requests: Codable, Sendable {
        /// Recommendations sent; every one ends `ok` or `failed`.
        public var sent = 0
        public var ok = 0
        public var failed = 0
        /// Answered, but with agents skipped.
        public var degraded = 0
    }

    public struct Feedback: Codable, Sendable {
        /// Clicks sent to `POST /v1/feedback`.
        public var sent = 0
        public var accepted = 0
        public var failed = 0
    }

    public struct Latency: Codable, Sendable {
        public var p50Milliseconds = 0.0
        public var p99Milliseconds = 0.0
        public var maxMilliseconds = 0.0
        enum CodingKeys: String, CodingKey {
            case p50Milliseconds = "p50_ms"
            case p99Milliseconds = "p99_ms"
            case maxMilliseconds = "max_ms"
        }
    }

    /// Online quality and load of one topology epoch (the epoch the gateway's answers named).
    public struct EpochSummary: Codable, Sendable {
        public var epoch: Int
        public var requests: Int
        public var degraded: Int
        public var hitRate: Double
        public var ndcgAt10: Double
        /// Visits judged (with a held-out item left to find): the sample behind the rates.
        public var scored: Int
        /// 95 % intervals: two epochs whose intervals overlap widely do not differ beyond chance.
        public var hitRateInterval: [Double]
        public var ndcgAt10Interval: [Double]
        public var clicks: Int
        public var p50Milliseconds: Double
        public var p99Milliseconds: Double
        /// Seconds into the run when an answer first named this epoch.
        public var firstSeenSeconds: Double

        enum CodingKeys: String, CodingKey {
            case epoch, requests, degraded, clicks, scored
            case hitRate = "hit_rate"
            case ndcgAt10 = "ndcg_at_10"
            case hitRateInterval = "hit_rate_ci95"
            case ndcgAt10Interval = "ndcg_at_10_ci95"
            case p50Milliseconds = "p50_ms"
            case p99Milliseconds = "p99_ms"
            case firstSeenSeconds = "first_seen_s"
        }

        init(_ epoch: Int, _ tally: Tally, firstSeen: Double) {
            self.epoch = epoch
            requests = tally.ok
            degraded = tally.degraded
            hitRate = tally.hitRate
            ndcgAt10 = tally.ndcg
            scored = tally.scored
            hitRateInterval = tally.hitRateInterval
            ndcgAt10Interval = tally.ndcgInterval
            clicks = tally.clicks
            p50Milliseconds = tally.percentileMilliseconds(50)
            p99Milliseconds = tally.percentileMilliseconds(99)
            firstSeenSeconds = firstSeen
        }
    }

    /// One time window of the run.
    public struct Point: Codable, Sendable {
        public var tSeconds: Double
        public var epoch: Int
        public var requests: Int
        public var hitRate: Double
        public var ndcgAt10: Double
        public var p99Milliseconds: Double
        enum CodingKeys: String, CodingKey {
            case epoch, requests
            case tSeconds = "t_s"
            case hitRate = "hit_rate"
            case ndcgAt10 = "ndcg_at_10"
            case p99Milliseconds = "p99_ms"
        }
    }

    /// One scenario step (a swap, an experiment) and what it decided.
    public struct Step: Codable, Sendable {
        public var name: String
        public var plannedSeconds: Double
        public var startedSeconds: Double
        public var finishedSeconds: Double
        /// The step's decision or result, or why it failed.
        public var outcome: String
        public var ok: Bool
        enum CodingKeys: String, CodingKey {
            case name, outcome, ok
            case plannedSeconds = "planned_s"
            case startedSeconds = "started_s"
            case finishedSeconds = "finished_s"
        }
    }

    /// A reward measured offline (on split P1) for a topology epoch.
    public struct OfflineReward: Codable, Sendable {
        public var epoch: Int
        public var metric: String
        public var value: Double
        public init(epoch: Int, metric: String, value: Double) {
            self.epoch = epoch
            self.metric = metric
            self.value = value
        }
    }

    /// One live experiment (a canary of a candidate beside the serving topology) and what
    /// its sequential test decided.
    public struct Experiment: Codable, Sendable {
        /// One arm's lists served in the experiment and how many of them got a click.
        public struct Arm: Codable, Sendable {
            /// `control` or `candidate`.
            public var arm: String
            public var lists: Int
            public var clicked: Int
            public init(arm: String, lists: Int, clicked: Int) {
                self.arm = arm
                self.lists = lists
                self.clicked = clicked
            }
        }

        /// `exp-ID`, the row of the store's experiments table.
        public var id: String
        /// The scenario step that ran it.
        public var step: String
        /// Where the candidate came from and what it changes.
        public var candidate: String
        /// `promote`, `rollback`, `stop` or `gate_failed`.
        public var decision: String
        public var reason: String
        public var arms: [Arm]
        /// The epoch serving after the decision.
        public var epoch: Int
        public var seconds: Double

        public init(
            id: String, step: String, candidate: String, decision: String, reason: String, arms: [Arm], epoch: Int,
            seconds: Double
        ) {
            self.id = id
            self.step = step
            self.candidate = candidate
            self.decision = decision
            self.reason = reason
            self.arms = arms
            self.epoch = epoch
            self.seconds = seconds
        }

        /// `control 120 lists, 31 clicked; candidate 118 lists, 35 clicked`.
        public var armsText: String {
            arms.isEmpty ? "no lists" : arms.map { "\($0.arm) \($0.lists) lists, \($0.clicked) clicked" }.joined(separator: "; ")
        }
    }

    public struct Files: Codable, Sendable {
        public var reportJSON = ""
        public var reportHTML = ""
        public var evolutionSVG = ""
        public var topologySVGs: [String] = []
        enum CodingKeys: String, CodingKey {
            case reportJSON = "report_json"
            case reportHTML = "report_html"
            case evolutionSVG = "evolution_svg"
            case topologySVGs = "topology_svgs"
        }
    }

    public var topology: String
    public var runDirectory: String
    public var gateway: String
    public var heldOut: String
    public var users: Int
    public var plannedSeconds: Double
    public var elapsedSeconds: Double
    public var rate: Double
    /// True when Ctrl-C (or SIGTERM) ended the run early.
    public var interrupted: Bool
    public var requests: Requests
    public var feedback: Feedback
    public var latency: Latency
    public var hitRate: Double
    public var ndcgAt10: Double
    public var epochs: [EpochSummary]
    public var timeline: [Point]
    public var steps: [Step]
    public var offline: [OfflineReward]
    /// The live experiments the scenario ran, in order (nil in reports written before they
    /// were recorded).
    public var experiments: [Experiment]?
    /// Why requests failed, with counts.
    public var failures: [String: Int]
    /// How the pictures were drawn: `dot` or `builtin`.
    public var renderer: String
    public var files: Files
    /// The knowledge store's inner and outer rewards per agent version, as `agentic report`
    /// computes them from the served lists and the clicks (nil without a `store` agent).
    public var store: [AgentReward]?

    enum CodingKeys: String, CodingKey {
        case topology, gateway, users, rate, interrupted, requests, feedback, latency, epochs, timeline, steps, offline
        case experiments
        case failures, renderer, files, store
        case runDirectory = "run_dir"
        case heldOut = "held_out"
        case plannedSeconds = "planned_s"
        case elapsedSeconds = "elapsed_s"
        case hitRate = "hit_rate"
        case ndcgAt10 = "ndcg_at_10"
    }

    /// The report as people read it on a terminal.
    public var text: String {
        var lines: [String] = []
        let f = { (value: Double, digits: Int) in String(format: "%.\(digits)f", value) }
        lines.append("demo \(interrupted ? "interrupted" : "finished") after \(f(elapsedSeconds, 1)) s on \(topology)")
        lines.append(
            "requests: sent \(requests.sent), ok \(requests.ok), failed \(requests.failed), degraded \(requests.degraded)"
        )
        lines.append("feedback: \(feedback.sent) clicks sent, \(feedback.accepted) accepted, \(feedback.failed) failed")
        lines.append("latency: p50 \(f(latency.p50Milliseconds, 2)) ms, p99 \(f(latency.p99Milliseconds, 2)) ms")
        lines.append(
            "online: hit rate \(f(hitRate, 4)), NDCG@10 \(f(ndcgAt10, 4)) (\(users) held-out users, \(heldOut))")
        lines.append("epoch  requests  hit_rate (95 % CI)        ndcg@10 (95 % CI)         p50_ms  p99_ms  first_seen_s  offline")
        for epoch in epochs {
            let offlineText = offline.filter { $0.epoch == epoch.epoch }.map { "\($0.metric) \(f($0.value, 4))" }
                .joined(separator: ", ")
            lines.append(
                [
                    pad("\(epoch.epoch)", 5), pad("\(epoch.requests)", 8),
                    pad("\(f(epoch.hitRate, 4)) [\(f(epoch.hitRateInterval[0], 3)), \(f(epoch.hitRateInterval[1], 3))]", 23),
                    pad("\(f(epoch.ndcgAt10, 4)) [\(f(epoch.ndcgAt10Interval[0], 3)), \(f(epoch.ndcgAt10Interval[1], 3))]", 23),
                    pad(f(epoch.p50Milliseconds, 2), 6),
                    pad(f(epoch.p99Milliseconds, 2), 6),
                    pad(f(epoch.firstSeenSeconds, 1), 12), offlineText.isEmpty ? "-" : offlineText,
                ].joined(separator: "  "))
        }
        if steps.isEmpty {
            lines.append("steps: none")
        } else {
            lines.append("steps:")
            for step in steps {
                lines.append(
                    "  t=\(f(step.startedSeconds, 1))s \(step.name): \(step.ok || step.outcome.hasPrefix("skipped") ? "" : "FAILED ")\(step.outcome)")
            }
        }
        for experiment in experiments ?? [] {
            lines.append(
                "experiment \(experiment.id) (\(experiment.step)): \(experiment.decision): \(experiment.reason); "
                    + "\(experiment.armsText); epoch \(experiment.epoch) after \(f(experiment.seconds, 1)) s")
        }
        for (reason, count) in failures.sorted(by: { $0.key < $1.key }) { lines.append("failure \(reason): \(count)") }
        if let store, !store.isEmpty {
            lines.append("store rewards per agent version: agent  contributed  clicked  inner_ctr  lists  ndcg")
            for row in store {
                lines.append(
                    "  \(row.agent)  \(row.contributed)  \(row.clicked)  \(f(row.innerCTR, 4))  \(row.lists)  \(f(row.ndcg, 4))")
            }
        }
        lines.append("report \(files.reportHTML)")
        lines.append("json \(files.reportJSON)")
        lines.append("files \(runDirectory)")
        return lines.joined(separator: "\n")
    }

    private func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
    }
}
