/// Several envelopes in one: the payload of a `MessageType.batch` envelope.
///
/// A batch travels as one NNG message, so its requests share one round trip's thread
/// hand-offs (about 100 µs of NNG's per message here, more than a fast agent's own work).
/// Layout (big-endian): `count u32`, then `count` × (`length u32`, one encoded envelope).
/// The reply to a batch is a batch holding one reply envelope per request, in order.
public enum Batch {
    /// The most envelopes one batch may hold.
    public static let maximumCount = 1024

    /// The payload holding `envelopes`.
    public static func payload(_ envelopes: [Envelope]) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(4 + envelopes.reduce(0) { $0 + 4 + Envelope.headerSize + $1.payload.count })
        append(UInt32(envelopes.count), to: &bytes)
        for envelope in envelopes {
            let encoded = envelope.encoded()
            append(UInt32(encoded.count), to: &bytes)
            bytes.append(contentsOf: encoded)
        }
        return bytes
    }

    /// The envelopes of a batch payload.
    /// - Throws: `.malformedFrame` for a count or length that does not fit the bytes, an empty
    ///   batch, trailing bytes, or an envelope that does not decode. Never traps.
    public static func envelopes(in payload: [UInt8]) throws(TransportError) -> [Envelope] {
        try payload.withUnsafeBytes { bytes in Result { () throws(TransportError) in try envelopes(in: bytes) } }.get()
    }

    private static func envelopes(in bytes: UnsafeRawBufferPointer) throws(TransportError) -> [Envelope] {
        var offset = 0
        func read() throws(TransportError) -> Int {
            guard bytes.count - offset >= 4 else {
                throw TransportError(.malformedFrame, "batch truncated at byte \(offset)")
            }
            defer { offset += 4 }
            return Int(UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self)))
        }
        let count = try read()
        guard count > 0 else { throw TransportError(.malformedFrame, "an empty batch") }
        // Each envelope takes at least its length and a header: never trust the count further.
        guard count <= maximumCount, count <= (bytes.count - offset) / (4 + Envelope.headerSize) else {
            throw TransportError(.malformedFrame, "batch count \(count) does not fit its \(bytes.count) bytes")
        }
        var envelopes: [Envelope] = []
        envelopes.reserveCapacity(count)
        for index in 0..<count {
            let length = try read()
            guard length <= bytes.count - offset else {
                throw TransportError(.malformedFrame, "batch envelope \(index) of \(length) bytes runs past the end")
            }
            do {
                envelopes.append(try Envelope.decode(UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + length)])))
            } catch {
                throw TransportError(.malformedFrame, "batch envelope \(index): \(error)")
            }
            offset += length
        }
        guard offset == bytes.count else {
            throw TransportError(.malformedFrame, "\(bytes.count - offset) trailing bytes after a batch")
        }
        return envelopes
    }

    private static func append(_ value: UInt32, to bytes: inout [UInt8]) {
        withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) }
    }
}
