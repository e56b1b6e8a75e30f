import AgentProtocol
import AgenticTesting
import Foundation
import Store
import GRDB
import Testing

/// The store's operations on a real SQLite file.
@Suite("KnowledgeStore")
struct KnowledgeStoreTests {
    static func event(_ id: String?, user: String = "u1", item: String = "i1", event: String = "click", value: Double = 1, request: String? = nil)
        -> FeedbackEvent
    {
        FeedbackEvent(user: user, item: item, event: event, value: value, requestID: request, receivedAt: 1, eventID: id)
    }

    @Test("an event id is stored once, in one batch or across batches; unknown users and items are created")
    func deduplicates() async throws {
        let directory = try ShortDirectory()
        let store = try KnowledgeStore(path: directory.path + "/s.sqlite")
        let first = try await store.append([Self.event("a"), Self.event("a"), Self.event("b", user: "new-user", item: "new-item")])
        #expect(first.stored.map(\.eventID) == ["a", "b"])
        #expect(first.duplicates == 1)
        #expect(first.inserted == [true, false, true])
        let again = try await store.append([Self.event("b"), Self.event(nil)])
        #expect(again.inserted == [false, true])
        #expect(again.stored.first?.eventID?.isEmpty == false, "an event without an id gets one")
        let counts = try store.counts()
        #expect(counts.feedback == 3)
        #expect(counts.users == 2)
        #expect(counts.items == 2)
        #expect(try store.feedbackCount(eventIDs: ["a", "b", "zzz"]) == ["a": 1, "b": 1, "zzz": 0])
    }

    @Test("an invalid event fails the whole batch and stores nothing")
    func rejectsInvalid() async throws {
        let directory = try ShortDirectory()
        let store = try KnowledgeStore(path: directory.path + "/s.sqlite")
        await #expect(throws: StoreError(.badRequest, "")) {
            try await store.append([Self.event("ok"), Self.event("bad", user: "")])
        }
        await #expect(throws: StoreError(.badRequest, "")) {
            try await store.append([Self.event("nan", value: .nan)])
        }
        #expect(try store.counts().feedback == 0)
    }

    @Test("a store reopened after commits has them all (the file is the truth)")
    func survivesReopen() async throws {
        let directory = try ShortDirectory()
        let path = directory.path + "/s.sqlite"
        do {
            let store = try KnowledgeStore(path: path)
            _ = try await store.append((0..<100).map { Self.event("e\($0)") })
        }
        let reopened = try KnowledgeStore(path: path, create: false)
        #expect(try reopened.feedbackEventIDs().count == 100)
        #expect(throws: StoreError(.notFound, "")) { try KnowledgeStore(path: directory.path + "/missing.sqlite", create: false) }
    }

    @Test("seeding from MovieLens files loads users, items and ratings once")
    func seeds() throws {
        let directory = try ShortDirectory()
        _ = try directory.write(
            "ml-100k.inter",
            "user_id:token\titem_id:token\trating:float\ttimestamp:float\n1\t10\t4\t100\n1\t11\t2\t101\n2\t10\t5\t102\n3\t12\t3\t103\n")
        _ = try directory.write(
            "ml-100k.item",
            "item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq\n10\tA\t1995\tComedy\n11\tB\t1996\tDrama\n")
        _ = try directory.write(
            "ml-100k.user", "user_id:token\tage:token\tgender:token\toccupation:token\tzip_code:token\n1\t24\tM\tother\t1\n")
        let store = try KnowledgeStore(path: directory.path + "/s.sqlite")
        #expect(try store.seed(movieLens: directory.path) == 4)
        #expect(try store.seed(movieLens: directory.path) == 0, "a second seed is a no-op")
        let counts = try store.counts()
        #expect(counts.interactions == 4)
        #expect(counts.feedback == 0)
        #expect(counts.users == 3, "users named only by ratings are created too")
        #expect(counts.items == 3)
        let fresh = try KnowledgeStore(path: directory.path + "/fresh.sqlite")
        #expect(throws: StoreError(.badRequest, "")) { try fresh.seed(movieLens: directory.path + "/nowhere") }
    }

    @Test("rewards: click-through per contributing agent version, lists with a click and NDCG per version and epoch")
    func rewards() async throws {
        let directory = try ShortDirectory()
        let store = try KnowledgeStore(path: directory.path + "/s.sqlite")
        let pipeline = ["fusion@1", "mmr@2"]
        let lists = [
            ServedList(
                requestID: "r1", user: "u1", epoch: 0, servedAt: 1,
                items: [
                    ServedItem(item: "a", score: 3, sources: ["ease@1"]),
                    ServedItem(item: "b", score: 2, sources: ["ease@1", "pop@1"]),
                    ServedItem(item: "c", score: 1, sources: ["pop@1"]),
                ], pipeline: pipeline),
            ServedList(
                requestID: "r2", user: "u2", epoch: 1, servedAt: 2,
                items: [
                    ServedItem(item: "a", score: 3, sources: ["pop@1"]),
                    ServedItem(item: "d", score: 2, sources: ["ease@1"]),
                ], pipeline: pipeline),
        ]
        #expect(try await store.logServed(lists) == 2)
        #expect(try await store.logServed(lists) == 0, "a list is recorded once per request id")
        _ = try await store.append([
            Self.event("k1", item: "b", request: "r1"),
            Self.event("k2", item: "b", request: "r1"),  // the same item clicked twice counts once
            Self.event("k3", item: "c", event: "rating", value: 2, request: "r1"),  // a low rating is no click
            Self.event("k4", item: "a", request: "r9"),  // feedback on a list never served
        ])
        let report = try store.report()
        let byAgent = Dictionary(uniqueKeysWithValues: report.agents.map { ($0.agent, $0) })
        #expect(Set(byAgent.keys) == ["ease@1", "pop@1", "fusion@1", "mmr@2"])
        let ease = try #require(byAgent["ease@1"])
        #expect(ease.contributed == 3)
        #expect(ease.clicked == 1)
        #expect(abs(ease.innerCTR - 1.0 / 3) < 1e-9)
        #expect(ease.lists == 2)
        #expect(ease.listsClicked == 0.5)
        // List r1: one click at rank 2 → NDCG 1/log2(3); list r2: no click.
        let ndcgR1 = 1 / log2(3.0)
        #expect(abs(ease.ndcg - ndcgR1 / 2) < 1e-9)
        let fusion = try #require(byAgent["fusion@1"])
        #expect(fusion.contributed == 5)
        #expect(fusion.clicked == 1)
        let epochs = Dictionary(uniqueKeysWithValues: report.epochs.map { ($0.epoch, $0) })
        #expect(epochs[0]?.lists == 1)
        #expect(epochs[0]?.clicked == 1)
        #expect(abs((epochs[0]?.ndcg ?? 0) - ndcgR1) < 1e-9)
        #expect(epochs[1]?.clicked == 0)
        #expect(epochs[1]?.listsClicked == 0)
        #expect(try store.counts().agentVersions == 4)
    }

    @Test("experiments and agent versions are recorded")
    func experiments() throws {
        let directory = try ShortDirectory()
        let store = try KnowledgeStore(path: directory.path + "/s.sqlite")
        let id = try store.recordExperiment(proposal: "raise ease lambda", diff: "- lambda: 300\n+ lambda: 500", offlineResults: "{}")
        try store.decideExperiment(id: id, onlineResults: #"{"ndcg": 0.1}"#, decision: "accept")
        #expect(throws: StoreError(.badRequest, "")) { try store.decideExperiment(id: id + 100, onlineResults: nil, decision: "reject") }
        try store.recordAgentVersion(name: "ease", version: "2", kind: "recall.ease", parameters: ["lambda": "500"])
        let counts = try store.counts()
        #expect(counts.experiments == 1)
        #expect(counts.agentVersions == 1)
    }
}

/// Failures of the database are errors, never silently dropped events.
@Suite("KnowledgeStore failures")
struct KnowledgeStoreFailureTests {
    @Test("a database locked by another connection: the append fails with busy and stores nothing")
    func locked() async throws {
        let directory = try ShortDirectory()
        let path = directory.path + "/s.sqlite"
        var options = KnowledgeStore.Configuration()
        options.busyTimeout = 0.1
        let store = try KnowledgeStore(path: path, configuration: options)
        var lockHolder = GRDB.Configuration()
        // The other connection keeps its transaction open across accesses: that is the lock.
        lockHolder.allowsUnsafeTransactions = true
        let other = try DatabaseQueue(path: path, configuration: lockHolder)
        try other.inDatabase { db in try db.execute(sql: "BEGIN IMMEDIATE") }
        await #expect(throws: StoreError(.busy, "")) {
            try await store.append([KnowledgeStoreTests.event("locked")])
        }
        try other.inDatabase { db in try db.execute(sql: "ROLLBACK") }
        #expect(try await store.append([KnowledgeStoreTests.event("after")]).stored.count == 1)
        #expect(try store.feedbackEventIDs() == ["after"])
    }

    @Test("a full disk (a capped file): the append fails with full and stores nothing of the batch")
    func full() async throws {
        let directory = try ShortDirectory()
        var options = KnowledgeStore.Configuration()
        options.maximumPages = 40
        let store = try KnowledgeStore(path: directory.path + "/s.sqlite", configuration: options)
        let big = (0..<5000).map { KnowledgeStoreTests.event("e\($0)", user: "user-\($0)", item: "item-\($0)") }
        await #expect(throws: StoreError(.full, "")) { try await store.append(big) }
        #expect(try store.counts().feedback == 0)
    }
}

@Suite("KnowledgeStore experiments")
struct KnowledgeStoreExperimentTests {
    @Test("per-arm outcomes join served lists to clicks by request id; other experiments do not leak in")
    func armOutcomes() async throws {
        let directory = try ShortDirectory()
        let store = try KnowledgeStore(path: directory.path + "/s.sqlite")
        func list(_ id: String, _ experiment: String, _ arm: String, _ propensity: Double) -> ServedList {
            ServedList(
                requestID: id, user: "u-" + id, epoch: 1, servedAt: 1,
                items: ["a", "b", "c"].map { ServedItem(item: $0, score: 1, sources: ["r@1"]) }, pipeline: ["r@1"],
                propensity: propensity, experiment: ExperimentArmCounts.tag(experiment: experiment, arm: arm))
        }
        _ = try await store.logServed([
            list("r1", "7", "control", 0.8), list("r2", "7", "control", 0.8), list("r3", "7", "candidate", 0.2),
            list("r4", "70", "candidate", 0.5),
        ])
        _ = try await store.append([
            KnowledgeStoreTests.event("e1", user: "u-r1", item: "b", request: "r1"),
            KnowledgeStoreTests.event("e2", user: "u-r3", item: "a", request: "r3"),
            KnowledgeStoreTests.event("e3", user: "u-r3", item: "z", request: "r3"),  // not in the list
            KnowledgeStoreTests.event("e4", user: "u-r4", item: "a", request: "r4"),
        ])
        let arms = try store.experimentArms(experiment: "7")
        #expect(arms.map(\.arm) == ["candidate", "control"])
        #expect(arms[0].lists == 1 && arms[0].clicked == 1 && abs(arms[0].ndcg - 1) < 1e-9 && arms[0].propensity == 0.2)
        #expect(arms[1].lists == 2 && arms[1].clicked == 1 && abs(arms[1].ndcg - 1 / log2(3)) < 1e-9 && arms[1].propensity == 0.8)
        #expect(try store.experimentArms(experiment: "nothing").isEmpty)
    }
}
