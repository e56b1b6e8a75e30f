import AgentProtocol
import AgenticTesting
import Foundation
import Logging
import Testing
import Transport
@testable import Store

/// The pieces of the feedback path between the gateway and the database: durability of a
/// commit, group commit of coalesced posts, the batched publication and the binary wire form.
@Suite("Feedback path")
struct FeedbackPathTests {
    static func event(_ id: String?, user: String = "u1", item: String = "i1", value: Double = 1, request: String? = nil) -> FeedbackEvent {
        FeedbackEvent(user: user, item: item, event: "click", value: value, requestID: request, receivedAt: 7, eventID: id)
    }

    /// (stored, duplicates) of a group, or nil when it was rejected.
    static func counts(_ outcome: Result<(Int, Int), StoreError>) -> [Int]? {
        (try? outcome.get()).map { [$0.0, $0.1] }
    }

    @Test("the writer commits with synchronous = FULL (DatabasePool would leave it at NORMAL)")
    func synchronousFull() throws {
        let directory = try ShortDirectory()
        let store = try KnowledgeStore(path: directory.path + "/s.sqlite")
        #expect(try store.synchronousLevel() == 2)
        // Reopening an existing file keeps it too.
        let again = try KnowledgeStore(path: directory.path + "/s.sqlite", create: false)
        #expect(try again.synchronousLevel() == 2)
    }

    @Test("coalesced groups share a commit: a bad group is rejected alone, duplicates are counted per group")
    func groups() async throws {
        let directory = try ShortDirectory()
        let store = try KnowledgeStore(path: directory.path + "/s.sqlite")
        let publisher = try Publisher()
        defer { publisher.close() }
        try publisher.listen("ipc://\(directory.path)/p")
        let committer = GroupCommitter(store: store, publisher: publisher, log: Logger(label: "test"))
        _ = try await committer.append([Self.event("old")])
        let events = [
            Self.event("a"), Self.event("old"),  // group 0: one new, one resend
            Self.event("b", user: ""),  // group 1: invalid (no user)
            Self.event("c"), Self.event("c"),  // group 2: the same id twice
            Self.event("d"),  // group 3
        ]
        let outcomes = try await committer.append(events, groups: [2, 1, 2, 1])
        #expect(outcomes.count == 4)
        #expect(Self.counts(outcomes[0]) == [1, 1])
        #expect(throws: StoreError.self) { try outcomes[1].get() }
        #expect(Self.counts(outcomes[2]) == [1, 1])
        #expect(Self.counts(outcomes[3]) == [1, 0])
        #expect(Set(try store.feedbackEventIDs()) == ["old", "a", "c", "d"], "the invalid group stored nothing")
        // Only invalid groups: nothing reaches the database, nothing throws.
        let none = try await committer.append([Self.event("e", user: "")], groups: [1])
        #expect(throws: StoreError.self) { try none[0].get() }
        #expect(try store.feedbackEventIDs().count == 4)
    }

    @Test("a batch of published events splits back into each event's own payload; a single event passes as is")
    func feedbackBatch() throws {
        let payloads = [Self.event("x").json, Self.event("y", request: "r-1").json, []]
        let batch = FeedbackBatch.encode(payloads)
        #expect(FeedbackBatch.events(in: batch).map(Array.init) == payloads)
        let single = Self.event("z").json
        #expect(FeedbackBatch.events(in: single).map(Array.init) == [single])
        // Lengths that do not add up give nothing, never a trap.
        #expect(FeedbackBatch.events(in: Array(batch.dropLast())).isEmpty)
        #expect(FeedbackBatch.events(in: batch + [0]).isEmpty)
        #expect(FeedbackBatch.events(in: [0xFB, 0x01, 0xFF, 0xFF, 0xFF, 0xFF]).isEmpty)
    }

    @Test("FeedbackEvent's hand-written JSON decodes to the same event as JSONEncoder's")
    func eventJSON() throws {
        let tricky = "quote\" back\\ tab\t nl\n cr\r bell\u{07} é 🎬 /"
        let events = [
            Self.event(nil),
            Self.event("id-1", user: tricky, item: "i\u{1F}", value: 0.1, request: "r"),
            Self.event("id-2", value: -4.5e-7),
            Self.event("id-3", value: 1e300),
            FeedbackEvent(user: "u", item: "i", event: "rating", value: 4, requestID: nil, receivedAt: .max, eventID: "e"),
        ]
        for event in events {
            let decoded = try JSONDecoder().decode(FeedbackEvent.self, from: Data(event.json))
            #expect(decoded == event)
            let viaEncoder = try JSONSerialization.jsonObject(with: JSONEncoder().encode(event)) as? NSDictionary
            let viaHand = try JSONSerialization.jsonObject(with: Data(event.json)) as? NSDictionary
            #expect(viaEncoder == viaHand)
        }
    }

    @Test("a served item's sources, written without JSONEncoder, read back as the same names")
    func sourcesJSON() throws {
        let tricky = "quote\" back\\ tab\t nl\n bell\u{07} é 🎬 a/b@1"
        for names in [[], ["ease@1"], ["ease@1", tricky, ""]] {
            let text = KnowledgeStore.json(names)
            #expect(try JSONDecoder().decode([String].self, from: Data(text.utf8)) == names)
            #expect(KnowledgeStore.strings(text) == names)
        }
    }

    @Test("requests to the store and answers to appends travel in the binary form and decode to what was sent; other answers stay JSON")
    func binaryWire() throws {
        let lists = [
            ServedList(
                requestID: "r1", user: "ü7", epoch: 3, servedAt: 1_790_000_000_123,
                items: [
                    ServedItem(item: "50", score: 0.75, sources: ["ease@1", "als@2"]),
                    ServedItem(item: "181", score: -1.5e-7, sources: []),
                ],
                pipeline: ["fusion@1", "ranker@1", "mmr@1"], propensity: 0.25, experiment: "exp-1"),
            ServedList(requestID: "r2", user: "u", epoch: 0, servedAt: 0, items: [], pipeline: []),
        ]
        let requests = [
            StoreRequest(operation: .appendFeedback, events: [Self.event("a", request: "r"), Self.event(nil, user: "ü", value: 2.5)], groups: [1, 1]),
            StoreRequest(operation: .appendFeedback, events: []),
            StoreRequest(operation: .counts),
            StoreRequest(operation: .logServed, served: lists),
            StoreRequest(operation: .logServed, served: []),
        ]
        for request in requests {
            let bytes = try WireCodec.encode(request)
            #expect(bytes.first == 0xB7)
            #expect(try WireCodec.decode(StoreRequest.self, from: bytes) == request)
            // A truncated payload is an error, never a trap.
            for cut in [1, 3, bytes.count / 2, bytes.count - 1] where cut < bytes.count {
                #expect(throws: (any Error).self) { try WireCodec.decode(StoreRequest.self, from: Array(bytes.prefix(cut))) }
            }
        }
        // Flags the decoder does not know are refused, not skipped.
        var unknownFlags = try WireCodec.encode(StoreRequest(operation: .counts))
        unknownFlags[unknownFlags.count - 1] = 32
        #expect(throws: (any Error).self) { try WireCodec.decode(StoreRequest.self, from: unknownFlags) }
        let replies = [
            StoreReply(stored: 3, duplicates: 1, groups: [
                StoreGroupResult(stored: 1), StoreGroupResult(error: "bad_request", message: "no user"), StoreGroupResult(duplicates: 2),
            ]),
            StoreReply(served: 5),
        ]
        for reply in replies {
            let bytes = try WireCodec.encode(reply)
            #expect(bytes.first == 0xB7)
            #expect(try WireCodec.decode(StoreReply.self, from: bytes) == reply)
        }
        #expect(try WireCodec.encode(StoreReply(counts: StoreCounts(users: 1, items: 2, interactions: 3, feedback: 4, servedLists: 5, experiments: 6, agentVersions: 7))).first == UInt8(ascii: "{"))
        // A request as JSON is refused with an error (every process runs one build: it is binary).
        for request in [requests[0], requests[3]] {
            let json = Array(try JSONEncoder().encode(request))
            #expect(throws: WireError.self) { try WireCodec.decode(StoreRequest.self, from: json) }
        }
    }
}
