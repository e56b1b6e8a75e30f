import AgentProtocol
import Foundation
import Testing
@testable import Gateway
import GatewayAPI

/// The gateway's hand-written JSON on the feedback path must say exactly what `JSONDecoder` and
/// `JSONEncoder` would.
@Suite("Feedback JSON")
struct FeedbackBodyTests {
    private static func fields(_ body: FeedbackBody) -> [String?] {
        [body.user, body.item, body.event, body.value.map { "\($0)" }, body.requestID, body.eventID, body.events.map { "\($0.count)" }]
    }

    @Test("the flat reader gives JSONDecoder's body, or leaves the body to it")
    func flatReader() throws {
        let read: [String] = [
            #"{"event_id":"a-1","user":"u1","item":"i1","event":"click"}"#,
            #" { "user" : "u" , "item":"i", "event":"rating", "value": 4 } "#,
            "{\n\t\"user\":\"é🎬\",\r\n\"item\":\"i\",\"event\":\"click\",\"value\":-0.5e-3,\"request_id\":\"r\"}",
            #"{"user":"u","item":"i","event":"click","value":1E2,"extra":true,"more":null,"n":12}"#,
            #"{"user":null,"item":"i","event":"click"}"#,
            #"{}"#,
            #"{"value":0}"#,
            #"{"value":123456789012345678901234567890}"#,
        ]
        for text in read {
            let bytes = Array(text.utf8)
            let flat = try #require(bytes.withUnsafeBufferPointer(FlatFeedbackJSON.body), "\(text)")
            let decoded = try JSONDecoder().decode(FeedbackBody.self, from: Data(bytes))
            #expect(Self.fields(flat) == Self.fields(decoded), "\(text)")
        }
        let declined: [String] = [
            #"{"events":[{"user":"u","item":"i","event":"click"}]}"#, #"{"events":null}"#,
            #"{"user":"a\"b","item":"i","event":"click"}"#, #"{"user":"\u0041","item":"i"}"#,
            #"{"user":5,"item":"i"}"#, #"{"value":"4"}"#, #"{"value":true}"#, #"{"value":1e400}"#,
            #"{"user":"a","user":"b"}"#, #"{"user":"u",}"#, #"{"user":"u"} x"#, #"{"user":"u""#, "",
            #"{"value":01}"#, #"{"value":1.}"#, #"{"value":.5}"#, #"{"value":+1}"#, #"{"value":-}"#,
            #"{"nested":{"a":1}}"#, #"{"list":[1]}"#, #"["user"]"#, "{\"user\":\"a\u{01}\"}", #"{"user":nul}"#,
        ]
        for text in declined {
            #expect(Array(text.utf8).withUnsafeBufferPointer(FlatFeedbackJSON.body) == nil, "\(text)")
        }
        // Invalid UTF-8 in a string is left to the decoder too.
        let invalid: [UInt8] = Array(#"{"user":""#.utf8) + [0xFF] + Array(#"","item":"i"}"#.utf8)
        #expect(invalid.withUnsafeBufferPointer(FlatFeedbackJSON.body) == nil)
    }

    @Test("what the flat reader declines still gets the decoder's error codes")
    func errorsUnchanged() {
        for (text, code) in [
            (#"{"user":5,"item":"i","event":"click"}"#, "invalid_field"), ("{not json", "malformed_json"),
            (#"{"user":"u","event":"click"}"#, "missing_field"), (#"{"user":"u","item":"i","event":"buy"}"#, "invalid_field"),
        ] {
            #expect(throws: APIError.self) { try Validation.feedbackEvents(from: Array(text.utf8)) }
            do throws(APIError) {
                _ = try Validation.feedbackEvents(from: Array(text.utf8))
            } catch {
                #expect(error.code == code, "\(text)")
            }
        }
        let events = try? Validation.feedbackEvents(from: Array(#"{"user":"u","item":"i","event":"rating","value":3.5,"event_id":"e"}"#.utf8))
        #expect(events?.first?.value == 3.5)
        #expect(events?.first?.eventID == "e")
    }

    @Test("the feedback answer's hand-written JSON is JSONEncoder's object")
    func answer() throws {
        for answer in [
            FeedbackAccepted(accepted: true, stored: true, duplicates: 2, eventIDs: ["a", "q\"b\\c\n\u{02}", "é"]),
            FeedbackAccepted(accepted: true, stored: false, eventIDs: []),
            FeedbackAccepted(accepted: false, stored: false),
        ] {
            let hand = try JSONSerialization.jsonObject(with: Data(answer.json)) as? NSDictionary
            let encoder = try JSONSerialization.jsonObject(with: JSONEncoder().encode(answer)) as? NSDictionary
            #expect(hand == encoder)
        }
        #expect(String(decoding: FeedbackAccepted(accepted: true, stored: true, duplicates: 0, eventIDs: ["x"]).json, as: UTF8.self)
            .contains(#""stored":true"#))
    }

    @Test("a sender waits for as many posts as there were clients, less those in flight; a lone client never waits")
    func postQueue() {
        var queue = PostQueue<Int>()
        let one: (Int) -> Int = { _ in 1 }
        let started = queue.add(1)
        #expect(started, "the first post starts a sender")
        #expect(queue.gatherTarget <= 1, "nothing known yet: no wait")
        let first = queue.take(upTo: 1000, size: one)
        #expect(first == [1])
        queue.finished(posts: 1, roundTrip: .milliseconds(4))
        #expect(queue.gatherTarget <= 1, "one client: no wait")
        let none = queue.take(upTo: 1000, size: one)
        #expect(none.isEmpty, "nothing pending: the sender stops")
        // Three clients post while the store is busy.
        let (a, b, c) = (queue.add(1), queue.add(2), queue.add(3))
        #expect(a && b && !c, "two senders at most")
        let three = queue.take(upTo: 1000, size: one)
        #expect(three == [1, 2, 3])
        #expect(queue.clients == 3)
        #expect(queue.gatherTarget == 0, "all three are in flight")
        queue.finished(posts: 3, roundTrip: .milliseconds(4))
        #expect(queue.gatherTarget == 3)
        #expect(queue.gatherWait == .milliseconds(1), "half the round trip, at most 1 ms")
        queue.finished(posts: 0, roundTrip: .microseconds(600))
        #expect(queue.gatherWait == .microseconds(300))
        // Events, not posts, bound an append.
        _ = queue.add(10)
        _ = queue.add(20)
        let small = queue.take(upTo: 25, size: { $0 })
        let rest = queue.take(upTo: 25, size: { $0 })
        #expect(small == [10])
        #expect(rest == [20])
    }
}

/// The recommend answer is written without `JSONEncoder`: it must say what the encoder says.
@Suite("Recommend answer JSON")
struct RecommendAnswerJSONTests {
    @Test("the hand-written answer is the encoder's object, and a score JSON cannot hold is refused")
    func sameAsEncoder() throws {
        let tricky = "quote\" back\\ nl\n bell\u{07} é 🎬 a/b"
        let answers = [
            RecommendResponse(items: [], epoch: 0, degraded: [], requestID: "0123456789abcdef"),
            RecommendResponse(
                items: [
                    ScoredItem(item: "50", score: 0.1), ScoredItem(item: tricky, score: -4.5e-7),
                    ScoredItem(item: "7", score: 1e300, sources: ["ease": 0.5, "a\"b": -2]),
                    ScoredItem(item: "8", score: 3, sources: [:]),
                ],
                epoch: 12, degraded: ["content", tricky], requestID: "r", arm: "candidate", experiment: "exp-1"),
        ]
        for answer in answers {
            let bytes = try #require(answer.json)
            let viaHand = try JSONSerialization.jsonObject(with: Data(bytes)) as? NSDictionary
            let viaEncoder = try JSONSerialization.jsonObject(with: JSONEncoder().encode(answer)) as? NSDictionary
            #expect(viaHand != nil)
            #expect(viaHand == viaEncoder)
            let decoded = try JSONDecoder().decode(RecommendResponse.self, from: Data(bytes))
            #expect(decoded.items == answer.items)
            #expect(decoded.degraded == answer.degraded)
        }
        let infinite = RecommendResponse(items: [ScoredItem(item: "1", score: .infinity)], epoch: 0, degraded: [], requestID: "r")
        #expect(infinite.json == nil)
    }
}
