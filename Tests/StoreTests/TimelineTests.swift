import AgentProtocol
import AgenticTesting
import Foundation
import Testing
import Store

/// The reward timeline and experiment list the dashboard reads.
@Suite("Store timeline")
struct TimelineTests {
    static func list(_ id: String, at ms: UInt64, epoch: Int, items: [String]) -> ServedList {
        ServedList(
            requestID: id, user: "u-\(id)", epoch: epoch, servedAt: ms,
            items: items.map { ServedItem(item: $0, score: 1, sources: ["a@1"]) }, pipeline: ["rank@1"])
    }

    @Test("lists and lists with a positive reaction per bucket; a click off the list or a low rating does not count")
    func buckets() async throws {
        let directory = try ShortDirectory()
        let store = try KnowledgeStore(path: directory.path + "/s.sqlite")
        _ = try await store.logServed([
            Self.list("r1", at: 10_000, epoch: 0, items: ["1", "2"]),
            Self.list("r2", at: 11_000, epoch: 0, items: ["3"]),
            Self.list("r3", at: 15_500, epoch: 1, items: ["4"]),
            Self.list("r4", at: 16_000, epoch: 1, items: ["5"]),
            Self.list("old", at: 1_000, epoch: 0, items: ["6"]),
        ])
        _ = try await store.append([
            FeedbackEvent(user: "u-r1", item: "2", event: "click", value: 1, requestID: "r1", receivedAt: 12_000, eventID: "e1"),
            // Not on r2's list: attributed to nothing.
            FeedbackEvent(user: "u-r2", item: "9", event: "click", value: 1, requestID: "r2", receivedAt: 12_000, eventID: "e2"),
            FeedbackEvent(user: "u-r3", item: "4", event: "rating", value: 5, requestID: "r3", receivedAt: 17_000, eventID: "e3"),
            FeedbackEvent(user: "u-r4", item: "5", event: "rating", value: 2, requestID: "r4", receivedAt: 17_000, eventID: "e4"),
        ])
        let buckets = try store.rewardTimeline(bucketMilliseconds: 5_000, since: 5_000)
        #expect(
            buckets == [
                RewardBucket(start: 10_000, epoch: 0, lists: 2, listsClicked: 1),
                RewardBucket(start: 15_000, epoch: 1, lists: 2, listsClicked: 1),
            ])
        #expect(throws: StoreError.self) { try store.rewardTimeline(bucketMilliseconds: 0, since: 0) }
    }

    @Test("experiments newest first, with their decision once taken")
    func experiments() throws {
        let directory = try ShortDirectory()
        let store = try KnowledgeStore(path: directory.path + "/s.sqlite")
        let first = try store.recordExperiment(proposal: "fusion weights", diff: "~ fusion", offlineResults: nil)
        let second = try store.recordExperiment(proposal: "mmr lambda", diff: nil, offlineResults: nil)
        try store.decideExperiment(id: first, onlineResults: nil, decision: "promote: better")
        let records = try store.experiments(limit: 10)
        #expect(records.map(\.experiment) == ["exp-\(second)", "exp-\(first)"])
        #expect(records[0].decision == nil && records[0].decidedAt == nil)
        #expect(records[1].decision == "promote: better" && records[1].decidedAt != nil)
        #expect(try store.experiments(limit: 1).count == 1)
    }

    @Test("a store agent's database: the run's default file, an absolute path, or one relative to the working directory")
    func databasePath() {
        #expect(KnowledgeStore.databasePath(configured: nil, runDirectory: "/r") == "/r/store.sqlite")
        #expect(KnowledgeStore.databasePath(configured: "", runDirectory: "/r") == "/r/store.sqlite")
        #expect(KnowledgeStore.databasePath(configured: "/d/s.db", runDirectory: "/r") == "/d/s.db")
        #expect(KnowledgeStore.databasePath(configured: "s.db", runDirectory: "/r") == FileManager.default.currentDirectoryPath + "/s.db")
    }
}
