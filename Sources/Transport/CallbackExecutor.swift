internal import CNNG
import Glibc

/// A task executor that runs a job on the NNG callback thread that made it runnable,
/// saving the hop to Swift's thread pool that otherwise costs about a fifth of a local
/// round trip (shared/NNG-NOTES.md: ~1.18× of C with the hop, ~1.04× without).
///
/// A job runs inline only when it is enqueued from inside one of this module's NNG
/// callbacks and no other job is already running inline on that thread; anything else
/// goes to Swift's global executor. Code that runs inline must not block: it holds one of
/// NNG's few I/O threads until its next suspension. The transport's own `close` calls
/// are safe there because they never wait on the calling thread's own callback.
///
/// Use it for hot request loops:
/// `await withTaskExecutorPreference(CallbackExecutor.shared) { … requester.request … }`.
public final class CallbackExecutor: TaskExecutor {
    public static let shared = CallbackExecutor()

    private init() {}

    public func enqueue(_ job: consuming ExecutorJob) {
        if CallbackThread.state == .inCallback {
            CallbackThread.state = .runningJob
            job.runSynchronously(on: asUnownedTaskExecutor())
            CallbackThread.state = .inCallback
        } else {
            globalConcurrentExecutor.enqueue(job)
        }
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
