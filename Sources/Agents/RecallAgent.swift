public import AgentProtocol
public import AgentRuntime
import Artifacts
import Dataset
import Foundation
import Logging
import Recommender
import Topology

/// How a fit weighs one interaction: (rating / largest training rating)^exponent, 1 for
/// exponent 0 (the binary matrix). The same formula as `InteractionMatrix.denseRatings`,
/// `ItemToItemModel` and `ALS` use when fitting, kept beside the model so a history changed
/// by feedback is scored with the transform the model was fitted with.
struct RatingTransform: Sendable, Equatable {
    let exponent: Double
    /// The largest rating in the training matrix.
    let maximum: Double

    init(exponent: Double, training: InteractionMatrix) {
        self.exponent = exponent
        self.maximum = training.values.max() ?? 1
    }

    func callAsFunction(_ rating: Double) -> Double {
        exponent == 0 ? 1 : pow(max(rating, 0) / maximum, exponent)
    }
}

/// A fitted recall model that scores items for any history, not only the users it was
/// fitted with: that is what lets feedback change the next answer without a refit.
enum RecallModel: Sendable {
    /// Live interaction counts.
    case popularity
    /// EASE, item-kNN, RP3beta: a (rating-weighted) history times an item × item matrix.
    case itemToItem(ItemToItemModel, RatingTransform)
    /// ALS: fitted user factors while a user's history is unchanged, else folded in.
    case als(ALS.Model, gram: [Double], configuration: ALS.Configuration, RatingTransform)
    /// Content: the mean of the history's item vectors against every item.
    case content(ContentModel.Model)

    /// The model `fit` describes on `data`'s `matrix`: from this process's `cache`, else from
    /// its artifact in `artifacts`, else fitted (and written there).
    static func fitted(
        _ fit: KindBinding.RecallFit, data: MovieLensData, matrix: MovieLensData.Matrix, cache: FitCache = .shared,
        artifacts: ArtifactStore? = nil, log: Logger? = nil
    ) throws -> (model: RecallModel, origin: ModelOrigin) {
        var origin = ModelOrigin.memory
        let model = try cache.model(for: FitCache.Key(fit: fit, data: data.key, matrix: matrix)) {
            guard let key = ModelArtifacts.key(fit, snapshot: data.snapshots[matrix] ?? "") else {
                origin = .none
                return try Self.fit(fit, on: data[matrix], items: data.items)
            }
            let (model, how) = try ModelArtifacts.loadOrFit(
                key: key, store: artifacts, log: log,
                convert: { (artifact, file) throws(ArtifactError) in
                    try ModelArtifacts.recallModel(artifact, fit: fit, training: data[matrix], file: file)
                },
                fit: { try Self.fit(fit, on: data[matrix], items: data.items) },
                artifact: { ModelArtifacts.artifact($0, key: key) })
            origin = how
            return model
        }
        return (model, origin)
    }

    /// Fits the model `fit` describes on `training` (`items` describe its columns).
    static func fit(_ fit: KindBinding.RecallFit, on training: InteractionMatrix, items: [Item]) throws -> RecallModel {
        switch fit {
        case .popularity:
            return .popularity
        case .itemKNN(let configuration):
            return .itemToItem(
                ItemKNN(configuration: configuration).fit(on: training),
                RatingTransform(exponent: configuration.ratingExponent, training: training))
        case .rp3beta(let configuration):
            return .itemToItem(
                RP3beta(configuration: configuration).fit(on: training),
                RatingTransform(exponent: configuration.ratingExponent, training: training))
        case .ease(let configuration):
            return .itemToItem(
                try EASE(configuration: configuration).fit(on: training),
                RatingTransform(exponent: configuration.ratingExponent, training: training))
        case .als(let configuration):
            let model = try ALS(configuration: configuration).fit(on: training)
            let gram = model.itemGram()
            return .als(
                model, gram: gram, configuration: configuration,
                RatingTransform(exponent: configuration.ratingExponent, training: training))
        case .content(let configuration):
            return .content(ContentModel(configuration: configuration).fit(on: training, items: items))
        }
    }

    /// Scores of every item the model knows for `user` (nil: no signal, e.g. an empty
    /// history for a history-based model). Popularity covers items feedback introduced.
    func scores(user: String, live: LiveData) -> [Double]? {
        switch self {
        case .popularity:
            return live.popularity
        case .itemToItem(let model, let transform):
            if let row = live.fittedUser(user) { return model.score(user: row) }
            let history = live.history(user)
            return model.score(history: history.items, weights: history.ratings.map { transform($0) })
        case .als(let model, let gram, let configuration, let transform):
            if let row = live.fittedUser(user) { return model.score(user: row) }
            let history = live.history(user)
            var items: [Int] = [], weights: [Double] = []
            for (item, rating) in zip(history.items, history.ratings) where item < model.training.columnCount {
                items.append(item)
                weights.append(transform(rating))
            }
            guard !items.isEmpty else { return nil }
            return model.foldIn(
                items: items, weights: weights, gram: gram,
                regularization: configuration.regularization, alpha: configuration.alpha)
        case .content(let model):
            let items = live.history(user).items.filter { $0 < model.training.columnCount }
            return items.isEmpty ? nil : model.score(history: items)
        }
    }

    /// The `k` best items for `user` that are not in the user's history, best first.
    func recommend(user: String, k: Int, live: LiveData) -> [ScoredItem] {
        guard k > 0, var s = scores(user: user, live: live) else { return [] }
        for item in live.history(user).items where item < s.count { s[item] = -.infinity }
        return topK(s, k: k).map { ScoredItem(item: live.itemIDs[$0], score: s[$0]) }
    }
}

/// `recall.popularity`, `recall.itemknn`, `recall.rp3beta`, `recall.ease`, `recall.als`,
/// `recall.content`: the route's top `k` unseen items for the request's user.
///
/// Fitted at start on the configured training data (through ``FitCache``: agents made again
/// in the same process share the fit); feedback updates the user's history and the items'
/// popularity, so the next decision excludes what the user just clicked and scores from the
/// new history (kNN, EASE, RP3beta sum the new item's row; ALS folds the user in; content
/// re-averages), weighing ratings as the fit did. Unknown users get the popularity list from
/// the popularity route and nothing (no signal) from the history-based ones until they click.
/// Parameters other than `k` take effect at the next start (they shape the fit).
public actor RecallAgent: Agent {
    public nonisolated let context: AgentContext
    public var parameterSet: ParameterSet {
        didSet { if let bound = try? KindBinding.recall(kind: context.kind.name, parameterSet) { k = bound.k } }
    }
    let model: RecallModel
    private var k: Int
    var live: LiveData
    private let log: Logger

    init(_ context: AgentContext, data: MovieLensData, artifacts: ArtifactStore? = nil) throws {
        self.context = context
        let parameters = ParameterSet(context)
        self.parameterSet = parameters
        let binding = try KindBinding.recall(kind: context.kind.name, parameters)
        self.k = binding.k
        var log = Logger(label: "agentic.agent")
        log[metadataKey: "agent"] = "\(context.name)"
        let start = ContinuousClock.now
        let (model, origin) = try RecallModel.fitted(
            binding.fit, data: data, matrix: .training, artifacts: artifacts, log: log)
        self.model = model
        self.live = LiveData(data: data)
        let metadata: Logger.Metadata = [
            "kind": "\(context.kind.name)", "training": "\(data.trainingSnapshot)",
            "interactions": "\(data.training.nonZeroCount)", "model": "\(origin)", "took": "\(ContinuousClock.now - start)",
        ]
        if origin.isFit && artifacts != nil {
            // The fitting job (`agentic fit`, run by the coordinator before a start) should
            // have left an artifact: this start paid for a fit in the serving process.
            log.warning("model fitted at start (no usable artifact)", metadata: metadata)
        } else {
            log.info("model ready", metadata: metadata)
        }
        self.log = log
    }

    public func decide(_ request: DecisionRequest) async throws -> DecisionResponse {
        AgentOutput(
            agent: context.name, version: context.version, items: model.recommend(user: request.user, k: k, live: live))
    }

    public func feedback(_ payload: [UInt8]) async {
        live.take(payload, agent: context.name)
    }
}
