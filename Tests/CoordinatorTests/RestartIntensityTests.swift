import AgenticTesting
import Synchronization
import Testing
import Topology

@testable import Coordinator

/// A clock tests move by hand.
final class ManualClock: Clock, Sendable {
    struct Instant: InstantProtocol {
        var offset: Duration
        func advanced(by duration: Duration) -> Instant { Instant(offset: offset + duration) }
        func duration(to other: Instant) -> Duration { other.offset - offset }
        static func < (lhs: Instant, rhs: Instant) -> Bool { lhs.offset < rhs.offset }
    }
    private let current = Mutex(Instant(offset: .zero))
    var now: Instant { current.withLock { $0 } }
    var minimumResolution: Duration { .nanoseconds(1) }
    func advance(by duration: Duration) { current.withLock { $0 = $0.advanced(by: duration) } }
    func sleep(until deadline: Instant, tolerance: Duration?) async throws {}
}

@Suite("Restart intensity", .timeLimit(.minutes(2)))
struct RestartIntensityTests {
    static let policy = RestartPolicy(
        strategy: .permanent, intensity: 3, periodSeconds: 10, backoffMilliseconds: 100, maxBackoffMilliseconds: 300)

    @Test("back-off doubles with each restart in the window, up to the maximum")
    func backoffDoubles() {
        let clock = ManualClock()
        var intensity = RestartIntensity(policy: Self.policy, clock: clock)
        #expect(intensity.recordCrash() == .restart(after: .milliseconds(100)))
        #expect(intensity.recordCrash() == .restart(after: .milliseconds(200)))
        #expect(intensity.recordCrash() == .restart(after: .milliseconds(300)))
    }

    @Test("more than intensity restarts within the period escalates")
    func escalates() {
        let clock = ManualClock()
        var intensity = RestartIntensity(policy: Self.policy, clock: clock)
        for _ in 0..<3 {
            guard case .restart = intensity.recordCrash() else {
                Issue.record("escalated too early")
                return
            }
            clock.advance(by: .seconds(1))
        }
        #expect(intensity.recordCrash() == .escalate)
    }

    @Test("restarts older than the period are forgotten, and the back-off starts over")
    func windowSlides() {
        let clock = ManualClock()
        var intensity = RestartIntensity(policy: Self.policy, clock: clock)
        for _ in 0..<3 {
            _ = intensity.recordCrash()
            clock.advance(by: .seconds(4))
        }
        // Now at t=12: the crash at t=0 left the 10 s window (t=4 and t=8 remain).
        #expect(intensity.recordCrash() == .restart(after: .milliseconds(300)))
        #expect(intensity.recentRestarts == 3)
        clock.advance(by: .seconds(11))
        #expect(intensity.recordCrash() == .restart(after: .milliseconds(100)))
        #expect(intensity.recentRestarts == 1)
    }

    @Test("intensity 0 never restarts")
    func zeroIntensity() {
        var intensity = RestartIntensity(policy: RestartPolicy(intensity: 0), clock: ManualClock())
        #expect(intensity.recordCrash() == .escalate)
    }

    @Test("permanent restarts always, transient only after an abnormal exit, temporary never")
    func strategies() {
        typealias Rule = RestartIntensity<ManualClock>
        #expect(Rule.restarts(.permanent, abnormalExit: false) && Rule.restarts(.permanent, abnormalExit: true))
        #expect(!Rule.restarts(.transient, abnormalExit: false) && Rule.restarts(.transient, abnormalExit: true))
        #expect(!Rule.restarts(.temporary, abnormalExit: false) && !Rule.restarts(.temporary, abnormalExit: true))
    }
}
