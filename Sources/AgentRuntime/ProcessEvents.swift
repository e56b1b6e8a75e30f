import Dispatch
import Foundation
import Synchronization

/// Process-level events a long-lived process reacts to, as async streams: signals, and the
/// death of the parent.
public enum ProcessEvents {
    /// Delivers `signals` (e.g. `SIGTERM`, `SIGINT`) as a stream instead of killing the process.
    ///
    /// The signals' default action is turned off for the whole process; a `DispatchSource`
    /// receives them, so the handler runs outside any signal context and may do anything.
    public static func signals(_ signals: [Int32]) -> AsyncStream<Int32> {
        let (stream, continuation) = AsyncStream.makeStream(of: Int32.self)
        var sources: [any DispatchSourceSignal] = []
        for number in signals {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { continuation.yield(number) }
            source.resume()
            sources.append(source)
        }
        let keep = SourceBox(sources)
        continuation.onTermination = { _ in keep.cancel() }
        return stream
    }

    /// Finishes when the parent process is gone: `stdin` (a pipe the parent holds) reaches
    /// end of file, or the parent pid changes (the process was re-parented).
    ///
    /// Both are checked because either alone can miss: a parent may pass stdin on to another
    /// process, and `getppid` is only polled. `PR_SET_PDEATHSIG` is not used: it fires when
    /// the parent *thread* that spawned us exits, and the coordinator spawns from Swift's
    /// (or Dispatch's) pool threads, which may come and go while it lives.
    /// - Parameters:
    ///   - parent: the pid the parent had when it started us.
    ///   - watchStandardInput: also treat end of file on stdin as the parent's death.
    ///   - interval: how often the parent pid is checked.
    public static func parentDeath(parent: Int32, watchStandardInput: Bool, interval: Duration = .milliseconds(200))
        async
    {
        let once = ResumeOnce()
        let microseconds = UInt32(
            clamping: interval.components.seconds * 1_000_000 + interval.components.attoseconds / 1_000_000_000_000)
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            once.set(continuation)
            // Threads of their own: a blocking read (or a polling loop) must not hold one of
            // Swift's few pool threads. They end with the process.
            if watchStandardInput {
                Thread.detachNewThread {
                    var buffer = [UInt8](repeating: 0, count: 512)
                    while true {
                        let count = read(0, &buffer, buffer.count)
                        if count == 0 || (count < 0 && errno != EINTR) { break }
                    }
                    once.resume()
                }
            }
            Thread.detachNewThread {
                while getppid() == parent { usleep(microseconds) }
                once.resume()
            }
        }
    }
}

/// Resumes a continuation exactly once, whoever calls first.
private final class ResumeOnce: Sendable {
    private let state = Mutex<(continuation: CheckedContinuation<Void, Never>?, done: Bool)>((nil, false))
    func set(_ continuation: CheckedContinuation<Void, Never>) {
        let resumeNow = state.withLock { state -> Bool in
            if state.done { return true }
            state.continuation = continuation
            return false
        }
        if resumeNow { continuation.resume() }
    }
    func resume() {
        let continuation = state.withLock { state -> CheckedContinuation<Void, Never>? in
            defer { state.continuation = nil }
            state.done = true
            return state.continuation
        }
        continuation?.resume()
    }
}

/// Keeps the signal sources alive while their stream is.
private final class SourceBox: @unchecked Sendable {
    // Written once in init, read once in cancel: no concurrent mutation.
    private let sources: [any DispatchSourceSignal]
    init(_ sources: [any DispatchSourceSignal]) { self.sources = sources }
    func cancel() { sources.forEach { $0.cancel() } }
}
