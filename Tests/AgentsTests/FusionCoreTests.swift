import AgentProtocol
import AgentRuntime
import Testing

@testable import Agents

/// `FusionCore.fuse` against the plain dictionary walk it replaced: the same items, scores
/// (to the bit), order and per-route sources, with overlapping routes, repeated ids within a
/// route, ties, empty routes and more candidates than are kept.
@Suite("Fusion core")
struct FusionCoreTests {
    /// The straightforward fusion: a dictionary of totals and one of per-item sources.
    static func reference(_ inputs: [AgentOutput], method: String, weight: (String) -> Double) -> [ScoredItem] {
        var totals: [String: Double] = [:]
        var sources: [String: [String: Double]] = [:]
        for input in inputs where !input.items.isEmpty {
            let w = weight(input.agent)
            for (item, score) in zip(input.items, FusionCore.normalised(input.items, method: method)) {
                totals[item.item, default: 0] += w * score
                sources[item.item, default: [:]][input.agent] = score
            }
        }
        let fused = totals.map { ScoredItem(item: $0.key, score: $0.value, sources: sources[$0.key]) }
            .sorted { $0.score != $1.score ? $0.score > $1.score : $0.item < $1.item }
        return Array(fused.prefix(FusionCore.outputLimit))
    }

    struct Generator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    @Test("same answer as the dictionary walk", arguments: ["zscore", "rank", "weighted"])
    func sameAsReference(method: String) {
        var random = Generator(state: 42)
        let routes = ["popularity", "ease", "rp3beta", "itemknn", "als", "content", "empty"]
        let weights = ["popularity": 0.0, "ease": 1.0, "rp3beta": 0.2, "itemknn": 0.0, "content": 0.05, "als": 0.5]
        for round in 0..<20 {
            let inputs = routes.map { route in
                let count = route == "empty" ? 0 : Int.random(in: 0...250, using: &random)
                let items = (0..<count).map { _ in
                    // Few distinct ids and coarse scores: overlaps, repeats and ties are common.
                    ScoredItem(
                        item: String(Int.random(in: 1...(round.isMultiple(of: 2) ? 400 : 1682), using: &random)),
                        score: Double(Int.random(in: 0...20, using: &random)) / 4)
                }
                return AgentOutput(agent: route, version: "1", items: items)
            }
            let weight: (String) -> Double = { weights[$0] ?? 1 }
            let fused = FusionCore.fuse(inputs, method: method, weights: inputs.map { weight($0.agent) })
            let expected = Self.reference(inputs, method: method, weight: weight)
            #expect(fused == expected)
            #expect(fused.count <= FusionCore.outputLimit)
        }
    }

    @Test("no inputs, no items")
    func empty() {
        #expect(FusionCore.fuse([], method: "zscore", weights: []).isEmpty)
        let empty = AgentOutput(agent: "a", version: "1", items: [])
        #expect(FusionCore.fuse([empty], method: "zscore", weights: [1]).isEmpty)
    }
}
