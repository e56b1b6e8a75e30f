import AgenticTesting
import Foundation
import Testing

@testable import Evolution

/// A seeded generator (splitmix64) so the simulated streams are reproducible.
private struct Seeded: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}

/// Runs one simulated experiment: requests split 50/50, each list clicked with its arm's rate,
/// the test consulted after every request (continuous monitoring).
private func simulate(control: Double, candidate: Double, seed: UInt64, test: SequentialTest) -> (ExperimentVerdict, Int) {
    var random = Seeded(state: seed)
    var arms = [ArmOutcome(), ArmOutcome()]
    while true {
        let arm = Int.random(in: 0...1, using: &random)
        let rate = arm == 0 ? control : candidate
        arms[arm].lists += 1
        if Double.random(in: 0..<1, using: &random) < rate { arms[arm].reward += 1 }
        let verdict = test.verdict(control: arms[0], candidate: arms[1])
        if verdict != .continue { return (verdict, arms[0].lists + arms[1].lists) }
    }
}

@Suite(.computeBound) struct SequentialTests {
    let test = SequentialTest(alpha: 0.05, tau: 0.1, minimumPerArm: 30, budget: 4000)

    @Test func promotesAClearlyBetterCandidate() {
        var promoted = 0
        for seed in UInt64(1)...40 where simulate(control: 0.2, candidate: 0.35, seed: seed, test: test).0 == .promote {
            promoted += 1
        }
        #expect(promoted >= 36, "promoted \(promoted) of 40")
    }

    @Test func rollsBackAClearlyWorseCandidate() {
        var rolledBack = 0
        for seed in UInt64(1)...40 where simulate(control: 0.3, candidate: 0.15, seed: seed, test: test).0 == .rollback {
            rolledBack += 1
        }
        #expect(rolledBack >= 36, "rolled back \(rolledBack) of 40")
    }

    @Test func rarelyPromotesAnEqualCandidateUnderContinuousMonitoring() {
        // Looking after every one of up to 4000 requests: a naive fixed-sample z-test would
        // "find" a difference in a large share of these runs; the mSPRT keeps it under alpha.
        var promoted = 0
        let runs = 200
        for seed in UInt64(1000)..<UInt64(1000 + runs) where simulate(control: 0.25, candidate: 0.25, seed: seed, test: test).0 == .promote {
            promoted += 1
        }
        #expect(Double(promoted) / Double(runs) <= 0.05, "false promotions \(promoted) of \(runs)")
    }

    @Test func waitsForTheMinimumSampleAndStopsAtTheBudget() {
        let small = SequentialTest(alpha: 0.05, tau: 0.1, minimumPerArm: 30, budget: 100)
        // An overwhelming difference on too few lists: no decision yet.
        #expect(small.verdict(control: .init(lists: 10, reward: 0), candidate: .init(lists: 10, reward: 10)) == .continue)
        #expect(small.verdict(control: .init(lists: 50, reward: 10), candidate: .init(lists: 50, reward: 10)) == .stop)
    }

    @Test func theSplitIsDeterministicAndHonoursTheShare() {
        let users = (0..<4000).map { "u\($0)" }
        let first = users.map { CanarySplit.arm(user: $0, experiment: "7", share: 0.2) }
        #expect(first == users.map { CanarySplit.arm(user: $0, experiment: "7", share: 0.2) })
        let share = Double(first.filter { $0 == .candidate }.count) / Double(users.count)
        #expect(abs(share - 0.2) < 0.03, "candidate share \(share)")
        let other = users.map { CanarySplit.arm(user: $0, experiment: "8", share: 0.2) }
        #expect(other != first)
        #expect(CanarySplit.propensity(of: .candidate, share: 0.2) == 0.2)
        #expect(abs(CanarySplit.propensity(of: .control, share: 0.2) - 0.8) < 1e-12)
    }
}

@Suite(.computeBound) struct ExperimentPolicyTests {
    let policy = ExperimentPolicy(
        test: SequentialTest(alpha: 0.05, tau: 0.1, minimumPerArm: 30, budget: 1000), latencyBudgetMilliseconds: 50,
        maximumErrorRate: 0.01, minimumForConstraints: 20)
    let better = (ArmOutcome(lists: 400, reward: 80), ArmOutcome(lists: 400, reward: 160))

    @Test func constraintsOverrideABetterReward() {
        let slow = policy.decide(control: better.0, candidate: better.1, health: .init(requests: 400, errors: 0, p99Milliseconds: 80))
        #expect(slow.verdict == .rollback)
        #expect(slow.reason.contains("latency budget"))
        let failing = policy.decide(control: better.0, candidate: better.1, health: .init(requests: 400, errors: 9, p99Milliseconds: 10))
        #expect(failing.verdict == .rollback)
        let healthy = policy.decide(control: better.0, candidate: better.1, health: .init(requests: 400, errors: 0, p99Milliseconds: 10))
        #expect(healthy.verdict == .promote)
        // One slow cold request among the first few is not a breach.
        let early = policy.decide(control: .init(lists: 5), candidate: .init(lists: 5), health: .init(requests: 5, errors: 0, p99Milliseconds: 900))
        #expect(early.verdict == .continue)
    }

    @Test func reasonsPrintPlainNumbers() {
        #expect(ExperimentPolicy.format(1000) == "1000")
        #expect(ExperimentPolicy.format(1234.5) == "1234")
        #expect(ExperimentPolicy.format(80) == "80.0")
        #expect(ExperimentPolicy.format(0.01234) == "0.0123")
        #expect(ExperimentPolicy.format(0) == "0.00")
        #expect(ExperimentPolicy.format(2.5e12) == "2.5e+12")
        let slow = policy.decide(control: better.0, candidate: better.1, health: .init(requests: 400, errors: 0, p99Milliseconds: 1000))
        #expect(slow.reason.contains("p99 1000 ms"))
    }
}
