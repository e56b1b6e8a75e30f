public import AgentProtocol
public import AgentRuntime
import COpenBLAS
import Dataset
import Foundation
import Logging
import Recommender
import Topology

/// A fitted recall model that scores items for any history, not only the users it was
/// fitted with: that is what lets feedback change the next answer without a refit.
enum RecallModel: Sendable {
    /// Live interaction counts to a power.
    case popularity(exponent: Double)
    /// EASE, item-kNN, RP3beta: a history times an item × item matrix.
    case itemToItem(ItemToItemModel)
    /// ALS: fitted user factors while a user's history is unchanged, else folded in.
    case als(ALS.Model, gram: [Double], regularization: Double, alpha: Double)
    /// Content: the mean of the history's item vectors against every item.
    case content(ContentModel.Model)

    /// Fits the model of a `recall.*` kind from its topology parameters.
    static func fit(kind: String, parameters: ParameterSet, on training: InteractionMatrix, items: [Item]) throws
        -> RecallModel
    {
        switch kind {
        case "recall.popularity":
            return .popularity(exponent: 1)
        case "recall.itemknn":
            return .itemToItem(
                ItemKNN(
                    configuration: .init(
                        neighbours: parameters.int("neighbours") ?? 100, shrinkage: parameters.double("shrinkage") ?? 10)
                ).fit(on: training))
        case "recall.rp3beta":
            return .itemToItem(
                RP3beta(
                    configuration: .init(alpha: parameters.double("alpha") ?? 0.75, beta: parameters.double("beta") ?? 0.6)
                ).fit(on: training))
        case "recall.ease":
            return .itemToItem(try EASE(configuration: .init(lambda: parameters.double("lambda") ?? 300)).fit(on: training))
        case "recall.als":
            let configuration = ALS.Configuration(
                factors: parameters.int("factors") ?? 64, regularization: parameters.double("reg") ?? 30,
                alpha: parameters.double("alpha") ?? 3, iterations: parameters.int("iterations") ?? 15)
            let model = try ALS(configuration: configuration).fit(on: training)
            let f = model.factors, n = training.columnCount
            var gram = [Double](repeating: 0, count: f * f)
            cblas_dgemm(
                CblasRowMajor, CblasTrans, CblasNoTrans, blasint(f), blasint(f), blasint(n), 1.0, model.itemFactors,
                blasint(f), model.itemFactors, blasint(f), 0.0, &gram, blasint(f))
            return .als(model, gram: gram, regularization: configuration.regularization, alpha: configuration.alpha)
        case "recall.content":
            return .content(
                ContentModel(
                    configuration: .init(
                        genreWeight: parameters.double("genre_weight") ?? 0.8,
                        yearWeight: parameters.double("year_weight") ?? 0.2)
                ).fit(on: training, items: items))
        default:
            throw AgentRuntimeError(.unknownKind, "\(kind) is not a recall kind")
        }
    }

    /// Scores of every item the model knows for `user` (nil: no signal, e.g. an empty
    /// history for a history-based model). Popularity covers items feedback introduced.
    func scores(user: String, live: LiveData) -> [Double]? {
        switch self {
        case .popularity(let exponent):
            return exponent == 1 ? live.popularity : live.popularity.map { pow($0, exponent) }
        case .itemToItem(let model):
            if let row = live.fittedUser(user) { return model.score(user: row) }
            let history = live.history(user)
            let n = model.training.columnCount
            let maximum = model.ratingExponent == 0 ? 1 : (model.training.values.max() ?? 1)
            var s = [Double](repeating: 0, count: n)
            var any = false
            model.weights.withUnsafeBufferPointer { w in
                for (item, rating) in zip(history.items, history.ratings) where item < n {
                    let weight = model.ratingExponent == 0 ? 1 : pow(max(rating, 0) / maximum, model.ratingExponent)
                    cblas_daxpy(blasint(n), weight, w.baseAddress! + item * n, 1, &s, 1)
                    any = true
                }
            }
            return any ? s : nil
        case .als(let model, let gram, let regularization, let alpha):
            if let row = live.fittedUser(user) { return model.score(user: row) }
            let items = live.history(user).items.filter { $0 < model.training.columnCount }
            guard !items.isEmpty else { return nil }
            return Self.foldIn(model: model, items: items, gram: gram, regularization: regularization, alpha: alpha)
        case .content(let model):
            let items = live.history(user).items.filter { $0 < model.training.columnCount }
            return items.isEmpty ? nil : model.score(history: items)
        }
    }

    /// ALS scores for a history the model was not fitted with: the user's factors solved
    /// against the fixed item factors, (YᵀY + αΣ yᵢyᵢᵀ + λI) x = (1 + α) Σ yᵢ, as one
    /// half-step of the fit would.
    static func foldIn(model: ALS.Model, items: [Int], gram: [Double], regularization: Double, alpha: Double) -> [Double]? {
        let f = model.factors, n = model.training.columnCount
        var a = gram
        var b = [Double](repeating: 0, count: f)
        for k in 0..<f { a[k * f + k] += regularization }
        for i in items {
            let base = i * f
            for p in 0..<f {
                let yp = model.itemFactors[base + p]
                b[p] += (1 + alpha) * yp
                for q in 0..<f { a[p * f + q] += alpha * yp * model.itemFactors[base + q] }
            }
        }
        let solved = LAPACKE_dposv(LAPACK_ROW_MAJOR, CChar(UInt8(ascii: "U")), Int32(f), 1, &a, Int32(f), &b, 1) == 0
        guard solved else { return nil }
        var s = [Double](repeating: 0, count: n)
        cblas_dgemv(
            CblasRowMajor, CblasNoTrans, blasint(n), blasint(f), 1.0, model.itemFactors, blasint(f), b, 1, 0.0, &s, 1)
        return s
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
/// Fitted once at start on the configured training data; feedback updates the user's
/// history and the items' popularity, so the next decision excludes what the user just
/// clicked and scores from the new history (kNN, EASE, RP3beta sum the new item's row; ALS
/// folds the user in; content re-averages). Unknown users get the popularity list from the
/// popularity route and nothing (no signal) from the history-based ones until they click.
/// Parameters other than `k` take effect at the next start (they shape the fit).
public actor RecallAgent: Agent {
    public nonisolated let context: AgentContext
    public var parameterSet: ParameterSet
    let model: RecallModel
    var live: LiveData
    private let log: Logger

    init(_ context: AgentContext, data: MovieLensData) throws {
        self.context = context
        let parameters = ParameterSet(context)
        self.parameterSet = parameters
        var log = Logger(label: "agentic.agent")
        log[metadataKey: "agent"] = "\(context.name)"
        let start = ContinuousClock.now
        self.model = try RecallModel.fit(
            kind: context.kind.name, parameters: parameters, on: data.training, items: data.items)
        self.live = LiveData(data: data)
        log.info(
            "fitted",
            metadata: [
                "kind": "\(context.kind.name)", "training": "\(data.configuration.training.rawValue)",
                "interactions": "\(data.training.nonZeroCount)", "took": "\(ContinuousClock.now - start)",
            ])
        self.log = log
    }

    public func decide(_ request: DecisionRequest) async throws -> DecisionResponse {
        AgentOutput(
            agent: context.name, version: context.version,
            items: model.recommend(user: request.user, k: parameterSet.int("k") ?? 100, live: live))
    }

    public func feedback(_ payload: [UInt8]) async {
        guard let event = FeedbackPayload.decode(payload) else {
            log.warning("undecodable feedback event")
            return
        }
        _ = live.apply(event)
    }
}
