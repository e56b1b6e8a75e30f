import Recommender
import Topology

/// A topology read as an offline pipeline: which recall agents feed fusion, fusion's
/// weights, whether a learned ranker is on the path, the re-ranker and the router.
struct TopologyPlan: Sendable {
    /// One recall agent as a route.
    struct Route: Sendable {
        var name: String
        var kind: String
        var spec: RouteSpec
        /// The route's parameters in the Recommender's names (what `spec` was built from).
        var values: [String: Double]
        /// Candidates the agent returns (its inner reward is Recall@k of them).
        var k: Int
        /// Topology parameter name → Recommender parameter name, for the decision space.
        var names: [String: String]
    }

    var routes: [Route]
    var fusionAgent: String?
    var fusionInputs: [String]
    var fusion: Fusion.Configuration
    var rankerAgent: String?
    var ranker: RankerChoice?
    /// Fused candidates the ranker (or the pass-through) keeps.
    var candidates: Int
    var rerankAgent: String?
    var reranker: Reranker.Configuration
    var routerAgent: String?
    var router: Router.Configuration

    /// The learned ranker of a `rank.learned` agent.
    struct RankerChoice: Sendable, Hashable {
        /// Per-user L2 (the Recommender's total L2 is this × training users).
        var l2: Double
        var boosted: Bool
        var trees: Int
        var depth: Int
        var learningRate: Double
    }

    /// Kind → the route it builds and the topology-to-Recommender parameter names.
    static let routeKinds: [String: (RouteSpec, [String: String])] = [
        "recall.popularity": (.popularity(.init()), [:]),
        "recall.itemknn": (.itemKNN(.init()), ["neighbours": "neighbours", "shrinkage": "shrinkage",
                                              "rating_exponent": "ratingExponent"]),
        "recall.rp3beta": (.rp3beta(.init()), ["alpha": "alpha", "beta": "beta", "neighbours": "neighbours",
                                               "rating_exponent": "ratingExponent"]),
        "recall.ease": (.ease(.init()), ["lambda": "lambda", "dropout": "dropout", "zero_diagonal": "zeroDiagonal",
                                         "rating_exponent": "ratingExponent", "user_normalization": "userNormalization"]),
        "recall.als": (.als(.init()), ["factors": "factors", "reg": "regularization", "alpha": "alpha",
                                       "iterations": "iterations", "rating_exponent": "ratingExponent"]),
        "recall.content": (.content(.init()), ["genre_weight": "genreWeight", "year_weight": "yearWeight",
                                               "title_weight": "titleWeight"]),
    ]

    static func number(_ value: ParameterValue?) -> Double? {
        guard let value else { return nil }
        if let b = value.bool { return b ? 1 : 0 }
        return value.number
    }

    init(_ topology: TopologySpec, catalogue: KindCatalogue = .builtin) throws(EvaluationError) {
        func parameters(_ agent: AgentSpec) -> [String: ParameterValue] {
            catalogue[agent.kind]?.resolvedParameters(agent.parameters) ?? agent.parameters
        }
        let graph = topology.graph
        routes = []
        for agent in topology.agents where agent.kind.hasPrefix("recall.") {
            guard let (base, names) = Self.routeKinds[agent.kind] else {
                throw EvaluationError(code: .model, message: "agent '\(agent.name)': kind \(agent.kind) has no offline model")
            }
            let p = parameters(agent)
            var values: [String: Double] = [:]
            for (topologyName, name) in names { if let v = Self.number(p[topologyName]) { values[name] = v } }
            routes.append(Route(name: agent.name, kind: agent.kind, spec: base.with(values: values), values: values,
                                k: p["k"]?.int ?? 100, names: names))
        }
        guard !routes.isEmpty else {
            throw EvaluationError(code: .model, message: "the topology has no recall agent to evaluate")
        }
        let routeNames = Set(routes.map(\.name))

        let fusionAgents = topology.agents.filter { $0.kind == "fusion" }
        if let agent = fusionAgents.first {
            let p = parameters(agent)
            fusionAgent = agent.name
            fusionInputs = graph.predecessors(of: agent.name).filter { routeNames.contains($0) }.sorted()
            var weights: [String: Double] = [:]
            for name in fusionInputs { weights[name] = Self.number(agent.parameters["weight.\(name)"]) ?? 1 }
            let calibration: Fusion.Calibration = p["method"]?.string == "rank" ? .reciprocalLogRank : .zScore
            fusion = Fusion.Configuration(weights: weights, calibration: calibration)
        } else {
            fusionAgent = nil
            fusionInputs = routes.map(\.name).sorted()
            fusion = Fusion.Configuration(weights: Dictionary(uniqueKeysWithValues: fusionInputs.map { ($0, 1.0) }))
        }
        guard !fusionInputs.isEmpty else {
            throw EvaluationError(code: .model, message: "fusion agent '\(fusionAgent ?? "")' has no recall agent among its inputs")
        }

        candidates = 100
        rankerAgent = nil
        ranker = nil
        if let agent = topology.agents.first(where: { $0.kind == "rank.learned" }), parameters(agent)["model"]?.string == "none" {
            // `model: none` is a learned-ranker agent told to pass the fused order through.
            rankerAgent = agent.name
            candidates = parameters(agent)["k"]?.int ?? 100
        } else if let agent = topology.agents.first(where: { $0.kind == "rank.learned" }) {
            let p = parameters(agent)
            rankerAgent = agent.name
            candidates = p["k"]?.int ?? 100
            ranker = RankerChoice(l2: Self.number(p["l2"]) ?? 0.01, boosted: p["model"]?.string == "boosted",
                                  trees: p["trees"]?.int ?? 200, depth: p["depth"]?.int ?? 4,
                                  learningRate: Self.number(p["learning_rate"]) ?? 0.05)
        } else if let agent = topology.agents.first(where: { $0.kind == "rank.passthrough" }) {
            rankerAgent = agent.name
            candidates = parameters(agent)["k"]?.int ?? 100
        }

        reranker = Reranker.Configuration()
        rerankAgent = nil
        if let agent = topology.agents.first(where: { $0.kind == "rerank.mmr" }) {
            let p = parameters(agent)
            rerankAgent = agent.name
            reranker.diversity = Self.diversity(mmrLambda: Self.number(p["lambda"]) ?? 1)
            let cap = p["genre_cap"]?.int ?? 0
            reranker.maxItemsPerGenre = cap > 0 ? cap : nil
            reranker.popularityPenalty = Self.number(p["popularity_penalty"]) ?? 0
        }

        router = Router.Configuration()
        routerAgent = nil
        if let agent = topology.agents.first(where: { $0.kind == "router" }) {
            let p = parameters(agent)
            routerAgent = agent.name
            if let cold = p["cold_max_history"]?.int { router.coldMaximum = cold }
            if let light = p["light_max_history"]?.int { router.heavyMinimum = light + 1 }
        }
    }

    /// MMR's λ (1 = pure relevance) as the re-ranker's diversity weight: λ·rel − (1−λ)·sim
    /// ranks like rel − ((1−λ)/λ)·sim.
    static func diversity(mmrLambda lambda: Double) -> Double {
        lambda <= 0 ? 1e6 : (1 - lambda) / lambda
    }

    static func mmrLambda(diversity: Double) -> Double { 1 / (1 + diversity) }

    /// Routes the ranker reads scores and ranks of: fusion's inputs except popularity,
    /// which is already a feature of its own.
    var featureRoutes: [String] {
        let kinds = Dictionary(uniqueKeysWithValues: routes.map { ($0.name, $0.kind) })
        return fusionInputs.filter { kinds[$0] != "recall.popularity" }
    }

    /// Cold users have too little history for co-occurrence: popularity and content.
    var coldFusion: Fusion.Configuration {
        var weights: [String: Double] = [:]
        for r in routes {
            if r.kind == "recall.popularity" { weights[r.name] = 1 }
            if r.kind == "recall.content" { weights[r.name] = 0.3 }
        }
        if !weights.values.contains(1) { weights[TopologyPlan.fallbackPopularity] = 1 }
        return Fusion.Configuration(weights: weights)
    }

    /// A popularity route the evaluator adds when the topology has none, so cold users
    /// are always served.
    static let fallbackPopularity = "_popularity"

    func pipeline(ranker rankerModelL2: Double) -> HybridRecommender.Configuration {
        let warm = HybridRecommender.SegmentPolicy(fusion: fusion, useRanker: ranker != nil, diversity: reranker.diversity,
                                                   popularityPenalty: reranker.popularityPenalty)
        let cold = HybridRecommender.SegmentPolicy(fusion: coldFusion, useRanker: false, diversity: reranker.diversity,
                                                   popularityPenalty: 0)
        var rerank = reranker
        rerank.candidatePool = 60
        return HybridRecommender.Configuration(
            candidatesPerRoute: candidates, featureRoutes: featureRoutes, router: router,
            policies: [.cold: cold, .light: warm, .heavy: warm], reranker: rerank,
            ranker: .init(l2: rankerModelL2, objective: .listwise))
    }
}

extension TopologySpec {
    /// A copy with agent `name`'s parameter set (nothing if there is no such agent).
    func setting(_ name: String?, _ parameter: String, _ value: ParameterValue) -> TopologySpec {
        var copy = self
        if let name, let index = copy.agents.firstIndex(where: { $0.name == name }) {
            copy.agents[index].parameters[parameter] = value
        }
        return copy
    }
}
