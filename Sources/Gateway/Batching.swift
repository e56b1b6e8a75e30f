import Synchronization
import Transport

/// What an instance's requests wait on: the messages in flight and the requests queued
/// behind them.
struct InstanceQueue: ~Copyable {
    var inFlight = 0
    var waiting: [Waiting] = []

    struct Waiting {
        let envelope: Envelope
        let deadline: ContinuousClock.Instant
        let continuation: CheckedContinuation<Envelope, any Error>
    }
}

extension AgentInstance {
    /// Messages in flight to one instance before requests queue behind them: two while fewer
    /// than `busy` recommendations are inside (one being answered, one on its way: a request
    /// seldom waits), one from then on. With one, every request that arrives while a message
    /// is out leaves in the next batch, and the busier the instance the larger its batches:
    /// with two at saturation a message carried 1.4 requests on average, against 3.4 with
    /// one, and NNG's thread hand-offs per message were most of the mesh's overhead
    /// (`bench mesh`: 284–362 → 405–495 full answers/s, with the door's limit at 32). At a
    /// moderate load waiting behind the message in flight only added latency.
    var pipeline: Int { (door?.inside ?? 0) >= Self.busy ? 1 : 2 }
    /// Recommendations inside from which requests to an instance batch behind one message.
    static let busy = 16
    /// The most requests in one batch: a batch is answered as a whole, so its first request
    /// waits for the last one's work (16 × fusion's ~0.6 ms at most).
    static let batchLimit = 16

    /// Sends one request envelope and returns the reply envelope. While `pipeline` messages
    /// are in flight to the instance, requests queue and leave together as one batch
    /// (`MessageType.batch`) when one comes back: under load a hop's NNG hand-offs are
    /// shared by the requests of a batch; an idle instance gets each request at once.
    /// - Throws: `TransportError` (`.timedOut` once `timeout` has passed, also while queued
    ///   when the batch leaves).
    func exchange(_ envelope: Envelope, timeout: Duration) async throws -> Envelope {
        let direct = queue.withLock { queue in
            guard queue.inFlight < pipeline else { return false }
            queue.inFlight += 1
            return true
        }
        if direct {
            defer { sent() }
            return try await roundTrip(envelope, timeout: timeout)
        }
        let deadline = ContinuousClock.now + timeout
        return try await withCheckedThrowingContinuation { continuation in
            queue.withLock { $0.waiting.append(InstanceQueue.Waiting(envelope: envelope, deadline: deadline, continuation: continuation)) }
            // What was in flight may have come back between the check and the append.
            sendWaiting()
        }
    }

    private func roundTrip(_ envelope: Envelope, timeout: Duration) async throws -> Envelope {
        let reply = try await requester.request(Message(envelope: envelope), timeout: timeout)
        return try reply.envelope()
    }

    /// A message came back: the requests waiting, if any, leave.
    private func sent() {
        queue.withLock { $0.inFlight -= 1 }
        sendWaiting()
    }

    private func sendWaiting() {
        let batch = queue.withLock { queue -> [InstanceQueue.Waiting] in
            guard queue.inFlight < pipeline, !queue.waiting.isEmpty else { return [] }
            queue.inFlight += 1
            let count = min(queue.waiting.count, Self.batchLimit)
            defer { queue.waiting.removeFirst(count) }
            return Array(queue.waiting.prefix(count))
        }
        guard !batch.isEmpty else { return }
        // On the NNG thread that finished the last message, when that is where we are.
        Task(executorPreference: CallbackExecutor.shared) { await self.send(batch) }
    }

    private func send(_ batch: [InstanceQueue.Waiting]) async {
        defer { sent() }
        let now = ContinuousClock.now
        var live: [InstanceQueue.Waiting] = []
        for waiting in batch {
            if waiting.deadline <= now {
                waiting.continuation.resume(throwing: TransportError(.timedOut, "timed out waiting to be sent"))
            } else {
                live.append(waiting)
            }
        }
        guard let first = live.first else { return }
        // No request waits longer than its own timeout: the batch has the shortest.
        let timeout = live.map { $0.deadline - now }.min()!
        do {
            if live.count == 1 {
                first.continuation.resume(returning: try await roundTrip(first.envelope, timeout: timeout))
                return
            }
            let envelope = Envelope(
                type: .batch, requestID: first.envelope.requestID, deadline: live.map(\.envelope.deadline).min() ?? 0,
                payload: Batch.payload(live.map(\.envelope)))
            let reply = try await roundTrip(envelope, timeout: timeout)
            guard reply.type == .batch else {
                // The agent refused the batch as a whole (an error reply): it is each request's answer.
                for waiting in live { waiting.continuation.resume(returning: reply) }
                return
            }
            let replies = try Batch.envelopes(in: reply.payload)
            guard replies.count == live.count else {
                throw TransportError(.malformedFrame, "\(replies.count) replies to a batch of \(live.count)")
            }
            for (waiting, reply) in zip(live, replies) { waiting.continuation.resume(returning: reply) }
        } catch {
            for waiting in live { waiting.continuation.resume(throwing: error) }
        }
    }
}
