import Foundation

/// Which arm of a live experiment served a request.
public enum ExperimentArm: String, Sendable, Codable, CaseIterable {
    case control, candidate
}

/// The deterministic canary split: a user always lands in the same arm of one experiment
/// (so a user's clicks are not spread over both), and different experiments cut the users
/// differently (so one experiment's candidate users are not always the next one's).
public enum CanarySplit {
    /// The arm of `user` in experiment `experiment` when the candidate gets `share` of the users.
    public static func arm(user: String, experiment: String, share: Double) -> ExperimentArm {
        unit(user: user, experiment: experiment) < share ? .candidate : .control
    }

    /// The probability with which the split chooses `arm` (the propensity logged with the list).
    public static func propensity(of arm: ExperimentArm, share: Double) -> Double {
        let share = min(1, max(0, share))
        return arm == .candidate ? share : 1 - share
    }

    /// A uniform number in [0, 1) from FNV-1a 64 of `experiment` and `user` (stable across
    /// processes and runs, unlike `Hasher`).
    static func unit(user: String, experiment: String) -> Double {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in Array(experiment.utf8) + [0] + Array(user.utf8) {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01b3
        }
        // FNV's low bits mix poorly for short keys: a final avalanche (splitmix64's).
        hash ^= hash >> 30
        hash &*= 0xbf58_476d_1ce4_e5b9
        hash ^= hash >> 27
        hash &*= 0x94d0_49bb_1331_11eb
        hash ^= hash >> 31
        return Double(hash >> 11) / Double(UInt64(1) << 53)
    }
}

/// Per-arm outcomes of a live experiment: lists served and their summed reward in [0, 1]
/// (1 per list with a click, or its NDCG@10).
public struct ArmOutcome: Sendable, Equatable, Codable {
    public var lists: Int
    public var reward: Double

    public init(lists: Int = 0, reward: Double = 0) {
        self.lists = lists
        self.reward = reward
    }

    public var mean: Double { lists > 0 ? reward / Double(lists) : 0 }
}

/// What an experiment's controller decides after looking at the outcomes so far.
public enum ExperimentVerdict: String, Sendable, Codable, Equatable {
    /// Keep collecting.
    case `continue`
    /// The candidate is significantly better: hot-swap it in.
    case promote
    /// The candidate is significantly worse, or broke a constraint: keep control.
    case rollback
    /// The budget ran out without a significant difference: keep control.
    case stop
}

/// A two-sample mixture sequential probability ratio test (mSPRT, Johari, Pekelis and Walsh,
/// "Always valid inference", 2017) on the difference of the arms' mean rewards, with a normal
/// mixing distribution N(0, τ²) over the difference. Its p-value is valid under continuous
/// monitoring: the controller may look after every request and still promote a candidate that
/// is no better with probability at most `alpha`.
public struct SequentialTest: Sendable, Equatable {
    /// The false-decision rate under continuous monitoring.
    public var alpha: Double
    /// The prior scale of the difference in mean reward (a click-through difference of a few
    /// points is what one expects).
    public var tau: Double
    /// No decision before each arm served this many lists (the normal approximation needs them).
    public var minimumPerArm: Int
    /// The controller stops (keeping control) once both arms together served this many lists.
    public var budget: Int

    public init(alpha: Double = 0.05, tau: Double = 0.1, minimumPerArm: Int = 30, budget: Int = 2000) {
        self.alpha = alpha
        self.tau = tau
        self.minimumPerArm = minimumPerArm
        self.budget = budget
    }

    /// The mixture likelihood ratio against "no difference" (≥ 1/alpha: significant).
    public func likelihoodRatio(control: ArmOutcome, candidate: ArmOutcome) -> Double {
        guard control.lists > 0, candidate.lists > 0 else { return 1 }
        let difference = candidate.mean - control.mean
        // The variance of the difference of means; pooled rates keep it positive when an arm
        // has all or no clicks so far (a 0 variance would make any difference infinitely sure).
        let pooled = (control.reward + candidate.reward) / Double(control.lists + candidate.lists)
        let floor = max(pooled * (1 - pooled), 1.0 / Double(control.lists + candidate.lists))
        func variance(_ arm: ArmOutcome) -> Double { max(arm.mean * (1 - arm.mean), floor) / Double(arm.lists) }
        let v = variance(control) + variance(candidate)
        let t2 = tau * tau
        let exponent = t2 * difference * difference / (2 * v * (v + t2))
        return (v / (v + t2)).squareRoot() * exp(min(exponent, 700))
    }

    /// The verdict on the outcomes so far (constraints are checked by the caller, which rolls
    /// back on a breach whatever this says).
    public func verdict(control: ArmOutcome, candidate: ArmOutcome) -> ExperimentVerdict {
        if control.lists >= minimumPerArm, candidate.lists >= minimumPerArm,
            likelihoodRatio(control: control, candidate: candidate) >= 1 / alpha
        {
            return candidate.mean > control.mean ? .promote : .rollback
        }
        return control.lists + candidate.lists >= budget ? .stop : .continue
    }
}

/// The experiment agent's decision rule: constraints first (a candidate that breaks the
/// latency budget or fails requests is rolled back whatever its clicks say), then the
/// sequential test on the reward.
public struct ExperimentPolicy: Sendable, Equatable {
    public var test: SequentialTest
    /// The topology's `rewards.outer.latency_budget_ms`: the candidate's p99 must stay under it.
    public var latencyBudgetMilliseconds: Double?
    /// The share of the candidate's requests that may fail or degrade.
    public var maximumErrorRate: Double
    /// No constraint verdict before the candidate served this many requests (one slow cold
    /// request is not a p99).
    public var minimumForConstraints: Int

    public init(test: SequentialTest = SequentialTest(), latencyBudgetMilliseconds: Double? = nil, maximumErrorRate: Double = 0.01, minimumForConstraints: Int = 20) {
        self.test = test
        self.latencyBudgetMilliseconds = latencyBudgetMilliseconds
        self.maximumErrorRate = maximumErrorRate
        self.minimumForConstraints = minimumForConstraints
    }

    /// What the candidate's traffic showed besides clicks.
    public struct Health: Sendable, Equatable {
        public var requests: Int
        public var errors: Int
        public var p99Milliseconds: Double?

        public init(requests: Int, errors: Int, p99Milliseconds: Double?) {
            self.requests = requests
            self.errors = errors
            self.p99Milliseconds = p99Milliseconds
        }
    }

    /// The verdict and a one-line reason (stored with the experiment).
    public func decide(control: ArmOutcome, candidate: ArmOutcome, health: Health) -> (verdict: ExperimentVerdict, reason: String) {
        if health.requests >= minimumForConstraints {
            if let budget = latencyBudgetMilliseconds, let p99 = health.p99Milliseconds, p99 > budget {
                return (.rollback, "candidate p99 \(Self.format(p99)) ms over the latency budget \(Self.format(budget)) ms")
            }
            let rate = Double(health.errors) / Double(health.requests)
            if rate > maximumErrorRate {
                return (.rollback, "candidate failed \(health.errors) of \(health.requests) requests")
            }
        }
        let verdict = test.verdict(control: control, candidate: candidate)
        let ratio = test.likelihoodRatio(control: control, candidate: candidate)
        let summary =
            "control \(Self.format(control.mean)) on \(control.lists) lists, candidate \(Self.format(candidate.mean)) on \(candidate.lists), likelihood ratio \(Self.format(ratio)) (threshold \(Self.format(1 / test.alpha)))"
        switch verdict {
        case .promote: return (verdict, "candidate significantly better: " + summary)
        case .rollback: return (verdict, "candidate significantly worse: " + summary)
        case .stop: return (verdict, "budget of \(test.budget) lists spent without a significant difference: " + summary)
        case .continue: return (verdict, summary)
        }
    }

    /// Three significant digits without switching to exponent notation ("1000", not "1e+03"):
    /// these are milliseconds and rates read by people.
    static func format(_ value: Double) -> String {
        // Past a million (a likelihood ratio can be astronomic) exponents are the readable form.
        guard value.isFinite, abs(value) < 1e6 else { return String(format: "%.3g", value) }
        let magnitude = value == 0 ? 0 : Int(floor(log10(abs(value))))
        return String(format: "%.\(max(0, 2 - magnitude))f", value)
    }
}
