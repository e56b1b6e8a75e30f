public import Dataset

/// A recall route with its configuration, so routes can be listed, tuned and fitted uniformly.
public enum RouteSpec: Sendable, Equatable {
    case popularity(Popularity.Configuration)
    case itemKNN(ItemKNN.Configuration)
    case rp3beta(RP3beta.Configuration)
    case ease(EASE.Configuration)
    case als(ALS.Configuration)
    case content(ContentModel.Configuration)

    /// The route's stable name, used as fusion-weight key and in reports.
    public var name: String {
        switch self {
        case .popularity: "popularity"
        case .itemKNN: "itemknn"
        case .rp3beta: "rp3beta"
        case .ease: "ease"
        case .als: "als"
        case .content: "content"
        }
    }

    /// The route's tunable parameters.
    public var decisionSpace: DecisionSpace {
        switch self {
        case .popularity: Popularity.Configuration.decisionSpace
        case .itemKNN: ItemKNN.Configuration.decisionSpace
        case .rp3beta: RP3beta.Configuration.decisionSpace
        case .ease: EASE.Configuration.decisionSpace
        case .als: ALS.Configuration.decisionSpace
        case .content: ContentModel.Configuration.decisionSpace
        }
    }

    /// The same route kind with its configuration rebuilt from named values.
    public func with(values: [String: Double]) -> RouteSpec {
        switch self {
        case .popularity: .popularity(.init(values: values))
        case .itemKNN: .itemKNN(.init(values: values))
        case .rp3beta: .rp3beta(.init(values: values))
        case .ease: .ease(.init(values: values))
        case .als: .als(.init(values: values))
        case .content: .content(.init(values: values))
        }
    }

    /// Fits the route; `items[i]` describes column `i` (only the content route reads it).
    public func fit(on training: InteractionMatrix, items: [Item]) throws(RecommenderError) -> any ScoringModel {
        switch self {
        case .popularity(let c): Popularity(configuration: c).fit(on: training)
        case .itemKNN(let c): ItemKNN(configuration: c).fit(on: training)
        case .rp3beta(let c): RP3beta(configuration: c).fit(on: training)
        case .ease(let c): try EASE(configuration: c).fit(on: training)
        case .als(let c): try ALS(configuration: c).fit(on: training)
        case .content(let c): ContentModel(configuration: c).fit(on: training, items: items)
        }
    }
}

/// Fitted routes sharing one training matrix, with every user's scores materialised
/// once (one BLAS product per route) so candidate generation is a lookup.
public struct RouteSet: Sendable {
    public let training: InteractionMatrix
    public let models: [String: any ScoringModel]
    public let scores: [String: ScoreMatrix]

    public var names: [String] { models.keys.sorted() }

    public init(training: InteractionMatrix, models: [String: any ScoringModel]) {
        self.training = training
        self.models = models
        var scores: [String: ScoreMatrix] = [:]
        for (name, model) in models { scores[name] = model.scoreAll() }
        self.scores = scores
    }

    /// Routes whose scores were already materialised (e.g. cached by an evaluator);
    /// `scores[name]` must be `models[name].scoreAll()`.
    public init(training: InteractionMatrix, models: [String: any ScoringModel], scores: [String: ScoreMatrix]) {
        precondition(Set(models.keys) == Set(scores.keys), "one score matrix per model")
        self.training = training
        self.models = models
        self.scores = scores
    }

    /// Fits every spec on `training`.
    public static func fit(_ specs: [RouteSpec], on training: InteractionMatrix, items: [Item]) throws(RecommenderError) -> RouteSet {
        var models: [String: any ScoringModel] = [:]
        for spec in specs { models[spec.name] = try spec.fit(on: training, items: items) }
        return RouteSet(training: training, models: models)
    }

    /// The route's top-`k` unseen items for `user`, ties to the lower index.
    public func recommend(route: String, user: Int, k: Int, excluding: Set<Int> = []) -> [Int] {
        guard let matrix = scores[route] else { return [] }
        var s = Array(matrix.row(user))
        for i in training.row(user) { s[Int(i)] = -.infinity }
        for i in excluding where i < s.count { s[i] = -.infinity }
        return topK(s, k: k)
    }
}
