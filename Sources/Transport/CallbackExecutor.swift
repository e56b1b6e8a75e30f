internal import CNNG
import Glibc

/// A task executor that runs a job on the NNG callback thread that made it runnable,
/// saving the hop to Swift's thread pool that otherwise costs about a fifth of a local
/// round trip (shared/NNG-NOTES.md: ~1.18× of C with the hop, ~1.04× without).
///
/// A job runs inline only when it is enqueued from inside one of this module's NNG
/// callbacks; anything else goes to Swift's global executor. A job that an inline job
/// makes runnable here (a child task it starts, a parent its end resumes) runs on the same
/// thread right after it, before the callback returns to NNG, so a request that fans out
/// and joins again pays no hop to the pool either. Code that runs inline must not block:
/// it holds one of NNG's few I/O threads until its next suspension. The transport's own
/// `close` calls are safe there because they never wait on the calling thread's own callback.
///
/// Use it for hot request loops:
/// `await withTaskExecutorPreference(CallbackExecutor.shared) { … requester.request … }`.
public final class CallbackExecutor: TaskExecutor {
    public static let shared = CallbackExecutor()

    private init() {}

    public func enqueue(_ job: consuming ExecutorJob) {
        switch CallbackThread.state {
        case .inCallback:
            CallbackThread.state = .runningJob
            job.runSynchronously(on: asUnownedTaskExecutor())
            // Jobs never nest: those the inline one made runnable wait their turn here.
            while let next = CallbackThread.pending.next() {
                next.runSynchronously(on: asUnownedTaskExecutor())
            }
            CallbackThread.state = .inCallback
        case .runningJob:
            CallbackThread.pending.append(UnownedJob(job))
        case .outside:
            globalConcurrentExecutor.enqueue(job)
        }
    }
}

/// The jobs waiting to run inline on one NNG callback thread, first in first out.
/// Only that thread touches it (it lives in the thread's pthread key).
final class PendingJobs {
    private var jobs: [UnownedJob] = []
    private var head = 0

    func append(_ job: UnownedJob) { jobs.append(job) }

    func next() -> UnownedJob? {
        guard head < jobs.count else { return nil }
        defer {
            head += 1
            if head == jobs.count {
                jobs.removeAll(keepingCapacity: true)
                head = 0
            }
        }
        return jobs[head]
    }
}

/// Per-thread state of NNG's callback threads, kept in a pthread key (Swift has no
/// thread-local variables of its own).
enum CallbackThread {
    enum State: Int { case outside = 0, inCallback = 1, runningJob = 2 }

    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        precondition(pthread_key_create(&key, nil) == 0, "pthread_key_create failed")
        return key
    }()

    private static let pendingKey: pthread_key_t = {
        var key = pthread_key_t()
        // The thread's queue is released when the thread ends.
        precondition(
            pthread_key_create(&key) { pointer in
                if let pointer { Unmanaged<PendingJobs>.fromOpaque(pointer).release() }
            } == 0, "pthread_key_create failed")
        return key
    }()

    /// This thread's queue of jobs to run inline (made on first use).
    static var pending: PendingJobs {
        if let pointer = pthread_getspecific(pendingKey) {
            return Unmanaged<PendingJobs>.fromOpaque(pointer).takeUnretainedValue()
        }
        let queue = PendingJobs()
        pthread_setspecific(pendingKey, Unmanaged.passRetained(queue).toOpaque())
        return queue
    }

    static var state: State {
        get { State(rawValue: Int(bitPattern: pthread_getspecific(key))) ?? .outside }
        set { pthread_setspecific(key, UnsafeRawPointer(bitPattern: newValue.rawValue)) }
    }

    /// Marks the current thread as inside a transport callback while `body` runs.
    /// A nested callback (an operation that completed synchronously inside a job that
    /// runs inline) keeps the outer state, so jobs never nest.
    @inline(__always)
    static func run(_ body: () -> Void) {
        let previous = state
        if previous == .outside { state = .inCallback }
        body()
        if previous == .outside { state = .outside }
    }
}
