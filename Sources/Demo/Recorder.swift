import Foundation
import Histogram

/// How one recommendation went, as the driver saw it.
struct Outcome: Sendable {
    /// nil: the request failed (the reason is in `failure`).
    var epoch: Int?
    var failure: String?
    var degraded = false
    var hit = false
    var ndcg = 0.0
    var clicks = 0
    /// false: a repeat visit of a user who has clicked every held-out item already, so
    /// there is nothing left to find and the list says nothing about quality.
    var scored = true
    var latencyMicroseconds: UInt64 = 0
}

/// Online quality of a list: a hit when any of its first `k` items is a held-out item of
/// the user; NDCG@k with binary relevance against the user's held-out items.
enum OnlineQuality {
    static func score(items: [String], clicks: Set<String>, k: Int) -> (hit: Bool, ndcg: Double, clicked: [String]) {
        let top = items.prefix(k)
        var dcg = 0.0
        var clicked: [String] = []
        for (rank, item) in top.enumerated() where clicks.contains(item) {
            dcg += 1 / log2(Double(rank) + 2)
            clicked.append(item)
        }
        let ideal = (0..<min(clicks.count, k)).reduce(0.0) { $0 + 1 / log2(Double($1) + 2) }
        return (!clicked.isEmpty, ideal > 0 ? dcg / ideal : 0, clicked)
    }
}

/// Counts for one epoch (or one time window).
struct Tally: Sendable {
    var completed = 0
    var ok = 0
    var failed = 0
    var degraded = 0
    var hits = 0
    var ndcgSum = 0.0
    var ndcgSquares = 0.0
    var clicks = 0
    /// ok answers with held-out items left to find: the denominator of hit rate and NDCG.
    var scored = 0
    var latency = Histogram<UInt64>(highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three)

    mutating func add(_ outcome: Outcome) {
        completed += 1
        guard outcome.epoch != nil else {
            failed += 1
            return
        }
        ok += 1
        if outcome.degraded { degraded += 1 }
        if outcome.scored {
            scored += 1
            if outcome.hit { hits += 1 }
            ndcgSum += outcome.ndcg
            ndcgSquares += outcome.ndcg * outcome.ndcg
        }
        clicks += outcome.clicks
        _ = latency.record(min(outcome.latencyMicroseconds, latency.highestTrackableValue))
    }

    var hitRate: Double { scored > 0 ? Double(hits) / Double(scored) : 0 }
    var ndcg: Double { scored > 0 ? ndcgSum / Double(scored) : 0 }
    /// The 95 % (Wilson score) interval of the hit rate; [0, 1] with nothing scored.
    var hitRateInterval: [Double] {
        guard scored > 0 else { return [0, 1] }
        let n = Double(scored), p = hitRate, z = 1.96
        let centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        let half = z * ((p * (1 - p) + z * z / (4 * n)) / n).squareRoot() / (1 + z * z / n)
        return [max(0, centre - half), min(1, centre + half)]
    }
    /// The 95 % interval of the mean NDCG@10 (normal approximation); [0, 1] with fewer than two.
    var ndcgInterval: [Double] {
        guard scored > 1 else { return [0, 1] }
        let n = Double(scored), mean = ndcg
        let variance = max(0, (ndcgSquares - n * mean * mean) / (n - 1))
        let half = 1.96 * (variance / n).squareRoot()
        return [max(0, mean - half), min(1, mean + half)]
    }
    func percentileMilliseconds(_ p: Double) -> Double {
        latency.totalCount > 0 ? Double(latency.valueAtPercentile(p)) / 1000 : 0
    }
}

/// Everything measured while the demo runs; the driver, the scenario and the status line
/// read and write it concurrently.
actor Recorder {
    private let started = ContinuousClock.now
    private let window: Duration
    private(set) var sent = 0
    private(set) var total = Tally()
    private(set) var epochs: [Int: Tally] = [:]
    private(set) var firstSeen: [Int: Double] = [:]
    private(set) var failures: [String: Int] = [:]
    private(set) var feedback = DemoReport.Feedback()
    private(set) var timeline: [DemoReport.Point] = []
    private(set) var steps: [DemoReport.Step] = []
    private(set) var offline: [DemoReport.OfflineReward] = []
    private(set) var experiments: [DemoReport.Experiment] = []
    private(set) var topologies: [Int: TopologyPicture.Graph] = [:]
    private(set) var currentStep = "-"
    private(set) var latestEpoch: Int?
    private var windowTally = Tally()
    private var windowEpoch: Int?
    private var windowStart: Duration = .zero
    private var recent: [(at: Duration, completed: Int)] = []

    init(window: Duration) { self.window = window }

    var elapsed: Duration { ContinuousClock.now - started }

    func recordSent() { sent += 1 }

    /// Records an outcome; returns true the first time its epoch is seen.
    func record(_ outcome: Outcome) -> Bool {
        rollWindows()
        total.add(outcome)
        windowTally.add(outcome)
        recent.append((elapsed, total.completed))
        if let failure = outcome.failure { failures[failure, default: 0] += 1 }
        guard let epoch = outcome.epoch else { return false }
        epochs[epoch, default: Tally()].add(outcome)
        windowEpoch = max(windowEpoch ?? epoch, epoch)
        latestEpoch = max(latestEpoch ?? epoch, epoch)
        guard firstSeen[epoch] == nil else { return false }
        firstSeen[epoch] = elapsed.seconds
        return true
    }

    func recordFeedback(accepted: Bool) {
        feedback.sent += 1
        if accepted { feedback.accepted += 1 } else { feedback.failed += 1 }
    }

    func recordTopology(_ graph: TopologyPicture.Graph) {
        if topologies[graph.epoch] == nil { topologies[graph.epoch] = graph }
    }

    func hasTopology(_ epoch: Int) -> Bool { topologies[epoch] != nil }

    func recordOffline(_ reward: DemoReport.OfflineReward) { offline.append(reward) }

    func recordExperiment(_ experiment: DemoReport.Experiment) { experiments.append(experiment) }

    func beginStep(_ name: String) { currentStep = name }

    func endStep(_ step: DemoReport.Step) {
        steps.append(step)
        currentStep = "-"
    }

    /// Closes the time windows that have passed (each a point of the timeline).
    private func rollWindows() {
        while elapsed - windowStart >= window {
            closeWindow(until: windowStart + window)
        }
    }

    private func closeWindow(until end: Duration) {
        if windowTally.completed > 0 {
            timeline.append(
                DemoReport.Point(
                    tSeconds: end.seconds, epoch: windowEpoch ?? latestEpoch ?? 0, requests: windowTally.completed,
                    hitRate: windowTally.hitRate, ndcgAt10: windowTally.ndcg,
                    p99Milliseconds: windowTally.percentileMilliseconds(99)))
        }
        windowTally = Tally()
        windowEpoch = nil
        windowStart = end
    }

    /// The last, partial window goes into the timeline too when it covers at least half a
    /// window: a sliver of a few requests at the end would only draw noise.
    func finish() {
        rollWindows()
        if windowTally.completed > 0, elapsed - windowStart >= window / 2 { closeWindow(until: elapsed) }
    }

    /// What the status line shows.
    func snapshot() -> DemoProgress {
        rollWindows()
        let now = elapsed
        recent.removeAll { now - $0.at > .seconds(3) }
        let span = recent.first.map { (now - $0.at).seconds } ?? 0
        let rate = span > 0.5 ? Double((recent.last?.completed ?? 0) - (recent.first?.completed ?? 0)) / span : 0
        let epoch = latestEpoch
        let tally = epoch.flatMap { epochs[$0] } ?? total
        return DemoProgress(
            elapsedSeconds: now.seconds, epoch: epoch, requestsPerSecond: rate,
            p99Milliseconds: windowTally.latency.totalCount > 0
                ? windowTally.percentileMilliseconds(99) : total.percentileMilliseconds(99),
            hitRate: tally.hitRate, ndcg: tally.ndcg, sent: sent, ok: total.ok, failed: total.failed,
            step: currentStep)
    }

    func summary(of epoch: Int) -> DemoReport.EpochSummary? {
        guard let tally = epochs[epoch] else { return nil }
        return DemoReport.EpochSummary(epoch, tally, firstSeen: firstSeen[epoch] ?? 0)
    }
}

/// One reading of the run for the status line.
public struct DemoProgress: Sendable {
    public var elapsedSeconds: Double
    public var epoch: Int?
    public var requestsPerSecond: Double
    public var p99Milliseconds: Double
    public var hitRate: Double
    public var ndcg: Double
    public var sent: Int
    public var ok: Int
    public var failed: Int
    public var step: String
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
