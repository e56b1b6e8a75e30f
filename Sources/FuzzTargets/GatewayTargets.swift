import AgentProtocol
import Foundation
import GatewayAPI

enum RequestTarget {
    static func run(_ bytes: [UInt8]) {
        do {
            let (user, k) = try Validation.recommendation(from: bytes)
            guard !user.isEmpty, Validation.kRange.contains(k) else { violated("a recommendation request passed with a bad user or k") }
        } catch {
            guard error.status.code == 400 else { violated("a bad recommendation body is \(error.status.code), not 400") }
        }
        do {
            let events = try Validation.feedbackEvents(from: bytes)
            guard (1...Validation.maximumBatch).contains(events.count) else { violated("feedback batch size \(events.count)") }
            for event in events where event.user.isEmpty || event.item.isEmpty || !event.value.isFinite {
                violated("a feedback event passed with an empty id or a value that is not finite")
            }
        } catch {
            guard error.status.code == 400 else { violated("a bad feedback body is \(error.status.code), not 400") }
        }
        // The flat reader may decline anything, but what it reads must be what JSONDecoder reads.
        guard let flat = bytes.withUnsafeBufferPointer(FlatFeedbackJSON.body) else { return }
        guard let decoded = try? JSONDecoder().decode(FeedbackBody.self, from: Data(bytes)) else {
            violated("the flat reader read a body JSONDecoder refuses")
        }
        guard fields(flat) == fields(decoded) else { violated("the flat reader and JSONDecoder disagree") }
    }

    static func fields(_ body: FeedbackBody) -> [String?] {
        [body.user, body.item, body.event, body.value.map { "\($0)" }, body.requestID, body.eventID, body.events.map { "\($0.count)" }]
    }
}

/// Builds a response from the bytes (strings cut at 0 bytes, scores from 8 bytes at a time) and
/// checks the gateway's own JSON against what `JSONEncoder` makes of the same value.
enum ResponseTarget {
    static func run(_ bytes: [UInt8]) {
        var reader = Reader(bytes: bytes)
        var items: [ScoredItem] = []
        let count = Int(reader.byte() % 8)
        for _ in 0..<count {
            let item = reader.string()
            let score = reader.double()
            var sources: [String: Double]? = nil
            if reader.byte() & 1 == 1 {
                sources = [:]
                for _ in 0..<Int(reader.byte() % 3) { sources?[reader.string()] = reader.double() }
            }
            items.append(ScoredItem(item: item, score: score, sources: sources))
        }
        let flags = reader.byte()
        let response = RecommendResponse(
            items: items, epoch: Int(reader.byte()), degraded: flags & 1 == 1 ? [reader.string()] : [], requestID: reader.string(),
            arm: flags & 2 == 2 ? reader.string() : nil, experiment: flags & 4 == 4 ? reader.string() : nil)
        guard let written = response.json else {
            // Only a score JSON cannot hold makes the writer give up, and then the encoder too.
            guard (try? JSONEncoder().encode(response)) == nil else { violated("the writer gave up on a response JSONEncoder encodes") }
            return
        }
        guard let decoded = try? JSONDecoder().decode(RecommendResponse.self, from: Data(written)) else {
            violated("the response writer wrote JSON that does not decode")
        }
        guard let reference = try? JSONEncoder().encode(response),
            let expected = try? JSONDecoder().decode(RecommendResponse.self, from: reference),
            decoded == expected
        else { violated("the response writer and JSONEncoder disagree") }
    }

    struct Reader {
        let bytes: [UInt8]
        var offset = 0
        mutating func byte() -> UInt8 {
            guard offset < bytes.count else { return 0 }
            defer { offset += 1 }
            return bytes[offset]
        }
        mutating func string() -> String {
            let start = offset
            while offset < bytes.count, bytes[offset] != 0 { offset += 1 }
            defer { offset = min(offset + 1, bytes.count) }
            return String(decoding: bytes[start..<offset], as: UTF8.self)
        }
        mutating func double() -> Double {
            var bits: UInt64 = 0
            for _ in 0..<8 { bits = bits << 8 | UInt64(byte()) }
            return Double(bitPattern: bits)
        }
    }
}
