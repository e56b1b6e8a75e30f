/// The store agent's own req/rep protocol, at `RunLayout.storeAddress(agent:replica:)`: a
/// `StoreRequest` in a `MessageType.request` envelope gets a `StoreReply` in a `.reply`
/// envelope, or an `ErrorReply` in an `.error` envelope (codes in `StoreErrorCode`).

/// What to ask of the store.
public struct StoreOperation: RawRepresentable, Codable, Hashable, Sendable {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    /// Commit `events` (a group commit; the reply comes after the commit is durable).
    public static let appendFeedback = StoreOperation(rawValue: "append_feedback")
    /// Record `served` lists with their attribution.
    public static let logServed = StoreOperation(rawValue: "log_served")
    /// Counts of every table (`StoreReply.counts`).
    public static let counts = StoreOperation(rawValue: "counts")
    /// The rewards per agent version and per epoch (`StoreReply.report`).
    public static let report = StoreOperation(rawValue: "report")
    /// A page of the stored feedback events (never the seed's ratings) whose `seq` is above
    /// `StoreRequest.after`, in `seq` order, at most `StoreRequest.limit` of them
    /// (`StoreReply.feedback`, `cursor`, `hasMore`): how an agent that starts again learns
    /// what it had learned from the `feedback` topic before.
    public static let feedbackAfter = StoreOperation(rawValue: "feedback_after")
}

/// A request to the store agent.
public struct StoreRequest: Codable, Sendable, Equatable {
    public var operation: StoreOperation
    public var events: [FeedbackEvent]?
    public var served: [ServedList]?
    /// For `appendFeedback` from a gateway that coalesced several clients' posts: the sizes of
    /// the consecutive groups of `events`, each stored or rejected on its own and answered in
    /// `StoreReply.groups` (absent from the JSON when nil; a store that ignores it answers totals).
    public var groups: [Int]?
    /// For `feedbackAfter`: the store sequence (`seq`) to continue after; nil is 0 (from the first
    /// event). Negative is a `bad_request`.
    public var after: Int64?
    /// For `feedbackAfter`: the most events to answer with; nil is ``feedbackPageLimit``, larger
    /// is taken as it, 0 or less is a `bad_request`.
    public var limit: Int?

    /// The default and the largest page of `feedbackAfter`: a page is one reply message, about
    /// 100 bytes an event in the binary form.
    public static let feedbackPageLimit = 5_000

    public init(
        operation: StoreOperation, events: [FeedbackEvent]? = nil, served: [ServedList]? = nil, groups: [Int]? = nil,
        after: Int64? = nil, limit: Int? = nil
    ) {
        self.operation = operation
        self.events = events
        self.served = served
        self.groups = groups
        self.after = after
        self.limit = limit
    }
}

/// A stored feedback event with its place in the store's log (`StoreReply.feedback`).
public struct StoredFeedback: Codable, Sendable, Equatable {
    /// The event's `seq` in the store: it grows in commit order and is never reused, so a reader
    /// that continues after the last `seq` it saw misses no event committed since.
    public var seq: Int64
    /// The event as it was stored and published on topic `feedback` (with its event id).
    public var event: FeedbackEvent

    public init(seq: Int64, event: FeedbackEvent) {
        self.seq = seq
        self.event = event
    }
}

/// The outcome of one group of a coalesced `appendFeedback` (see `StoreRequest.groups`).
public struct StoreGroupResult: Codable, Sendable, Equatable {
    public var stored: Int
    public var duplicates: Int
    /// A `StoreErrorCode` when the group was not stored, with its message.
    public var error: String?
    public var message: String?
    public init(stored: Int = 0, duplicates: Int = 0, error: String? = nil, message: String? = nil) {
        self.stored = stored
        self.duplicates = duplicates
        self.error = error
        self.message = message
    }
}

/// The store agent's answer.
public struct StoreReply: Codable, Sendable, Equatable {
    /// Events newly committed by this request.
    public var stored: Int
    /// Events whose id was already stored (a resend): acknowledged, not stored again.
    public var duplicates: Int
    /// Served lists recorded.
    public var served: Int
    public var counts: StoreCounts?
    public var report: RewardReport?
    /// Per group of `StoreRequest.groups`, in order.
    public var groups: [StoreGroupResult]?
    /// For `feedbackAfter`: the page's events, in `seq` order.
    public var feedback: [StoredFeedback]?
    /// For `feedbackAfter`: the `after` of the next page (the page's last `seq`, or the request's
    /// own `after` when the page is empty).
    public var cursor: Int64?
    /// For `feedbackAfter`: whether events after `cursor` were stored when the page was read.
    public var hasMore: Bool?

    enum CodingKeys: String, CodingKey {
        case stored, duplicates, served, counts, report, groups, feedback, cursor
        case hasMore = "has_more"
    }

    public init(
        stored: Int = 0, duplicates: Int = 0, served: Int = 0, counts: StoreCounts? = nil, report: RewardReport? = nil,
        groups: [StoreGroupResult]? = nil, feedback: [StoredFeedback]? = nil, cursor: Int64? = nil, hasMore: Bool? = nil
    ) {
        self.groups = groups
        self.stored = stored
        self.duplicates = duplicates
        self.served = served
        self.counts = counts
        self.report = report
        self.feedback = feedback
        self.cursor = cursor
        self.hasMore = hasMore
    }
}

/// Error codes of the store agent's `ErrorReply`s.
public enum StoreErrorCode {
    /// The request is not a `StoreRequest` or an event in it is invalid (a client error).
    public static let badRequest = "bad_request"
    /// The database is locked or busy: retry shortly.
    public static let busy = "store_busy"
    /// The disk is full: nothing of the request was stored.
    public static let full = "store_full"
    /// Any other database failure: nothing of the request was stored.
    public static let failed = "store_failed"
}

/// One recommendation as served, with who produced each item.
public struct ServedList: Codable, Sendable, Equatable {
    public var requestID: String
    public var user: String
    public var epoch: Int
    /// Milliseconds since the Unix epoch.
    public var servedAt: UInt64
    public var items: [ServedItem]
    /// The `name@version` of every agent after recall that shaped the whole list
    /// (fusion, ranker, re-ranker).
    public var pipeline: [String]
    /// The probability with which an experiment chose this list's variant, when one did.
    public var propensity: Double?
    /// The experiment that chose it, when one did.
    public var experiment: String?

    enum CodingKeys: String, CodingKey {
        case user, epoch, items, pipeline, propensity, experiment
        case requestID = "request_id"
        case servedAt = "served_at"
    }

    public init(
        requestID: String, user: String, epoch: Int, servedAt: UInt64, items: [ServedItem], pipeline: [String],
        propensity: Double? = nil, experiment: String? = nil
    ) {
        self.requestID = requestID
        self.user = user
        self.epoch = epoch
        self.servedAt = servedAt
        self.items = items
        self.pipeline = pipeline
        self.propensity = propensity
        self.experiment = experiment
    }
}

/// One item of a served list.
public struct ServedItem: Codable, Sendable, Equatable {
    public var item: String
    public var score: Double
    /// The `name@version` of each recall agent whose candidates held the item.
    public var sources: [String]

    public init(item: String, score: Double, sources: [String]) {
        self.item = item
        self.score = score
        self.sources = sources
    }
}

/// How many rows each table of the store holds.
public struct StoreCounts: Codable, Sendable, Equatable {
    public var users: Int
    public var items: Int
    public var interactions: Int
    public var feedback: Int
    public var servedLists: Int
    public var experiments: Int
    public var agentVersions: Int

    enum CodingKeys: String, CodingKey {
        case users, items, interactions, feedback, experiments
        case servedLists = "served_lists"
        case agentVersions = "agent_versions"
    }

    public init(users: Int, items: Int, interactions: Int, feedback: Int, servedLists: Int, experiments: Int, agentVersions: Int) {
        self.users = users
        self.items = items
        self.interactions = interactions
        self.feedback = feedback
        self.servedLists = servedLists
        self.experiments = experiments
        self.agentVersions = agentVersions
    }
}

/// Rewards computed from served lists and the feedback on them.
///
/// A served item is *clicked* when a positive event (a click with a positive value, or a
/// rating of 4 or more) names its list's request id and the item.
public struct RewardReport: Codable, Sendable, Equatable {
    /// One row per agent version (`name@version`).
    public var agents: [AgentReward]
    /// One row per topology epoch.
    public var epochs: [EpochReward]

    public init(agents: [AgentReward], epochs: [EpochReward]) {
        self.agents = agents
        self.epochs = epochs
    }
}

/// The rewards of one agent version.
public struct AgentReward: Codable, Sendable, Equatable {
    /// `name@version`.
    public var agent: String
    /// Served items it contributed (a recall source of the item, or a pipeline agent of its list).
    public var contributed: Int
    /// Of those, clicked.
    public var clicked: Int
    /// Inner reward: click-through of the items it contributed (`clicked / contributed`).
    public var innerCTR: Double
    /// Served lists it took part in.
    public var lists: Int
    /// Outer reward: the share of those lists with at least one click.
    public var listsClicked: Double
    /// Outer reward: the mean NDCG of those lists, clicks as relevance.
    public var ndcg: Double

    enum CodingKeys: String, CodingKey {
        case agent, contributed, clicked, lists, ndcg
        case innerCTR = "inner_ctr"
        case listsClicked = "lists_clicked"
    }

    public init(agent: String, contributed: Int, clicked: Int, innerCTR: Double, lists: Int, listsClicked: Double, ndcg: Double) {
        self.agent = agent
        self.contributed = contributed
        self.clicked = clicked
        self.innerCTR = innerCTR
        self.lists = lists
        self.listsClicked = listsClicked
        self.ndcg = ndcg
    }
}

/// The outer reward of one epoch.
public struct EpochReward: Codable, Sendable, Equatable {
    public var epoch: Int
    public var lists: Int
    public var items: Int
    public var clicked: Int
    /// The share of lists with at least one click.
    public var listsClicked: Double
    /// The mean NDCG of the lists.
    public var ndcg: Double

    enum CodingKeys: String, CodingKey {
        case epoch, lists, items, clicked, ndcg
        case listsClicked = "lists_clicked"
    }

    public init(epoch: Int, lists: Int, items: Int, clicked: Int, listsClicked: Double, ndcg: Double) {
        self.epoch = epoch
        self.lists = lists
        self.items = items
        self.clicked = clicked
        self.listsClicked = listsClicked
        self.ndcg = ndcg
    }
}

/// Several stored feedback events in the payload of one `feedback` message: the store publishes
/// each commit's new events together, because a message per event cost every subscriber (each
/// agent instance) a wake-up per event. Each element is the event's own payload, exactly as a
/// single-event message carries it, so a subscriber hands it on without decoding it.
///
/// Layout (big-endian): `0xFB 0x01 | count u32 | count × (length u32 | bytes)`. No JSON text
/// starts with 0xFB, so a single event's payload is never taken for a batch.
public enum FeedbackBatch {
    static let magic: [UInt8] = [0xFB, 0x01]

    /// One payload holding `events` (each an encoded `FeedbackEvent`).
    public static func encode(_ events: [[UInt8]]) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(6 + events.reduce(0) { $0 + 4 + $1.count })
        bytes.append(contentsOf: magic)
        append(UInt32(events.count), to: &bytes)
        for event in events {
            append(UInt32(event.count), to: &bytes)
            bytes.append(contentsOf: event)
        }
        return bytes
    }

    /// The events of a `feedback` payload: those of a batch, or the payload itself when it is
    /// a single event. A malformed batch (lengths that do not add up) gives none.
    public static func events(in payload: [UInt8]) -> [ArraySlice<UInt8>] {
        guard payload.count >= 2, payload[0] == magic[0], payload[1] == magic[1] else { return [payload[...]] }
        var offset = 2
        guard let count = readLength(payload, &offset) else { return [] }
        var events: [ArraySlice<UInt8>] = []
        events.reserveCapacity(min(count, payload.count / 4))
        for _ in 0..<count {
            guard let length = readLength(payload, &offset), payload.count - offset >= length else { return [] }
            events.append(payload[offset..<(offset + length)])
            offset += length
        }
        return offset == payload.count ? events : []
    }

    private static func append(_ value: UInt32, to bytes: inout [UInt8]) {
        bytes.append(UInt8(truncatingIfNeeded: value >> 24))
        bytes.append(UInt8(truncatingIfNeeded: value >> 16))
        bytes.append(UInt8(truncatingIfNeeded: value >> 8))
        bytes.append(UInt8(truncatingIfNeeded: value))
    }

    private static func readLength(_ bytes: [UInt8], _ offset: inout Int) -> Int? {
        guard bytes.count - offset >= 4 else { return nil }
        let value = bytes[offset..<(offset + 4)].reduce(0) { $0 << 8 | Int($1) }
        offset += 4
        return value
    }
}
