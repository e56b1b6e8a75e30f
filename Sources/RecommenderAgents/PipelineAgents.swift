public import AgentProtocol
public import AgentRuntime
import Dataset
import Foundation
import Recommender

/// `router` with data: segments the user by the real length of their history (training
/// interactions plus clicks since), `cold` up to `cold_max_history`, `light` up to
/// `light_max_history`, `heavy` beyond; an unknown user is `cold`.
public actor HistoryRouterAgent: Agent {
    public nonisolated let context: AgentContext
    public var parameterSet: ParameterSet
    var live: LiveData

    init(_ context: AgentContext, data: MovieLensData) {
        self.context = context
        self.parameterSet = ParameterSet(context)
        self.live = LiveData(data: data)
    }

    public func decide(_ request: DecisionRequest) async throws -> DecisionResponse {
        AgentOutput(
            agent: context.name, version: context.version, items: [],
            segment: segment(historyCount: live.historyCount(request.user)))
    }

    public func segment(historyCount count: Int) -> String {
        if count <= parameterSet.int("cold_max_history") ?? 5 { return "cold" }
        if count <= parameterSet.int("light_max_history") ?? 30 { return "light" }
        return "heavy"
    }

    public func feedback(_ payload: [UInt8]) async {
        if let event = FeedbackPayload.decode(payload) { _ = live.apply(event) }
    }
}

/// How fusion combines routes; shared by the fusion agent and the ranker's training, so the
/// ranker learns on exactly the features it is served.
enum FusionCore {
    /// At most this many fused candidates travel on: the ranker reorders at most 200 (its
    /// largest `k`) and MMR looks at the head only, and each item carries its sources.
    static let outputLimit = 300

    /// The fused list, best first (ties by item id), each item carrying its per-route
    /// calibrated scores in `sources`.
    ///
    /// Per candidate one dictionary lookup (id → slot) and flat arrays: a dictionary of
    /// totals plus a dictionary of per-item source dictionaries for ~1,200 candidates was most
    /// of the fusion agent's CPU, and it is the mesh's busiest hop. Only the kept items get a
    /// `sources` dictionary. Totals add up in the same order as a per-id dictionary would, so
    /// the scores and the order are the same to the bit.
    static func fuse(_ inputs: [AgentOutput], method: String, weight: (String) -> Double) -> [ScoredItem] {
        let capacity = inputs.reduce(0) { $0 + $1.items.count }
        var slots: [String: Int] = [:]
        slots.reserveCapacity(capacity)
        var ids: [String] = []
        ids.reserveCapacity(capacity)
        var totals: [Double] = []
        totals.reserveCapacity(capacity)
        // Each candidate's (input, calibrated score) in arrival order: a later score from the
        // same input replaces the earlier one, as assigning into a dictionary would.
        var routeScores: [(slot: Int, input: Int, score: Double)] = []
        routeScores.reserveCapacity(capacity)
        for (inputIndex, input) in inputs.enumerated() where !input.items.isEmpty {
            let w = weight(input.agent)
            for (item, score) in zip(input.items, FusionAgent.normalised(input.items, method: method)) {
                let slot: Int
                if let known = slots[item.item] {
                    slot = known
                } else {
                    slot = ids.count
                    slots[item.item] = slot
                    ids.append(item.item)
                    totals.append(0)
                }
                totals[slot] += w * score
                routeScores.append((slot, inputIndex, score))
            }
        }
        var order = Array(ids.indices)
        order.sort { totals[$0] != totals[$1] ? totals[$0] > totals[$1] : ids[$0] < ids[$1] }
        let kept = order.prefix(outputLimit)
        // Slot → its position in the output, for the kept ones only.
        var position = [Int](repeating: -1, count: ids.count)
        for (index, slot) in kept.enumerated() { position[slot] = index }
        var keptSources = [[String: Double]](repeating: [:], count: kept.count)
        for entry in routeScores where position[entry.slot] >= 0 {
            keptSources[position[entry.slot]][inputs[entry.input].agent] = entry.score
        }
        return kept.enumerated().map { index, slot in
            ScoredItem(item: ids[slot], score: totals[slot], sources: keptSources[index])
        }
    }
}

/// `fusion` for the MovieLens mesh: merges the recall routes' lists with `weight.<route>`
/// and `method` (zscore, rank, weighted), and passes each item's per-route calibrated
/// scores on in `sources` for the learned ranker.
public actor SourcedFusionAgent: Agent {
    public nonisolated let context: AgentContext
    public var parameterSet: ParameterSet

    public init(_ context: AgentContext) {
        self.context = context
        self.parameterSet = ParameterSet(context)
    }

    public func decide(_ request: DecisionRequest) async throws -> DecisionResponse {
        AgentOutput(agent: context.name, version: context.version, items: fuse(request.inputs))
    }

    public func fuse(_ inputs: [AgentOutput]) -> [ScoredItem] {
        let parameters = parameterSet
        return FusionCore.fuse(inputs, method: parameters.string("method") ?? "zscore") {
            parameters.double("weight.\($0)") ?? 1
        }
    }
}

/// `rerank.mmr` with data: drops items the user has already seen (history updated by
/// feedback), then picks `min(k, request.k)` items trading relevance for genre diversity
/// (maximal marginal relevance, `lambda` 1 = pure relevance) with at most `genre_cap` items
/// per genre (0 = no cap).
public actor GenreMMRAgent: Agent {
    public nonisolated let context: AgentContext
    public var parameterSet: ParameterSet
    var live: LiveData

    init(_ context: AgentContext, data: MovieLensData) {
        self.context = context
        self.parameterSet = ParameterSet(context)
        self.live = LiveData(data: data)
    }

    public func decide(_ request: DecisionRequest) async throws -> DecisionResponse {
        var k = max(0, parameterSet.int("k") ?? 10)
        if request.k > 0 { k = min(k, request.k) }
        var seen = Set<String>()
        let candidates = request.inputs.flatMap(\.items).filter { seen.insert($0.item).inserted && $0.score.isFinite }
        // An item this agent has not heard of yet (its feedback may still be on the way)
        // joins the catalogue without genres instead of being dropped.
        var indices: [Int] = []
        for candidate in candidates { indices.append(live.itemIndex(adding: candidate.item).index) }
        let lambda = parameterSet.double("lambda") ?? 0.7
        let cap = parameterSet.int("genre_cap") ?? 0
        // Reranker subtracts diversity × similarity from z-scored relevance; MMR's
        // λ·rel − (1−λ)·sim ranks the same as rel − ((1−λ)/λ)·sim.
        let diversity = lambda <= 0 ? 100 : min(100, (1 - lambda) / lambda)
        let reranker = Reranker(
            configuration: .init(
                diversity: diversity, maxItemsPerGenre: cap > 0 ? cap : nil, candidatePool: max(60, k)),
            itemGenres: live.genres)
        let history = live.history(request.user).contains
        let chosen = reranker.rerank(candidates: indices, scores: candidates.map(\.score), k: k) { history.contains($0) }
        let scores = Dictionary(zip(indices, candidates.map(\.score)), uniquingKeysWith: { first, _ in first })
        return AgentOutput(
            agent: context.name, version: context.version,
            items: chosen.map { ScoredItem(item: live.itemIDs[$0], score: scores[$0] ?? 0) })
    }

    public func feedback(_ payload: [UInt8]) async {
        if let event = FeedbackPayload.decode(payload) { _ = live.apply(event) }
    }
}
