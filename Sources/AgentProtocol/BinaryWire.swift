import Foundation

/// The compact binary form of the data-plane payloads (`DecisionRequest`, `AgentOutput`) and of
/// the requests to the store (feedback appends, served-list logs, pages of the feedback log)
/// and the answers to appends and pages (`StoreRequest`, `StoreReply`: kinds 3 and 4, laid out
/// at their encoders).
///
/// Every hop of a decision carries its predecessors' lists (fusion gets ~1,200 candidates on
/// MovieLens), and JSON coding of those was the largest share of the gateway's and the agents'
/// CPU. This form is a length-prefixed walk of the fields:
///
///     magic 0xB7, version 1, kind (1 = DecisionRequest, 2 = AgentOutput), body
///     DecisionRequest: str requestID, str user, int k, int epoch, uint count, count × AgentOutput body
///     AgentOutput:     str agent, str version, u8 flags (bit 0: segment follows), [str segment],
///                      uint count, count × item
///     item:            str item, f64 score, u8 flags (bit 0: sources follow),
///                      [uint count, count × (str route, f64 score)]
///     str = uint byte count + UTF-8; uint = LEB128; int = zigzag LEB128; f64 = IEEE 754 bits, little endian
///
/// JSON never starts with the magic byte (it starts with `{` or white space), so a decoder tells
/// the two apart by the first byte (and refuses JSON for these types).
/// Decoding trusts nothing: every length and count is checked against the bytes present before
/// anything is allocated, and trailing bytes are an error.
enum BinaryWire {
    static let magic: UInt8 = 0xB7
    static let version: UInt8 = 1
    static let requestKind: UInt8 = 1
    static let outputKind: UInt8 = 2

    static let storeRequestKind: UInt8 = 3
    static let storeReplyKind: UInt8 = 4

    static func isBinary(_ bytes: [UInt8]) -> Bool { bytes.first == magic }

    // MARK: Encoding

    static func encode(_ request: DecisionRequest) -> [UInt8] {
        var writer = Writer(capacity: 64 + request.inputs.reduce(0) { $0 + estimate($1) })
        writer.header(kind: requestKind)
        writer.string(request.requestID)
        writer.string(request.user)
        writer.signed(request.k)
        writer.signed(request.epoch)
        writer.unsigned(UInt64(request.inputs.count))
        for input in request.inputs { writer.output(input) }
        return writer.bytes
    }

    static func encode(_ output: AgentOutput) -> [UInt8] {
        var writer = Writer(capacity: 8 + estimate(output))
        writer.header(kind: outputKind)
        writer.output(output)
        return writer.bytes
    }

    /// A `StoreRequest` (every one of them: a feedback append, a served-list log, or an
    /// operation without data):
    ///
    ///     str operation, u8 flags (bit 0: events, bit 1: groups, bit 2: served lists, bit 3: after,
    ///     bit 4: limit), [uint count, count × event], [uint count, count × uint size],
    ///     [uint count, count × list], [int after], [int limit]
    ///     event: u8 flags (bit 0: event id, bit 1: request id), [str eventID], str user, str item,
    ///            str event, f64 value, [str requestID], uint receivedAt
    ///     list:  str requestID, str user, int epoch, uint servedAt, uint count × (str item, f64 score,
    ///            uint count × str source), uint count × str pipeline agent,
    ///            u8 flags (bit 0: propensity, bit 1: experiment), [f64 propensity], [str experiment]
    ///
    /// Every served list goes to the store (about ten items with their sources each), and
    /// its JSON coding was a fifth of the store's CPU per recommendation and the largest part of
    /// the gateway's own work besides the graph.
    static func encode(_ request: StoreRequest) -> [UInt8] {
        let events = request.events ?? []
        let served = request.served ?? []
        var writer = Writer(capacity: 16 + events.count * 96 + served.count * 480)
        writer.header(kind: storeRequestKind)
        writer.string(request.operation.rawValue)
        writer.bytes.append(
            (request.events == nil ? 0 : 1) | (request.groups == nil ? 0 : 2) | (request.served == nil ? 0 : 4)
                | (request.after == nil ? 0 : 8) | (request.limit == nil ? 0 : 16))
        if request.events != nil {
            writer.unsigned(UInt64(events.count))
            for event in events { writer.event(event) }
        }
        if let groups = request.groups {
            writer.unsigned(UInt64(groups.count))
            for size in groups { writer.signed(size) }
        }
        if request.served != nil {
            writer.unsigned(UInt64(served.count))
            for list in served { writer.served(list) }
        }
        if let after = request.after { writer.signed(Int(after)) }
        if let limit = request.limit { writer.signed(limit) }
        return writer.bytes
    }

    /// An append's answer or a page of the feedback log (`StoreReply` without counts or report;
    /// nil for any other):
    ///
    ///     int stored, int duplicates, int served,
    ///     u8 flags (bit 0: groups, bit 1: feedback, bit 2: cursor, bit 3: hasMore),
    ///     [uint count, count × group], [uint count, count × (int seq, event)], [int cursor], [u8 hasMore]
    ///     group: int stored, int duplicates, u8 flags (bit 0: error, bit 1: message), [str], [str]
    ///
    /// A page holds up to `StoreRequest.feedbackPageLimit` events and an agent reads every page
    /// at start, before it serves: in JSON that coding would be most of the wait. An append's
    /// answer has no bit above 0, so its bytes are what they were.
    static func encode(_ reply: StoreReply) -> [UInt8]? {
        guard reply.counts == nil, reply.report == nil else { return nil }
        var writer = Writer(capacity: 16 + (reply.groups?.count ?? 0) * 4 + (reply.feedback?.count ?? 0) * 96)
        writer.header(kind: storeReplyKind)
        writer.signed(reply.stored)
        writer.signed(reply.duplicates)
        writer.signed(reply.served)
        writer.bytes.append(
            (reply.groups == nil ? 0 : 1) | (reply.feedback == nil ? 0 : 2) | (reply.cursor == nil ? 0 : 4)
                | (reply.hasMore == nil ? 0 : 8))
        if let groups = reply.groups {
            writer.unsigned(UInt64(groups.count))
            for group in groups {
                writer.signed(group.stored)
                writer.signed(group.duplicates)
                writer.bytes.append((group.error == nil ? 0 : 1) | (group.message == nil ? 0 : 2))
                if let error = group.error { writer.string(error) }
                if let message = group.message { writer.string(message) }
            }
        }
        if let feedback = reply.feedback {
            writer.unsigned(UInt64(feedback.count))
            for stored in feedback {
                writer.signed(Int(stored.seq))
                writer.event(stored.event)
            }
        }
        if let cursor = reply.cursor { writer.signed(Int(cursor)) }
        if let hasMore = reply.hasMore { writer.bytes.append(hasMore ? 1 : 0) }
        return writer.bytes
    }

    private static func estimate(_ output: AgentOutput) -> Int {
        // A guess for one reservation: item ids are short, sources are a few routes.
        32 + output.agent.utf8.count + output.items.count * (24 + (output.items.first?.sources.map { $0.count * 16 } ?? 0))
    }

    struct Writer {
        var bytes: [UInt8]
        init(capacity: Int) {
            bytes = []
            bytes.reserveCapacity(capacity)
        }
        mutating func header(kind: UInt8) {
            bytes.append(BinaryWire.magic)
            bytes.append(BinaryWire.version)
            bytes.append(kind)
        }
        mutating func unsigned(_ value: UInt64) {
            var value = value
            while value >= 0x80 {
                bytes.append(UInt8(truncatingIfNeeded: value) | 0x80)
                value >>= 7
            }
            bytes.append(UInt8(value))
        }
        mutating func signed(_ value: Int) {
            let wide = Int64(value)
            unsigned(UInt64(bitPattern: (wide << 1) ^ (wide >> 63)))
        }
        mutating func string(_ value: String) {
            var value = value
            value.withUTF8 { utf8 in
                unsigned(UInt64(utf8.count))
                bytes.append(contentsOf: utf8)
            }
        }
        mutating func double(_ value: Double) {
            let bits = value.bitPattern.littleEndian
            withUnsafeBytes(of: bits) { bytes.append(contentsOf: $0) }
        }
        /// u8 flags (bit 0: event id, bit 1: request id), [str eventID], str user, str item,
        /// str event, f64 value, [str requestID], uint receivedAt
        mutating func event(_ event: FeedbackEvent) {
            bytes.append((event.eventID == nil ? 0 : 1) | (event.requestID == nil ? 0 : 2))
            if let id = event.eventID { string(id) }
            string(event.user)
            string(event.item)
            string(event.event)
            double(event.value)
            if let id = event.requestID { string(id) }
            unsigned(event.receivedAt)
        }
        mutating func served(_ list: ServedList) {
            string(list.requestID)
            string(list.user)
            signed(list.epoch)
            unsigned(list.servedAt)
            unsigned(UInt64(list.items.count))
            for item in list.items {
                string(item.item)
                double(item.score)
                unsigned(UInt64(item.sources.count))
                for source in item.sources { string(source) }
            }
            unsigned(UInt64(list.pipeline.count))
            for agent in list.pipeline { string(agent) }
            bytes.append((list.propensity == nil ? 0 : 1) | (list.experiment == nil ? 0 : 2))
            if let propensity = list.propensity { double(propensity) }
            if let experiment = list.experiment { string(experiment) }
        }
        mutating func output(_ output: AgentOutput) {
            string(output.agent)
            string(output.version)
            if let segment = output.segment {
                bytes.append(1)
                string(segment)
            } else {
                bytes.append(0)
            }
            unsigned(UInt64(output.items.count))
            for item in output.items {
                string(item.item)
                double(item.score)
                if let sources = item.sources {
                    bytes.append(1)
                    unsigned(UInt64(sources.count))
                    for (route, score) in sources {
                        string(route)
                        double(score)
                    }
                } else {
                    bytes.append(0)
                }
            }
        }
    }

    // MARK: Decoding

    static func decodeRequest(_ bytes: [UInt8]) throws(WireError) -> DecisionRequest {
        try bytes.withUnsafeBufferPointer { buffer throws(WireError) in
            var reader = Reader(buffer: buffer)
            try reader.header(kind: requestKind, of: "DecisionRequest")
            let requestID = try reader.string()
            let user = try reader.string()
            let k = try reader.signed()
            let epoch = try reader.signed()
            // An output body takes at least 5 bytes (two empty strings, flags, empty count).
            let count = try reader.readCount(minimumSize: 5)
            var inputs: [AgentOutput] = []
            inputs.reserveCapacity(count)
            for _ in 0..<count { inputs.append(try reader.output()) }
            try reader.end()
            return DecisionRequest(requestID: requestID, user: user, k: k, epoch: epoch, inputs: inputs)
        }
    }

    static func decodeOutput(_ bytes: [UInt8]) throws(WireError) -> AgentOutput {
        try bytes.withUnsafeBufferPointer { buffer throws(WireError) in
            var reader = Reader(buffer: buffer)
            try reader.header(kind: outputKind, of: "AgentOutput")
            let output = try reader.output()
            try reader.end()
            return output
        }
    }

    static func decodeStoreRequest(_ bytes: [UInt8]) throws(WireError) -> StoreRequest {
        try bytes.withUnsafeBufferPointer { buffer throws(WireError) in
            var reader = Reader(buffer: buffer)
            try reader.header(kind: storeRequestKind, of: "StoreRequest")
            let operation = StoreOperation(rawValue: try reader.string())
            let present = try reader.bits(upTo: 31)
            var events: [FeedbackEvent]?
            if present & 1 != 0 {
                let count = try reader.readCount(minimumSize: Reader.eventMinimumSize)
                var list: [FeedbackEvent] = []
                list.reserveCapacity(count)
                for _ in 0..<count { list.append(try reader.event()) }
                events = list
            }
            var groups: [Int]?
            if present & 2 != 0 {
                let count = try reader.readCount(minimumSize: 1)
                var sizes: [Int] = []
                sizes.reserveCapacity(count)
                for _ in 0..<count { sizes.append(try reader.signed()) }
                groups = sizes
            }
            var served: [ServedList]?
            if present & 4 != 0 {
                // A list takes at least 7 bytes (two empty strings, epoch, time, two counts, flags).
                let count = try reader.readCount(minimumSize: 7)
                var lists: [ServedList] = []
                lists.reserveCapacity(count)
                for _ in 0..<count { lists.append(try reader.served()) }
                served = lists
            }
            let after: Int64? = present & 8 != 0 ? Int64(try reader.signed()) : nil
            let limit: Int? = present & 16 != 0 ? try reader.signed() : nil
            try reader.end()
            return StoreRequest(operation: operation, events: events, served: served, groups: groups, after: after, limit: limit)
        }
    }

    static func decodeStoreReply(_ bytes: [UInt8]) throws(WireError) -> StoreReply {
        try bytes.withUnsafeBufferPointer { buffer throws(WireError) in
            var reader = Reader(buffer: buffer)
            try reader.header(kind: storeReplyKind, of: "StoreReply")
            let stored = try reader.signed()
            let duplicates = try reader.signed()
            let served = try reader.signed()
            let present = try reader.bits(upTo: 15)
            var groups: [StoreGroupResult]?
            if present & 1 != 0 {
                // A group takes at least 3 bytes (two counts, flags).
                let count = try reader.readCount(minimumSize: 3)
                var list: [StoreGroupResult] = []
                list.reserveCapacity(count)
                for _ in 0..<count {
                    let groupStored = try reader.signed()
                    let groupDuplicates = try reader.signed()
                    let fields = try reader.bits(upTo: 3)
                    let error: String? = fields & 1 != 0 ? try reader.string() : nil
                    let message: String? = fields & 2 != 0 ? try reader.string() : nil
                    list.append(StoreGroupResult(stored: groupStored, duplicates: groupDuplicates, error: error, message: message))
                }
                groups = list
            }
            var feedback: [StoredFeedback]?
            if present & 2 != 0 {
                let count = try reader.readCount(minimumSize: 1 + Reader.eventMinimumSize)
                var list: [StoredFeedback] = []
                list.reserveCapacity(count)
                for _ in 0..<count {
                    let seq = Int64(try reader.signed())
                    list.append(StoredFeedback(seq: seq, event: try reader.event()))
                }
                feedback = list
            }
            let cursor: Int64? = present & 4 != 0 ? Int64(try reader.signed()) : nil
            let hasMore: Bool? = present & 8 != 0 ? try reader.flags() : nil
            try reader.end()
            return StoreReply(
                stored: stored, duplicates: duplicates, served: served, groups: groups, feedback: feedback, cursor: cursor,
                hasMore: hasMore)
        }
    }

    struct Reader {
        let buffer: UnsafeBufferPointer<UInt8>
        var offset = 0
        init(buffer: UnsafeBufferPointer<UInt8>) { self.buffer = buffer }

        var remaining: Int { buffer.count - offset }

        mutating func byte() throws(WireError) -> UInt8 {
            guard offset < buffer.count else { throw WireError("truncated at byte \(offset)") }
            defer { offset += 1 }
            return buffer[offset]
        }
        mutating func header(kind: UInt8, of name: String) throws(WireError) {
            guard try byte() == BinaryWire.magic else { throw WireError("not a binary payload") }
            let version = try byte()
            guard version == BinaryWire.version else { throw WireError("unsupported binary version \(version)") }
            let found = try byte()
            guard found == kind else { throw WireError("binary payload of kind \(found) is not a \(name)") }
        }
        mutating func unsigned() throws(WireError) -> UInt64 {
            var value: UInt64 = 0
            var shift: UInt64 = 0
            while true {
                let next = try byte()
                // The 10th byte may only hold the top bit of a 64-bit value.
                guard shift < 63 || (shift == 63 && next <= 1) else { throw WireError("integer too long at byte \(offset)") }
                value |= UInt64(next & 0x7F) << shift
                if next & 0x80 == 0 { return value }
                shift += 7
            }
        }
        mutating func signed() throws(WireError) -> Int {
            let raw = try unsigned()
            let value = Int64(bitPattern: (raw >> 1) ^ (0 &- (raw & 1)))
            guard let result = Int(exactly: value) else { throw WireError("integer out of range") }
            return result
        }
        /// A count of elements each at least `minimumSize` bytes long: never more than the bytes left can hold.
        mutating func readCount(minimumSize: Int) throws(WireError) -> Int {
            let raw = try unsigned()
            guard raw <= UInt64(remaining / minimumSize) else { throw WireError("count \(raw) exceeds the \(remaining) bytes left") }
            return Int(raw)
        }
        mutating func string() throws(WireError) -> String {
            let length = try readCount(minimumSize: 1)
            let slice = UnsafeBufferPointer(rebasing: buffer[offset..<(offset + length)])
            // ASCII (every id and name in practice) is valid UTF-8 as it stands, and decoding it
            // repairs nothing; `String(validating:as:)` instantiated generic metadata on every
            // call, which showed in the gateway's and the agents' profiles.
            if !slice.contains(where: { $0 >= 0x80 }) {
                offset += length
                return String(decoding: slice, as: UTF8.self)
            }
            guard let text = String(validating: slice, as: UTF8.self) else { throw WireError("invalid UTF-8 at byte \(offset)") }
            offset += length
            return text
        }
        mutating func double() throws(WireError) -> Double {
            guard remaining >= 8 else { throw WireError("truncated at byte \(offset)") }
            var bits: UInt64 = 0
            for index in 0..<8 { bits |= UInt64(buffer[offset + index]) << (8 * UInt64(index)) }
            offset += 8
            return Double(bitPattern: bits)
        }
        /// A flags byte with no bit above `maximum` set.
        mutating func bits(upTo maximum: UInt8) throws(WireError) -> UInt8 {
            let value = try byte()
            guard value & ~maximum == 0 else { throw WireError("unknown flags \(value) at byte \(offset - 1)") }
            return value
        }
        mutating func flags() throws(WireError) -> Bool {
            switch try byte() {
            case 0: return false
            case 1: return true
            case let other: throw WireError("unknown flags \(other) at byte \(offset - 1)")
            }
        }
        /// An event takes at least 13 bytes (flags, three empty strings, value, time).
        static let eventMinimumSize = 13
        /// An event as ``Writer/event(_:)`` lays it out.
        mutating func event() throws(WireError) -> FeedbackEvent {
            let fields = try bits(upTo: 3)
            let eventID: String? = fields & 1 != 0 ? try string() : nil
            let user = try string()
            let item = try string()
            let kind = try string()
            let value = try double()
            let requestID: String? = fields & 2 != 0 ? try string() : nil
            let receivedAt = try unsigned()
            return FeedbackEvent(
                user: user, item: item, event: kind, value: value, requestID: requestID, receivedAt: receivedAt,
                eventID: eventID)
        }
        mutating func served() throws(WireError) -> ServedList {
            let requestID = try string()
            let user = try string()
            let epoch = try signed()
            let servedAt = try unsigned()
            // An item takes at least 10 bytes (empty id, score, source count).
            let count = try readCount(minimumSize: 10)
            var items: [ServedItem] = []
            items.reserveCapacity(count)
            for _ in 0..<count {
                let item = try string()
                let score = try double()
                let sourceCount = try readCount(minimumSize: 1)
                var sources: [String] = []
                sources.reserveCapacity(sourceCount)
                for _ in 0..<sourceCount { sources.append(try string()) }
                items.append(ServedItem(item: item, score: score, sources: sources))
            }
            let agentCount = try readCount(minimumSize: 1)
            var pipeline: [String] = []
            pipeline.reserveCapacity(agentCount)
            for _ in 0..<agentCount { pipeline.append(try string()) }
            let optional = try bits(upTo: 3)
            let propensity: Double? = optional & 1 != 0 ? try double() : nil
            let experiment: String? = optional & 2 != 0 ? try string() : nil
            return ServedList(
                requestID: requestID, user: user, epoch: epoch, servedAt: servedAt, items: items, pipeline: pipeline,
                propensity: propensity, experiment: experiment)
        }
        mutating func output() throws(WireError) -> AgentOutput {
            let agent = try string()
            let version = try string()
            let segment: String? = try flags() ? string() : nil
            // An item takes at least 10 bytes (empty id, score, flags).
            let count = try readCount(minimumSize: 10)
            var items: [ScoredItem] = []
            items.reserveCapacity(count)
            for _ in 0..<count {
                let id = try string()
                let score = try double()
                var sources: [String: Double]?
                if try flags() {
                    // A source takes at least 9 bytes (empty name, score).
                    let sourceCount = try readCount(minimumSize: 9)
                    var map: [String: Double] = [:]
                    map.reserveCapacity(sourceCount)
                    for _ in 0..<sourceCount {
                        let route = try string()
                        map[route] = try double()
                    }
                    sources = map
                }
                items.append(ScoredItem(item: id, score: score, sources: sources))
            }
            return AgentOutput(agent: agent, version: version, items: items, segment: segment)
        }
        func end() throws(WireError) {
            guard remaining == 0 else { throw WireError("\(remaining) trailing bytes") }
        }
    }
}

/// A payload `WireCodec` cannot decode (binary form only; JSON reports `DecodingError`).
public struct WireError: Error, CustomStringConvertible, Sendable, Equatable {
    public var message: String
    init(_ message: String) { self.message = message }
    public var description: String { "malformed payload: \(message)" }
}

/// An agent's output still in its binary form: checked as thoroughly as decoding it would,
/// with the few fields the gateway reads taken out, and its items left as bytes.
///
/// The gateway passes each agent's list on to the agents it feeds. Decoding every list (fusion
/// alone gets ~1,200 candidates) and encoding it again into the next request was the largest
/// share of the gateway's own CPU; ``WireCodec/encodeRequest(requestID:user:k:epoch:inputs:)``
/// splices these bytes into the next request instead, and the agent that receives it decodes
/// the same `DecisionRequest` it would have got from the decoded lists.
public struct EncodedOutput: Sendable {
    public let agent: String
    public let version: String
    public let segment: String?
    public let itemCount: Int
    /// The whole binary payload (header included).
    let bytes: [UInt8]

    /// Checks a payload as ``WireCodec/decode(_:from:)`` would (every length, count, flag and
    /// string, no trailing bytes).
    /// - Throws: `WireError`: the payload is not a binary `AgentOutput`.
    public init(payload: [UInt8]) throws {
        guard BinaryWire.isBinary(payload) else {
            throw WireError("an AgentOutput travels in the binary form (first byte 0xB7), not as JSON")
        }
        let summary = try payload.withUnsafeBufferPointer { buffer throws(WireError) in
            var reader = BinaryWire.Reader(buffer: buffer)
            try reader.header(kind: BinaryWire.outputKind, of: "AgentOutput")
            let summary = try reader.skimOutput()
            try reader.end()
            return summary
        }
        self.init(agent: summary.agent, version: summary.version, segment: summary.segment, itemCount: summary.count, bytes: payload)
    }

    private init(agent: String, version: String, segment: String?, itemCount: Int, bytes: [UInt8]) {
        self.agent = agent
        self.version = version
        self.segment = segment
        self.itemCount = itemCount
        self.bytes = bytes
    }

    /// The binary form of `output`.
    public init(_ output: AgentOutput) {
        self.init(
            agent: output.agent, version: output.version, segment: output.segment, itemCount: output.items.count,
            bytes: BinaryWire.encode(output))
    }

    /// The output, decoded.
    public func decoded() throws(WireError) -> AgentOutput { try BinaryWire.decodeOutput(bytes) }

    /// Whether each of `ids` is among the items' ids, without decoding the items.
    public func contains(_ ids: [String]) -> [Bool] {
        let wanted = ids.map { Array($0.utf8) }
        var found = [Bool](repeating: false, count: ids.count)
        bytes.withUnsafeBufferPointer { buffer in
            var reader = BinaryWire.Reader(buffer: buffer)
            // The bytes were checked when this value was made: these reads cannot fail.
            guard (try? reader.header(kind: BinaryWire.outputKind, of: "AgentOutput")) != nil,
                (try? reader.skimOutput { id in
                    for (index, candidate) in wanted.enumerated() where !found[index] && candidate.elementsEqual(id) {
                        found[index] = true
                    }
                }) != nil
            else { return }
        }
        return found
    }

    /// The output's body (what follows the header), as a request carries it.
    var body: ArraySlice<UInt8> { bytes[BinaryWire.headerSize...] }
}

extension WireCodec {
    /// The binary `DecisionRequest` whose inputs are `inputs`, spliced in as they are: it
    /// decodes to `DecisionRequest(requestID:user:k:epoch:inputs:)` of the decoded inputs.
    public static func encodeRequest(requestID: String, user: String, k: Int, epoch: Int, inputs: [EncodedOutput]) -> [UInt8] {
        var writer = BinaryWire.Writer(capacity: 64 + requestID.utf8.count + user.utf8.count + inputs.reduce(0) { $0 + $1.bytes.count })
        writer.header(kind: BinaryWire.requestKind)
        writer.string(requestID)
        writer.string(user)
        writer.signed(k)
        writer.signed(epoch)
        writer.unsigned(UInt64(inputs.count))
        for input in inputs { writer.bytes.append(contentsOf: input.body) }
        return writer.bytes
    }
}

extension BinaryWire {
    static let headerSize = 3
}

extension BinaryWire.Reader {
    /// Walks one output body with the checks of ``output()`` but keeps only the header
    /// fields; `item` sees each item's id bytes.
    mutating func skimOutput(
        _ item: (UnsafeBufferPointer<UInt8>) -> Void = { _ in }
    ) throws(WireError) -> (agent: String, version: String, segment: String?, count: Int) {
        let agent = try string()
        let version = try string()
        let segment: String? = try flags() ? string() : nil
        let count = try readCount(minimumSize: 10)
        for _ in 0..<count {
            item(try checkedString())
            offset += try skip(8)
            if try flags() {
                let sourceCount = try readCount(minimumSize: 9)
                for _ in 0..<sourceCount {
                    _ = try checkedString()
                    offset += try skip(8)
                }
            }
        }
        return (agent, version, segment, count)
    }

    /// The bytes of a valid UTF-8 string, not made into a `String`.
    mutating func checkedString() throws(WireError) -> UnsafeBufferPointer<UInt8> {
        let length = try readCount(minimumSize: 1)
        let slice = UnsafeBufferPointer(rebasing: buffer[offset..<(offset + length)])
        if slice.contains(where: { $0 >= 0x80 }), String(validating: slice, as: UTF8.self) == nil {
            throw WireError("invalid UTF-8 at byte \(offset)")
        }
        offset += length
        return slice
    }

    /// Checks that `count` more bytes are there; returns `count`.
    func skip(_ count: Int) throws(WireError) -> Int {
        guard remaining >= count else { throw WireError("truncated at byte \(offset)") }
        return count
    }
}
