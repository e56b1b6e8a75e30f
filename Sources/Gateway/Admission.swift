import Synchronization

/// The gateway's door: at most `limit` recommendations walk the graph at once; the rest
/// wait here in arrival order, their deadline already running, at most `queueLimit` of them:
/// past that a request is turned away at once (the front answers 503 with `Retry-After`)
/// rather than waiting for an answer that would come too late, and the queue's memory stays
/// bounded under a flood.
///
/// `maximumWait` bounds how long a request waits, so that what is admitted still has time
/// to be answered: a request is turned away at once when the requests ahead of it would take
/// longer than that to get in (their number × the mean time a request spends inside ÷ the
/// places), and one that has waited longer anyway (a burst of slow requests) is turned away
/// when its turn comes. Measured with 10 × the clients that saturate the MovieLens mesh: with
/// only the count bound (256 waiting, ~0.3 s at ~800 answers/s), admitted answers had a p99
/// of 290 ms against a 250 ms deadline.
///
/// At saturation every request let into the mesh queued at every agent, and requests that
/// came late to fusion were answered degraded: the work of the routes before it was lost,
/// and full answers per second fell as the load rose. A request that waits at the door
/// costs nothing, and the ones inside finish in time.
final class AdmissionGate: Sendable {
    private struct State: ~Copyable {
        var inside = 0
        var nextTicket: UInt64 = 0
        var waiting: [(ticket: UInt64, arrived: ContinuousClock.Instant, continuation: CheckedContinuation<Entry, Never>)] = []
        /// Mean seconds a request spends inside (exponentially weighted); 0 until measured.
        var serviceSeconds = 0.0
        /// Tickets given out whose requests are on their way into `waiting`.
        var pending = 0
    }

    /// What the door did with a request.
    enum Entry: Equatable {
        case admitted
        /// Turned away at once: the queue is full, or too long to get in within `maximumWait`.
        case full
        /// Turned away after waiting `maximumWait` without getting in.
        case late
        case cancelled
    }

    /// The most requests inside at once (0: no limit).
    let limit: Int
    /// The most requests waiting at once (0: no limit).
    let queueLimit: Int
    /// The longest a request waits for a place (nil: no limit).
    let maximumWait: Duration?
    private let state = Mutex(State())

    init(limit: Int, queueLimit: Int = 0, maximumWait: Duration? = nil) {
        self.limit = max(0, limit)
        self.queueLimit = max(0, queueLimit)
        self.maximumWait = maximumWait.flatMap { $0 > .zero ? $0 : nil }
    }

    /// The mean time a request spends inside, as measured so far (0 before the first).
    var serviceSeconds: Double { state.withLock { $0.serviceSeconds } }

    /// Requests inside now (counted without a limit too: the agents' batching reads it).
    var inside: Int { state.withLock { $0.inside } }
    /// Requests waiting at the door now.
    var waiting: Int { state.withLock { $0.waiting.count } }

    /// Waits for a place inside: `.admitted` (matched by one ``leave()``), `.full` at once when
    /// `queueLimit` requests already wait, `.cancelled` when the task is cancelled while it
    /// waits (holding no place).
    func enter() async -> Entry {
        enum First { case admitted, full, wait(UInt64) }
        let first: First = state.withLock { state in
            if limit == 0 || (state.inside < limit && state.waiting.isEmpty) {
                state.inside += 1
                return .admitted
            }
            // Tickets handed out but not yet in `waiting` count too: the bound holds under a burst.
            let ahead = state.waiting.count + state.pending
            if queueLimit > 0, ahead >= queueLimit { return .full }
            if let maximumWait, limit > 0,
                Double(ahead + 1) * state.serviceSeconds / Double(limit) > Self.seconds(maximumWait)
            {
                return .full
            }
            state.nextTicket += 1
            state.pending += 1
            return .wait(state.nextTicket)
        }
        let ticket: UInt64
        switch first {
        case .admitted: return .admitted
        case .full: return .full
        case .wait(let t): ticket = t
        }
        let arrived = ContinuousClock.now
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Entry, Never>) in
                let cancelledAlready = state.withLock { state in
                    state.pending -= 1
                    if Task.isCancelled { return true }
                    state.waiting.append((ticket, arrived, continuation))
                    return false
                }
                if cancelledAlready {
                    continuation.resume(returning: .cancelled)
                    return
                }
                // A place may have come free between the first look and the append.
                admitWaiting()
            }
        } onCancel: {
            let removed = state.withLock { state in
                state.waiting.firstIndex { $0.ticket == ticket }.map { state.waiting.remove(at: $0).continuation }
            }
            removed?.resume(returning: .cancelled)
        }
    }

    /// Gives a place back; the first request waiting, if any, takes it.
    /// - Parameter inside: how long the leaving request was inside (nil: not measured).
    func leave(after inside: Duration? = nil) {
        state.withLock { state in
            state.inside -= 1
            if let inside {
                let seconds = Self.seconds(inside)
                state.serviceSeconds = state.serviceSeconds == 0 ? seconds : state.serviceSeconds * 0.95 + seconds * 0.05
            }
        }
        admitWaiting()
    }

    private func admitWaiting() {
        let now = ContinuousClock.now
        let (admitted, late) = state.withLock { state -> (CheckedContinuation<Entry, Never>?, [CheckedContinuation<Entry, Never>]) in
            var late: [CheckedContinuation<Entry, Never>] = []
            while limit == 0 || state.inside < limit, !state.waiting.isEmpty {
                let first = state.waiting.removeFirst()
                if let maximumWait, now - first.arrived > maximumWait {
                    late.append(first.continuation)
                    continue
                }
                state.inside += 1
                return (first.continuation, late)
            }
            return (nil, late)
        }
        for continuation in late { continuation.resume(returning: .late) }
        admitted?.resume(returning: .admitted)
    }

    private static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}
