public import AgentProtocol
public import AgentRuntime
import Artifacts
import Dataset
import Foundation
import Logging
import Recommender
import Topology

/// A trained ranker: the listwise linear model or boosted trees, over ``RankerFeatures``.
enum TrainedRanker: Sendable, Codable, Equatable {
    case linear(LogisticRanker.Model)
    case boosted(BoostedRanker.Model)

    func score(_ features: UnsafeBufferPointer<Double>) -> Double {
        switch self {
        case .linear(let model): model.score(features)
        case .boosted(let model): model.score(features)
        }
    }
}

/// `rank.learned`: reorders the head (`k` items) of fusion's list with a learned model over
/// per-route scores, popularity and genre affinity: `model: linear` a listwise linear model
/// (`l2` per training user), `model: boosted` LambdaMART (`trees`, `depth`, `learning_rate`),
/// `model: none` the fused order.
///
/// Trained at start the honest way: the upstream routes (read from the topology, with their
/// parameters) are fitted on the training data less its hold-out (``MovieLensData/rankerFit``),
/// fused exactly as the fusion agent fuses, and the ranker learns, per user, which of the
/// fused candidates the hold-out contains. It never sees anything outside the training data,
/// so offline evaluation can run it unchanged. With no upstream route or a failed fit, it
/// logs why and passes the fused order through. Parameters other than `k` take effect at the
/// next start; `k` shapes the training too, so a new `k` serves a model trained on the old.
public actor LearnedRankAgent: Agent {
    public nonisolated let context: AgentContext
    public var parameterSet: ParameterSet {
        didSet { if let bound = try? KindBinding.ranker(parameterSet) { k = bound.k } }
    }
    private var k: Int
    let features: RankerFeatures
    let model: TrainedRanker?
    var live: LiveData

    /// How this start got its model.
    let origin: ModelOrigin

    init(
        _ context: AgentContext, data: MovieLensData, spec: TopologySpec, catalogue: KindCatalogue,
        artifacts: ArtifactStore? = nil
    ) throws {
        self.context = context
        let parameters = ParameterSet(context)
        self.parameterSet = parameters
        let binding = try KindBinding.ranker(parameters)
        self.k = binding.k
        self.live = LiveData(data: data)
        var log = Logger(label: "agentic.agent")
        log[metadataKey: "agent"] = "\(context.name)"
        let start = ContinuousClock.now
        let upstream = Self.upstream(of: context.name, in: spec)
        let features = RankerFeatures(routes: upstream.routes.sorted(), timeline: Timeline(data: data, matrix: data.training))
        self.features = features
        if binding.model == .passthrough {
            // Offline evaluation found no gain from a ranker on this mesh: keep the fused order.
            self.model = nil
            self.origin = .none
            log.info("ranker model none; passing the fused order through")
            return
        }
        do {
            let (model, origin) = try Self.obtain(
                binding, upstream: upstream, data: data, spec: spec, catalogue: catalogue, features: features,
                artifacts: artifacts, log: log)
            self.model = model
            self.origin = origin
            let metadata: Logger.Metadata = [
                "model": "\(parameters.string("model") ?? "")", "routes": "\(features.routes.joined(separator: ","))",
                "training": "\(data.trainingSnapshot)", "origin": "\(origin)", "took": "\(ContinuousClock.now - start)",
            ]
            if origin.isFit && artifacts != nil {
                log.warning("ranker trained at start (no usable artifact)", metadata: metadata)
            } else {
                log.info("ranker ready", metadata: metadata)
            }
        } catch {
            self.model = nil
            self.origin = .none
            log.warning("no ranker model (\(error)); passing the fused order through")
        }
    }

    public func decide(_ request: DecisionRequest) async throws -> DecisionResponse {
        var seen = Set<String>()
        // The head of the fused list, as in training: the model only ever learned to order
        // fusion's top k, so items further down stay out.
        let candidates = Array(
            request.inputs.flatMap(\.items).filter { seen.insert($0.item).inserted }.prefix(max(0, k)))
        guard let model, !candidates.isEmpty else {
            return AgentOutput(agent: context.name, version: context.version, items: candidates)
        }
        let d = features.names.count
        let x = features.matrix(candidates, user: request.user, live: live)
        let scored = x.withUnsafeBufferPointer { f in
            candidates.indices.map { c in
                ScoredItem(
                    item: candidates[c].item, score: model.score(UnsafeBufferPointer(rebasing: f[(c * d)..<((c + 1) * d)])))
            }
        }
        let ranked = scored.sorted { $0.score != $1.score ? $0.score > $1.score : $0.item < $1.item }
        return AgentOutput(agent: context.name, version: context.version, items: ranked)
    }

    public func feedback(_ payload: [UInt8]) async {
        live.take(payload, agent: context.name)
    }

    /// Whether a model was trained (false: pass-through).
    public var isTrained: Bool { model != nil }

    /// The fusion agent feeding `agent` and the recall routes feeding that fusion.
    static func upstream(of agent: String, in spec: TopologySpec) -> (fusion: String?, routes: [String]) {
        let graph = spec.graph
        let fusion = graph.predecessors(of: agent).first { spec.agent(named: $0)?.kind == "fusion" }
        let feeders = fusion.map { graph.predecessors(of: $0) } ?? graph.predecessors(of: agent)
        let routes = feeders.filter { spec.agent(named: $0)?.kind.hasPrefix("recall.") ?? false }
        return (fusion, routes)
    }

    /// What the ranker's training reads from the topology: the upstream routes' bindings (in
    /// feature order) and the fusion rule.
    static func trainingInputs(
        routes: [String], upstream: (fusion: String?, routes: [String]), spec: TopologySpec, catalogue: KindCatalogue
    ) throws -> (routes: [(name: String, recall: KindBinding.Recall)], rule: FusionRule) {
        let bound = try routes.map { name in
            let routeContext = try AgentContext(spec: spec, agent: name, replica: 0, catalogue: catalogue)
            return (name, try KindBinding.recall(kind: routeContext.kind.name, ParameterSet(routeContext)))
        }
        // No fusion agent: the routes weigh equally, z-scored, as the fusion kind's defaults.
        var rule = FusionRule(method: "zscore")
        if let fusion = upstream.fusion {
            let context = try AgentContext(spec: spec, agent: fusion, replica: 0, catalogue: catalogue)
            rule = try KindBinding.fusion(ParameterSet(context))
        }
        return (bound, rule)
    }

    /// The trained ranker: from its artifact, else trained now (and written there).
    static func obtain(
        _ binding: KindBinding.Ranker, upstream: (fusion: String?, routes: [String]), data: MovieLensData,
        spec: TopologySpec, catalogue: KindCatalogue, features: RankerFeatures, artifacts: ArtifactStore?, log: Logger?
    ) throws -> (TrainedRanker, ModelOrigin) {
        let inputs = try trainingInputs(routes: features.routes, upstream: upstream, spec: spec, catalogue: catalogue)
        let key = ModelArtifacts.rankerKey(
            binding, routes: inputs.routes, rule: inputs.rule, features: features.names, snapshot: data.trainingSnapshot)
        return try ModelArtifacts.loadOrFit(
            key: key, store: artifacts, log: log,
            convert: { (artifact, file) throws(ArtifactError) in
                try ModelArtifacts.ranker(artifact, features: features.names, file: file)
            },
            fit: {
                let trained = try train(
                    binding, routes: inputs.routes, rule: inputs.rule, data: data, features: features,
                    artifacts: artifacts, log: log)
                log?.info(
                    "ranker trained",
                    metadata: [
                        "users": "\(trained.users)", "rows": "\(trained.rows)", "positives": "\(trained.positives)",
                    ])
                return trained.model
            },
            artifact: { ModelArtifacts.artifact($0, key: key, features: features.names) })
    }

    /// The training rows: per user with held-out interactions, fusion's head of the upstream
    /// routes' answers (fitted on ``MovieLensData/rankerFit``), labelled by the hold-out.
    static func trainingRows(
        k: Int, routes: [(name: String, recall: KindBinding.Recall)], rule: FusionRule, data: MovieLensData,
        features: RankerFeatures, artifacts: ArtifactStore? = nil, log: Logger? = nil
    ) throws -> (x: [Double], labels: [Bool], groups: [Int]) {
        let models = try routes.map { route in
            (
                name: route.name, k: route.recall.k,
                model: try RecallModel.fitted(
                    route.recall.fit, data: data, matrix: .rankerFit, artifacts: artifacts, log: log
                ).model
            )
        }
        let view = LiveData(data: data, training: data.rankerFit)
        // The same features as served, with the times of what the routes were fitted on.
        let features = RankerFeatures(routes: features.routes, timeline: Timeline(data: data, matrix: data.rankerFit))
        let candidatesKept = max(1, k)
        var x: [Double] = []
        var labels: [Bool] = []
        var groups: [Int] = []
        for row in 0..<data.rankerLabels.rowCount where data.rankerLabels.rowLength(row) > 0 {
            let user = String(data.index.userIDs[row])
            let outputs = models.map {
                AgentOutput(agent: $0.name, version: "", items: $0.model.recommend(user: user, k: $0.k, live: view))
            }
            let fused = FusionCore.fuse(outputs, rule: rule).prefix(candidatesKept)
            guard !fused.isEmpty else { continue }
            groups.append(fused.count)
            x += features.matrix(Array(fused), user: user, live: view)
            labels += fused.map { item in
                view.itemIndex(item.item).map { data.rankerLabels.contains(row: row, column: $0) } ?? false
            }
        }
        return (x, labels, groups)
    }

    static func train(
        _ binding: KindBinding.Ranker, routes: [(name: String, recall: KindBinding.Recall)], rule: FusionRule,
        data: MovieLensData, features: RankerFeatures, artifacts: ArtifactStore? = nil, log: Logger? = nil
    ) throws -> (model: TrainedRanker, users: Int, rows: Int, positives: Int) {
        guard data.rankerLabels.nonZeroCount > 0 else {
            throw AgentRuntimeError(.badRequest, "no held-out interactions to learn from")
        }
        guard !routes.isEmpty else {
            throw AgentRuntimeError(.badRequest, "no recall route feeds the ranker")
        }
        let rows = try trainingRows(
            k: binding.k, routes: routes, rule: rule, data: data, features: features, artifacts: artifacts, log: log)
        let model: TrainedRanker
        switch binding.model {
        case .passthrough:
            throw AgentRuntimeError(.badRequest, "model none trains nothing")
        case .linear(let l2PerUser):
            let configuration = KindBinding.linearRanker(l2PerUser: l2PerUser, users: rows.groups.count)
            model = .linear(
                try LogisticRanker(configuration: configuration).fit(
                    features: rows.x, labels: rows.labels, featureNames: features.names, groups: rows.groups))
        case .boosted(let configuration):
            model = .boosted(
                try BoostedRanker(configuration: configuration).fit(
                    features: rows.x, labels: rows.labels, featureNames: features.names, groups: rows.groups))
        }
        return (model, rows.groups.count, rows.labels.count, rows.labels.filter { $0 }.count)
    }
}
