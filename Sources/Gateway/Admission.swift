import Synchronization

/// The gateway's door: at most `limit` recommendations walk the graph at once; the rest
/// wait here in arrival order, their deadline already running.
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
    }

    /// The most requests inside at once (0: no limit).
    let limit: Int
    private let state = Mutex(State())

    init(limit: Int) { self.limit = max(0, limit) }

    /// Requests inside now (counted without a limit too: the agents' batching reads it).
    var inside: Int { state.withLock { $0.inside } }
    /// Requests waiting at the door now.
    var waiting: Int { state.withLock { $0.waiting.count } }

    /// Waits for a place inside. Returns false (holding no place) when the task is
    /// cancelled while it waits; every `true` must be matched by one ``leave()``.
    func enter() async -> Bool {
        enum Entry { case admitted, wait(UInt64) }
        let entry: Entry = state.withLock { state in
            if limit == 0 || (state.inside < limit && state.waiting.isEmpty) {
                state.inside += 1
                return .admitted
            }
            state.nextTicket += 1
            return .wait(state.nextTicket)
        }
        guard case .wait(let ticket) = entry else { return true }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
                let cancelledAlready = state.withLock { state in
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
