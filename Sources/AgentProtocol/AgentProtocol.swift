/// # AgentProtocol
///
/// The contract between agentic's processes: what travels inside a transport `Envelope`
/// between the gateway, the agents and the coordinator, and where each process listens.
/// Payloads are encoded by `WireCodec`, so the encoding can change in one place.
///
/// - Decisions (req/rep, `MessageType.request` → `.reply` or `.error`): `DecisionRequest`
///   → `DecisionResponse`.
/// - Control (req/rep on the agent's control socket, `MessageType.control`):
///   `ControlRequest` → `ControlResponse`.
/// - Facts (pub/sub): the coordinator publishes `EpochAnnouncement` on topic `epoch`;
///   agents publish `Heartbeat` on topic `heartbeat`; stored feedback travels on `feedback`.
import Foundation

/// One scored item in a list.
public struct ScoredItem: Codable, Sendable, Equatable {
    public var item: String
    public var score: Double
    /// Optional per-route scores (route agent → its calibrated score of this item), filled by
    /// fusion for the learned ranker; absent from the JSON when nil, so older peers are unaffected.
    public var sources: [String: Double]?
    public init(item: String, score: Double, sources: [String: Double]? = nil) {
        self.item = item
        self.score = score
        self.sources = sources
    }
}

/// What one agent answered, as its successors receive it.
public struct AgentOutput: Codable, Sendable, Equatable {
    /// The agent's name in the topology.
    public var agent: String
    public var version: String
    public var items: [ScoredItem]
    /// A router's choice of segment ("cold", "light", "heavy"); nil for other agents.
    public var segment: String?
    public init(agent: String, version: String, items: [ScoredItem], segment: String? = nil) {
        self.agent = agent
        self.version = version
        self.items = items
        self.segment = segment
    }
}

/// A decision asked of one agent. Idempotent: NNG may deliver it twice.
public struct DecisionRequest: Codable, Sendable, Equatable {
    public var requestID: String
    public var user: String
    /// How many items the client wants at the end of the graph.
    public var k: Int
    /// The topology epoch the gateway executes.
    public var epoch: Int
    /// The outputs of this agent's predecessors in the graph (empty for the entry).
    public var inputs: [AgentOutput]
    public init(requestID: String, user: String, k: Int, epoch: Int, inputs: [AgentOutput] = []) {
        self.requestID = requestID
        self.user = user
        self.k = k
        self.epoch = epoch
        self.inputs = inputs
    }
}

/// An agent's answer to a `DecisionRequest`.
public typealias DecisionResponse = AgentOutput

/// Sent with `MessageType.error` instead of a reply: what went wrong, for the caller's log.
public struct ErrorReply: Codable, Sendable, Equatable {
    public var code: String
    public var message: String
    public init(code: String, message: String) {
        self.code = code
        self.message = message
    }
}

/// A control request on an agent's control socket.
public struct ControlRequest: Codable, Sendable, Equatable {
    public struct Command: RawRepresentable, Codable, Hashable, Sendable {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        /// Answer with `ControlResponse.health`.
        public static let health = Command(rawValue: "health")
        /// Answer with `ControlResponse.stats`.
        public static let stats = Command(rawValue: "stats")
        /// Answer with the current parameters (and, with `parameters` set, apply them first).
        public static let parameters = Command(rawValue: "parameters")
        /// Stop taking decisions, finish those in flight, then answer.
        public static let drain = Command(rawValue: "drain")
        /// Drain, answer, then exit.
        public static let stop = Command(rawValue: "stop")
    }
    public var command: Command
    /// New parameter values for `.parameters` (name → value as text, validated by the agent).
    public var parameters: [String: String]?
    public init(command: Command, parameters: [String: String]? = nil) {
        self.command = command
        self.parameters = parameters
    }
}

/// The state of one agent instance.
public struct AgentState: RawRepresentable, Codable, Hashable, Sendable {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public static let starting = AgentState(rawValue: "starting")
    public static let serving = AgentState(rawValue: "serving")
    public static let draining = AgentState(rawValue: "draining")
    public static let stopped = AgentState(rawValue: "stopped")
    public static let failed = AgentState(rawValue: "failed")
}

/// Counters an agent keeps about itself.
public struct AgentStats: Codable, Sendable, Equatable {
    public var served: Int
    public var failed: Int
    public var inFlight: Int
    public var latencyP50Microseconds: Double
    public var latencyP99Microseconds: Double
    public init(served: Int = 0, failed: Int = 0, inFlight: Int = 0, latencyP50Microseconds: Double = 0, latencyP99Microseconds: Double = 0) {
        self.served = served
        self.failed = failed
        self.inFlight = inFlight
        self.latencyP50Microseconds = latencyP50Microseconds
        self.latencyP99Microseconds = latencyP99Microseconds
    }
}

/// The answer to a `ControlRequest`.
public struct ControlResponse: Codable, Sendable, Equatable {
    public var agent: String
    public var instance: Int
    public var kind: String
    public var version: String
    public var pid: Int32
    public var state: AgentState
    public var epoch: Int
    public var stats: AgentStats
    public var parameters: [String: String]
    public init(agent: String, instance: Int, kind: String, version: String, pid: Int32, state: AgentState, epoch: Int, stats: AgentStats, parameters: [String: String]) {
        self.agent = agent
        self.instance = instance
        self.kind = kind
        self.version = version
        self.pid = pid
        self.state = state
        self.epoch = epoch
        self.stats = stats
        self.parameters = parameters
    }
}

/// Published by every agent instance once a second on topic `heartbeat`.
public struct Heartbeat: Codable, Sendable, Equatable {
    public var sequence: UInt64
    public var status: ControlResponse
    public init(sequence: UInt64, status: ControlResponse) {
        self.sequence = sequence
        self.status = status
    }
}

/// Published by the coordinator on topic `epoch` whenever the topology changes.
public struct EpochAnnouncement: Codable, Sendable, Equatable {
    public var epoch: Int
    /// The topology file of this epoch.
    public var topologyPath: String
    public init(epoch: Int, topologyPath: String) {
        self.epoch = epoch
        self.topologyPath = topologyPath
    }
}

/// Feedback on a served item as the gateway accepted it (`POST /v1/feedback`). With a store in
/// the topology, the store agent publishes it on topic `feedback` (a `MessageType.feedback`
/// envelope, each commit's events together in a `FeedbackBatch`) once it has committed it;
/// without one the gateway publishes it unstored.
public struct FeedbackEvent: Codable, Sendable, Equatable {
    /// The event's id (`event_id`): a resent event with the same id is stored once. The gateway
    /// makes one when the client sends none.
    public var eventID: String?
    public var user: String
    public var item: String
    /// `click` or `rating`.
    public var event: String
    /// 1 for a click unless given; the rating for a rating.
    public var value: Double
    /// The `request_id` of the recommendation that served the item, if the client sent it.
    public var requestID: String?
    /// Milliseconds since the Unix epoch when the gateway accepted it.
    public var receivedAt: UInt64

    enum CodingKeys: String, CodingKey {
        case user, item, event, value
        case eventID = "event_id"
        case requestID = "request_id"
        case receivedAt = "received_at"
    }

    public init(
        user: String, item: String, event: String, value: Double, requestID: String? = nil, receivedAt: UInt64,
        eventID: String? = nil
    ) {
        self.eventID = eventID
        self.user = user
        self.item = item
        self.event = event
        self.value = value
        self.requestID = requestID
        self.receivedAt = receivedAt
    }
}

extension FeedbackEvent {
    /// The event as JSON, the same object `JSONEncoder` makes of it, written directly: the
    /// store publishes every stored event, and the encoder cost more than the insert. A value
    /// that is not finite (never stored) goes through `JSONEncoder`, which refuses it.
    public var json: [UInt8] {
        guard value.isFinite else { return (try? Array(JSONEncoder().encode(self))) ?? [] }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(96 + user.utf8.count + item.utf8.count + (eventID?.utf8.count ?? 0))
        bytes.append(UInt8(ascii: "{"))
        if let eventID {
            bytes.append(contentsOf: #""event_id":"#.utf8)
            JSONText.append(string: eventID, to: &bytes)
            bytes.append(UInt8(ascii: ","))
        }
        bytes.append(contentsOf: #""user":"#.utf8)
        JSONText.append(string: user, to: &bytes)
        bytes.append(contentsOf: #","item":"#.utf8)
        JSONText.append(string: item, to: &bytes)
        bytes.append(contentsOf: #","event":"#.utf8)
        JSONText.append(string: event, to: &bytes)
        bytes.append(contentsOf: #","value":"#.utf8)
        bytes.append(contentsOf: value.description.utf8)
        if let requestID {
            bytes.append(contentsOf: #","request_id":"#.utf8)
            JSONText.append(string: requestID, to: &bytes)
        }
        bytes.append(contentsOf: #","received_at":"#.utf8)
        bytes.append(contentsOf: String(receivedAt).utf8)
        bytes.append(UInt8(ascii: "}"))
        return bytes
    }
}

/// JSON text written by hand, for messages sent so often that `JSONEncoder` showed in profiles.
public enum JSONText {
    /// Appends `string` as a JSON string literal: quotes, backslashes and control characters
    /// escaped, everything else (UTF-8 included) as is.
    public static func append(string: String, to bytes: inout [UInt8]) {
        bytes.append(UInt8(ascii: "\""))
        for byte in string.utf8 {
            switch byte {
            case UInt8(ascii: "\""): bytes.append(contentsOf: #"\""#.utf8)
            case UInt8(ascii: "\\"): bytes.append(contentsOf: #"\\"#.utf8)
            case 0x0A: bytes.append(contentsOf: #"\n"#.utf8)
            case 0x0D: bytes.append(contentsOf: #"\r"#.utf8)
            case 0x09: bytes.append(contentsOf: #"\t"#.utf8)
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                bytes.append(contentsOf: #"\u00"#.utf8)
                bytes.append(hex[Int(byte >> 4)])
                bytes.append(hex[Int(byte & 0x0F)])
            default: bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }
}

/// Pub/sub topic names.
public enum Topics {
    public static let epoch = "epoch"
    public static let heartbeat = "heartbeat"
    public static let feedback = "feedback"
}

/// Where each process of a run listens. ipc paths stay short: a Unix socket path is
/// limited to 107 bytes, so the run directory itself should be short (e.g. under /tmp).
public struct RunLayout: Sendable, Equatable {
    public var runDirectory: String
    public init(runDirectory: String) { self.runDirectory = runDirectory }

    /// Decision socket of one instance (`replica` from 0).
    public func decisionAddress(agent: String, replica: Int) -> String { "ipc://\(runDirectory)/s/\(agent).\(replica).d" }
    /// Control socket of one instance.
    public func controlAddress(agent: String, replica: Int) -> String { "ipc://\(runDirectory)/s/\(agent).\(replica).c" }
    /// Decision socket of one instance of `version` of an agent: version "1" (the default) keeps
    /// the plain `NAME.REPLICA.d`, any other is `NAME~VERSION.REPLICA.d`, so the processes of two
    /// versions of an agent can serve side by side while a swap moves traffic between them.
    public func decisionAddress(agent: String, version: String, replica: Int) -> String {
        decisionAddress(agent: Self.versioned(agent, version), replica: replica)
    }
    /// Control socket of one instance of `version` of an agent (see `decisionAddress(agent:version:replica:)`).
    public func controlAddress(agent: String, version: String, replica: Int) -> String {
        controlAddress(agent: Self.versioned(agent, version), replica: replica)
    }
    private static func versioned(_ agent: String, _ version: String) -> String {
        guard version != "1" else { return agent }
        // A version is free text: keep only what is safe in a file name.
        let safe = version.unicodeScalars.map { scalar -> Character in
            switch scalar {
            case "a"..."z", "A"..."Z", "0"..."9", ".", "-", "_": Character(scalar)
            default: "_"
            }
        }
        return "\(agent)~\(String(safe))"
    }
    /// The coordinator's publisher (epochs); agents and the gateway dial it.
    public var coordinatorEvents: String { "ipc://\(runDirectory)/s/coordinator.pub" }
    /// The gateway's publisher (feedback as accepted, topic `feedback`); the store agent dials it.
    public var gatewayEvents: String { "ipc://\(runDirectory)/s/gateway.pub" }
    /// A store agent instance's req/rep socket (`StoreRequest` → `StoreReply`).
    public func storeAddress(agent: String, replica: Int) -> String { "ipc://\(runDirectory)/s/\(agent).\(replica).st" }
    /// A store agent instance's publisher: each feedback event once committed, topic `feedback`.
    public func storeEvents(agent: String, replica: Int) -> String { "ipc://\(runDirectory)/s/\(agent).\(replica).sp" }
    /// The topology serving now, rewritten by the coordinator at every epoch.
    public var topologyFile: String { "\(runDirectory)/topology.yaml" }
    /// Where the coordinator keeps every epoch's topology (`epoch-N.yaml`) and the journal.
    public var historyDirectory: String { "\(runDirectory)/history" }
    /// The coordinator's subscriber (heartbeats); agents dial it with a publisher.
    public var heartbeats: String { "ipc://\(runDirectory)/s/heartbeats.sub" }
    /// The directory holding the socket files.
    public var socketDirectory: String { "\(runDirectory)/s" }
}

/// Encodes and decodes the payloads above. The data plane (`DecisionRequest`, `AgentOutput`)
/// travels in the compact binary form of `BinaryWire`, which decodes several times faster than
/// JSON for the candidate lists agents pass along, and so do requests to the store and the
/// answers to appends; control, heartbeat and the other store answers stay JSON, readable in a
/// capture (a `FeedbackEvent` is JSON too, written without `JSONEncoder`). Every process runs
/// the same executable, so a type that always travels binary is refused as JSON.
public enum WireCodec {
    public static func encode(_ value: some Encodable) throws -> [UInt8] {
        if let request = value as? DecisionRequest { return BinaryWire.encode(request) }
        if let output = value as? AgentOutput { return BinaryWire.encode(output) }
        // Feedback appends carry every event a gateway coalesced, served-list logs every list
        // served; their JSON coding was most of the gateway's and the store's cost per event.
        if let request = value as? StoreRequest { return BinaryWire.encode(request) }
        if let reply = value as? StoreReply, let bytes = BinaryWire.encode(reply) { return bytes }
        if let event = value as? FeedbackEvent { return event.json }
        return Array(try JSONEncoder().encode(value))
    }

    /// Decodes a payload in the form its type travels in; a malformed or truncated payload, or
    /// one in the other form, throws (`WireError` for the binary form, `DecodingError` for
    /// JSON), it never traps.
    public static func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8]) throws -> T {
        if BinaryWire.isBinary(bytes) {
            if T.self == DecisionRequest.self, let value = try BinaryWire.decodeRequest(bytes) as? T { return value }
            if T.self == AgentOutput.self, let value = try BinaryWire.decodeOutput(bytes) as? T { return value }
            if T.self == StoreRequest.self, let value = try BinaryWire.decodeStoreRequest(bytes) as? T { return value }
            if T.self == StoreReply.self, let value = try BinaryWire.decodeStoreReply(bytes) as? T { return value }
            throw WireError("a binary payload for \(T.self), which only travels as JSON")
        }
        if T.self == DecisionRequest.self || T.self == AgentOutput.self || T.self == StoreRequest.self {
            throw WireError("a \(T.self) travels in the binary form (first byte 0xB7), not as JSON")
        }
        return try JSONDecoder().decode(type, from: Data(bytes))
    }
}
