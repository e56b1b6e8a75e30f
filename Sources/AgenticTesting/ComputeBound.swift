import Foundation
public import Testing

/// Runs a test (or every test of a suite) on threads of its own instead of Swift's
/// cooperative pool.
///
/// The pool has one thread per core: two here and on CI. A test that computes for
/// seconds without suspending (fitting EASE, a tuner's thousand trials, the P1 split)
/// holds one of them for that long, and two such tests at once stall every other test in
/// the process: replies in the transport tests then miss their deadlines although
/// nothing is wrong. Compute-bound tests mark themselves `.computeBound`; the OS then
/// time-slices them against the rest instead of the pool queueing the rest behind them.
public struct ComputeBoundTrait: TestTrait, SuiteTrait, TestScoping {
    public var isRecursive: Bool { true }

    public func provideScope(
        for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void
    ) async throws {
        try await withTaskExecutorPreference(ComputeThreads.shared) { try await function() }
    }
}

extension Trait where Self == ComputeBoundTrait {
    /// The test computes without suspending for long: run it off Swift's cooperative pool.
    public static var computeBound: Self { ComputeBoundTrait() }
}

/// A task executor over a few dedicated threads, FIFO.
final class ComputeThreads: TaskExecutor, @unchecked Sendable {
    static let shared = ComputeThreads(count: 2)

    // `jobs` is guarded by `condition`.
    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []
    private var next = 0

    private init(count: Int) {
        for index in 0..<count {
            let thread = Thread { [self] in serve() }
            thread.name = "compute-bound-\(index)"
            thread.start()
        }
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        condition.lock()
        jobs.append(job)
        condition.signal()
        condition.unlock()
    }

    private func serve() {
        while true {
            condition.lock()
            while next == jobs.count { condition.wait() }
            let job = jobs[next]
            next += 1
            if next > 1024, next * 2 > jobs.count {
                jobs.removeFirst(next)
                next = 0
            }
            condition.unlock()
            job.runSynchronously(on: asUnownedTaskExecutor())
        }
    }
}
