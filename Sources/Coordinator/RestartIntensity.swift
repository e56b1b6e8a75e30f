public import Topology

/// Erlang-style restart intensity for one agent instance: a pure value, time from an injected clock.
///
/// Each crash is recorded at the clock's now. When more than `intensity` restarts would fall
/// within the last `period`, the crash escalates (the instance is marked failed) instead of
/// being restarted. Otherwise the restart waits a back-off that doubles with every restart
/// still inside the window, from `backoff` up to `maxBackoff`, so a crash loop slows down
/// before it escalates and a rare crash restarts fast.
public struct RestartIntensity<C: Clock>: Sendable where C.Duration == Duration, C: Sendable {
    /// What to do about one crash.
    public enum Decision: Sendable, Equatable {
        /// Restart after this back-off.
        case restart(after: Duration)
        /// Too many restarts in the period: stop restarting and mark the instance failed.
        case escalate
    }

    public let policy: RestartPolicy
    private let clock: C
    private var restarts: [C.Instant] = []

    public init(policy: RestartPolicy, clock: C) {
        self.policy = policy
        self.clock = clock
    }

    /// Whether an exit is restarted at all (Erlang's restart types): `permanent` always,
    /// `transient` only after an abnormal exit (non-zero status or a signal), `temporary` never.
    public static func restarts(_ strategy: RestartStrategy, abnormalExit: Bool) -> Bool {
        switch strategy {
        case .permanent: true
        case .transient: abnormalExit
        default: false
        }
    }

    /// Restarts counted in the current window.
    public var recentRestarts: Int { restarts.count }

    /// Records a crash now and decides.
    public mutating func recordCrash() -> Decision {
        let now = clock.now
        let windowStart = now.advanced(by: .zero - policy.period)
        restarts.removeAll { $0 <= windowStart }
        guard restarts.count < policy.intensity else { return .escalate }
        restarts.append(now)
        return .restart(after: backoff(restart: restarts.count))
    }

    /// The back-off before the `restart`-th restart of the window (1-based).
    func backoff(restart: Int) -> Duration {
        var delay = policy.backoff
        let cap = max(policy.maxBackoff, policy.backoff)
        for _ in 1..<max(1, restart) {
            delay = delay * 2
            if delay >= cap { return cap }
        }
        return min(delay, cap)
    }
}
