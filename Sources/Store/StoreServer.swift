import AgentProtocol
public import Logging
import Transport

/// The knowledge store on the wire: its own req/rep socket (`StoreRequest` → `StoreReply`)
/// and a publisher on which each feedback event goes out on topic `feedback` once committed.
/// The `store` agent kind (in `Agents`) opens one at start and closes it on shutdown.
///
/// Agents that start again read what they missed with `feedback_after` (pages of the stored
/// feedback by `seq`, see `StoreOperation.feedbackAfter`).
public final class StoreServer: Sendable {
    private let endpoint: StoreEndpoint
    private let replier: Replier
    private let publisher: Publisher

    /// Serves `store` at `replyAddress`, publishing committed feedback at `eventsAddress`.
    /// - Throws: `TransportError` when an address cannot be listened on.
    public init(store: KnowledgeStore, replyAddress: String, eventsAddress: String, log: Logger) throws {
        let publisher = try Publisher()
        do {
            try publisher.listen(eventsAddress)
            let committer = GroupCommitter(store: store, publisher: publisher, log: log)
            let endpoint = StoreEndpoint(store: store, committer: committer, log: log)
            var configuration = Replier.Configuration()
            // Many appends wait at once on one group commit: each needs its own NNG context.
            configuration.concurrency = 512
            let replier = try Replier(configuration: configuration)
            do {
                try replier.listen(replyAddress)
                try replier.start { message in await endpoint.answer(message) }
            } catch {
                replier.close()
                throw error
            }
            self.replier = replier
            self.endpoint = endpoint
        } catch {
            publisher.close()
            throw error
        }
        self.publisher = publisher
    }

    /// Stops taking requests, lets the commits in progress finish (each caller hears back),
    /// then stops publishing.
    public func close() async {
        replier.close()
        await endpoint.committer.idle()
        publisher.close()
    }
}

/// Answers store requests off the agent's actor: appends go to the group committer, the
/// rest to the database directly.
struct StoreEndpoint: Sendable {
    let store: KnowledgeStore
    let committer: GroupCommitter
    let log: Logger

    func answer(_ message: Message) async -> Message? {
        let envelope: Envelope
        do {
            envelope = try message.envelope()
        } catch {
            return Self.error(nil, StoreError(.badRequest, "malformed frame: \(error)"))
        }
        guard envelope.type == .request else {
            return Self.error(envelope, StoreError(.badRequest, "the store takes request envelopes, not \(envelope.type)"))
        }
        let request: StoreRequest
        do {
            request = try WireCodec.decode(StoreRequest.self, from: envelope.payload)
        } catch {
            return Self.error(envelope, StoreError(.badRequest, "the payload is not a StoreRequest: \(error)"))
        }
        do {
            let reply: StoreReply
            switch request.operation {
            case .appendFeedback:
                let events = request.events ?? []
                if let groups = request.groups {
                    reply = try await appendGroups(events, sizes: groups)
                } else {
                    let (stored, duplicates) = try await committer.append(events)
                    reply = StoreReply(stored: stored, duplicates: duplicates)
                }
            case .logServed:
                reply = StoreReply(served: try await store.logServed(request.served ?? []))
            case .counts:
                reply = StoreReply(counts: try store.counts())
            case .report:
                reply = StoreReply(report: try store.report())
            case .feedbackAfter:
                let page = try await store.feedbackEvents(
                    after: request.after ?? 0, limit: request.limit ?? StoreRequest.feedbackPageLimit)
                reply = StoreReply(feedback: page.events, cursor: page.cursor, hasMore: page.hasMore)
            default:
                throw StoreError(.badRequest, "unknown operation \(request.operation.rawValue)")
            }
            return try Message(
                envelope: Envelope(
                    type: .reply, requestID: envelope.requestID, traceID: envelope.traceID,
                    payload: WireCodec.encode(reply)))
        } catch let error as StoreError {
            if error.code != .badRequest {
                log.error(
                    "store request failed",
                    metadata: ["operation": "\(request.operation.rawValue)", "error": "\(error)"])
            }
            return Self.error(envelope, error)
        } catch {
            return Self.error(envelope, StoreError(.failed, "\(error)"))
        }
    }

    /// Coalesced posts: the groups go to the committer in one call and share one transaction,
    /// but each is validated on its own (a bad event rejects only its group) and duplicates are
    /// counted per group. One call, not a task per group: with one event per post, a task and an
    /// actor hop per group cost more than the group's insert.
    private func appendGroups(_ events: [FeedbackEvent], sizes: [Int]) async throws -> StoreReply {
        guard sizes.allSatisfy({ $0 >= 0 }), sizes.reduce(0, +) == events.count else {
            throw StoreError(.badRequest, "the group sizes do not add up to the \(events.count) events")
        }
        let results: [StoreGroupResult]
        do {
            results = try await committer.append(events, groups: sizes).map { outcome in
                switch outcome {
                case .success(let (stored, duplicates)): StoreGroupResult(stored: stored, duplicates: duplicates)
                case .failure(let error): StoreGroupResult(error: error.code.description, message: error.message)
                }
            }
        } catch {
            // The transaction failed: every group hears why (nothing of theirs is stored).
            let failure = (error as? StoreError).map { StoreGroupResult(error: $0.code.description, message: $0.message) }
                ?? StoreGroupResult(error: StoreErrorCode.failed, message: "\(error)")
            results = sizes.map { _ in failure }
        }
        return StoreReply(
            stored: results.reduce(0) { $0 + $1.stored }, duplicates: results.reduce(0) { $0 + $1.duplicates }, groups: results)
    }

    static func error(_ request: Envelope?, _ error: StoreError) -> Message? {
        let payload = (try? WireCodec.encode(ErrorReply(code: error.code.description, message: error.message))) ?? []
        return try? Message(
            envelope: Envelope(
                type: .error, requestID: request?.requestID ?? 0, traceID: request?.traceID ?? .none, payload: payload))
    }
}

/// Group commit: appends that arrive while a transaction is being written wait and go
/// together into the next one, so one fsync covers many events and every caller still hears
/// back only after its events are durable. A failed transaction fails every append in it
/// (none of their events is stored).
actor GroupCommitter {
    private struct Waiter {
        /// The valid groups' events, back to back.
        var events: [FeedbackEvent]
        /// How many events of `events` each valid group has, in order.
        var sizes: [Int]
        var continuation: CheckedContinuation<[(Int, Int)], any Error>
    }

    private let store: KnowledgeStore
    private let publisher: Publisher
    private let log: Logger
    private var pending: [Waiter] = []
    private var writing = false
    private var idleWaiters: [CheckedContinuation<Void, Never>] = []
    private var sequence: UInt64 = 0

    init(store: KnowledgeStore, publisher: Publisher, log: Logger) {
        self.store = store
        self.publisher = publisher
        self.log = log
    }

    /// Stores `events` with the next group; returns (stored, duplicates) once committed.
    /// - Throws: ``StoreError`` (`badRequest` for an invalid event, before anything is written).
    func append(_ events: [FeedbackEvent]) async throws -> (Int, Int) {
        switch try await append(events, groups: [events.count])[0] {
        case .success(let counts): return counts
        case .failure(let error): throw error
        }
    }

    /// Stores the consecutive groups of `events` (`groups` holds their sizes, which add up to
    /// `events.count`) in the next transaction, all but the invalid ones: a group with an invalid
    /// event is rejected alone (`badRequest`) and the others are stored.
    /// - Returns: per group, (stored, duplicates) once committed, or why it was rejected.
    /// - Throws: ``StoreError`` when the transaction fails (no group is stored then).
    func append(_ events: [FeedbackEvent], groups: [Int]) async throws -> [Result<(Int, Int), StoreError>] {
        var outcomes: [Result<(Int, Int), StoreError>] = []
        outcomes.reserveCapacity(groups.count)
        var valid: [FeedbackEvent] = []
        valid.reserveCapacity(events.count)
        var sizes: [Int] = []
        var start = events.startIndex
        for size in groups {
            let group = events[start..<(start + size)]
            start += size
            do throws(StoreError) {
                for event in group { try KnowledgeStore.validate(event) }
                valid.append(contentsOf: group)
                sizes.append(size)
                outcomes.append(.success((0, 0)))
            } catch {
                outcomes.append(.failure(error))
            }
        }
        guard !valid.isEmpty else { return outcomes }
        let committed = try await withCheckedThrowingContinuation { continuation in
            pending.append(Waiter(events: valid, sizes: sizes, continuation: continuation))
            if !writing {
                writing = true
                Task { await self.writeRounds() }
            }
        }
        // Fill the valid groups' places, in order.
        var next = committed.makeIterator()
        for index in outcomes.indices {
            if case .success = outcomes[index], let counts = next.next() { outcomes[index] = .success(counts) }
        }
        return outcomes
    }

    /// Returns once no append is pending or being written.
    func idle() async {
        if !writing { return }
        await withCheckedContinuation { idleWaiters.append($0) }
    }

    private func writeRounds() async {
        while !pending.isEmpty {
            let round = pending
            pending.removeAll()
            let events = round.count == 1 ? round[0].events : round.flatMap(\.events)
            do {
                let result = try await store.append(events)
                var offset = 0
                for waiter in round {
                    var counts: [(Int, Int)] = []
                    counts.reserveCapacity(waiter.sizes.count)
                    for size in waiter.sizes {
                        let flags = result.inserted[offset..<(offset + size)]
                        offset += size
                        let stored = flags.count { $0 }
                        counts.append((stored, size - stored))
                    }
                    waiter.continuation.resume(returning: counts)
                }
                publish(result.stored)
            } catch {
                for waiter in round { waiter.continuation.resume(throwing: error) }
            }
        }
        writing = false
        let waiters = idleWaiters
        idleWaiters.removeAll()
        waiters.forEach { $0.resume() }
    }

    /// The newly stored events of a round on topic `feedback`, in one message (a
    /// ``FeedbackBatch``; a resend that was a duplicate is not published again, so agents learn
    /// from each event once). One message per round, not per event: every subscriber (each
    /// agent instance) paid a wake-up per message.
    private func publish(_ events: [FeedbackEvent]) {
        guard !events.isEmpty else { return }
        var payloads: [[UInt8]] = []
        payloads.reserveCapacity(events.count)
        for event in events {
            if let payload = try? WireCodec.encode(event) { payloads.append(payload) }
        }
        sequence += 1
        let payload = payloads.count == 1 ? payloads[0] : FeedbackBatch.encode(payloads)
        do {
            let message = try Message(
                topic: Topics.feedback, envelope: Envelope(type: .feedback, requestID: sequence, payload: payload))
            try publisher.publish(message)
        } catch {
            log.warning("cannot publish stored feedback", metadata: ["error": "\(error)"])
        }
    }
}
