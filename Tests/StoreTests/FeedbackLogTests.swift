import AgentProtocol
import AgenticTesting
import Foundation
import Logging
import Testing
import Transport
@testable import Store

/// Reading the feedback log back by `seq` (`feedback_after`): what an agent that starts again
/// replays. The query, the store agent's endpoint, and the request and reply on the wire.
@Suite("Feedback log")
struct FeedbackLogTests {
    static func event(_ id: String, user: String = "u1", item: String = "i1", event: String = "click", value: Double = 1)
        -> FeedbackEvent
    {
        FeedbackEvent(user: user, item: item, event: event, value: value, requestID: "r-\(id)", receivedAt: 1_700_000_000_000, eventID: id)
    }

    /// A store holding feedback before and after a MovieLens seed, so seed rows sit between
    /// feedback rows in `seq` order; returns the feedback events in the order they were stored.
    static func interleaved(_ directory: ShortDirectory) async throws -> (KnowledgeStore, [FeedbackEvent]) {
        _ = try directory.write(
            "ml-100k.inter", "user_id:token\titem_id:token\trating:float\ttimestamp:float\n1\t10\t4\t100\n1\t11\t2\t101\n2\t10\t5\t102\n")
        _ = try directory.write("ml-100k.item", "item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq\n10\tA\t1995\tComedy\n")
        let store = try KnowledgeStore(path: directory.path + "/s.sqlite")
        let before = [Self.event("a"), Self.event("b", user: "u2", item: "i2", event: "rating", value: 4.5)]
        let after = [Self.event("c", item: "ü-ï"), Self.event("d"), Self.event("e", user: "u3")]
        _ = try await store.append(before)
        #expect(try store.seed(movieLens: directory.path) == 3)
        // A resend of a stored id is not stored again, so it is not in the log twice.
        _ = try await store.append([after[0], Self.event("a"), after[1]])
        _ = try await store.append([after[2]])
        return (store, before + after)
    }

    @Test("the log after a seq holds the stored feedback in seq order, never the seed's rows, in pages that continue at the cursor")
    func pagesThroughTheLog() async throws {
        let directory = try ShortDirectory()
        let (store, stored) = try await Self.interleaved(directory)
        #expect(try store.counts().interactions == 8, "5 feedback events and 3 seed ratings")

        var pages: [KnowledgeStore.FeedbackPage] = []
        var cursor: Int64 = 0
        repeat {
            let page = try await store.feedbackEvents(after: cursor, limit: 2)
            pages.append(page)
            cursor = page.cursor
        } while pages.last?.hasMore == true && pages.count < 10
        #expect(pages.map(\.events.count) == [2, 2, 1])
        #expect(pages.map(\.hasMore) == [true, true, false])
        let events = pages.flatMap(\.events)
        #expect(events.map(\.event) == stored, "every field as stored, the event id included")
        let seqs = events.map(\.seq)
        #expect(seqs == seqs.sorted() && Set(seqs).count == seqs.count)
        #expect(seqs[2] - seqs[1] == 4, "the three seed rows between b and c are skipped")
        #expect(pages.map(\.cursor) == [seqs[1], seqs[3], seqs[4]])

        // From the middle: only what came after; past the end: nothing, the cursor stays put.
        let middle = try await store.feedbackEvents(after: seqs[1], limit: 100)
        #expect(middle.events.map(\.event.eventID) == ["c", "d", "e"])
        #expect(middle.hasMore == false)
        let end = try await store.feedbackEvents(after: seqs[4], limit: 100)
        #expect(end.events.isEmpty && end.cursor == seqs[4] && !end.hasMore)
        let beyond = try await store.feedbackEvents(after: 1_000_000, limit: 100)
        #expect(beyond.events.isEmpty && beyond.cursor == 1_000_000 && !beyond.hasMore)

        // Committed after a reader's last page: the next page from its cursor has it.
        _ = try await store.append([Self.event("f")])
        #expect(try await store.feedbackEvents(after: seqs[4], limit: 100).events.map(\.event.eventID) == ["f"])
    }

    @Test("a negative cursor or a limit below 1 is a bad request; a limit above the cap is taken as the cap")
    func badInput() async throws {
        let directory = try ShortDirectory()
        let store = try KnowledgeStore(path: directory.path + "/s.sqlite")
        await #expect(throws: StoreError(.badRequest, "")) { try await store.feedbackEvents(after: -1, limit: 10) }
        await #expect(throws: StoreError(.badRequest, "")) { try await store.feedbackEvents(after: 0, limit: 0) }
        await #expect(throws: StoreError(.badRequest, "")) { try await store.feedbackEvents(after: 0, limit: -5) }
        let cap = StoreRequest.feedbackPageLimit
        _ = try await store.append((0...cap).map { Self.event("e\($0)", user: "u\($0 % 7)") })
        let page = try await store.feedbackEvents(after: 0, limit: .max)
        #expect(page.events.count == cap)
        #expect(page.hasMore)
        let rest = try await store.feedbackEvents(after: page.cursor, limit: .max)
        #expect(rest.events.map(\.event.eventID) == ["e\(cap)"])
        #expect(!rest.hasMore)
    }

    @Test("the store agent answers feedback_after over its protocol; bad input gets a bad_request error, not a crash")
    func endpoint() async throws {
        let directory = try ShortDirectory()
        let (store, stored) = try await Self.interleaved(directory)
        let publisher = try Publisher()
        defer { publisher.close() }
        let log = Logger(label: "test")
        let endpoint = StoreEndpoint(store: store, committer: GroupCommitter(store: store, publisher: publisher, log: log), log: log)

        func ask(_ request: StoreRequest) async throws -> Envelope {
            let message = try Message(envelope: Envelope(type: .request, requestID: 7, payload: WireCodec.encode(request)))
            let answer = try #require(await endpoint.answer(message))
            return try answer.envelope()
        }
        // Absent cursor and limit: from the start, a full page.
        let whole = try await ask(StoreRequest(operation: .feedbackAfter))
        #expect(whole.type == .reply)
        let reply = try WireCodec.decode(StoreReply.self, from: whole.payload)
        #expect(reply.feedback?.map(\.event) == stored)
        #expect(reply.cursor == reply.feedback?.last?.seq)
        #expect(reply.hasMore == false)

        let paged = try WireCodec.decode(
            StoreReply.self, from: try await ask(StoreRequest(operation: .feedbackAfter, after: 0, limit: 2)).payload)
        #expect(paged.feedback?.map(\.event.eventID) == ["a", "b"])
        #expect(paged.hasMore == true)

        for bad in [
            StoreRequest(operation: .feedbackAfter, after: -3), StoreRequest(operation: .feedbackAfter, limit: 0),
            StoreRequest(operation: .feedbackAfter, after: .min, limit: .min),
        ] {
            let answer = try await ask(bad)
            #expect(answer.type == .error)
            let problem = try WireCodec.decode(ErrorReply.self, from: answer.payload)
            #expect(problem.code == StoreErrorCode.badRequest, "\(bad)")
        }
    }

    @Test("feedback_after and its pages travel in the binary form and as snake_case JSON; older messages keep their bytes")
    func wire() throws {
        let request = StoreRequest(operation: .feedbackAfter, after: 42, limit: 100)
        let bytes = try WireCodec.encode(request)
        #expect(bytes.first == 0xB7)
        #expect(try WireCodec.decode(StoreRequest.self, from: bytes) == request)
        for partial in [StoreRequest(operation: .feedbackAfter), StoreRequest(operation: .feedbackAfter, after: Int64.max)] {
            #expect(try WireCodec.decode(StoreRequest.self, from: WireCodec.encode(partial)) == partial)
        }
        let json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(request)) as? [String: Any]
        #expect(json?["operation"] as? String == "feedback_after")
        #expect(json?["after"] as? Int == 42)
        #expect(json?["limit"] as? Int == 100)
        // Requests always travel binary: JSON is refused with an error, never guessed at.
        #expect(throws: WireError.self) { try WireCodec.decode(StoreRequest.self, from: Array(JSONEncoder().encode(request))) }

        let page = StoreReply(
            feedback: [
                StoredFeedback(seq: 7, event: Self.event("a")),
                StoredFeedback(
                    seq: 1 << 40, event: FeedbackEvent(user: "ü", item: "i", event: "rating", value: 3.5, receivedAt: 0)),
            ], cursor: 1 << 40, hasMore: true)
        let pageBytes = try WireCodec.encode(page)
        #expect(pageBytes.first == 0xB7)
        #expect(try WireCodec.decode(StoreReply.self, from: pageBytes) == page)
        for cut in [4, pageBytes.count / 2, pageBytes.count - 1] {
            #expect(throws: (any Error).self) { try WireCodec.decode(StoreReply.self, from: Array(pageBytes.prefix(cut))) }
        }
        let empty = StoreReply(feedback: [], cursor: 9, hasMore: false)
        #expect(try WireCodec.decode(StoreReply.self, from: WireCodec.encode(empty)) == empty)
        let pageJSON = try JSONSerialization.jsonObject(with: JSONEncoder().encode(page)) as? [String: Any]
        #expect(pageJSON?["has_more"] as? Bool == true)
        #expect(pageJSON?["cursor"] as? Int == 1 << 40)
        let first = (pageJSON?["feedback"] as? [[String: Any]])?.first
        #expect(first?["seq"] as? Int == 7)
        #expect((first?["event"] as? [String: Any])?["event_id"] as? String == "a")
        #expect(try WireCodec.decode(StoreReply.self, from: Array(JSONEncoder().encode(page))) == page)

        // The wire form is pinned byte for byte, and a JSON answer without the optional fields
        // decodes (store answers other than appends travel as JSON).
        #expect(try WireCodec.encode(StoreRequest(operation: .counts)) == [0xB7, 1, 3, 6] + Array("counts".utf8) + [0])
        #expect(try WireCodec.encode(StoreReply(stored: 1, duplicates: 2)) == [0xB7, 1, 4, 2, 4, 0, 0])
        let older = try WireCodec.decode(StoreReply.self, from: Array(#"{"stored": 1, "duplicates": 0, "served": 0}"#.utf8))
        #expect(older == StoreReply(stored: 1))
        #expect(older.feedback == nil && older.cursor == nil && older.hasMore == nil)
        // Flags past the ones known are refused, not skipped.
        var unknown = try WireCodec.encode(StoreReply(stored: 1))
        unknown[unknown.count - 1] = 16
        #expect(throws: (any Error).self) { try WireCodec.decode(StoreReply.self, from: unknown) }
    }
}
