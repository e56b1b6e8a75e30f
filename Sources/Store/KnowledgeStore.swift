/// # Store
///
/// The knowledge store of agentic: one SQLite file (through GRDB, WAL mode, `synchronous =
/// FULL` so a commit is on disk before it returns) holding users, items, every interaction
/// (feedback log, one row per event id), every served list with the agent versions that
/// produced each item, experiments and agent versions.
///
/// - ``KnowledgeStore``: the database and its operations (append feedback, read it back by
///   `seq`, log served lists, seed from MovieLens, counts, rewards).
/// - ``GroupCommitter``: many concurrent appends, one transaction per round.
/// - ``StoreServer``: the store's own req/rep protocol (`StoreRequest` → `StoreReply`) and a
///   publisher of each event once committed; the `store` agent kind (module `Agents`) runs one.
/// - ``StoreClient``: the gateway's (and tools') side of that protocol.
public import AgentProtocol
import Dataset
import Foundation
import GRDB

/// The database. Thread-safe: GRDB serialises writes and runs reads concurrently.
public final class KnowledgeStore: Sendable {
    /// The default file name in a run directory.
    public static let defaultFileName = "store.sqlite"

    /// Where the file is.
    public let path: String
    let pool: DatabasePool

    /// How to open the database.
    public struct Configuration: Sendable {
        /// How long a write waits for a lock held by another connection before it fails
        /// with ``StoreError/Code/busy``.
        public var busyTimeout: Double = 2
        /// A cap on the file's size in pages (4 KiB each); past it writes fail with
        /// ``StoreError/Code/full``, as on a full disk. Nil: no cap.
        public var maximumPages: Int? = nil
        public init() {}
    }

    /// Opens (creating if needed) the database at `path` and migrates it.
    /// - Parameter create: when false, a missing file is ``StoreError/Code/notFound``.
    /// - Throws: ``StoreError``.
    public init(path: String, create: Bool = true, configuration options: Configuration = .init()) throws(StoreError) {
        if !create, !FileManager.default.fileExists(atPath: path) {
            throw StoreError(.notFound, "no store database at \(path)")
        }
        var configuration = GRDB.Configuration()
        // A locked database waits a little before failing, so a short lock never fails a write.
        configuration.busyMode = .timeout(options.busyTimeout)
        let maximumPages = options.maximumPages
        configuration.prepareDatabase { db in
            if let maximumPages { try db.execute(sql: "PRAGMA max_page_count = \(maximumPages)") }
        }
        self.path = path
        do {
            pool = try DatabasePool(path: path, configuration: configuration)
            // WAL with FULL sync: a committed transaction survives a crash of the process and of
            // the machine (the WAL is fsynced at every commit). Set here, not in
            // `prepareDatabase`: DatabasePool switches its writer to `synchronous = NORMAL` after
            // that runs, and NORMAL syncs only at checkpoints.
            try pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
            try Schema.migrator.migrate(pool)
        } catch {
            throw Self.map(error, "opening \(path)")
        }
    }

    // MARK: feedback

    /// What an append did with each event.
    public struct AppendResult: Sendable {
        /// The events newly stored, in order (each with its event id).
        public var stored: [FeedbackEvent]
        /// How many were already stored under their id.
        public var duplicates: Int
        /// For each event given, in order: newly stored (true) or a duplicate (false).
        public var inserted: [Bool]
    }

    /// Stores `events` in one transaction: users and items unknown so far are created, an
    /// event whose id is already stored is skipped. Events without an id get one.
    /// - Throws: ``StoreError`` (nothing of the batch is stored then).
    public func append(_ events: [FeedbackEvent]) async throws(StoreError) -> AppendResult {
        for event in events { try Self.validate(event) }
        let events = events.map { event in
            var event = event
            if event.eventID == nil { event.eventID = UUID().uuidString }
            return event
        }
        let now = Self.milliseconds()
        do {
            return try await pool.write { db in
                let user = try db.cachedStatement(sql: "INSERT OR IGNORE INTO users (id, created_at) VALUES (?, ?)")
                let item = try db.cachedStatement(sql: "INSERT OR IGNORE INTO items (id, created_at) VALUES (?, ?)")
                let interaction = try db.cachedStatement(
                    sql: """
                        INSERT OR IGNORE INTO interactions
                            (event_id, user, item, event, value, request_id, received_at, stored_at, source)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'feedback')
                        """)
                var result = AppendResult(stored: [], duplicates: 0, inserted: [])
                result.inserted.reserveCapacity(events.count)
                for event in events {
                    try interaction.execute(arguments: [
                        event.eventID, event.user, event.item, event.event, event.value, event.requestID,
                        Int64(clamping: event.receivedAt), now,
                    ])
                    guard db.changesCount > 0 else {
                        result.duplicates += 1
                        result.inserted.append(false)
                        continue
                    }
                    result.inserted.append(true)
                    try user.execute(arguments: [event.user, now])
                    try item.execute(arguments: [event.item, now])
                    result.stored.append(event)
                }
                return result
            }
        } catch {
            throw Self.map(error, "appending \(events.count) events")
        }
    }

    /// The writer connection's `PRAGMA synchronous` (2 is FULL).
    func synchronousLevel() throws -> Int {
        try pool.writeWithoutTransaction { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1 }
    }

    static func validate(_ event: FeedbackEvent) throws(StoreError) {
        guard !event.user.isEmpty, !event.item.isEmpty else {
            throw StoreError(.badRequest, "an event needs a user and an item")
        }
        guard !event.event.isEmpty else { throw StoreError(.badRequest, "an event needs a type") }
        guard event.value.isFinite else { throw StoreError(.badRequest, "an event's value must be finite") }
        if let id = event.eventID, id.isEmpty { throw StoreError(.badRequest, "an event id is empty") }
    }

    /// How many feedback events (not seed rows) the store holds for `eventID` (0 or 1).
    public func feedbackCount(eventIDs: [String]) throws(StoreError) -> [String: Int] {
        do {
            return try pool.read { db in
                var counts: [String: Int] = [:]
                let statement = try db.cachedStatement(sql: "SELECT COUNT(*) FROM interactions WHERE event_id = ?")
                for id in eventIDs { counts[id] = try Int.fetchOne(statement, arguments: [id]) ?? 0 }
                return counts
            }
        } catch {
            throw Self.map(error, "counting events")
        }
    }

    /// Every feedback event id stored, with how many rows it has (always 1: the id is unique).
    public func feedbackEventIDs() throws(StoreError) -> [String] {
        do {
            return try pool.read { db in
                try String.fetchAll(db, sql: "SELECT event_id FROM interactions WHERE source = 'feedback' ORDER BY seq")
            }
        } catch {
            throw Self.map(error, "reading event ids")
        }
    }

    /// A page of the feedback log (see ``feedbackEvents(after:limit:)``).
    public struct FeedbackPage: Sendable, Equatable {
        /// The events, in `seq` order.
        public var events: [StoredFeedback]
        /// The `after` of the next page: the last event's `seq`, or the one asked with when the
        /// page is empty.
        public var cursor: Int64
        /// Whether events after `cursor` were stored when the page was read.
        public var hasMore: Bool
    }

    /// The stored feedback events whose `seq` is above `after`, in `seq` order, at most `limit`
    /// of them (more is taken as `StoreRequest.feedbackPageLimit`): exactly what was published
    /// on topic `feedback`, the seed's ratings never. `seq` grows in commit order (one writer,
    /// `AUTOINCREMENT`, a reader sees whole transactions), so paging on from `cursor` misses no
    /// event committed meanwhile.
    /// - Throws: ``StoreError/Code/badRequest`` for a negative `after` or a `limit` below 1;
    ///   ``StoreError`` from the database.
    public func feedbackEvents(after: Int64, limit: Int) async throws(StoreError) -> FeedbackPage {
        guard after >= 0 else { throw StoreError(.badRequest, "after must be a seq of 0 or more, not \(after)") }
        guard limit >= 1 else { throw StoreError(.badRequest, "limit must be 1 or more, not \(limit)") }
        let limit = min(limit, StoreRequest.feedbackPageLimit)
        do {
            return try await pool.read { db in
                // One row more than the page tells whether more remain.
                let rows = try Row.fetchAll(
                    db,
                    sql: """
                        SELECT seq, event_id, user, item, event, value, request_id, received_at FROM interactions
                        WHERE seq > ? AND source = 'feedback' ORDER BY seq LIMIT ?
                        """,
                    arguments: [after, limit + 1])
                var events: [StoredFeedback] = []
                events.reserveCapacity(min(rows.count, limit))
                for row in rows.prefix(limit) {
                    let receivedAt: Int64 = row["received_at"]
                    events.append(
                        StoredFeedback(
                            seq: row["seq"],
                            event: FeedbackEvent(
                                user: row["user"], item: row["item"], event: row["event"], value: row["value"],
                                requestID: row["request_id"], receivedAt: UInt64(max(0, receivedAt)),
                                eventID: row["event_id"])))
                }
                return FeedbackPage(events: events, cursor: events.last?.seq ?? after, hasMore: rows.count > limit)
            }
        } catch {
            throw Self.map(error, "reading feedback after seq \(after)")
        }
    }

    // MARK: served lists

    /// Records served lists (a list already recorded under its request id is kept as it was)
    /// and the agent versions they name.
    /// - Returns: how many lists were new.
    public func logServed(_ lists: [ServedList]) async throws(StoreError) -> Int {
        let now = Self.milliseconds()
        do {
            return try await pool.write { db in
                let list = try db.cachedStatement(
                    sql: """
                        INSERT OR IGNORE INTO served_lists
                            (request_id, user, epoch, served_at, pipeline, propensity, experiment)
                        VALUES (?, ?, ?, ?, ?, ?, ?)
                        """)
                let item = try db.cachedStatement(
                    sql: "INSERT INTO served_items (request_id, rank, item, score, sources) VALUES (?, ?, ?, ?, ?)")
                let version = try db.cachedStatement(
                    sql: "INSERT OR IGNORE INTO agent_versions (name, version, first_seen) VALUES (?, ?, ?)")
                var added = 0
                var versions = Set<String>()
                for served in lists {
                    try list.execute(arguments: [
                        served.requestID, served.user, served.epoch, Int64(clamping: served.servedAt),
                        Self.json(served.pipeline), served.propensity, served.experiment,
                    ])
                    guard db.changesCount > 0 else { continue }
                    added += 1
                    versions.formUnion(served.pipeline)
                    for (rank, entry) in served.items.enumerated() {
                        try item.execute(arguments: [
                            served.requestID, rank + 1, entry.item, entry.score.isFinite ? entry.score : 0,
                            Self.json(entry.sources),
                        ])
                        versions.formUnion(entry.sources)
                    }
                }
                for name in versions {
                    let (agent, agentVersion) = Self.split(name)
                    try version.execute(arguments: [agent, agentVersion, now])
                }
                return added
            }
        } catch {
            throw Self.map(error, "logging \(lists.count) served lists")
        }
    }

    // MARK: experiments and agent versions

    /// Records an agent version (kind and parameters as given), once per name and version.
    public func recordAgentVersion(name: String, version: String, kind: String?, parameters: [String: String]?) throws(StoreError) {
        let now = Self.milliseconds()
        let parametersText = parameters.map { Self.json($0) }
        do {
            try pool.write { db in
                try db.execute(
                    sql: """
                        INSERT INTO agent_versions (name, version, kind, parameters, first_seen) VALUES (?, ?, ?, ?, ?)
                        ON CONFLICT(name, version) DO UPDATE SET
                            kind = COALESCE(excluded.kind, kind), parameters = COALESCE(excluded.parameters, parameters)
                        """, arguments: [name, version, kind, parametersText, now])
            }
        } catch {
            throw Self.map(error, "recording agent version \(name)@\(version)")
        }
    }

    /// Records a proposed experiment (its proposal and topology diff as text).
    /// - Returns: the experiment's id.
    public func recordExperiment(proposal: String, diff: String?, offlineResults: String?) throws(StoreError) -> Int64 {
        let now = Self.milliseconds()
        do {
            return try pool.write { db in
                try db.execute(
                    sql: "INSERT INTO experiments (proposal, diff, offline_results, created_at) VALUES (?, ?, ?, ?)",
                    arguments: [proposal, diff, offlineResults, now])
                return db.lastInsertedRowID
            }
        } catch {
            throw Self.map(error, "recording an experiment")
        }
    }

    /// Records an experiment's online results and the decision taken on it.
    public func decideExperiment(id: Int64, onlineResults: String?, decision: String) throws(StoreError) {
        let now = Self.milliseconds()
        do {
            try pool.write { db in
                try db.execute(
                    sql: "UPDATE experiments SET online_results = ?, decision = ?, decided_at = ? WHERE id = ?",
                    arguments: [onlineResults, decision, now, id])
                if db.changesCount == 0 { throw StoreError(.badRequest, "no experiment \(id)") }
            }
        } catch {
            throw Self.map(error, "deciding experiment \(id)")
        }
    }

    /// The per-arm outcomes of live experiment `experiment`: its served lists are logged with
    /// `experiment` = `ID:ARM` (see ``ExperimentArmCounts/tag(experiment:arm:)``); a list's
    /// reward is whether it got a click (joined by request id) and the NDCG@10 of its clicks.
    /// - Returns: one entry per arm that served a list, sorted by arm.
    public func experimentArms(experiment: String) throws(StoreError) -> [ExperimentArmCounts] {
        do {
            return try pool.read { db in
                let rows = try Row.fetchAll(
                    db,
                    sql: """
                        SELECT s.experiment AS tag, s.request_id AS request, s.propensity AS propensity,
                            (SELECT group_concat(si.rank) FROM served_items si
                                WHERE si.request_id = s.request_id AND si.rank <= 10 AND EXISTS (
                                    SELECT 1 FROM interactions i
                                    WHERE i.request_id = s.request_id AND i.item = si.item AND i.value > 0
                                        AND i.event IN ('click', 'rating', 'purchase', 'like'))) AS ranks
                        FROM served_lists s WHERE s.experiment LIKE ? ESCAPE '\\'
                        """,
                    arguments: [Self.likePrefix(experiment) + ":%"])
                var arms: [String: ExperimentArmCounts] = [:]
                for row in rows {
                    let tag: String = row["tag"]
                    let arm = String(tag.dropFirst(experiment.count + 1))
                    let ranks = ((row["ranks"] as String?) ?? "").split(separator: ",").compactMap { Int($0) }
                    var counts = arms[arm] ?? ExperimentArmCounts(arm: arm)
                    counts.lists += 1
                    if !ranks.isEmpty { counts.clicked += 1 }
                    counts.ndcg += RewardBuilder.ndcg(ranks: ranks, relevant: ranks.count)
                    if let propensity = row["propensity"] as Double? { counts.propensity = propensity }
                    arms[arm] = counts
                }
                return arms.values.sorted { $0.arm < $1.arm }
            }
        } catch {
            throw Self.map(error, "reading experiment \(experiment)")
        }
    }

    private static func likePrefix(_ text: String) -> String {
        text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%")
            .replacingOccurrences(of: "_", with: "\\_")
    }

    // MARK: seeding

    /// Loads MovieLens-100K's users, items and ratings from `directory` in one transaction,
    /// once: a store already seeded from any directory is left as it is.
    /// - Returns: the interactions added (0 when already seeded).
    public func seed(movieLens directory: String) throws(StoreError) -> Int {
        let data: MovieLens
        do {
            // Seeded already (a restart): skip the parse, which takes longer than the insert.
            if try pool.read({ db in try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'seeded_from'") }) != nil {
                return 0
            }
        } catch {
            throw Self.map(error, "reading the seed marker")
        }
        do {
            data = try MovieLens.load(directory: directory)
        } catch {
            throw StoreError(.badRequest, "cannot seed from \(directory): \(error)")
        }
        let now = Self.milliseconds()
        do {
            return try pool.write { db in
                if try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'seeded_from'") != nil { return 0 }
                let userStatement = try db.makeStatement(
                    sql: "INSERT OR IGNORE INTO users (id, created_at, attributes) VALUES (?, ?, ?)")
                for profile in data.users {
                    let attributes = Self.json([
                        "age": profile.age.map(String.init) ?? "", "gender": profile.gender,
                        "occupation": profile.occupation,
                    ])
                    try userStatement.execute(arguments: [String(profile.id), now, attributes])
                }
                let itemStatement = try db.makeStatement(
                    sql: "INSERT OR IGNORE INTO items (id, created_at, title, attributes) VALUES (?, ?, ?, ?)")
                for entry in data.items {
                    let attributes = Self.json([
                        "year": entry.releaseYear.map(String.init) ?? "", "genres": entry.genres.joined(separator: "|"),
                    ])
                    try itemStatement.execute(arguments: [String(entry.id), now, entry.title, attributes])
                }
                let interaction = try db.makeStatement(
                    sql: """
                        INSERT OR IGNORE INTO interactions
                            (event_id, user, item, event, value, request_id, received_at, stored_at, source)
                        VALUES (?, ?, ?, 'rating', ?, NULL, ?, ?, 'seed')
                        """)
                var added = 0
                for rating in data.interactions {
                    let user = String(rating.user)
                    let itemID = String(rating.item)
                    try interaction.execute(arguments: [
                        "ml:\(user):\(itemID):\(rating.timestamp)", user, itemID, rating.rating,
                        Int64(rating.timestamp) * 1000, now,
                    ])
                    added += db.changesCount
                }
                // Ratings may name users or items the side files lack: those are created too.
                let knownUsers = Set(data.users.map(\.id))
                for user in Set(data.interactions.map(\.user)).subtracting(knownUsers) {
                    try userStatement.execute(arguments: [String(user), now, nil as String?])
                }
                let knownItems = Set(data.items.map(\.id))
                for itemID in Set(data.interactions.map(\.item)).subtracting(knownItems) {
                    try itemStatement.execute(arguments: [String(itemID), now, nil as String?, nil as String?])
                }
                try db.execute(
                    sql: "INSERT INTO meta (key, value) VALUES ('seeded_from', ?)", arguments: [directory])
                return added
            }
        } catch {
            throw Self.map(error, "seeding from \(directory)")
        }
    }

    // MARK: queries

    /// How many rows each table holds.
    public func counts() throws(StoreError) -> StoreCounts {
        do {
            return try pool.read { db in
                func count(_ sql: String) throws -> Int { try Int.fetchOne(db, sql: sql) ?? 0 }
                return StoreCounts(
                    users: try count("SELECT COUNT(*) FROM users"),
                    items: try count("SELECT COUNT(*) FROM items"),
                    interactions: try count("SELECT COUNT(*) FROM interactions"),
                    feedback: try count("SELECT COUNT(*) FROM interactions WHERE source = 'feedback'"),
                    servedLists: try count("SELECT COUNT(*) FROM served_lists"),
                    experiments: try count("SELECT COUNT(*) FROM experiments"),
                    agentVersions: try count("SELECT COUNT(*) FROM agent_versions"))
            }
        } catch {
            throw Self.map(error, "counting")
        }
    }

    /// The inner and outer rewards per agent version and per epoch (see `RewardReport`).
    public func report() throws(StoreError) -> RewardReport {
        do {
            return try pool.read { db in
                let lists = try Row.fetchAll(db, sql: "SELECT request_id, epoch, pipeline FROM served_lists")
                let items = try Row.fetchAll(
                    db, sql: "SELECT request_id, rank, item, sources FROM served_items ORDER BY request_id, rank")
                let positives = try Row.fetchAll(
                    db,
                    sql: """
                        SELECT DISTINCT request_id, item FROM interactions
                        WHERE request_id IS NOT NULL
                          AND \(Self.positiveReaction)
                        """)
                var builder = RewardBuilder()
                for row in positives {
                    builder.click(requestID: row["request_id"], item: row["item"])
                }
                for row in lists {
                    builder.list(requestID: row["request_id"], epoch: row["epoch"], pipeline: Self.strings(row["pipeline"]))
                }
                for row in items {
                    builder.item(
                        requestID: row["request_id"], rank: row["rank"], item: row["item"],
                        sources: Self.strings(row["sources"]))
                }
                return builder.report()
            }
        } catch {
            throw Self.map(error, "computing the report")
        }
    }

    // MARK: helpers

    /// An interaction that rewards the list it answers (SQL over `interactions`' `event` and
    /// `value`): a click, or a rating of 4 or more. The report and the timeline share it.
    static let positiveReaction = "((event = 'click' AND value > 0) OR (event = 'rating' AND value >= 4))"

    static func milliseconds() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

    /// A list of names as a JSON array, written directly (`JSONEncoder` also escapes `/`; both
    /// read back the same): a served list stores one per item, and the encoder cost more than
    /// the inserts.
    static func json(_ strings: [String]) -> String {
        var bytes: [UInt8] = [UInt8(ascii: "[")]
        bytes.reserveCapacity(2 + strings.reduce(0) { $0 + $1.utf8.count + 3 })
        for (index, string) in strings.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            JSONText.append(string: string, to: &bytes)
        }
        bytes.append(UInt8(ascii: "]"))
        return String(decoding: bytes, as: UTF8.self)
    }

    static func json(_ value: some Encodable) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "null"
    }

    static func strings(_ text: String?) -> [String] {
        guard let text, let data = text.data(using: .utf8) else { return [] }
        return (try? JSONDecoder().decode([String].self, from: data)) ?? []
    }

    /// `name@version` → (name, version); no `@` means version "1".
    static func split(_ nameAtVersion: String) -> (String, String) {
        guard let at = nameAtVersion.lastIndex(of: "@") else { return (nameAtVersion, "1") }
        return (String(nameAtVersion[..<at]), String(nameAtVersion[nameAtVersion.index(after: at)...]))
    }

    /// SQLite's result codes as the store's error codes: locked and busy can be retried,
    /// a full disk is said so, the rest is a failure.
    static func map(_ error: any Error, _ doing: String) -> StoreError {
        if let error = error as? StoreError { return error }
        guard let error = error as? DatabaseError else { return StoreError(.failed, "\(doing): \(error)") }
        switch error.resultCode {
        case .SQLITE_BUSY, .SQLITE_LOCKED:
            return StoreError(.busy, "\(doing): the database is locked (\(error.message ?? "busy"))")
        case .SQLITE_FULL:
            return StoreError(.full, "\(doing): the disk is full")
        case .SQLITE_IOERR where error.extendedResultCode == .SQLITE_IOERR_WRITE
            || error.extendedResultCode == .SQLITE_IOERR_FSYNC:
            return StoreError(.failed, "\(doing): I/O error writing the database")
        default:
            return StoreError(.failed, "\(doing): \(error.message ?? "\(error.resultCode)")")
        }
    }
}

/// One arm of a live experiment as the store sees it: the lists it served, how many got a
/// click and their summed NDCG@10 (clicks as relevance), and the arm's propensity.
public struct ExperimentArmCounts: Sendable, Equatable, Codable {
    public var arm: String
    public var lists: Int
    public var clicked: Int
    public var ndcg: Double
    public var propensity: Double?

    public init(arm: String, lists: Int = 0, clicked: Int = 0, ndcg: Double = 0, propensity: Double? = nil) {
        self.arm = arm
        self.lists = lists
        self.clicked = clicked
        self.ndcg = ndcg
        self.propensity = propensity
    }

    /// The `experiment` column of a list served by `arm` of experiment `experiment`.
    public static func tag(experiment: String, arm: String) -> String { experiment + ":" + arm }
}
