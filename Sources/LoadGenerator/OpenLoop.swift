import Foundation
public import Histogram
import Synchronization

/// When each request of a run is meant to be sent: evenly spaced at `rate` per second for
/// `duration`. Request `i` is due at `i / rate` seconds after the start, whatever happened
/// to the requests before it.
public struct Schedule: Sendable, Equatable {
    /// Requests per second.
    public var rate: Double
    public var duration: Duration

    /// - Throws: ``LoadError/Code/invalidArgument`` for a rate or duration that is not positive.
    public init(rate: Double, duration: Duration) throws(LoadError) {
        guard rate.isFinite, rate > 0 else { throw LoadError(.invalidArgument, "the rate must be a positive number of requests per second") }
        guard duration > .zero else { throw LoadError(.invalidArgument, "the duration must be positive") }
        self.rate = rate
        self.duration = duration
    }

    /// How many requests the schedule sends.
    public var count: Int { max(1, Int((duration.seconds * rate).rounded(.down))) }

    /// When request `index` is due, from the start of the run.
    public func offset(of index: Int) -> Duration { .nanoseconds(Int64((Double(index) / rate * 1e9).rounded())) }
}

/// What one request came to.
public enum RequestOutcome: Sendable, Equatable {
    /// Answered; `degraded` names the agents the gateway degraded around (empty when none).
    case ok(degraded: [String])
    /// No usable answer: the reason is short and carries no payload.
    case failed(reason: String)
}

/// One request's result, as the per-request hook sees it.
public struct RequestResult: Sendable {
    /// The request's position in the schedule (from 0).
    public var index: Int
    /// When it was due, from the start of the run.
    public var intended: Duration
    /// From when it was due (not when it was actually sent) to its answer: time spent
    /// waiting behind earlier requests counts.
    public var latency: Duration
    public var outcome: RequestOutcome
}

/// Sends requests on a ``Schedule`` whether or not earlier ones returned (open loop), and
/// measures each from its due time, so a slow server shows up as latency rather than as
/// fewer requests (coordinated omission corrected).
///
/// The transport is the `send` closure: HTTP for ``LoadGenerator``, a direct call for an
/// in-process baseline. `send` must return by its deadline (the due time plus
/// ``Configuration/timeout``, at most the end of the schedule plus ``Configuration/grace``);
/// a result that comes later counts as failed (`timed out`), and the run ends at most one
/// grace after the schedule whatever `send` does.
public struct OpenLoop: Sendable {
    public struct Configuration: Sendable {
        public var schedule: Schedule
        /// How long one request may take, from its due time.
        public var timeout: Duration = .seconds(2)
        /// How long after the last due time the run waits for requests in flight.
        public var grace: Duration = .seconds(2)
        public init(schedule: Schedule) { self.schedule = schedule }
    }

    /// What `send` gets: which request, and by when it must be answered.
    public struct Call: Sendable {
        public var index: Int
        public var deadline: ContinuousClock.Instant
    }

    public let configuration: Configuration
    public init(configuration: Configuration) { self.configuration = configuration }

    /// Runs the schedule.
    /// - Parameters:
    ///   - onResult: called once per request as it completes (from many tasks at once).
    ///   - send: performs one request.
    public func run(
        onResult: @escaping @Sendable (RequestResult) -> Void = { _ in },
        send: @escaping @Sendable (Call) async -> RequestOutcome
    ) async -> LoadReport {
        let schedule = configuration.schedule
        let count = schedule.count
        let tally = Tally()
        let clock = ContinuousClock()
        let start = clock.now
        let end = start + schedule.offset(of: count - 1)
        let cutoff = end + configuration.grace
        let timeout = configuration.timeout
        let launcher = Task {
            await withDiscardingTaskGroup { group in
                var index = 0
                while index < count, !Task.isCancelled {
                    let due = start + schedule.offset(of: index)
                    if due > clock.now { try? await Task.sleep(until: due, tolerance: .microseconds(50), clock: clock) }
                    // Everything due by now goes out at once: being late to send must not thin the load.
                    let now = clock.now
                    while index < count, start + schedule.offset(of: index) <= now {
                        let i = index
                        let intended = schedule.offset(of: i)
                        let dueAt = start + intended
                        tally.sent()
                        group.addTask {
                            let outcome = await send(Call(index: i, deadline: min(dueAt + timeout, cutoff)))
                            let finished = clock.now
                            let final = finished > cutoff ? RequestOutcome.failed(reason: "timed out") : outcome
                            if tally.finish(i, latency: finished - dueAt, outcome: final) {
                                onResult(RequestResult(index: i, intended: intended, latency: finished - dueAt, outcome: final))
                            }
                        }
                        index += 1
                    }
                }
            }
        }
        // Wait for the launcher, but never past the cutoff: stragglers are failed and cancelled.
        let watchdog = Task {
            while clock.now < cutoff, !Task.isCancelled {
                if tally.isSettled(count) { return }
                try? await Task.sleep(for: .milliseconds(5))
            }
        }
        await watchdog.value
        let elapsed = clock.now - start
        tally.abandonInFlight(reason: "timed out")
        launcher.cancel()
        return tally.report(elapsed: min(elapsed, cutoff - start), schedule: schedule)
    }
}

/// `concurrency` workers each sending the next request as soon as the last returned, for
/// `duration`: the throughput a system sustains at saturation. Latency here is service time
/// plus the system's own queueing, not a schedule's (use ``OpenLoop`` for latency at a rate).
public struct ClosedLoop: Sendable {
    public var concurrency: Int
    public var duration: Duration
    /// How long one request may take.
    public var timeout: Duration = .seconds(2)

    public init(concurrency: Int, duration: Duration) {
        self.concurrency = max(1, concurrency)
        self.duration = duration
    }

    /// Runs the workers; `send` gets a running request index and the request's deadline.
    public func run(send: @escaping @Sendable (OpenLoop.Call) async -> RequestOutcome) async -> LoadReport {
        let tally = Tally()
        let clock = ContinuousClock()
        let start = clock.now
        let end = start + duration
        let next = Counter()
        let timeout = self.timeout
        await withDiscardingTaskGroup { group in
            for _ in 0..<concurrency {
                group.addTask {
                    while clock.now < end {
                        let index = next.next()
                        let sentAt = clock.now
                        tally.sent()
                        let outcome = await send(OpenLoop.Call(index: index, deadline: sentAt + timeout))
                        _ = tally.finish(index, latency: clock.now - sentAt, outcome: outcome)
                    }
                }
            }
        }
        let elapsed = clock.now - start
        return tally.report(elapsed: elapsed, schedule: nil)
    }
}

extension ClosedLoop {
    /// Runs the workers on threads of their own, each calling `send` synchronously (a
    /// blocking client, such as ``BlockingRecommendClient``): the load generator then costs a
    /// send and a receive per request, not an event loop's and Swift's pool's hand-offs, and
    /// does not compete with itself for the pool's threads (two here). `send` runs on one
    /// worker thread at a time per worker index (`worker` in 0..<concurrency).
    public func runOnThreads(send: @escaping @Sendable (_ worker: Int, OpenLoop.Call) -> RequestOutcome) async -> LoadReport {
        let tally = Tally()
        let clock = ContinuousClock()
        let start = clock.now
        let end = start + duration
        let next = Counter()
        let timeout = self.timeout
        let finished = Atomic<Int>(0)
        for worker in 0..<concurrency {
            Thread.detachNewThread {
                defer { finished.add(1, ordering: .releasing) }
                while clock.now < end {
                    let index = next.next()
                    let sentAt = clock.now
                    tally.sent()
                    let outcome = send(worker, OpenLoop.Call(index: index, deadline: sentAt + timeout))
                    _ = tally.finish(index, latency: clock.now - sentAt, outcome: outcome)
                }
            }
        }
        while finished.load(ordering: .acquiring) < concurrency { try? await Task.sleep(for: .milliseconds(5)) }
        return tally.report(elapsed: clock.now - start, schedule: nil)
    }
}

/// The counters and the histogram, shared by every request task.
final class Tally: Sendable {
    private struct State {
        var sent = 0
        var ok = 0
        var failed = 0
        var degraded = 0
        var finished = Set<Int>()
        var abandoned = false
        var failures: [String: Int] = [:]
        var histogram = LatencyHistogram()
        var lastOK = Duration.zero
    }
    private let state = Mutex(State())

    func sent() { state.withLock { $0.sent += 1 } }

    /// Records a result unless the run already gave up on it. Returns whether it counted.
    func finish(_ index: Int, latency: Duration, outcome: RequestOutcome) -> Bool {
        state.withLock { state in
            guard !state.abandoned, state.finished.insert(index).inserted else { return false }
            switch outcome {
            case .ok(let degraded):
                state.ok += 1
                if !degraded.isEmpty { state.degraded += 1 }
                state.histogram.record(latency)
            case .failed(let reason):
                state.failed += 1
                state.failures[reason, default: 0] += 1
            }
            return true
        }
    }

    func isSettled(_ count: Int) -> Bool { state.withLock { $0.sent == count && $0.finished.count == count } }

    /// Counts every request sent but not finished as failed; later results are ignored.
    func abandonInFlight(reason: String) {
        state.withLock { state in
            state.abandoned = true
            let open = state.sent - state.finished.count
            if open > 0 {
                state.failed += open
                state.failures[reason, default: 0] += open
            }
        }
    }

    func report(elapsed: Duration, schedule: Schedule?) -> LoadReport {
        state.withLock { state in
            LoadReport(
                sent: state.sent, ok: state.ok, failed: state.failed, degraded: state.degraded,
                elapsedSeconds: elapsed.seconds, targetRate: schedule?.rate ?? 0, latency: state.histogram,
                failures: state.failures)
        }
    }
}

/// Latencies in microseconds, 1 µs to 1 hour, 3 significant digits.
public struct LatencyHistogram: Sendable {
    public private(set) var histogram = Histogram<UInt64>(highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: .three)

    public init() {}

    public mutating func record(_ latency: Duration) {
        let micros = max(1, min(3_600_000_000, Int64(latency.seconds * 1e6)))
        _ = histogram.record(UInt64(micros))
    }

    public mutating func add(_ other: LatencyHistogram) { histogram.add(other.histogram) }

    public var count: Int { Int(histogram.totalCount) }

    /// The latency at `percentile` (0–100) in milliseconds; 0 with no samples.
    public func milliseconds(atPercentile percentile: Double) -> Double {
        count == 0 ? 0 : Double(histogram.valueAtPercentile(percentile)) / 1000
    }

    public var maxMilliseconds: Double { count == 0 ? 0 : Double(histogram.max) / 1000 }
}

extension Duration {
    var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}

/// A shared running number.
final class Counter: Sendable {
    private let value = Atomic<Int>(0)
    func next() -> Int { value.wrappingAdd(1, ordering: .relaxed).oldValue }
}
