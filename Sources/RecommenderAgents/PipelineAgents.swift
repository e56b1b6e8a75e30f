public import AgentProtocol
public import AgentRuntime
import Dataset
import Foundation
import Recommender

/// `router` with data: segments the user by the real length of their history (training
/// interactions plus clicks since) with the data-free router's ``SegmentRule``: `cold` up to
/// `cold_max_history`, `light` up to `light_max_history`, `heavy` beyond; an unknown user is
/// `cold`.
public actor HistoryRouterAgent: Agent {
    public nonisolated let context: AgentContext
    public var parameterSet: ParameterSet {
        didSet { if let bound = try? KindBinding.router(parameterSet) { rule = bound } }
    }
    private var rule: SegmentRule
    var live: LiveData

    init(_ context: AgentContext, data: MovieLensData) throws {
        self.context = context
        let parameters = ParameterSet(context)
        self.parameterSet = parameters
        self.rule = try KindBinding.router(parameters)
        self.live = LiveData(data: data)
    }

    public func decide(_ request: DecisionRequest) async throws -> DecisionResponse {
        AgentOutput(
            agent: context.name, version: context.version, items: [],
            segment: segment(historyCount: live.historyCount(request.user)))
    }

    public func segment(historyCount count: Int) -> String {
        rule.segment(historyCount: count)
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

    /// The fused list of `inputs` under `rule` (its weights, all-zero fallback included).
    static func fuse(_ inputs: [AgentOutput], rule: FusionRule) -> [ScoredItem] {
        fuse(inputs, method: rule.method, weights: rule.weights(for: inputs))
    }

    /// The fused list, best first (ties by item id), each item carrying its per-route
    /// calibrated scores in `sources`; `weights` are the inputs', in order.
    ///
    /// Per candidate one dictionary lookup (id → slot) and flat arrays: a dictionary of
    /// totals plus a dictionary of per-item source dictionaries for ~1,200 candidates was most
    /// of the fusion agent's CPU, and it is the mesh's busiest hop. Only the kept items get a
    /// `sources` dictionary. Totals add up in the same order as a per-id dictionary would, so
    /// the scores and the order are the same to the bit.
    static func fuse(_ inputs: [AgentOutput], method: String, weights: [Double]) -> [ScoredItem] {
        precondition(weights.count == inputs.count, "one weight per input")
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
            let w = weights[inputIndex]
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
/// and `method` (zscore, rank, weighted) under the data-free fusion's ``FusionRule``, and
/// passes each item's per-route calibrated scores on in `sources` for the learned ranker.
public actor SourcedFusionAgent: Agent {
    public nonisolated let context: AgentContext
    public var parameterSet: ParameterSet {
        didSet { if let bound = try? KindBinding.fusion(parameterSet) { rule = bound } }
    }
    private var rule: FusionRule

    public init(_ context: AgentContext) throws(AgentRuntimeError) {
        self.context = context
        let parameters = ParameterSet(context)
        self.parameterSet = parameters
        self.rule = try KindBinding.fusion(parameters)
    }

    public func decide(_ request: DecisionRequest) async throws -> DecisionResponse {
        AgentOutput(agent: context.name, version: context.version, items: fuse(request.inputs))
    }

    public func fuse(_ inputs: [AgentOutput]) -> [ScoredItem] {
        FusionCore.fuse(inputs, rule: rule)
    }
}

/// `rerank.mmr` with data: drops items the user has already seen (history updated by
/// feedback), then picks `min(k, request.k)` items trading relevance for genre diversity
/// (maximal marginal relevance, `lambda` 1 = pure relevance) with at most `genre_cap` items
/// per genre (0 = no cap), relevance lowered by `popularity_penalty` per unit of z-scored
/// log popularity (live counts) over the candidates.
public actor GenreMMRAgent: Agent {
    public nonisolated let context: AgentContext
    public var parameterSet: ParameterSet {
        didSet { if let bound = try? KindBinding.mmr(parameterSet) { binding = bound } }
    }
    private var binding: KindBinding.MMR
    var live: LiveData

    init(_ context: AgentContext, data: MovieLensData) throws {
        self.context = context
        let parameters = ParameterSet(context)
        self.parameterSet = parameters
        self.binding = try KindBinding.mmr(parameters)
        self.live = LiveData(data: data)
    }

    public func decide(_ request: DecisionRequest) async throws -> DecisionResponse {
        var k = max(0, binding.k)
        if request.k > 0 { k = min(k, request.k) }
        var seen = Set<String>()
        let candidates = request.inputs.flatMap(\.items).filter { seen.insert($0.item).inserted && $0.score.isFinite }
        // An item this agent has not heard of yet (its feedback may still be on the way)
        // joins the catalogue without genres instead of being dropped.
        var indices: [Int] = []
        for candidate in candidates { indices.append(live.itemIndex(adding: candidate.item).index) }
        let reranker = Reranker(
            configuration: binding.reranker, itemGenres: live.genres, itemPopularity: live.logPopularity)
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
