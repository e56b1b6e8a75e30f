import AgentProtocol
import Foundation
import Testing

/// The binary data-plane encoding: round trips, JSON refused for it, and hostile bytes rejected
/// with an error (never a trap or a huge allocation).
@Suite("Wire codec")
struct WireCodecTests {
    static let output = AgentOutput(
        agent: "fusion", version: "2", items: [
            ScoredItem(item: "i1", score: 0.5, sources: ["cf": 0.25, "pop": -1.5e-300]),
            ScoredItem(item: "", score: -7.25),
            ScoredItem(item: "ünïcode✓", score: 1e300, sources: [:]),
        ], segment: "heavy")
    static let request = DecisionRequest(
        requestID: "00ff00ff00ff00ff", user: "u42", k: 10, epoch: -3,
        inputs: [output, AgentOutput(agent: "pop", version: "1", items: [])])

    @Test func roundTripsInBinary() throws {
        let bytes = try WireCodec.encode(Self.request)
        #expect(bytes.first == 0xB7)
        #expect(try WireCodec.decode(DecisionRequest.self, from: bytes) == Self.request)
        let outputBytes = try WireCodec.encode(Self.output)
        #expect(try WireCodec.decode(AgentOutput.self, from: outputBytes) == Self.output)
        // Values JSON cannot carry (a non-finite score) survive too; the gateway filters them.
        let extremes = DecisionRequest(
            requestID: "", user: "", k: .max, epoch: .min,
            inputs: [AgentOutput(agent: "a", version: "", items: [ScoredItem(item: "x", score: -.infinity)])])
        #expect(try WireCodec.decode(DecisionRequest.self, from: WireCodec.encode(extremes)) == extremes)
        // Smaller than the JSON it replaces.
        #expect(bytes.count < Self.json(Self.request).count)
    }

    static func json(_ value: some Encodable) -> [UInt8] { Array(try! JSONEncoder().encode(value)) }

    @Test func refusesJSONForTheBinaryTypes() throws {
        let json = Self.json(Self.request)
        #expect(json.first == UInt8(ascii: "{"))
        #expect(throws: WireError.self) { try WireCodec.decode(DecisionRequest.self, from: json) }
        let outputJSON = Self.json(AgentOutput(agent: "a", version: "1", items: [ScoredItem(item: "x", score: 1)]))
        #expect(throws: WireError.self) { try WireCodec.decode(AgentOutput.self, from: outputJSON) }
        // Control messages stay JSON.
        #expect(try WireCodec.encode(ErrorReply(code: "c", message: "m")).first == UInt8(ascii: "{"))
    }

    @Test func everyTruncationThrows() throws {
        for bytes in [try WireCodec.encode(Self.request), try WireCodec.encode(Self.output)] {
            for length in 0..<bytes.count {
                let cut = Array(bytes.prefix(length))
                #expect(throws: (any Error).self) { try WireCodec.decode(DecisionRequest.self, from: cut) }
                #expect(throws: (any Error).self) { try WireCodec.decode(AgentOutput.self, from: cut) }
            }
            #expect(throws: WireError.self) { try WireCodec.decode(AgentOutput.self, from: bytes + [0]) }
        }
    }

    @Test func garbageThrowsWithoutHugeAllocations() throws {
        // Counts claiming billions of elements and strings longer than the payload.
        let hostile: [[UInt8]] = [
            [0xB7, 1, 1, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F],
            [0xB7, 1, 2, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01],
            [0xB7, 1, 2, 0xFF, 0xFF, 0xFF, 0xFF, 0x07, 0x41],
            [0xB7, 1, 1, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01],
            [0xB7, 2, 1], [0xB7, 1, 9], [0xB7, 1, 2, 2, 0xC3, 0x28, 0, 0, 0],
            [0xB7, 1, 2, 0, 0, 7, 0],
        ]
        for bytes in hostile {
            #expect(throws: WireError.self) { try WireCodec.decode(DecisionRequest.self, from: bytes) }
            #expect(throws: WireError.self) { try WireCodec.decode(AgentOutput.self, from: bytes) }
        }
        // A binary payload for a type that only travels as JSON.
        #expect(throws: WireError.self) { try WireCodec.decode(ErrorReply.self, from: WireCodec.encode(Self.output)) }
        // Random bytes after the header, and random flips of a valid payload: an answer or an error.
        var generator = SystemRandomNumberGenerator()
        let valid = try WireCodec.encode(Self.request)
        for _ in 0..<2_000 {
            var bytes = valid
            for _ in 0..<Int.random(in: 1...4, using: &generator) {
                bytes[Int.random(in: 3..<bytes.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
            }
            _ = try? WireCodec.decode(DecisionRequest.self, from: bytes)
            let noise = [0xB7, 1, UInt8.random(in: 1...2, using: &generator)] + (0..<Int.random(in: 0..<64, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            _ = try? WireCodec.decode(DecisionRequest.self, from: noise)
            _ = try? WireCodec.decode(AgentOutput.self, from: noise)
        }
    }

    // MARK: outputs kept in their binary form (the gateway's splice)

    @Test func splicedRequestDecodesLikeTheEncodedOne() throws {
        let inputs = try Self.request.inputs.map { try EncodedOutput(payload: WireCodec.encode($0)) }
        #expect(inputs.map(\.agent) == ["fusion", "pop"])
        #expect(inputs.map(\.version) == ["2", "1"])
        #expect(inputs.map(\.segment) == ["heavy", nil])
        #expect(inputs.map(\.itemCount) == [3, 0])
        #expect(try inputs.map { try $0.decoded() } == Self.request.inputs)
        let spliced = WireCodec.encodeRequest(
            requestID: Self.request.requestID, user: Self.request.user, k: Self.request.k, epoch: Self.request.epoch, inputs: inputs)
        #expect(try WireCodec.decode(DecisionRequest.self, from: spliced) == Self.request)
        // No inputs at all (the entry agent), and an output made from a value.
        let entry = WireCodec.encodeRequest(requestID: "r", user: "u", k: 1, epoch: 0, inputs: [])
        #expect(try WireCodec.decode(DecisionRequest.self, from: entry) == DecisionRequest(requestID: "r", user: "u", k: 1, epoch: 0))
        #expect(try EncodedOutput(Self.output).decoded() == Self.output)
    }

    @Test func encodedOutputFindsItemsByID() throws {
        let output = try EncodedOutput(payload: WireCodec.encode(Self.output))
        #expect(output.contains(["i1", "x", "ünïcode✓", "", "i"]) == [true, false, true, true, false])
        #expect(output.contains([]) == [])
    }

    @Test func encodedOutputRefusesJSON() throws {
        #expect(throws: WireError.self) { try EncodedOutput(payload: Self.json(Self.output)) }
        let output = try EncodedOutput(payload: WireCodec.encode(Self.output))
        #expect(try output.decoded() == Self.output)
        #expect(output.agent == "fusion" && output.itemCount == 3)
    }

    @Test func malformedOutputsAreRejectedBeforeSplicing() throws {
        // Whatever decoding rejects, the gateway rejects too: a bad list never reaches the next agent.
        let bytes = try WireCodec.encode(Self.output)
        for length in 0..<bytes.count {
            #expect(throws: (any Error).self) { try EncodedOutput(payload: Array(bytes.prefix(length))) }
        }
        #expect(throws: WireError.self) { try EncodedOutput(payload: bytes + [0]) }
        #expect(throws: WireError.self) { try EncodedOutput(payload: WireCodec.encode(Self.request)) }
        // Invalid UTF-8 in an item id and in a source's name; an unknown flag.
        let badID = try WireCodec.encode(AgentOutput(agent: "a", version: "1", items: [ScoredItem(item: "ab", score: 1)]))
        var broken = badID
        let at = try #require(broken.firstIndex(of: UInt8(ascii: "a")).flatMap { first in broken[(first + 1)...].firstIndex(of: UInt8(ascii: "a")) })
        broken[at] = 0xC3
        broken[at + 1] = 0x28
        #expect(throws: WireError.self) { try WireCodec.decode(AgentOutput.self, from: broken) }
        #expect(throws: WireError.self) { try EncodedOutput(payload: broken) }
        let withSource = try WireCodec.encode(AgentOutput(agent: "a", version: "1", items: [ScoredItem(item: "x", score: 1, sources: ["zz": 2])]))
        var badSource = withSource
        let z = try #require(badSource.firstIndex(of: UInt8(ascii: "z")))
        badSource[z] = 0xFF
        #expect(throws: WireError.self) { try EncodedOutput(payload: badSource) }
        var badFlag = badID
        badFlag[badFlag.count - 1] = 7
        #expect(throws: WireError.self) { try EncodedOutput(payload: badFlag) }
        // Random flips: the skim and the full decode agree on what is acceptable.
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2_000 {
            var flipped = bytes
            for _ in 0..<Int.random(in: 1...3, using: &generator) {
                flipped[Int.random(in: 3..<flipped.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
            }
            let decoded = try? WireCodec.decode(AgentOutput.self, from: flipped)
            let skimmed = try? EncodedOutput(payload: flipped)
            #expect((decoded == nil) == (skimmed == nil))
            // (Not compared with ==: a flipped score may be NaN.)
            if let decoded, let skimmed {
                #expect(skimmed.agent == decoded.agent && skimmed.version == decoded.version && skimmed.itemCount == decoded.items.count)
                #expect(try skimmed.decoded().items.map(\.item) == decoded.items.map(\.item))
            }
        }
    }
}
