import AgentProtocol
import Foundation
import Transport

enum EnvelopeTarget {
    static func run(_ bytes: UnsafeRawBufferPointer) {
        // A small limit as well as the default, so the payload-size check is reached.
        for limit in [Envelope.defaultMaximumPayload, 64] {
            guard let envelope = try? Envelope.decode(bytes, maximumPayload: limit) else { continue }
            guard envelope.payload.count <= limit else { violated("a payload over the limit was accepted") }
            let again = envelope.encoded()
            guard let decoded = try? Envelope.decode(again, maximumPayload: limit), decoded == envelope else {
                violated("an envelope does not survive encode → decode")
            }
        }
        if let (topic, range) = try? Topic.split(bytes) {
            // The topic is the bytes before the first 0, at most the maximum length of them.
            guard range.lowerBound >= 1, range.lowerBound <= Topic.maximumLength + 1, range.upperBound == bytes.count,
                bytes[range.lowerBound - 1] == 0, !bytes[..<(range.lowerBound - 1)].contains(0)
            else { violated("Topic.split found no topic where it said") }
            _ = topic
            _ = try? Envelope.decode(UnsafeRawBufferPointer(rebasing: bytes[range]))
        }
        if let envelopes = try? Batch.envelopes(in: Array(bytes)) {
            guard envelopes.count <= Batch.maximumCount else { violated("a batch over the maximum count was accepted") }
            guard (try? Batch.envelopes(in: Batch.payload(envelopes))) == envelopes else {
                violated("a batch does not survive payload → envelopes")
            }
        }
    }
}

enum WireTarget {
    static func run(_ bytes: [UInt8]) {
        roundTrip(DecisionRequest.self, bytes)
        roundTrip(AgentOutput.self, bytes)
        roundTrip(StoreRequest.self, bytes)
        roundTrip(StoreReply.self, bytes)
        if let encoded = try? EncodedOutput(payload: bytes) {
            // What the gateway reads from a payload without decoding it must match the decoded output.
            guard let output = try? encoded.decoded() else { violated("EncodedOutput accepted what decoded() refuses") }
            guard encoded.agent == output.agent, encoded.itemCount == output.items.count else {
                violated("EncodedOutput's header disagrees with the decoded output")
            }
            _ = encoded.contains(output.items.prefix(3).map(\.item) + ["\u{0}absent"])
        }
    }

    /// Values are compared in a canonical JSON (sorted keys, non-finite numbers as text): a NaN
    /// score is not equal to itself, and two equal dictionaries may list their keys in different
    /// orders in the binary form.
    static func roundTrip<T: Codable>(_ type: T.Type, _ bytes: [UInt8]) {
        guard let value = try? WireCodec.decode(type, from: bytes) else { return }
        guard let encoded = try? WireCodec.encode(value) else { return }
        guard let again = try? WireCodec.decode(type, from: encoded) else { violated("\(T.self) encodes to bytes it cannot decode") }
        guard canonical(again) == canonical(value) else { violated("\(T.self) does not survive encode → decode") }
    }

    static func canonical(_ value: some Encodable) -> Data? {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "+inf", negativeInfinity: "-inf", nan: "nan")
        return try? encoder.encode(value)
    }
}
