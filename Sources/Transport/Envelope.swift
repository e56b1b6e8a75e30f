/// What kind of message an envelope carries. Receivers reject types they do not know
/// with an error reply; the set grows, so this is a struct and not an enum.
public struct MessageType: Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let request = MessageType(rawValue: 1)
    public static let reply = MessageType(rawValue: 2)
    public static let error = MessageType(rawValue: 3)
    public static let feedback = MessageType(rawValue: 4)
    public static let epoch = MessageType(rawValue: 5)
    public static let heartbeat = MessageType(rawValue: 6)
    public static let metrics = MessageType(rawValue: 7)
    public static let control = MessageType(rawValue: 8)
    /// Several requests (or their replies) in one message: see `Batch`.
    public static let batch = MessageType(rawValue: 9)

    public var description: String {
        switch self {
        case .request: "request"
        case .reply: "reply"
        case .error: "error"
        case .feedback: "feedback"
        case .epoch: "epoch"
        case .heartbeat: "heartbeat"
        case .metrics: "metrics"
        case .control: "control"
        case .batch: "batch"
        default: "type(\(rawValue))"
        }
    }
}

/// A W3C-style 128-bit trace id.
public struct TraceID: Hashable, Sendable, CustomStringConvertible {
    public var high: UInt64
    public var low: UInt64
    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }
    public static let none = TraceID(high: 0, low: 0)
    public static func random() -> TraceID { TraceID(high: .random(in: 1 ... .max), low: .random(in: 0 ... .max)) }
    public var description: String {
        let hex = String(high, radix: 16) + String(repeating: "0", count: 16 - String(low, radix: 16).count) + String(low, radix: 16)
        return String(repeating: "0", count: max(0, 32 - hex.count)) + hex
    }
}

/// The versioned frame every agentic message travels in.
///
/// Layout (big-endian), 40 bytes then the payload:
/// `magic 0xA6 0x17 | version u8 | type u8 | request id u64 | deadline u64 (ms since the
/// Unix epoch, 0 = none) | trace id 16 B | payload length u32 | payload`.
/// The payload length must equal the bytes that follow; a frame that lies about it is
/// rejected before anything is allocated for it.
public struct Envelope: Sendable, Equatable {
    public static let version: UInt8 = 1
    public static let headerSize = 40
    static let magic: (UInt8, UInt8) = (0xA6, 0x17)
    /// The largest payload `decode` accepts unless told otherwise.
    public static let defaultMaximumPayload = 16 << 20

    public var type: MessageType
    public var requestID: UInt64
    /// Milliseconds since the Unix epoch after which nobody waits for the answer; 0: none.
    public var deadline: UInt64
    public var traceID: TraceID
    public var payload: [UInt8]

    public init(type: MessageType, requestID: UInt64, deadline: UInt64 = 0, traceID: TraceID = .none, payload: [UInt8] = []) {
        self.type = type
        self.requestID = requestID
        self.deadline = deadline
        self.traceID = traceID
        self.payload = payload
    }

    /// The envelope's bytes.
    public func encoded() -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: Self.headerSize + payload.count) { buffer, count in
            encode(into: UnsafeMutableRawBufferPointer(buffer))
            count = Self.headerSize + payload.count
        }
    }

    /// Writes the envelope into `buffer`, which holds exactly `headerSize + payload.count` bytes.
    func encode(into buffer: UnsafeMutableRawBufferPointer) {
        buffer[0] = Self.magic.0
        buffer[1] = Self.magic.1
        buffer[2] = Self.version
        buffer[3] = type.rawValue
        buffer.storeBytes(of: requestID.bigEndian, toByteOffset: 4, as: UInt64.self)
        buffer.storeBytes(of: deadline.bigEndian, toByteOffset: 12, as: UInt64.self)
        buffer.storeBytes(of: traceID.high.bigEndian, toByteOffset: 20, as: UInt64.self)
        buffer.storeBytes(of: traceID.low.bigEndian, toByteOffset: 28, as: UInt64.self)
        buffer.storeBytes(of: UInt32(payload.count).bigEndian, toByteOffset: 36, as: UInt32.self)
        payload.withUnsafeBytes { source in
            guard let base = source.baseAddress, !source.isEmpty else { return }
            buffer.baseAddress!.advanced(by: Self.headerSize).copyMemory(from: base, byteCount: source.count)
        }
    }

    /// Decodes one frame.
    /// - Throws: `.malformedFrame` (truncated, bad magic, a length that lies),
    ///   `.unsupportedVersion`, `.messageTooLarge`. Never traps, whatever the bytes.
    public static func decode(_ bytes: UnsafeRawBufferPointer, maximumPayload: Int = defaultMaximumPayload) throws -> Envelope {
        let (header, payloadRange) = try decodeHeader(bytes, maximumPayload: maximumPayload)
        var envelope = header
        envelope.payload = Array(bytes[payloadRange])
        return envelope
    }

    public static func decode(_ bytes: [UInt8], maximumPayload: Int = defaultMaximumPayload) throws -> Envelope {
        try bytes.withUnsafeBytes { try decode($0, maximumPayload: maximumPayload) }
    }

    /// Decodes the header only; the payload stays in `bytes[range]`, read without a copy.
    public static func decodeHeader(_ bytes: UnsafeRawBufferPointer, maximumPayload: Int = defaultMaximumPayload) throws -> (Envelope, Range<Int>) {
        guard bytes.count >= 4 else {
            throw TransportError(.malformedFrame, "frame of \(bytes.count) bytes is shorter than an envelope header")
        }
        guard bytes[0] == magic.0, bytes[1] == magic.1 else {
            throw TransportError(.malformedFrame, "frame does not start with the envelope magic")
        }
        guard bytes[2] == version else {
            throw TransportError(.unsupportedVersion, "envelope version \(bytes[2]); this build speaks \(version)")
        }
        guard bytes.count >= headerSize else {
            throw TransportError(.malformedFrame, "frame of \(bytes.count) bytes is shorter than the \(headerSize)-byte header")
        }
        let length = Int(UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: 36, as: UInt32.self)))
        guard length <= maximumPayload else {
            throw TransportError(.messageTooLarge, "payload of \(length) bytes is over the limit of \(maximumPayload)")
        }
        guard length == bytes.count - headerSize else {
            throw TransportError(.malformedFrame, "header announces \(length) payload bytes but \(bytes.count - headerSize) follow")
        }
        let envelope = Envelope(
            type: MessageType(rawValue: bytes[3]),
            requestID: UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: 4, as: UInt64.self)),
            deadline: UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: 12, as: UInt64.self)),
            traceID: TraceID(
                high: UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: 20, as: UInt64.self)),
                low: UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: 28, as: UInt64.self))
            )
        )
        return (envelope, headerSize..<bytes.count)
    }
}

/// Pub/sub frames are `topic 0x00 envelope`: NNG filters on a body prefix, so the topic
/// comes first and the 0 byte keeps `feedback` from matching `feedback2`.
public enum Topic {
    /// The longest topic name accepted.
    public static let maximumLength = 255

    /// Splits a pub/sub frame into its topic and the envelope bytes' range.
    public static func split(_ bytes: UnsafeRawBufferPointer) throws -> (topic: String, envelope: Range<Int>) {
        let searched = min(bytes.count, maximumLength + 1)
        guard let zero = bytes[0..<searched].firstIndex(of: 0) else {
            throw TransportError(.malformedFrame, "pub/sub frame has no topic terminator in its first \(searched) bytes")
        }
        return (String(decoding: bytes[0..<zero], as: UTF8.self), (zero + 1)..<bytes.count)
    }
}

extension Message {
    /// A message holding `envelope`, written straight into NNG's buffer.
    public convenience init(envelope: Envelope) throws {
        let size = Envelope.headerSize + envelope.payload.count
        try self.init(capacity: size)
        try appendUninitialized(count: size) { envelope.encode(into: $0) }
    }

    /// A pub/sub message: `topic`, a 0 byte, then `envelope`.
    public convenience init(topic: String, envelope: Envelope) throws {
        let name = Array(topic.utf8)
        guard name.count <= Topic.maximumLength, !name.contains(0) else {
            throw TransportError(.malformedFrame, "topic must be at most \(Topic.maximumLength) bytes without a 0 byte")
        }
        let size = name.count + 1 + Envelope.headerSize + envelope.payload.count
        try self.init(capacity: size)
        try appendUninitialized(count: size) { buffer in
            buffer.copyBytes(from: name)
            buffer[name.count] = 0
            envelope.encode(into: UnsafeMutableRawBufferPointer(rebasing: buffer[(name.count + 1)...]))
        }
    }

    /// Decodes the body as an envelope (see `Envelope.decode`).
    public func envelope(maximumPayload: Int = Envelope.defaultMaximumPayload) throws -> Envelope {
        try withUnsafeBytes { try Envelope.decode($0, maximumPayload: maximumPayload) }
    }

    /// Decodes the body as a pub/sub frame.
    public func topicEnvelope(maximumPayload: Int = Envelope.defaultMaximumPayload) throws -> (topic: String, envelope: Envelope) {
        try withUnsafeBytes { bytes in
            let (topic, range) = try Topic.split(bytes)
            return (topic, try Envelope.decode(UnsafeRawBufferPointer(rebasing: bytes[range]), maximumPayload: maximumPayload))
        }
    }
}
