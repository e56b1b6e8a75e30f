/// The gateway's HTTP API as data: the JSON bodies it reads and writes, its errors, and the
/// validation both fronts (HTTP and NNG) share. Apart from the server (Hummingbird) so that the
/// fuzz targets and tests reach it without one.
package import AgentProtocol
import Foundation

/// The body of `POST /v1/recommend` (and of an NNG front request).
package struct RecommendBody: Decodable {
    package var user: String?
    package var k: Int?
}

/// The answer to a recommendation, over HTTP and NNG alike.
package struct RecommendResponse: Codable, Sendable, Equatable {
    package var items: [ScoredItem]
    package var epoch: Int
    package var degraded: [String]
    package var requestID: String
    /// The arm of the live experiment that served it (`control` or `candidate`), when one runs.
    package var arm: String? = nil
    package var experiment: String? = nil

    package init(items: [ScoredItem], epoch: Int, degraded: [String], requestID: String, arm: String? = nil, experiment: String? = nil) {
        (self.items, self.epoch, self.degraded, self.requestID, self.arm, self.experiment) = (items, epoch, degraded, requestID, arm, experiment)
    }

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
    package var json: [UInt8]? {
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
package struct FeedbackBody: Decodable {
    package var user: String?
    package var item: String?
    package var event: String?
    package var value: Double?
    package var requestID: String?
    package var eventID: String?
    package var events: [FeedbackBody]?

    enum CodingKeys: String, CodingKey {
        case user, item, event, value, events
        case requestID = "request_id"
        case eventID = "event_id"
    }
}

/// The answer to `POST /v1/feedback`.
package struct FeedbackAccepted: Encodable {
    package var accepted: Bool
    /// True once the store has committed every event (false without a store in the topology).
    package var stored: Bool
    /// Events that were already stored under their id (a resend).
    package var duplicates: Int?
    /// The id of each event, in order (made by the gateway when the client sent none).
    package var eventIDs: [String]?

    package init(accepted: Bool, stored: Bool, duplicates: Int? = nil, eventIDs: [String]? = nil) {
        (self.accepted, self.stored, self.duplicates, self.eventIDs) = (accepted, stored, duplicates, eventIDs)
    }

    enum CodingKeys: String, CodingKey {
        case accepted, stored, duplicates
        case eventIDs = "event_ids"
    }

    /// The same JSON as `JSONEncoder` makes of it, written directly: this answer goes out once
    /// per post, and the encoder's boxing cost as much as the rest of the handler.
    package var json: [UInt8] {
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
