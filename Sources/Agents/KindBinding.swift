import AgentRuntime
import Recommender
import Topology

/// The one reading of a MovieLens kind's parameters: from (kind, ``AgentRuntime/ParameterSet``)
/// to the `Recommender` configuration the agent runs.
///
/// Every agent of this module binds through it, at start and again on every parameter write,
/// and reads nothing from its parameters otherwise; so what a topology says is what serves,
/// and offline evaluation, which runs these same agents, measures exactly that. The defaults
/// are the catalogue's (the parameter set resolves them): none are repeated here.
enum KindBinding {
    /// What a recall kind fits: the parameters that shape its model, and nothing else (not
    /// `k`), so equal fits share one model in ``FitCache``.
    enum RecallFit: Sendable, Hashable {
        case popularity
        case itemKNN(ItemKNN.Configuration)
        case rp3beta(RP3beta.Configuration)
        case ease(EASE.Configuration)
        case als(ALS.Configuration)
        case content(ContentModel.Configuration)
    }

    /// A `recall.*` agent: how many candidates it returns and what it fits.
    struct Recall: Sendable, Equatable {
        var k: Int
        var fit: RecallFit
    }

    /// `rerank.mmr`: the list length and the re-ranker's settings.
    struct MMR: Sendable, Equatable {
        var k: Int
        var reranker: Reranker.Configuration
    }

    /// `rank.learned`: the head of fusion's list it reorders (and trains on), and its model.
    struct Ranker: Sendable, Equatable {
        var k: Int
        var model: RankerModel
    }

    /// The learned ranker's model.
    enum RankerModel: Sendable, Equatable {
        /// `none`: pass the fused order through.
        case passthrough
        /// `LogisticRanker`, listwise over each user's candidates; `l2` is per training user
        /// (``KindBinding/linearRanker(l2PerUser:users:)`` scales it), so its meaning does not
        /// change with the number of users trained on.
        case linear(l2PerUser: Double)
        /// `BoostedRanker` (LambdaMART) on the same features and groups.
        case boosted(BoostedRanker.Configuration)
    }

    /// The binding of a `recall.*` agent.
    /// - Throws: ``AgentRuntimeError/Code/unknownKind`` for a kind that is not a recall kind
    ///   of this module; ``AgentRuntimeError/Code/invalidParameter`` for a missing parameter.
    static func recall(kind: String, _ parameters: ParameterSet) throws(AgentRuntimeError) -> Recall {
        let fit: RecallFit
        switch kind {
        case "recall.popularity": fit = .popularity
        case "recall.itemknn": fit = .itemKNN(try itemKNN(parameters))
        case "recall.rp3beta": fit = .rp3beta(try rp3beta(parameters))
        case "recall.ease": fit = .ease(try ease(parameters))
        case "recall.als": fit = .als(try als(parameters))
        case "recall.content": fit = .content(try content(parameters))
        default: throw AgentRuntimeError(.unknownKind, "\(kind) is not a MovieLens recall kind")
        }
        return Recall(k: try parameters.requiredInt("k"), fit: fit)
    }

    static func itemKNN(_ p: ParameterSet) throws(AgentRuntimeError) -> ItemKNN.Configuration {
        ItemKNN.Configuration(
            neighbours: try p.requiredInt("neighbours"), shrinkage: try p.requiredDouble("shrinkage"),
            ratingExponent: try p.requiredDouble("rating_exponent"))
    }

    static func rp3beta(_ p: ParameterSet) throws(AgentRuntimeError) -> RP3beta.Configuration {
        RP3beta.Configuration(
            alpha: try p.requiredDouble("alpha"), beta: try p.requiredDouble("beta"),
            neighbours: try p.requiredInt("neighbours"), ratingExponent: try p.requiredDouble("rating_exponent"))
    }

    static func ease(_ p: ParameterSet) throws(AgentRuntimeError) -> EASE.Configuration {
        EASE.Configuration(
            lambda: try p.requiredDouble("lambda"), dropout: try p.requiredDouble("dropout"),
            zeroDiagonal: try p.requiredBool("zero_diagonal"), ratingExponent: try p.requiredDouble("rating_exponent"),
            userNormalization: try p.requiredDouble("user_normalization"))
    }

    static func als(_ p: ParameterSet) throws(AgentRuntimeError) -> ALS.Configuration {
        ALS.Configuration(
            factors: try p.requiredInt("factors"), regularization: try p.requiredDouble("reg"),
            alpha: try p.requiredDouble("alpha"), iterations: try p.requiredInt("iterations"),
            ratingExponent: try p.requiredDouble("rating_exponent"))
    }

    static func content(_ p: ParameterSet) throws(AgentRuntimeError) -> ContentModel.Configuration {
        ContentModel.Configuration(
            genreWeight: try p.requiredDouble("genre_weight"), yearWeight: try p.requiredDouble("year_weight"),
            titleWeight: try p.requiredDouble("title_weight"))
    }

    /// `router`: the segment rule the data-free router shares.
    static func router(_ p: ParameterSet) throws(AgentRuntimeError) -> SegmentRule { try SegmentRule(p) }

    /// `fusion`: calibration and weights, the rule the data-free fusion shares.
    static func fusion(_ p: ParameterSet) throws(AgentRuntimeError) -> FusionRule { try FusionRule(p) }

    /// `rerank.mmr`. MMR's λ·rel − (1−λ)·sim ranks like rel − ((1−λ)/λ)·sim, the re-ranker's
    /// diversity; capped at 100, where relevance no longer matters (λ near 0).
    static func mmr(_ p: ParameterSet) throws(AgentRuntimeError) -> MMR {
        let lambda = try p.requiredDouble("lambda")
        let cap = try p.requiredInt("genre_cap")
        return MMR(
            k: try p.requiredInt("k"),
            reranker: Reranker.Configuration(
                diversity: lambda <= 0 ? 100 : min(100, (1 - lambda) / lambda), maxItemsPerGenre: cap > 0 ? cap : nil,
                popularityPenalty: try p.requiredDouble("popularity_penalty")))
    }

    /// `rank.learned`.
    static func ranker(_ p: ParameterSet) throws(AgentRuntimeError) -> Ranker {
        let l2 = try p.requiredDouble("l2")
        let model: RankerModel
        switch try p.requiredString("model") {
        case "none":
            model = .passthrough
        case "linear":
            model = .linear(l2PerUser: l2)
        case "boosted":
            // Leaf values take the l2 ×100, as offline evaluation tuned it: one l2 range then
            // suits both models.
            model = .boosted(
                BoostedRanker.Configuration(
                    trees: try p.requiredInt("trees"), depth: try p.requiredInt("depth"),
                    learningRate: try p.requiredDouble("learning_rate"), l2: max(l2, 1e-6) * 100))
        case let other:
            throw AgentRuntimeError(.invalidParameter, "rank.learned: model \(other) is not linear, boosted or none")
        }
        return Ranker(k: try p.requiredInt("k"), model: model)
    }

    /// The linear ranker's configuration for `users` training users. `LogisticRanker` takes
    /// a total l2 and divides it by the users it learns from (its listwise loss is a mean over
    /// users); the catalogue's `l2` is per user, as offline evaluation took it.
    static func linearRanker(l2PerUser: Double, users: Int) -> LogisticRanker.Configuration {
        LogisticRanker.Configuration(l2: l2PerUser * Double(max(users, 1)), objective: .listwise)
    }
}
