import Foundation
import GRDB

/// One time bucket of served lists: how many were served and how many got a positive
/// reaction (a click, or a rating of 4 or more, on one of its items, joined by request id).
public struct RewardBucket: Codable, Sendable, Equatable {
    /// The bucket's start, milliseconds since 1970.
    public var start: Int64
    /// The newest epoch that served in the bucket.
    public var epoch: Int
    public var lists: Int
    public var listsClicked: Int

    enum CodingKeys: String, CodingKey {
        case start, epoch, lists
        case listsClicked = "lists_clicked"
    }

    public init(start: Int64, epoch: Int, lists: Int, listsClicked: Int) {
        self.start = start
        self.epoch = epoch
        self.lists = lists
        self.listsClicked = listsClicked
    }
}

/// An experiment as the store recorded it.
public struct ExperimentRecord: Codable, Sendable, Equatable {
    /// `exp-ID`, as its lists are tagged.
    public var experiment: String
    public var proposal: String
    public var diff: String?
    /// Nil while it runs; else `promote: …`, `rollback: …`, `stop: …` or `gate_failed: …`.
    public var decision: String?
    /// Milliseconds since 1970.
    public var createdAt: Int64
    public var decidedAt: Int64?

    enum CodingKeys: String, CodingKey {
        case experiment, proposal, diff, decision
        case createdAt = "created_at"
        case decidedAt = "decided_at"
    }
}

extension KnowledgeStore {
    /// The database of a `store` agent whose `path` parameter is `configured` (nil or empty:
    /// the default file in the run directory; relative: from the working directory).
    public static func databasePath(configured: String?, runDirectory: String) -> String {
        guard let configured, !configured.isEmpty else { return runDirectory + "/" + defaultFileName }
        return configured.hasPrefix("/") ? configured : FileManager.default.currentDirectoryPath + "/" + configured
    }

    /// Served lists and those with a positive reaction per `bucketMilliseconds`, for lists
    /// served at or after `since` (milliseconds since 1970), oldest first.
    public func rewardTimeline(bucketMilliseconds: Int64, since: Int64) throws(StoreError) -> [RewardBucket] {
        guard bucketMilliseconds > 0 else { throw StoreError(.badRequest, "the bucket must be positive") }
        do {
            return try pool.read { db in
                try Row.fetchAll(
                    db,
                    sql: """
                        SELECT (s.served_at / ?) * ? AS start, MAX(s.epoch) AS epoch, COUNT(*) AS lists,
                            SUM(EXISTS (SELECT 1 FROM interactions i JOIN served_items si
                                    ON si.request_id = s.request_id AND si.item = i.item
                                WHERE i.request_id = s.request_id AND \(Self.positiveReaction)))
                                AS clicked
                        FROM served_lists s WHERE s.served_at >= ?
                        GROUP BY start ORDER BY start
                        """,
                    arguments: [bucketMilliseconds, bucketMilliseconds, since]
                ).map { row in
                    RewardBucket(start: row["start"], epoch: row["epoch"], lists: row["lists"], listsClicked: row["clicked"])
                }
            }
        } catch {
            throw Self.map(error, "reading the reward timeline")
        }
    }

    /// The `limit` most recent experiments, newest first.
    public func experiments(limit: Int) throws(StoreError) -> [ExperimentRecord] {
        do {
            return try pool.read { db in
                try Row.fetchAll(
                    db,
                    sql: """
                        SELECT id, proposal, diff, decision, created_at, decided_at FROM experiments
                        ORDER BY id DESC LIMIT ?
                        """,
                    arguments: [max(0, limit)]
                ).map { row in
                    ExperimentRecord(
                        experiment: "exp-\(row["id"] as Int64)", proposal: row["proposal"], diff: row["diff"],
                        decision: row["decision"], createdAt: row["created_at"], decidedAt: row["decided_at"])
                }
            }
        } catch {
            throw Self.map(error, "reading the experiments")
        }
    }
}
