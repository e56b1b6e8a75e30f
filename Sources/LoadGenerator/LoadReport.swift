import Foundation

/// What a load run saw. `sent == ok + failed`; `degraded` counts the ok answers in which
/// the gateway degraded around at least one agent. Latency percentiles are over ok answers,
/// each measured from its due time.
public struct LoadReport: Sendable {
    public var sent: Int
    public var ok: Int
    public var failed: Int
    public var degraded: Int
    /// From the first due time to the last answer (or the cutoff).
    public var elapsedSeconds: Double
    /// The schedule's rate.
    public var targetRate: Double
    public var latency: LatencyHistogram
    /// Failed requests by reason.
    public var failures: [String: Int]

    /// Adds a later run's counts, time and latencies to this one (consecutive windows of one load).
    public mutating func add(_ other: LoadReport) {
        sent += other.sent
        ok += other.ok
        failed += other.failed
        degraded += other.degraded
        elapsedSeconds += other.elapsedSeconds
        latency.add(other.latency)
        failures.merge(other.failures, uniquingKeysWith: +)
    }

    /// Answered requests per second.
    public var rps: Double { elapsedSeconds > 0 ? Double(ok) / elapsedSeconds : 0 }
    public var p50: Double { latency.milliseconds(atPercentile: 50) }
    public var p90: Double { latency.milliseconds(atPercentile: 90) }
    public var p99: Double { latency.milliseconds(atPercentile: 99) }
    public var p999: Double { latency.milliseconds(atPercentile: 99.9) }
    public var max: Double { latency.maxMilliseconds }

    /// The `--json` object: `sent`, `ok`, `failed`, `degraded`, `rps`, `p50_ms`, `p90_ms`,
    /// `p99_ms`, `p999_ms`, `max_ms`, `target_rps`, `duration_s`, `failures`.
    public var json: [String: any Sendable] {
        [
            "sent": sent, "ok": ok, "failed": failed, "degraded": degraded,
            "rps": Self.round(rps), "target_rps": targetRate, "duration_s": Self.round(elapsedSeconds),
            "p50_ms": Self.round(p50), "p90_ms": Self.round(p90), "p99_ms": Self.round(p99),
            "p999_ms": Self.round(p999), "max_ms": Self.round(max), "failures": failures,
        ]
    }

    /// The `json` object as one line of sorted-key JSON.
    public func jsonLine() -> String { Self.jsonLine(json) }

    /// Any JSON object as one line with sorted keys (what every `--json` of the benchmarks prints).
    public static func jsonLine(_ object: [String: any Sendable]) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    /// A few lines for people.
    public var text: String {
        var lines = [
            String(format: "sent %d  ok %d  failed %d  degraded %d  in %.2f s", sent, ok, failed, degraded, elapsedSeconds),
            String(format: "throughput %.1f req/s (target %.1f)", rps, targetRate),
            String(format: "latency ms  p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  max %.3f", p50, p90, p99, p999, max),
        ]
        for (reason, count) in failures.sorted(by: { $0.value > $1.value }) { lines.append("failed: \(count) × \(reason)") }
        return lines.joined(separator: "\n")
    }

    static func round(_ value: Double) -> Double { (value * 1000).rounded() / 1000 }
}

/// The load generator's one error type.
public struct LoadError: Error, CustomStringConvertible, Equatable {
    public struct Code: RawRepresentable, Hashable, Sendable {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        /// A URL, rate, duration or option that cannot be used.
        public static let invalidArgument = Code(rawValue: "invalid_argument")
        /// A users file that cannot be read or holds no users.
        public static let invalidUsers = Code(rawValue: "invalid_users")
        /// A connection that could not be made, broke, timed out or answered garbage.
        public static let connection = Code(rawValue: "connection")
    }
    public var code: Code
    public var message: String
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }
    public var description: String { message }
    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.code == rhs.code }
}
