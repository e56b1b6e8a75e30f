import AgentProtocol
import Foundation
import GatewayAPI
import Topology
import Transport

extension FuzzTarget {
    /// Valid inputs made by the real encoders, where fuzzing starts from (`agentic-fuzz seed DIR`
    /// writes them into a corpus). The topology target's seeds are the files in `topology/`.
    package var seeds: [[UInt8]] {
        switch self {
        case .envelope:
            let request = Envelope(type: .request, requestID: 7, deadline: 1_700_000_000_000, traceID: TraceID(high: 1, low: 2), payload: Array(#"{"user":"1","k":10}"#.utf8))
            let reply = Envelope(type: .reply, requestID: 7, payload: [])
            var frame = Array("feedback".utf8) + [0]
            frame += reply.encoded()
            return [request.encoded(), reply.encoded(), frame, Batch.payload([request, reply])]
        case .wire:
            let event = FeedbackEvent(user: "u1", item: "i9", event: "click", value: 1, requestID: "r", receivedAt: 1_700_000_000_000, eventID: "e1")
            let output = AgentOutput(
                agent: "fusion", version: "2", items: [ScoredItem(item: "i1", score: 0.5, sources: ["ease": 0.25]), ScoredItem(item: "i2", score: -1)],
                segment: "light")
            let served = ServedList(
                requestID: "r", user: "u1", epoch: 3, servedAt: 1_700_000_000_000, items: [ServedItem(item: "i1", score: 0.5, sources: ["ease"])],
                pipeline: ["router", "fusion"], propensity: 0.5, experiment: "x")
            let values: [any Encodable] = [
                DecisionRequest(requestID: "r", user: "u1", k: 10, epoch: 3, inputs: [output]),
                output,
                StoreRequest(operation: .appendFeedback, events: [event, event], groups: [1, 1]),
                StoreRequest(operation: .logServed, served: [served]),
                StoreRequest(operation: .feedbackAfter, after: 5, limit: 100),
                StoreReply(stored: 2, duplicates: 1, groups: [StoreGroupResult(stored: 1)], feedback: [StoredFeedback(seq: 6, event: event)], cursor: 6, hasMore: false),
            ]
            return values.compactMap { try? WireCodec.encode($0) }
        case .topology:
            return []
        case .request:
            return [
                #"{"user":"1","k":10}"#, #"{"user":"u","item":"i","event":"click"}"#,
                #"{"user":"u","item":"i","event":"rating","value":4,"request_id":"r","event_id":"e"}"#,
                #"{"events":[{"user":"u","item":"i","event":"click"},{"user":"v","item":"j","event":"rating","value":-0.5e-3}]}"#,
                #"{"user":"\u00e9","k":1e2}"#,
            ].map { Array($0.utf8) }
        case .response:
            // Two items (the second with sources), flags for degraded, arm and experiment.
            var bytes: [UInt8] = [2]
            bytes += Array("i1".utf8) + [0] + [0x3F, 0xE0, 0, 0, 0, 0, 0, 0] + [0]
            bytes += Array("i\"2\\".utf8) + [0] + [0xBF, 0xF0, 0, 0, 0, 0, 0, 0] + [1, 1] + Array("ease".utf8) + [0] + [0x3F, 0xD0, 0, 0, 0, 0, 0, 0]
            bytes += [7, 4] + Array("ranker".utf8) + [0] + Array("0123456789abcdef".utf8) + [0] + Array("candidate".utf8) + [0] + Array("x1".utf8) + [0]
            return [bytes]
        }
    }
}

extension FuzzTarget {
    /// Whether `bytes` get past the target's decoder (a seed must; most fuzz inputs do not).
    package func accepts(_ bytes: [UInt8]) -> Bool {
        switch self {
        case .envelope:
            if (try? Envelope.decode(bytes)) != nil || (try? Batch.envelopes(in: bytes)) != nil { return true }
            return bytes.withUnsafeBytes { raw in
                guard let (_, range) = try? Topic.split(raw) else { return false }
                return (try? Envelope.decode(UnsafeRawBufferPointer(rebasing: raw[range]))) != nil
            }
        case .wire:
            return (try? WireCodec.decode(DecisionRequest.self, from: bytes)) != nil
                || (try? WireCodec.decode(AgentOutput.self, from: bytes)) != nil
                || (try? WireCodec.decode(StoreRequest.self, from: bytes)) != nil
                || (try? WireCodec.decode(StoreReply.self, from: bytes)) != nil
        case .topology:
            return (try? TopologyValidator.load(source: String(decoding: bytes, as: UTF8.self), file: "seed.yaml")) != nil
        case .request:
            return (try? Validation.recommendation(from: bytes)) != nil || (try? Validation.feedbackEvents(from: bytes)) != nil
        case .response:
            return true
        }
    }
}
