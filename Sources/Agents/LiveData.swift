import Dataset
import Foundation
import Logging
import Recommender

/// One agent's live view of the world: the catalogue (which grows when feedback names an item
/// nobody has seen), every user's history and the items' popularity, starting from the
/// training matrix and updated by each feedback event. Each agent process keeps its own copy,
/// fed by the same `feedback` topic, so no agent waits on another to learn.
///
/// Feedback may name items and users nobody has seen, and anyone who can post feedback can
/// make up as many as they like: at most `maximumNewItems` items and `maximumNewUsers` users
/// join from feedback; events past that are refused (not applied) and counted.
struct LiveData: Sendable {
    /// Items feedback may add to the catalogue (six times MovieLens-100K's): each makes every
    /// request's score vectors longer.
    static let defaultMaximumNewItems = 10_000
    /// Users feedback may add (their histories live in memory).
    static let defaultMaximumNewUsers = 200_000

    /// One user's history: item indices in arrival order, their ratings, and a set for lookups.
    struct History: Sendable, Equatable {
        var items: [Int] = []
        var ratings: [Double] = []
        var contains: Set<Int> = []
        /// False while the history equals the user's training row (models may then use their
        /// fitted per-user state, e.g. ALS user factors).
        var changed = false
    }

    /// What one feedback event did.
    struct Applied: Sendable, Equatable {
        var user: String
        var item: Int
        /// The item was not in the catalogue before.
        var newItem: Bool
        /// The user did not have the item yet.
        var newInteraction: Bool
    }

    private(set) var itemIDs: [String]
    private var itemIndexByID: [String: Int]
    /// Items the models were fitted with; later indices came from feedback.
    let fittedItemCount: Int
    /// Interaction counts per item (training pairs plus new feedback pairs).
    private(set) var popularity: [Double]
    /// log(1 + popularity) per item, kept up to date with it: the re-ranker's popularity
    /// penalty and the ranker's feature read it per request.
    private(set) var logPopularity: [Double]
    /// Genre bits per item (0 for items feedback introduced).
    private(set) var genres: [UInt64]
    private var changedHistories: [String: History] = [:]
    private let training: InteractionMatrix
    private let userIndexByID: [String: Int]
    /// The largest rating in the training data (a click counts as one).
    let maximumRating: Double
    /// The store sequence through which the view's starting data already holds feedback: a
    /// replay at start hands it the events after (see `Replay.swift`).
    let feedbackThrough: Int64
    var maximumNewItems = LiveData.defaultMaximumNewItems
    var maximumNewUsers = LiveData.defaultMaximumNewUsers
    /// Users with a history that only feedback gave them.
    private var newUsers = 0
    /// Events refused because they would have added an item, or a user, past the limit.
    private(set) var refusedNewItems = 0
    private(set) var refusedNewUsers = 0

    /// The view of `data` with histories from `matrix` (default: the serving training matrix).
    init(data: MovieLensData, training matrix: InteractionMatrix? = nil) {
        let matrix = matrix ?? data.training
        itemIDs = data.index.itemIDs.map(String.init)
        itemIndexByID = Dictionary(uniqueKeysWithValues: itemIDs.enumerated().map { ($1, $0) })
        fittedItemCount = itemIDs.count
        popularity = matrix.columnCounts().map(Double.init)
        logPopularity = popularity.map { log(1 + $0) }
        genres = Reranker.genreBits(data.items.map(\.genres))
        training = matrix
        userIndexByID = Dictionary(uniqueKeysWithValues: data.index.userIDs.enumerated().map { (String($1), $0) })
        maximumRating = max(matrix.values.max() ?? 1, 1)
        feedbackThrough = data.feedbackThrough
    }

    var itemCount: Int { itemIDs.count }

    func itemIndex(_ id: String) -> Int? { itemIndexByID[id] }

    /// The index of `id`, adding it to the catalogue (no genres, no interactions) when new.
    mutating func itemIndex(adding id: String) -> (index: Int, new: Bool) {
        if let index = itemIndexByID[id] { return (index, false) }
        let index = itemIDs.count
        itemIDs.append(id)
        itemIndexByID[id] = index
        popularity.append(0)
        logPopularity.append(0)
        genres.append(0)
        return (index, true)
    }

    /// The user's row in the training matrix while their history is unchanged.
    func fittedUser(_ user: String) -> Int? {
        guard changedHistories[user] == nil else { return nil }
        return userIndexByID[user]
    }

    func history(_ user: String) -> History {
        if let history = changedHistories[user] { return history }
        guard let row = userIndexByID[user] else { return History() }
        let range = training.rowPointers[row]..<training.rowPointers[row + 1]
        let items = training.columns[range].map(Int.init)
        return History(items: items, ratings: Array(training.values[range]), contains: Set(items))
    }

    func historyCount(_ user: String) -> Int {
        if let history = changedHistories[user] { return history.items.count }
        return userIndexByID[user].map(training.rowLength) ?? 0
    }

    /// Applies one feedback event; nil when it is not an interaction (an unknown event type).
    ///
    /// Idempotent, and must stay so: applying an event again (a replay at start overlaps the
    /// live topic) leaves the view as it was: the pair is in the history already, so nothing is
    /// appended and popularity is not counted again; only the rating is set, to the same value.
    /// Nil too for an event refused because it would add an item or a user past the limits.
    mutating func apply(_ event: FeedbackPayload) -> Applied? {
        guard event.isInteraction else { return nil }
        if itemIndexByID[event.item] == nil, itemIDs.count - fittedItemCount >= maximumNewItems {
            refusedNewItems += 1
            return nil
        }
        let isNewUser = changedHistories[event.user] == nil && userIndexByID[event.user] == nil
        if isNewUser, newUsers >= maximumNewUsers {
            refusedNewUsers += 1
            return nil
        }
        if isNewUser { newUsers += 1 }
        let (item, newItem) = itemIndex(adding: event.item)
        var updated = self.history(event.user)
        let rating = event.event == "rating" ? (event.value ?? maximumRating) : maximumRating
        let newInteraction = !updated.contains.contains(item)
        if newInteraction {
            updated.items.append(item)
            updated.ratings.append(rating)
            updated.contains.insert(item)
            popularity[item] += 1
            logPopularity[item] = log(1 + popularity[item])
        } else if let position = updated.items.firstIndex(of: item) {
            updated.ratings[position] = rating
        }
        updated.changed = true
        changedHistories[event.user] = updated
        return Applied(user: event.user, item: item, newItem: newItem, newInteraction: newInteraction)
    }

    /// Decodes and applies one event from the `feedback` topic for `agent`, saying in its log
    /// when events are refused (at the 1st, 10th, 100th… refusal: a flood stays a few lines).
    mutating func take(_ payload: [UInt8], agent: String) {
        guard let event = FeedbackPayload.decode(payload) else {
            Self.logger(agent).warning("undecodable feedback event")
            return
        }
        let refused = refusedNewItems + refusedNewUsers
        _ = apply(event)
        let now = refusedNewItems + refusedNewUsers
        if now > refused, Self.isPowerOfTen(now) {
            Self.logger(agent).notice(
                "feedback refused: it would grow the live catalogue past its limits",
                metadata: [
                    "refused_new_items": "\(refusedNewItems)", "refused_new_users": "\(refusedNewUsers)",
                    "maximum_new_items": "\(maximumNewItems)", "maximum_new_users": "\(maximumNewUsers)",
                ])
        }
    }

    private static func logger(_ agent: String) -> Logger {
        var log = Logger(label: "agentic.agent")
        log[metadataKey: "agent"] = "\(agent)"
        return log
    }

    private static func isPowerOfTen(_ n: Int) -> Bool {
        var n = n
        while n >= 10, n % 10 == 0 { n /= 10 }
        return n == 1
    }
}

/// A feedback event as it travels on the `feedback` topic, decoded tolerantly: the gateway's
/// `FeedbackEvent` today, with any fields the store may add (an event id…) ignored, and ids
/// given as numbers accepted too.
struct FeedbackPayload: Decodable, Sendable, Equatable {
    var user: String
    var item: String
    var event: String
    var value: Double?

    enum CodingKeys: String, CodingKey { case user, item, event, value }

    init(user: String, item: String, event: String = "click", value: Double? = nil) {
        self.user = user
        self.item = item
        self.event = event
        self.value = value
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        func identifier(_ key: CodingKeys) throws -> String {
            if let text = try? container.decode(String.self, forKey: key) { return text }
            if let number = try? container.decode(Int.self, forKey: key) { return String(number) }
            throw DecodingError.dataCorruptedError(forKey: key, in: container, debugDescription: "\(key.stringValue) is not a string or an integer")
        }
        user = try identifier(.user)
        item = try identifier(.item)
        event = (try? container.decodeIfPresent(String.self, forKey: .event)) ?? "click"
        value = try? container.decodeIfPresent(Double.self, forKey: .value)
    }

    /// Clicks and ratings are interactions; other event types (a future `skip`…) are not.
    var isInteraction: Bool {
        (event == "click" || event == "rating") && !user.isEmpty && !item.isEmpty
    }

    static func decode(_ payload: [UInt8]) -> FeedbackPayload? {
        try? JSONDecoder().decode(FeedbackPayload.self, from: Data(payload))
    }
}
