package import AgentProtocol
import Foundation

/// Parsing and validation shared by the HTTP and NNG fronts. Messages name fields, never
/// echo values: they may hold user data.
package enum Validation {
    /// The longest identifier (user, item, event and request ids), in characters.
    package static let maximumIdentifierLength = 256
    package static let kRange = 1...100

    package static func decode<T: Decodable>(_ type: T.Type, from bytes: some Collection<UInt8>) throws(APIError) -> T {
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
    package static func recommendation(from bytes: some Collection<UInt8>) throws(APIError) -> (user: String, k: Int) {
        let body = try decode(RecommendBody.self, from: bytes)
        let user = try identifier(body.user, field: "user")
        let k = body.k ?? 10
        guard kRange.contains(k) else {
            throw APIError(400, "k_out_of_range", "k must be between \(kRange.lowerBound) and \(kRange.upperBound)")
        }
        return (user, k)
    }

    /// The most events one `POST /v1/feedback` may carry.
    package static let maximumBatch = 1000

    /// The events of a feedback body: one, or those under `events` (1…`maximumBatch`).
    package static func feedbackEvents(from bytes: some Collection<UInt8>) throws(APIError) -> [FeedbackEvent] {
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

    package static func feedback(from bytes: some Collection<UInt8>) throws(APIError) -> FeedbackEvent {
        try feedback(decode(FeedbackBody.self, from: bytes))
    }

    package static func feedback(_ body: FeedbackBody) throws(APIError) -> FeedbackEvent {
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
