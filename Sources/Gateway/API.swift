import AgentProtocol
import Foundation
import HTTPTypes
import Hummingbird

/// The body of `POST /v1/recommend` (and of an NNG front request).
struct RecommendBody: Decodable {
    var user: String?
    var k: Int?
}

/// The answer to a recommendation, over HTTP and NNG alike.
struct RecommendResponse: Codable, Sendable {
    var items: [ScoredItem]
    var epoch: Int
    var degraded: [String]
    var requestID: String
    /// The arm of the live experiment that served it (`control` or `candidate`), when one runs.
    var arm: String? = nil
    var experiment: String? = nil

    enum CodingKeys: String, CodingKey {
        case items, epoch, degraded, arm, experiment
        case requestID = "request_id"
    }
}

extension RecommendResponse {
    /// The same JSON object `JSONEncoder` makes of it, written directly: one goes out per
    /// recommendation, and the encoder's boxing cost as much as the rest of the HTTP handler.
    /// A score that is not finite (JSON has no form for it) leaves it to the encoder, which
    /// refuses it.
    var json: [UInt8]? {
        guard items.allSatisfy({ $0.score.isFinite && ($0.sources?.values.allSatisfy(\.isFinite) ?? true) }) else {
            return (try? JSONEncoder().encode(self)).map(Array.init)
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(96 + items.count * 40)
        bytes.append(contentsOf: #"{"items":["#.utf8)
        for (index, item) in items.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            bytes.append(contentsOf: #"{"item":"#.utf8)
            JSONText.append(string: item.item, to: &bytes)
            bytes.append(contentsOf: #","score":"#.utf8)
            bytes.append(contentsOf: item.score.description.utf8)
            if let sources = item.sources {
                bytes.append(contentsOf: #","sources":{"#.utf8)
                for (position, source) in sources.sorted(by: { $0.key < $1.key }).enumerated() {
                    if position > 0 { bytes.append(UInt8(ascii: ",")) }
                    JSONText.append(string: source.key, to: &bytes)
                    bytes.append(UInt8(ascii: ":"))
                    bytes.append(contentsOf: source.value.description.utf8)
                }
                bytes.append(UInt8(ascii: "}"))
            }
            bytes.append(UInt8(ascii: "}"))
        }
        bytes.append(contentsOf: #"],"epoch":"#.utf8)
        bytes.append(contentsOf: String(epoch).utf8)
        bytes.append(contentsOf: #","degraded":["#.utf8)
        for (index, agent) in degraded.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            JSONText.append(string: agent, to: &bytes)
        }
        bytes.append(contentsOf: #"],"request_id":"#.utf8)
        JSONText.append(string: requestID, to: &bytes)
        if let arm {
            bytes.append(contentsOf: #","arm":"#.utf8)
            JSONText.append(string: arm, to: &bytes)
        }
        if let experiment {
            bytes.append(contentsOf: #","experiment":"#.utf8)
            JSONText.append(string: experiment, to: &bytes)
        }
        bytes.append(UInt8(ascii: "}"))
        return bytes
    }
}

/// The body of `POST /v1/feedback`: one event, or several under `events`.
struct FeedbackBody: Decodable {
    var user: String?
    var item: String?
    var event: String?
    var value: Double?
    var requestID: String?
    var eventID: String?
    var events: [FeedbackBody]?

    enum CodingKeys: String, CodingKey {
        case user, item, event, value, events
        case requestID = "request_id"
        case eventID = "event_id"
    }
}

/// The answer to `POST /v1/feedback`.
struct FeedbackAccepted: Encodable {
    var accepted: Bool
    /// True once the store has committed every event (false without a store in the topology).
    var stored: Bool
    /// Events that were already stored under their id (a resend).
    var duplicates: Int?
    /// The id of each event, in order (made by the gateway when the client sent none).
    var eventIDs: [String]?

    enum CodingKeys: String, CodingKey {
        case accepted, stored, duplicates
        case eventIDs = "event_ids"
    }

    /// The same JSON as `JSONEncoder` makes of it, written directly: this answer goes out once
    /// per post, and the encoder's boxing cost as much as the rest of the handler.
    var json: [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(48 + (eventIDs?.reduce(0) { $0 + $1.utf8.count + 3 } ?? 0))
        bytes.append(contentsOf: #"{"accepted":"#.utf8)
        bytes.append(contentsOf: (accepted ? "true" : "false").utf8)
        bytes.append(contentsOf: #","stored":"#.utf8)
        bytes.append(contentsOf: (stored ? "true" : "false").utf8)
        if let duplicates {
            bytes.append(contentsOf: #","duplicates":"#.utf8)
            bytes.append(contentsOf: String(duplicates).utf8)
        }
        if let eventIDs {
            bytes.append(contentsOf: #","event_ids":["#.utf8)
            for (index, id) in eventIDs.enumerated() {
                if index > 0 { bytes.append(UInt8(ascii: ",")) }
                JSONText.append(string: id, to: &bytes)
            }
            bytes.append(UInt8(ascii: "]"))
        }
        bytes.append(UInt8(ascii: "}"))
        return bytes
    }
}

/// An error as the client hears it: an HTTP status and the `{"error": {"code", "message"}}`
/// body. The one error the HTTP handlers throw; Hummingbird turns it into its response, and
/// the NNG front into an `ErrorReply` with the same code and message.
struct APIError: Error, Sendable, HTTPResponseError {
    var status: HTTPResponse.Status
    var code: String
    var message: String
    /// Sent as `Retry-After` (an overloaded gateway says when to come back).
    var retryAfterSeconds: Int?
    /// More headers of the answer (`WWW-Authenticate` on a 401).
    var headers: [(HTTPField.Name, String)] = []

    init(_ status: HTTPResponse.Status, _ code: String, _ message: String, retryAfterSeconds: Int? = nil) {
        self.status = status
        self.code = code
        self.message = message
        self.retryAfterSeconds = retryAfterSeconds
    }

    func body() -> [UInt8] {
        struct Wrapper: Encodable {
            struct Inner: Encodable {
                var code: String
                var message: String
            }
            var error: Inner
        }
        return (try? Array(JSONEncoder().encode(Wrapper(error: .init(code: code, message: message))))) ?? Array(#"{"error":{"code":"internal","message":"unencodable error"}}"#.utf8)
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        response
    }

    var response: Response {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let retryAfterSeconds { headers[.retryAfter] = String(retryAfterSeconds) }
        for (name, value) in self.headers { headers[name] = value }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body())))
    }

    func withHeader(_ name: HTTPField.Name, _ value: String) -> APIError {
        var error = self
        error.headers.append((name, value))
        return error
    }

    /// The error a response of Hummingbird's own (an unknown path, a wrong method) stands for.
    init(_ error: any HTTPResponseError) {
        let status = error.status
        let code = status == .notFound ? "not_found" : status == .methodNotAllowed ? "method_not_allowed" : "http_\(status.code)"
        self.init(status, code, status.reasonPhrase)
    }
}

/// Parsing and validation shared by the HTTP and NNG fronts. Messages name fields, never
/// echo values: they may hold user data.
enum Validation {
    /// The longest identifier (user, item, event and request ids), in characters.
    static let maximumIdentifierLength = 256
    static let kRange = 1...100

    static func decode<T: Decodable>(_ type: T.Type, from bytes: some Collection<UInt8>) throws(APIError) -> T {
        if bytes.isEmpty { throw APIError(400, "empty_body", "the request body is empty") }
        do {
            return try JSONDecoder().decode(type, from: Data(bytes))
        } catch let error as DecodingError {
            switch error {
            case .typeMismatch(_, let context), .valueNotFound(_, let context):
                if context.codingPath.isEmpty { throw APIError(400, "malformed_json", "the body must be a JSON object") }
                throw APIError(400, "invalid_field", "field \(path(context.codingPath)) has the wrong type")
            case .dataCorrupted(let context) where !context.codingPath.isEmpty:
                throw APIError(400, "invalid_field", "field \(path(context.codingPath)) is not valid")
            default:
                // JSONDecoder reports a number too large for its field without a coding path.
                if (try? JSONSerialization.jsonObject(with: Data(bytes))) is [String: Any] {
                    throw APIError(400, "invalid_field", "a field's value does not fit its type")
                }
                throw APIError(400, "malformed_json", "the body is not valid JSON")
            }
        } catch {
            throw APIError(400, "malformed_json", "the body is not valid JSON")
        }
    }

    /// - Returns: the user and k of a recommendation request (k defaults to 10).
    static func recommendation(from bytes: some Collection<UInt8>) throws(APIError) -> (user: String, k: Int) {
        let body = try decode(RecommendBody.self, from: bytes)
        let user = try identifier(body.user, field: "user")
        let k = body.k ?? 10
        guard kRange.contains(k) else {
            throw APIError(400, "k_out_of_range", "k must be between \(kRange.lowerBound) and \(kRange.upperBound)")
        }
        return (user, k)
    }

    /// The most events one `POST /v1/feedback` may carry.
    static let maximumBatch = 1000

    /// The events of a feedback body: one, or those under `events` (1…`maximumBatch`).
    static func feedbackEvents(from bytes: some Collection<UInt8>) throws(APIError) -> [FeedbackEvent] {
        // Most posts carry one flat event: read it directly (`JSONDecoder` was the largest cost
        // of the handler). Anything else, invalid input included, takes the decoder, so errors
        // and batches are handled exactly as before.
        if let body = bytes.withContiguousStorageIfAvailable(FlatFeedbackJSON.body) ?? nil { return [try feedback(body)] }
        let body = try decode(FeedbackBody.self, from: bytes)
        guard let batch = body.events else { return [try feedback(body)] }
        // Which was meant, the batch or the one event? Neither is guessed.
        guard body.user == nil, body.item == nil, body.event == nil else {
            throw APIError(400, "invalid_field", "a body holds either events or one event's fields, not both")
        }
        guard !batch.isEmpty else { throw APIError(400, "invalid_field", "events is empty") }
        guard batch.count <= maximumBatch else {
            throw APIError(400, "invalid_field", "events holds more than \(maximumBatch) events")
        }
        var events: [FeedbackEvent] = []
        for (index, entry) in batch.enumerated() {
            do {
                events.append(try feedback(entry))
            } catch {
                throw APIError(error.status, error.code, "events[\(index)]: \(error.message)")
            }
        }
        return events
    }

    static func feedback(from bytes: some Collection<UInt8>) throws(APIError) -> FeedbackEvent {
        try feedback(decode(FeedbackBody.self, from: bytes))
    }

    static func feedback(_ body: FeedbackBody) throws(APIError) -> FeedbackEvent {
        let user = try identifier(body.user, field: "user")
        let item = try identifier(body.item, field: "item")
        let value: Double
        switch body.event {
        case nil: throw APIError(400, "missing_field", "field event is required")
        case "click": value = body.value ?? 1
        case "rating":
            guard let rating = body.value else { throw APIError(400, "missing_field", "a rating needs a value") }
            value = rating
        default: throw APIError(400, "invalid_field", "event must be click or rating")
        }
        guard value.isFinite else { throw APIError(400, "invalid_field", "value must be a finite number") }
        if let requestID = body.requestID, requestID.unicodeScalars.count > maximumIdentifierLength {
            throw APIError(400, "invalid_field", "request_id is too long")
        }
        let eventID = try body.eventID.map { id throws(APIError) in try identifier(id, field: "event_id") }
        return FeedbackEvent(
            user: user, item: item, event: body.event!, value: value, requestID: body.requestID,
            receivedAt: UInt64(Date().timeIntervalSince1970 * 1000), eventID: eventID ?? UUID().uuidString
        )
    }

    private static func identifier(_ value: String?, field: String) throws(APIError) -> String {
        guard let value else { throw APIError(400, "missing_field", "field \(field) is required") }
        guard !value.isEmpty else { throw APIError(400, "invalid_field", "field \(field) is empty") }
        // Counted in Unicode scalars, as JSON Schema's maxLength counts (deploy/openapi.yaml).
        guard value.unicodeScalars.count <= maximumIdentifierLength else {
            throw APIError(400, "invalid_field", "field \(field) is longer than \(maximumIdentifierLength) characters")
        }
        return value
    }

    private static func path(_ codingPath: [any CodingKey]) -> String {
        codingPath.map(\.stringValue).joined(separator: ".")
    }
}

/// A reader for the common feedback body, a flat JSON object of strings and numbers, giving the
/// same `FeedbackBody` as `JSONDecoder` or nil whenever it is not sure to: invalid JSON, escapes
/// in strings, nested values (`events`), a known field of another type, a repeated field, a
/// number `Double` cannot hold. The caller then decodes with `JSONDecoder`.
enum FlatFeedbackJSON {
    static func body(_ bytes: UnsafeBufferPointer<UInt8>) -> FeedbackBody? {
        var reader = Reader(bytes: bytes)
        return reader.object()
    }

    private struct Reader {
        let bytes: UnsafeBufferPointer<UInt8>
        var offset = 0

        /// The field a key names, or nil for one `FeedbackBody` does not have.
        enum Field { case user, item, event, value, requestID, eventID, events }

        mutating func object() -> FeedbackBody? {
            var body = FeedbackBody()
            var seen = Set<String>()
            skipSpace()
            guard take(UInt8(ascii: "{")) else { return nil }
            skipSpace()
            if take(UInt8(ascii: "}")) { return end() ? body : nil }
            while true {
                skipSpace()
                guard let key = string() else { return nil }
                guard seen.insert(key).inserted else { return nil }
                skipSpace()
                guard take(UInt8(ascii: ":")) else { return nil }
                skipSpace()
                guard offset < bytes.count else { return nil }
                let field = Self.field(key)
                switch bytes[offset] {
                case UInt8(ascii: "\""):
                    guard let text = string() else { return nil }
                    switch field {
                    case .user: body.user = text
                    case .item: body.item = text
                    case .event: body.event = text
                    case .requestID: body.requestID = text
                    case .eventID: body.eventID = text
                    case .value, .events: return nil
                    case nil: break
                    }
                case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                    guard let number = number() else { return nil }
                    switch field {
                    case .value: body.value = number
                    case nil: break
                    default: return nil
                    }
                case UInt8(ascii: "n"):
                    // null: a missing value for every field (events: nil too, but the decoder says so).
                    guard literal("null"), field != .events else { return nil }
                case UInt8(ascii: "t"), UInt8(ascii: "f"):
                    guard field == nil, literal("true") || literal("false") else { return nil }
                default:
                    return nil
                }
                skipSpace()
                if take(UInt8(ascii: ",")) { continue }
                guard take(UInt8(ascii: "}")) else { return nil }
                return end() ? body : nil
            }
        }

        static func field(_ key: String) -> Field? {
            switch key {
            case "user": .user
            case "item": .item
            case "event": .event
            case "value": .value
            case "request_id": .requestID
            case "event_id": .eventID
            case "events": .events
            default: nil
            }
        }

        mutating func end() -> Bool {
            skipSpace()
            return offset == bytes.count
        }

        mutating func skipSpace() {
            while offset < bytes.count {
                switch bytes[offset] {
                case 0x20, 0x09, 0x0A, 0x0D: offset += 1
                default: return
                }
            }
        }

        mutating func take(_ byte: UInt8) -> Bool {
            guard offset < bytes.count, bytes[offset] == byte else { return false }
            offset += 1
            return true
        }

        mutating func literal(_ word: StaticString) -> Bool {
            let count = word.utf8CodeUnitCount
            guard bytes.count - offset >= count else { return false }
            for index in 0..<count where bytes[offset + index] != word.utf8Start[index] { return false }
            offset += count
            return true
        }

        /// A string without escapes or control characters, valid UTF-8.
        mutating func string() -> String? {
            guard take(UInt8(ascii: "\"")) else { return nil }
            let start = offset
            while offset < bytes.count {
                let byte = bytes[offset]
                if byte == UInt8(ascii: "\"") {
                    let text = String(validating: UnsafeBufferPointer(rebasing: bytes[start..<offset]), as: UTF8.self)
                    offset += 1
                    return text
                }
                if byte == UInt8(ascii: "\\") || byte < 0x20 { return nil }
                offset += 1
            }
            return nil
        }

        /// A number in JSON's grammar (`-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`), finite.
        mutating func number() -> Double? {
            let start = offset
            _ = take(UInt8(ascii: "-"))
            guard offset < bytes.count else { return nil }
            if bytes[offset] == UInt8(ascii: "0") {
                offset += 1
            } else if digits() == 0 {
                return nil
            }
            if take(UInt8(ascii: ".")), digits() == 0 { return nil }
            if offset < bytes.count, bytes[offset] | 0x20 == UInt8(ascii: "e") {
                offset += 1
                if !take(UInt8(ascii: "+")) { _ = take(UInt8(ascii: "-")) }
                if digits() == 0 { return nil }
            }
            guard let text = String(validating: UnsafeBufferPointer(rebasing: bytes[start..<offset]), as: UTF8.self),
                let value = Double(text), value.isFinite
            else { return nil }
            return value
        }

        mutating func digits() -> Int {
            let start = offset
            while offset < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[offset]) { offset += 1 }
            return offset - start
        }
    }
}
