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
        live.take(payload, agent: context.name)
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
        live.take(payload, agent: context.name)
    }
}
