import AgenticTesting
import Testing
@testable import Transport

@Suite("Envelope encoding", .computeBound)
struct EnvelopeTests {
    let sample = Envelope(
        type: .request, requestID: 0x0102_0304_0506_0708, deadline: 1_764_000_000_000,
        traceID: TraceID(high: 0xAABB, low: 0xCCDD), payload: Array("hello".utf8)
    )

    @Test("an envelope survives encoding and decoding, through bytes and through an NNG message")
    func roundTrip() throws {
        #expect(try Envelope.decode(sample.encoded()) == sample)
        #expect(try Message(envelope: sample).envelope() == sample)
        let (topic, envelope) = try Message(topic: "feedback", envelope: sample).topicEnvelope()
        #expect(topic == "feedback")
        #expect(envelope == sample)
        #expect(sample.encoded().count == Envelope.headerSize + 5)
    }

    @Test("a truncated frame is a malformedFrame error at every length")
    func truncated() {
        let bytes = sample.encoded()
        for length in 0..<bytes.count {
            #expect(throws: TransportError(.malformedFrame, "")) { try Envelope.decode(Array(bytes[..<length])) }
        }
    }

    @Test("an unknown version is unsupportedVersion, whatever follows")
    func unknownVersion() {
        var bytes = sample.encoded()
        for version in [0, 2, 255] as [UInt8] {
            bytes[2] = version
            #expect(throws: TransportError(.unsupportedVersion, "")) { try Envelope.decode(bytes) }
            #expect(throws: TransportError(.unsupportedVersion, "")) { try Envelope.decode(Array(bytes[..<4])) }
        }
    }

    @Test("length fields that lie are rejected before anything is allocated for them")
    func lyingLengths() {
        var bytes = sample.encoded()
        for claimed: UInt32 in [0, 4, 6, 1000, 0x00FF_FFFF] {
            withUnsafeBytes(of: claimed.bigEndian) { bytes.replaceSubrange(36..<40, with: $0) }
            #expect(throws: TransportError(.malformedFrame, "")) { try Envelope.decode(bytes) }
        }
        // A length past the limit is messageTooLarge, even with no payload behind it.
        withUnsafeBytes(of: UInt32.max.bigEndian) { bytes.replaceSubrange(36..<40, with: $0) }
        #expect(throws: TransportError(.messageTooLarge, "")) { try Envelope.decode(bytes) }
        #expect(throws: TransportError(.messageTooLarge, "")) { try Envelope.decode(sample.encoded(), maximumPayload: 4) }
    }

    @Test("random bytes never trap: each decode returns or throws a TransportError")
    func randomBytes() {
        var generator = SystemRandomNumberGenerator()
        var decoded = 0
        for round in 0..<20_000 {
            let count = Int.random(in: 0...96, using: &generator)
            var bytes = (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
            // Half the corpus gets a valid prefix so decoding reaches the deeper checks.
            if round.isMultiple(of: 2), count >= 3 { bytes[0] = 0xA6; bytes[1] = 0x17; bytes[2] = 1 }
            do {
                _ = try Envelope.decode(bytes)
                decoded += 1
            } catch let error as TransportError {
                #expect([.malformedFrame, .unsupportedVersion, .messageTooLarge].contains(error.code))
            } catch {
                Issue.record("unexpected error type \(error)")
            }
            _ = try? bytes.withUnsafeBytes { try Topic.split($0) }
        }
        // Random frames practically never carry a consistent length field.
        #expect(decoded < 20)
    }

    @Test("a pub/sub frame without a topic terminator is malformed")
    func topicWithoutTerminator() throws {
        let bytes = [UInt8](repeating: 0x41, count: 300)
        #expect(throws: TransportError(.malformedFrame, "")) {
            try bytes.withUnsafeBytes { _ = try Topic.split($0) }
        }
        #expect(throws: TransportError(.malformedFrame, "")) { _ = try Message(topic: "a\0b", envelope: sample) }
    }
}

@Suite("Batch framing")
struct BatchTests {
    let envelopes = [
        Envelope(type: .request, requestID: 1, deadline: 7, traceID: TraceID(high: 1, low: 2), payload: Array("one".utf8)),
        Envelope(type: .error, requestID: 2),
        Envelope(type: .reply, requestID: 3, payload: [UInt8](repeating: 0xB7, count: 300)),
    ]

    @Test("envelopes survive a batch, in order")
    func roundTrip() throws {
        #expect(try Batch.envelopes(in: Batch.payload(envelopes)) == envelopes)
        #expect(try Batch.envelopes(in: Batch.payload([envelopes[1]])) == [envelopes[1]])
    }

    @Test("a truncated, padded, empty or lying batch is a malformedFrame error, never a trap")
    func malformed() {
        let bytes = Batch.payload(envelopes)
        for length in 0..<bytes.count {
            #expect(throws: TransportError(.malformedFrame, "")) { try Batch.envelopes(in: Array(bytes[..<length])) }
        }
        #expect(throws: TransportError(.malformedFrame, "")) { try Batch.envelopes(in: bytes + [0]) }
        #expect(throws: TransportError(.malformedFrame, "")) { try Batch.envelopes(in: Batch.payload([])) }
        // A count of four billion envelopes in a few bytes, and an inner frame that is not an envelope.
        #expect(throws: TransportError(.malformedFrame, "")) { try Batch.envelopes(in: [0xFF, 0xFF, 0xFF, 0xFF] + bytes) }
        var inner = bytes
        inner[8] = 0
        #expect(throws: TransportError(.malformedFrame, "")) { try Batch.envelopes(in: inner) }
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2_000 {
            var flipped = bytes
            flipped[Int.random(in: 0..<flipped.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
            _ = try? Batch.envelopes(in: flipped)
        }
    }
}
