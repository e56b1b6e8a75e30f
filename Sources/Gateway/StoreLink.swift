import GatewayAPI
import AgentProtocol
import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import Topology
import Transport

/// The gateway's side of the store agent's req/rep protocol: one requester dialled to every
/// store instance of the topology (NNG spreads requests over them and, when one dies with a
/// request in flight, sends it again to the next that connects).
final class StoreLink: Sendable {
    let addresses: [String]
    private let requester: Requester
    /// The whole time an append may take, restarts of the store included.
    private let budget: Duration
    /// One attempt's share of it.
    private let attempt: Duration

    /// A link to the store instances of `spec`, or nil when it has none.
    init?(spec: TopologySpec, layout: RunLayout, budget: Duration = .seconds(8), attempt: Duration = .seconds(2)) throws {
        let addresses = spec.agents.filter { $0.kind == "store" }.flatMap { store in
            (0..<store.replicas).map { layout.storeAddress(agent: store.name, replica: $0) }
        }
        guard !addresses.isEmpty else { return nil }
        self.addresses = addresses
        self.budget = budget
        self.attempt = attempt
        do {
            requester = try Requester()
            for address in addresses { try requester.dial(address) }
        } catch {
            throw GatewayError(.transport, "dialling the store: \(error)")
        }
    }

    private typealias Post = (events: [FeedbackEvent], continuation: CheckedContinuation<Result<StoreReply, APIError>, Never>)
    private let queue = Mutex(PostQueue<Post>())
    /// Most events sent in one coalesced append.
    private let coalesceLimit = 1_000

    /// Stores `events`; returns once they are committed (or were already stored).
    ///
    /// Posts that arrive while appends are in flight go to the store together in the next one
    /// (as separate groups, each stored or rejected on its own): with one event per post, a
    /// store round trip per post cost more than the commit itself. See ``PostQueue`` for when
    /// an append leaves.
    /// - Throws: `APIError`: 503 while no store answers within the budget or the database
    ///   stays locked, 507 when its disk is full, 500 for any other database failure.
    func append(_ events: [FeedbackEvent]) async throws(APIError) -> StoreReply {
        let result = await withCheckedContinuation { continuation in
            let lead = queue.withLock { $0.add((events, continuation)) }
            if lead { Task { await self.sendPending() } }
        }
        return try result.get()
    }

    private func sendPending() async {
        let clock = ContinuousClock()
        while true {
            // Gather: while fewer posts wait than there are clients, give the ones just
            // acknowledged a moment to post again, so they share the next commit.
            let (target, wait) = queue.withLock { ($0.gatherTarget, $0.gatherWait) }
            if target > 1 {
                let deadline = clock.now + wait
                while clock.now < deadline {
                    let waiting = queue.withLock { $0.pending.count }
                    if waiting == 0 || waiting >= target { break }
                    try? await Task.sleep(for: .microseconds(200))
                }
            }
            let batch = queue.withLock { $0.take(upTo: coalesceLimit, size: \.events.count) }
            if batch.isEmpty { return }
            let started = clock.now
            if batch.count == 1 {
                let result = await result { () async throws(APIError) in
                    try await call(StoreRequest(operation: .appendFeedback, events: batch[0].events), budget: budget)
                }
                queue.withLock { $0.finished(posts: 1, roundTrip: clock.now - started) }
                batch[0].continuation.resume(returning: result)
                continue
            }
            let request = StoreRequest(
                operation: .appendFeedback, events: batch.flatMap(\.events), groups: batch.map(\.events.count))
            let outcome = await result { () async throws(APIError) in try await call(request, budget: budget) }
            // Counted back before anyone hears: an acknowledged client may post again at once.
            queue.withLock { $0.finished(posts: batch.count, roundTrip: clock.now - started) }
            switch outcome {
            case .failure:
                for entry in batch { entry.continuation.resume(returning: outcome) }
            case .success(let reply):
                if let groups = reply.groups, groups.count == batch.count {
                    for (entry, group) in zip(batch, groups) {
                        if let code = group.error {
                            entry.continuation.resume(returning: .failure(Self.failure(code: code, message: group.message)))
                        } else {
                            entry.continuation.resume(returning: .success(StoreReply(stored: group.stored, duplicates: group.duplicates)))
                        }
                    }
                } else {
                    // A store from before groups answered totals: every event is durable, but
                    // resends cannot be told apart per post, so they are shared out in order.
                    var duplicates = reply.duplicates
                    for entry in batch {
                        let mine = min(duplicates, entry.events.count)
                        duplicates -= mine
                        entry.continuation.resume(returning: .success(StoreReply(stored: entry.events.count - mine, duplicates: mine)))
                    }
                }
            }
        }
    }

    private func result(_ body: () async throws(APIError) -> StoreReply) async -> Result<StoreReply, APIError> {
        do {
            return .success(try await body())
        } catch {
            return .failure(error)
        }
    }

    /// What the client hears for a store error code (`busy` only once the budget is spent).
    static func failure(code: String?, message: String?) -> APIError {
        switch code {
        case StoreErrorCode.busy:
            APIError(503, "store_busy", "the store's database is locked")
        case StoreErrorCode.full:
            APIError(507, "store_full", "the store's disk is full; nothing was stored")
        case StoreErrorCode.badRequest:
            APIError(400, "invalid_event", message ?? "the store rejected the events")
        default:
            APIError(500, "store_failed", "the store could not commit; nothing was stored")
        }
    }

    /// Records served lists (best effort: the caller keeps them for a later try on failure).
    func logServed(_ lists: [ServedList]) async throws(APIError) -> StoreReply {
        try await call(StoreRequest(operation: .logServed, served: lists), budget: attempt)
    }

    private func call(_ request: StoreRequest, budget: Duration) async throws(APIError) -> StoreReply {
        let payload: [UInt8]
        do {
            payload = try WireCodec.encode(request)
        } catch {
            throw APIError(500, "internal", "the store request could not be encoded")
        }
        let clock = ContinuousClock()
        let deadline = clock.now + budget
        var last = APIError(503, "store_unavailable", "no store answered in time")
        // The same request (same event ids) may be sent again: the store stores each id once.
        while clock.now < deadline {
            let timeout = min(attempt, deadline - clock.now)
            let reply: Envelope
            do {
                let message = try Message(envelope: Envelope(type: .request, requestID: UInt64.random(in: 1 ... .max), payload: payload))
                reply = try await requester.request(message, timeout: timeout).envelope()
            } catch let error as TransportError where error.code == .closed || error.code == .cancelled {
                throw APIError(503, "store_unavailable", "the gateway is shutting down")
            } catch {
                last = APIError(503, "store_unavailable", "no store answered in time")
                continue
            }
            switch reply.type {
            case .reply:
                if let answer = try? WireCodec.decode(StoreReply.self, from: reply.payload) { return answer }
                throw APIError(500, "store_failed", "the store's reply is unreadable")
            case .error:
                let problem = try? WireCodec.decode(ErrorReply.self, from: reply.payload)
                switch problem?.code {
                case StoreErrorCode.busy:
                    // Locked: wait a moment and try again within the budget.
                    last = APIError(503, "store_busy", "the store's database is locked")
                    try? await Task.sleep(for: .milliseconds(50))
                    continue
                default:
                    throw Self.failure(code: problem?.code, message: problem?.message)
                }
            default:
                throw APIError(500, "store_failed", "unexpected \(reply.type) reply from the store")
            }
        }
        throw last
    }

    func close() { requester.close() }
}

/// Served lists on their way to the store: recorded at the end of a request without waiting
/// (a lock and an append), sent in batches by ``run()`` a few times a second.
final class ServedLog: Service, Sendable {
    private let link: StoreLink
    private let log: Logger
    private let buffer = Mutex<[ServedList]>([])
    /// Lists kept while the store is unreachable; beyond it the oldest are dropped (logged).
    private let limit = 20_000
    private let interval: Duration

    init(link: StoreLink, log: Logger, interval: Duration = .milliseconds(100)) {
        self.link = link
        self.log = log
        self.interval = interval
    }

    func record(_ list: ServedList) {
        let dropped = buffer.withLock { lists -> Bool in
            lists.append(list)
            guard lists.count > limit else { return false }
            lists.removeFirst(lists.count - limit)
            return true
        }
        if dropped { log.warning("served-list buffer full: dropping the oldest") }
    }

    func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            try? await Task.sleep(for: interval)
            await flush()
        }
        await flush()
    }

    /// Sends what is buffered, in batches; on failure puts it back for the next round.
    func flush() async {
        while true {
            let batch = buffer.withLock { lists -> [ServedList] in
                let batch = Array(lists.prefix(500))
                lists.removeFirst(batch.count)
                return batch
            }
            if batch.isEmpty { return }
            do {
                _ = try await link.logServed(batch)
            } catch {
                log.notice("served lists not logged yet", metadata: ["lists": "\(batch.count)", "reason": "\(error.code)"])
                buffer.withLock { $0.insert(contentsOf: batch, at: 0) }
                return
            }
        }
    }
}

/// Who produced each item of a served list: the recall agents (by role) whose candidates
/// held it, and the agents after recall (fusion, rank, re-rank) that shaped the list.
enum Attribution {
    static func servedList(
        plan: EpochPlan, requestID: String, user: String, items: [ScoredItem], outputs: [EncodedOutput?]
    ) -> ServedList {
        // Only the k served items need their sources: recall lists run to hundreds of
        // candidates, and indexing all of them cost more than the rest of the request's log.
        // The lists stay in their binary form: their ids are compared as bytes.
        let ids = items.map(\.item)
        var recall = [[String]](repeating: [], count: items.count)
        var pipeline: [String] = []
        for (index, name) in plan.order.enumerated() {
            guard index < outputs.count, let output = outputs[index], let spec = plan.spec.agent(named: name) else {
                continue
            }
            let role = KindCatalogue.builtin[spec.kind]?.role
            let label = "\(name)@\(output.version)"
            if role == .recall || spec.kind.hasPrefix("recall.") {
                for (index, present) in output.contains(ids).enumerated() where present { recall[index].append(label) }
            } else if role == .fusion || role == .rank || role == .rerank {
                pipeline.append(label)
            }
        }
        return ServedList(
            requestID: requestID, user: user, epoch: plan.epoch,
            servedAt: UInt64(Date().timeIntervalSince1970 * 1000),
            items: items.indices.map { ServedItem(item: items[$0].item, score: items[$0].score, sources: recall[$0]) },
            pipeline: pipeline)
    }
}

/// The posts a ``StoreLink`` has not sent yet, and when to send them.
///
/// At most `maximumInFlight` coalesced appends are in flight: two, so the next group already
/// waits in the store when a commit ends (with one, the store sat idle for a round trip between
/// commits). A sender about to leave with fewer posts than there are clients (the posts
/// outstanding when the last append left, less those in flight) waits up to half the last round
/// trip, at most `maximumWait`, for the rest: clients acknowledged by one commit post again a
/// moment later, and without the wait they split into cohorts that alternate between commits,
/// each commit carrying a fraction of them. A lone client never waits (its target is one post).
struct PostQueue<Post> {
    private(set) var pending: [Post] = []
    /// Senders running (sending an append or about to).
    private(set) var senders = 0
    /// Posts in the appends in flight.
    private(set) var inFlight = 0
    /// Posts outstanding (pending and in flight) when the last append left: the clients.
    private(set) var clients = 0
    /// The last append's round trip.
    private(set) var roundTrip: Duration = .zero
    var maximumInFlight = 2
    var maximumWait: Duration = .milliseconds(1)

    /// Queues `post`; true when the caller must start a sender.
    mutating func add(_ post: Post) -> Bool {
        pending.append(post)
        guard senders < maximumInFlight else { return false }
        senders += 1
        return true
    }

    /// How many pending posts a sender waits for before it leaves.
    var gatherTarget: Int { clients - inFlight }

    /// How long it waits for them, at most.
    var gatherWait: Duration { min(maximumWait, roundTrip / 2) }

    /// The next append's posts (up to `limit` events, at least one post). None ends the sender.
    mutating func take(upTo limit: Int, size: (Post) -> Int) -> [Post] {
        var count = 0
        var taken = 0
        for post in pending {
            if taken > 0 && count + size(post) > limit { break }
            count += size(post)
            taken += 1
        }
        guard taken > 0 else {
            senders -= 1
            return []
        }
        clients = pending.count + inFlight
        let batch = Array(pending.prefix(taken))
        pending.removeFirst(taken)
        inFlight += taken
        return batch
    }

    /// An append of `posts` posts came back after `roundTrip`.
    mutating func finished(posts: Int, roundTrip: Duration) {
        inFlight -= posts
        self.roundTrip = roundTrip
    }
}
