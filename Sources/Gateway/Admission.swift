import Synchronization

/// The gateway's door: at most `limit` recommendations walk the graph at once; the rest
/// wait here in arrival order, their deadline already running, at most `queueLimit` of them:
/// past that a request is turned away at once (the front answers 503 with `Retry-After`)
/// rather than waiting for an answer that would come too late, and the queue's memory stays
/// bounded under a flood.
///
/// At saturation every request let into the mesh queued at every agent, and requests that
/// came late to fusion were answered degraded: the work of the routes before it was lost,
/// and full answers per second fell as the load rose. A request that waits at the door
/// costs nothing, and the ones inside finish in time.
final class AdmissionGate: Sendable {
    private struct State: ~Copyable {
        var inside = 0
        var nextTicket: UInt64 = 0
        var waiting: [(ticket: UInt64, continuation: CheckedContinuation<Bool, Never>)] = []
        /// Tickets given out whose requests are on their way into `waiting`.
        var pending = 0
    }

    /// What the door did with a request.
    enum Entry: Equatable { case admitted, full, cancelled }

    /// The most requests inside at once (0: no limit).
    let limit: Int
    /// The most requests waiting at once (0: no limit).
    let queueLimit: Int
    private let state = Mutex(State())

    init(limit: Int, queueLimit: Int = 0) {
        self.limit = max(0, limit)
        self.queueLimit = max(0, queueLimit)
    }

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
            if queueLimit > 0, state.waiting.count + state.pending >= queueLimit { return .full }
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
        let admitted = await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
                let cancelledAlready = state.withLock { state in
                    state.pending -= 1
                    if Task.isCancelled { return true }
                    state.waiting.append((ticket, continuation))
                    return false
                }
                if cancelledAlready {
                    continuation.resume(returning: false)
                    return
                }
                // A place may have come free between the first look and the append.
                admitWaiting()
            }
        } onCancel: {
            let removed = state.withLock { state in
                state.waiting.firstIndex { $0.ticket == ticket }.map { state.waiting.remove(at: $0).continuation }
            }
            removed?.resume(returning: false)
        }
        return admitted ? .admitted : .cancelled
    }

    /// Gives a place back; the first request waiting, if any, takes it.
    func leave() {
        state.withLock { $0.inside -= 1 }
        admitWaiting()
    }

    private func admitWaiting() {
        let admitted = state.withLock { state -> CheckedContinuation<Bool, Never>? in
            guard limit == 0 || state.inside < limit, !state.waiting.isEmpty else { return nil }
            state.inside += 1
            return state.waiting.removeFirst().continuation
        }
        admitted?.resume(returning: true)
    }
}
