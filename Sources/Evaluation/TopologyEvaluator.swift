public import Dataset
import Dispatch
import Foundation
public import Recommender
public import Topology

/// Which side of the protocol an evaluation runs on.
public enum EvaluationStage: String, Sendable, Codable, CaseIterable {
    /// Routes fitted on train, scored against valid (a learned ranker is cross-fitted over
    /// two halves of the valid users, so the score is never in-sample).
    case valid
    /// Routes refitted on train + valid, scored against test (the ranker trained on all
    /// of valid with train-fitted routes).
    case test
}

/// What one topology scored on one stage.
public struct TopologyEvaluation: Sendable, Codable {
    public var stage: EvaluationStage
    /// The whole pipeline (`ndcg@10`, `recall@20`, `coverage@10`, `ild@10`, …).
    public var overall: MetricSet
    /// The pipeline per router segment (cold / light / heavy).
    public var segments: [String: MetricSet]
    /// Each recall agent alone (top-20 of its own scores), by agent name.
    public var routes: [String: MetricSet]
    /// Inner reward per agent name: recall agents Recall@k of their k candidates; the
    /// ranker NDCG@10 of its order before re-ranking; the re-ranker ILD@10 gained per
    /// NDCG@10 lost; the router (and fusion) the outer NDCG@10.
    public var innerRewards: [String: Double]
    /// The router's reward per segment: the outer NDCG@10 of the segment's users.
    public var segmentRewards: [String: Double]
    /// Ranker weights on standardised features (linear ranker only).
    public var rankerWeights: [String: Double]
    /// Wall seconds this evaluation took.
    public var seconds: Double
    /// Top-`listLength` item indices per user index (not encoded).
    public var recommendations: [Int: [Int]] = [:]

    enum CodingKeys: String, CodingKey {
        case stage, overall, segments, routes, innerRewards = "inner_rewards", segmentRewards = "segment_rewards"
        case rankerWeights = "ranker_weights", seconds
    }
}

/// A topology tuned on valid, with the values each tuned agent took.
public struct TunedTopology: Sendable {
    /// The input topology with the chosen parameters written in.
    public var topology: TopologySpec
    /// Chosen values per agent name (and per re-ranker floor), for reports.
    public var chosen: [String: [String: Double]]
    /// Wall seconds per tuning step (`routes`, `fusion`, `ranker`, `rerank`), so a slow
    /// run says where its time went.
    public var seconds: [String: Double] = [:]
}

/// Evaluates topologies offline, for `agentic eval` and for the evolution loop.
///
/// Loads the data and the split once; fitted route models are cached by (kind,
/// parameters, training matrix), so re-evaluating a topology that differs only
/// downstream (fusion weights, ranker, MMR λ, router thresholds) refits nothing and
/// takes seconds in release. ``evaluate(_:on:)`` takes the topology AS SPECIFIED;
/// ``tune(_:)`` searches each agent's declared `decision_space` on valid and returns
/// the topology with the chosen values.
///
///     let evaluator = try TopologyEvaluator(configuration: .init(dataDirectory: "data/ml-100k"))
///     let tuned = try await evaluator.tune(spec)
///     let report = try await evaluator.evaluate(tuned.topology, on: .test)
public actor TopologyEvaluator {
    public struct Configuration: Sendable {
        /// Folder with `ml-100k.inter` and `ml-100k.item` (`.user` optional).
        public var dataDirectory: String
        public var split: OfflineEvaluation.SplitSource = .p1
        /// Length of each recommendation list.
        public var listLength: Int = 20
        /// Fitted routes kept (each holds a users × items score matrix, ~13 MB on ML-100K).
        public var cachedRoutes: Int = 24
        /// Tuning picks the most accurate re-ranker setting whose valid ILD@10 reaches
        /// this and whose valid Coverage@10 exceeds the best single route's.
        public var minimumValidILD: Double = 0.81
        /// A fixed valid Coverage@10 floor; nil leaves the floors below.
        public var minimumValidCoverage: Double? = nil
        /// The peer the pipeline must not lose diversity against (EASE λ = 300 in
        /// shared/eval/peers.md): fitted on train once, its valid Coverage@10 × (1 +
        /// ``coverageMargin``) and ILD@10 + ``ildMargin`` become floors too. Test numbers
        /// run above valid ones for every model (more training data), so clearing the
        /// peer on valid by a margin is what makes the test comparison hold; nil skips it.
        public var diversityReference: RouteSpec? = .ease(.init(lambda: 300))
        public var coverageMargin: Double = 0.03
        public var ildMargin: Double = 0.003
        /// Valid NDCG@10 a learned ranker must add over the fused order to be served.
        public var rankerMargin: Double = 0.002
        /// Progress lines (tuning) go here; nil is silent.
        public var log: (@Sendable (String) -> Void)?

        public init(dataDirectory: String, split: OfflineEvaluation.SplitSource = .p1,
                    log: (@Sendable (String) -> Void)? = nil) {
            self.dataDirectory = dataDirectory
            self.split = split
            self.log = log
        }
    }

    /// The data of one protocol run, indexed.
    public struct Data: Sendable {
        public let index: IndexedData
        public let train: InteractionMatrix
        public let valid: InteractionMatrix
        public let test: InteractionMatrix
        public let trainValid: InteractionMatrix
        let genres: [UInt64]
        let catalogueSize: Int

        /// Builds the matrices from a split; `items` is the catalogue.
        public init(items: [Item], split: Split) {
            index = IndexedData(items: items, interactions: split.train + split.valid + split.test)
            train = index.matrix(split.train)
            valid = index.matrix(split.valid)
            test = index.matrix(split.test)
            trainValid = index.matrix(split.train + split.valid)
            genres = Reranker.genreBits(index.items.map(\.genres))
            catalogueSize = items.count
        }

        func training(_ stage: EvaluationStage) -> InteractionMatrix { stage == .valid ? train : trainValid }
        func truth(_ stage: EvaluationStage) -> InteractionMatrix { stage == .valid ? valid : test }
    }

    struct FittedRoute: Sendable {
        let model: any ScoringModel
        let scores: ScoreMatrix
    }

    public let configuration: Configuration
    public let data: Data
    private var routeCache: [String: FittedRoute] = [:]
    private var routeUse: [String: Int] = [:]
    private var useClock = 0
    private var rankerCache: [String: TrainedRanker] = [:]
    private var poolCache: [String: CandidatePools] = [:]
    /// Valid NDCG@10 of single routes tried while tuning, by route key.
    var routeScores: [String: Double] = [:]
    private var poolUse: [String: Int] = [:]
    /// Valid metrics of ``Configuration/diversityReference`` (fitted once per evaluator).
    private var referenceMetrics: MetricSet?
    /// Route models fitted so far (cache misses), for callers that budget refits.
    public private(set) var routeFits = 0
    /// Candidate pools (routes → fusion → ranker for every user) built so far: what an
    /// evaluation that changes only the re-ranker does not rebuild.
    public private(set) var candidatePoolBuilds = 0
    let clock = ContinuousClock()

    /// Loads the data set and computes (or reads) the split.
    public init(configuration: Configuration) throws(EvaluationError) {
        let movieLens: MovieLens
        let split: Split
        do {
            movieLens = try MovieLens.load(directory: configuration.dataDirectory)
            switch configuration.split {
            case .p1:
                split = P1Split.split(movieLens.interactions)
            case .files(let train, let valid, let test):
                split = Split(train: try SplitFile.read(path: train), valid: try SplitFile.read(path: valid),
                              test: try SplitFile.read(path: test))
            }
        } catch {
            throw EvaluationError(code: .data, message: error.description)
        }
        self.init(configuration: configuration, data: Data(items: movieLens.items, split: split))
    }

    /// An evaluator over data already in memory (tests, synthetic data).
    public init(configuration: Configuration, data: Data) {
        self.configuration = configuration
        self.data = data
    }

    func log(_ line: String) { configuration.log?(line) }

    func seconds(since start: ContinuousClock.Instant) -> Double {
        let d = start.duration(to: clock.now)
        return Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
    }

    // MARK: Evaluation as specified

    /// Scores `topology` as specified (no tuning) on `stage`.
    public func evaluate(_ topology: TopologySpec, on stage: EvaluationStage) throws(EvaluationError) -> TopologyEvaluation {
        try evaluate(topology, on: stage, details: true)
    }

    /// Without `details`, only the overall metrics (what tuning reads).
    func evaluate(_ topology: TopologySpec, on stage: EvaluationStage, details: Bool) throws(EvaluationError) -> TopologyEvaluation {
        let start = clock.now
        let plan = try TopologyPlan(topology)
        let pipeline = plan.pipeline(ranker: 1)
        let truth = data.truth(stage), known = data.training(stage)
        let k = configuration.listLength
        let users = Array(0..<known.rowCount)

        // Candidates and their ranker scores depend only on what sits upstream of the
        // re-ranker: computed once per upstream configuration, so searching MMR settings
        // only re-ranks short arrays.
        let upstream = try candidatePools(plan, stage: stage)
        let reranking = upstream.reranking.reranking(with: pipeline)
        let routes = upstream.routes, pools = upstream.pools
        let lists = Self.parallelMap(users) { u in
            (reranking.rerank(user: u, candidates: pools[u], k: k),
             details ? topK(pools[u].scores, k: 10).map { pools[u].items[$0] } : [])
        }
        var recs: [Int: [Int]] = [:], ranked: [Int: [Int]] = [:]
        for (u, pair) in zip(users, lists) { recs[u] = pair.0; ranked[u] = pair.1 }
        let rankerWeights = upstream.rankerWeights
        let overall = Metrics.compute(recommendations: recs, truth: truth, known: known, itemGenres: data.genres,
                                      catalogueSize: data.catalogueSize)
        let router = Router(configuration: plan.router)
        var segments: [String: MetricSet] = [:]
        var segmentRewards: [String: Double] = [:]
        for segment in Router.Segment.allCases where details {
            let members = Set(users.filter { router.segment(historyLength: known.rowLength($0)) == segment })
            guard members.contains(where: { truth.rowLength($0) > 0 }) else { continue }
            let m = Metrics.compute(recommendations: recs, truth: truth, known: known, itemGenres: data.genres,
                                    catalogueSize: data.catalogueSize, users: members)
            segments[segment.rawValue] = m
            segmentRewards[segment.rawValue] = m.ndcg10
        }

        var routeMetrics: [String: MetricSet] = [:]
        var rewards: [String: Double] = [:]
        for route in plan.routes where details {
            guard let scores = routes.scores[route.name] else { continue }
            let depth = max(route.k, k)
            let lists = Runner.recommendAll(scores, training: known, k: depth)
            routeMetrics[route.name] = Metrics.compute(recommendations: lists.mapValues { Array($0.prefix(k)) }, truth: truth,
                                                       known: known, itemGenres: data.genres, catalogueSize: data.catalogueSize)
            rewards[route.name] = Self.recall(lists.mapValues { Array($0.prefix(route.k)) }, truth: truth)
        }
        if let name = plan.rankerAgent, details {
            rewards[name] = Metrics.ndcg10(recommendations: ranked, truth: truth)
        }
        if let name = plan.rerankAgent, details {
            let before = Metrics.compute(recommendations: ranked, truth: truth, known: known, itemGenres: data.genres,
                                         catalogueSize: data.catalogueSize)
            let gained = overall.ild10 - before.ild10, lost = before.ndcg10 - overall.ndcg10
            rewards[name] = gained / max(lost, 0.001)
        }
        if let name = plan.routerAgent { rewards[name] = overall.ndcg10 }
        if let name = plan.fusionAgent, plan.ranker == nil, details { rewards[name] = Metrics.ndcg10(recommendations: ranked, truth: truth) }

        return TopologyEvaluation(
            stage: stage, overall: overall, segments: segments, routes: routeMetrics, innerRewards: rewards,
            segmentRewards: segmentRewards, rankerWeights: rankerWeights, seconds: seconds(since: start), recommendations: recs)
    }

    /// Writes `evaluation`'s lists as `user item rank` (raw ids), the input of `score.py`.
    public func writeRecommendations(_ evaluation: TopologyEvaluation, to path: String) throws(EvaluationError) {
        var text = "user\titem\trank\n"
        for u in 0..<data.index.userCount {
            for (r, i) in (evaluation.recommendations[u] ?? []).enumerated() {
                text += "\(data.index.userIDs[u])\t\(data.index.itemIDs[i])\t\(r + 1)\n"
            }
        }
        do {
            try text.write(toFile: path, atomically: true, encoding: .utf8)
        } catch {
            throw EvaluationError(code: .output, message: "cannot write \(path): \(error.localizedDescription)")
        }
    }

    static func recall(_ lists: [Int: [Int]], truth: InteractionMatrix) -> Double {
        var total = 0.0, count = 0
        for u in 0..<truth.rowCount where truth.rowLength(u) > 0 {
            count += 1
            let hits = (lists[u] ?? []).filter { truth.contains(row: u, column: $0) }.count
            total += Double(hits) / Double(truth.rowLength(u))
        }
        return count > 0 ? total / Double(count) : 0
    }

    static func parallelMap<T: Sendable>(_ input: [Int], _ body: @Sendable (Int) -> T) -> [T] {
        let slots = ConcurrentSlots<T>(count: input.count)
        DispatchQueue.concurrentPerform(iterations: input.count) { slots.set($0, body(input[$0])) }
        return slots.values
    }

    /// The diversity reference's valid metrics (its top 10 by its own scores), or nil
    /// without a reference.
    func diversityReferenceMetrics() throws(EvaluationError) -> MetricSet? {
        if let referenceMetrics { return referenceMetrics }
        guard let reference = configuration.diversityReference else { return nil }
        let scores: ScoreMatrix
        do {
            scores = try reference.fit(on: data.train, items: data.index.items).scoreAll()
        } catch {
            throw EvaluationError(code: .model, message: "diversity reference \(reference.name): \(error.description)")
        }
        let m = Metrics.compute(recommendations: Runner.recommendAll(scores, training: data.train, k: 10), truth: data.valid,
                                known: data.train, itemGenres: data.genres, catalogueSize: data.catalogueSize)
        referenceMetrics = m
        return m
    }

    // MARK: Route models

    static func key(_ spec: RouteSpec, values: [String: Double], stage: EvaluationStage) -> String {
        "\(spec.name)|\(Runner.describe(values))|\(stage.rawValue)"
    }

    func fitted(_ route: TopologyPlan.Route, stage: EvaluationStage, cache: Bool = true) throws(EvaluationError) -> FittedRoute {
        let key = Self.key(route.spec, values: route.values, stage: stage)
        useClock += 1
        if let hit = routeCache[key] {
            routeUse[key] = useClock
            return hit
        }
        routeFits += 1
        let fitted = try Self.fit(route, on: data.training(stage), items: data.index.items)
        if cache { store(fitted, key: key) }
        return fitted
    }

    static func fit(_ route: TopologyPlan.Route, on training: InteractionMatrix, items: [Item]) throws(EvaluationError) -> FittedRoute {
        let model: any ScoringModel
        do {
            model = try route.spec.fit(on: training, items: items)
        } catch {
            throw EvaluationError(code: .model, message: "\(route.name): \(error.description)")
        }
        return FittedRoute(model: model, scores: model.scoreAll())
    }

    private func store(_ fitted: FittedRoute, key: String) {
        if routeCache[key] == nil, routeCache.count >= max(configuration.cachedRoutes, 1),
           let oldest = routeUse.min(by: { $0.value < $1.value })?.key {
            routeCache[oldest] = nil
            routeUse[oldest] = nil
        }
        routeCache[key] = fitted
        routeUse[key] = useClock
    }

    /// Fits `routes` not yet cached concurrently and returns them in order, caching them
    /// if `cache`. Every fit has serial stretches (dense copies, element-wise loops,
    /// top-k pruning) between its BLAS calls; two fits side by side keep both cores busy.
    func fittedConcurrently(_ routes: [TopologyPlan.Route], stage: EvaluationStage,
                            cache: Bool = true) throws(EvaluationError) -> [FittedRoute] {
        let keys = routes.map { Self.key($0.spec, values: $0.values, stage: stage) }
        var missing: [Int] = []
        for (i, key) in keys.enumerated() where routeCache[key] == nil && !missing.contains(where: { keys[$0] == key }) {
            missing.append(i)
        }
        var fresh: [String: FittedRoute] = [:]
        if missing.count > 1 {
            let training = data.training(stage), items = data.index.items
            let pending = missing.map { routes[$0] }
            let results = Self.parallelMap(Array(pending.indices)) { i -> Result<FittedRoute, EvaluationError> in
                do throws(EvaluationError) {
                    return .success(try Self.fit(pending[i], on: training, items: items))
                } catch {
                    return .failure(error)
                }
            }
            for (i, result) in zip(missing, results) {
                routeFits += 1
                fresh[keys[i]] = try result.get()
                if cache { store(fresh[keys[i]]!, key: keys[i]) }
            }
        }
        var out: [FittedRoute] = []
        for (i, route) in routes.enumerated() {
            if let f = fresh[keys[i]] { out.append(f) } else { out.append(try fitted(route, stage: stage, cache: cache)) }
        }
        return out
    }

    func routeSet(_ plan: TopologyPlan, stage: EvaluationStage) throws(EvaluationError) -> RouteSet {
        var models: [String: any ScoringModel] = [:], scores: [String: ScoreMatrix] = [:]
        var routes = plan.routes
        if plan.coldFusion.weights[TopologyPlan.fallbackPopularity] != nil {
            routes.append(.init(name: TopologyPlan.fallbackPopularity, kind: "recall.popularity",
                                spec: .popularity(.init()), values: [:], k: 100, names: [:]))
        }
        for (route, f) in zip(routes, try fittedConcurrently(routes, stage: stage)) {
            models[route.name] = f.model
            scores[route.name] = f.scores
        }
        return RouteSet(training: data.training(stage), models: models, scores: scores)
    }

    // MARK: Candidates before re-ranking

    /// Every user's candidates with their ranker (or fused) scores, for one upstream
    /// configuration (routes, fusion, candidate count, router, ranker) on one stage.
    struct CandidatePools: Sendable {
        let routes: RouteSet
        /// Indexed by user.
        let pools: [(items: [Int], scores: [Double])]
        let rankerWeights: [String: Double]
        /// A model over `routes` that only re-ranks pools: evaluations differing in
        /// re-ranker settings derive theirs from it instead of rebuilding its features.
        let reranking: HybridRecommender.Model
    }

    /// A fusion configuration as a cache key (dictionary descriptions are unordered).
    static func key(_ fusion: Fusion.Configuration) -> String {
        fusion.calibration.rawValue + ":" + fusion.weights.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
    }

    func candidatePools(_ plan: TopologyPlan, stage: EvaluationStage) throws(EvaluationError) -> CandidatePools {
        let routeKeys = plan.routes.map { Self.key($0.spec, values: $0.values, stage: stage) }.sorted()
        let key = "\(stage)|\(routeKeys)|\(Self.key(plan.fusion))|\(Self.key(plan.coldFusion))|\(plan.candidates)|\(plan.router)|\(String(describing: plan.ranker))|\(plan.featureRoutes)"
        useClock += 1
        if let hit = poolCache[key] {
            poolUse[key] = useClock
            return hit
        }
        candidatePoolBuilds += 1
        let routes = try routeSet(plan, stage: stage)
        let pipeline = plan.pipeline(ranker: 1)
        let users = Array(0..<data.training(stage).rowCount)
        // The models serving each user: with a ranker on valid, two cross-fitted halves.
        var models: [(users: [Int], model: HybridRecommender.Model)] = []
        var rankerWeights: [String: Double] = [:]
        if let choice = plan.ranker {
            if stage == .valid {
                for fold in 0..<2 {
                    let ranker = try trainedRanker(plan, choice: choice, fold: fold)
                    models.append((users.filter { $0 % 2 == fold },
                                   ranker.model(HybridRecommender(configuration: pipeline), routes: routes, items: data.index.items)))
                }
            } else {
                let ranker = try trainedRanker(plan, choice: choice, fold: nil)
                rankerWeights = ranker.weights
                models.append((users, ranker.model(HybridRecommender(configuration: pipeline), routes: routes, items: data.index.items)))
            }
        } else {
            models.append((users, HybridRecommender(configuration: pipeline).model(routes: routes, items: data.index.items, ranker: nil)))
        }
        var pools = [(items: [Int], scores: [Double])](repeating: ([], []), count: users.count)
        for (group, model) in models {
            let scored = Self.parallelMap(group) { model.scoredCandidates(user: $0) }
            for (u, pool) in zip(group, scored) { pools[u] = pool }
        }
        let reranking = HybridRecommender(configuration: pipeline).model(routes: routes, items: data.index.items, ranker: nil)
        let result = CandidatePools(routes: routes, pools: pools, rankerWeights: rankerWeights, reranking: reranking)
        if poolCache.count >= 8, let oldest = poolUse.min(by: { $0.value < $1.value })?.key {
            poolCache[oldest] = nil
            poolUse[oldest] = nil
        }
        poolCache[key] = result
        poolUse[key] = useClock
        return result
    }

    // MARK: Ranker

    /// A trained ranker (linear or boosted trees), with how to assemble a model around it.
    struct TrainedRanker: Sendable {
        let linear: LogisticRanker.Model?
        var boosted: BoostedRanker.Model? = nil

        var weights: [String: Double] {
            linear.map { Dictionary(uniqueKeysWithValues: zip($0.featureNames, $0.weights)) } ?? [:]
        }

        func model(_ recommender: HybridRecommender, routes: RouteSet, items: [Item]) -> HybridRecommender.Model {
            if let boosted { return recommender.model(routes: routes, items: items, boosted: boosted) }
            return recommender.model(routes: routes, items: items, ranker: linear)
        }
    }

    /// The ranker trained on valid labels with train-fitted routes: on the users of the
    /// other fold (`fold` 0 or 1, for honest valid scores) or on all (`nil`, for test).
    func trainedRanker(_ plan: TopologyPlan, choice: TopologyPlan.RankerChoice, fold: Int?) throws(EvaluationError) -> TrainedRanker {
        let routes = try routeSet(plan, stage: .valid)
        let routeKeys = plan.routes.map { Self.key($0.spec, values: $0.values, stage: .valid) }.sorted()
        let key = "\(routeKeys)|\(Self.key(plan.fusion))|\(plan.candidates)|\(plan.router)|\(choice)|\(fold.map(String.init) ?? "all")"
        if let hit = rankerCache[key] { return hit }
        let targets = fold.map { f in Runner.rows(of: data.valid, where: { $0 % 2 != f }) } ?? data.valid
        let users = Double(Runner.usersWithRows(targets))
        let pipeline = plan.pipeline(ranker: choice.l2 * users)
        let trained: TrainedRanker
        do {
            let recommender = HybridRecommender(configuration: pipeline)
            if choice.boosted {
                let boosting = BoostedRanker.Configuration(trees: choice.trees, depth: choice.depth, learningRate: choice.learningRate,
                                                           l2: max(choice.l2, 1e-6) * 100)
                trained = TrainedRanker(linear: nil, boosted: try recommender.trainBoostedRanker(
                    routes: routes, items: data.index.items, targets: targets, configuration: boosting))
            } else {
                trained = TrainedRanker(linear: try recommender.trainRanker(routes: routes, items: data.index.items, targets: targets))
            }
        } catch {
            throw EvaluationError(code: .model, message: "ranker: \(error.description)")
        }
        if rankerCache.count > 32 { rankerCache.removeAll() }
        rankerCache[key] = trained
        return trained
    }
}

extension OfflineEvaluation {
    /// The offline protocol on a topology (what `agentic eval FILE` runs): tune every
    /// agent within its decision space on valid, report the tuned pipeline on valid
    /// (routes fitted on train) and on test (refitted on train + valid).
    public static func run(topology: TopologySpec, configuration: Configuration) async throws(EvaluationError) -> EvaluationReport {
        let clock = ContinuousClock()
        let start = clock.now
        var seconds: [String: Double] = [:]
        func lap(_ name: String, since: ContinuousClock.Instant) {
            let d = since.duration(to: clock.now)
            seconds[name] = Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
        }
        // The evaluator runs route fits and users side by side on every core itself.
        limitLinearAlgebraThreads(to: 1)
        var settings = TopologyEvaluator.Configuration(dataDirectory: configuration.dataDirectory, split: configuration.split,
                                                       log: configuration.log)
        settings.listLength = configuration.listLength
        settings.minimumValidILD = configuration.minimumValidILD
        settings.minimumValidCoverage = configuration.minimumValidCoverage
        settings.rankerMargin = configuration.rankerMargin
        let evaluator = try TopologyEvaluator(configuration: settings)
        lap("load", since: start)
        var phase = clock.now
        let tuned = try await evaluator.tune(topology)
        lap("tune", since: phase)
        for (step, s) in tuned.seconds { seconds["tune_\(step)"] = s }
        phase = clock.now
        let valid = try await evaluator.evaluate(tuned.topology, on: .valid)
        lap("valid_report", since: phase)
        phase = clock.now
        let test = try await evaluator.evaluate(tuned.topology, on: .test)
        lap("test_report", since: phase)
        if let path = configuration.recommendationsPath { try await evaluator.writeRecommendations(test, to: path) }
        lap("total", since: start)
        var chosen = tuned.chosen
        for (name, reward) in test.innerRewards { chosen[name, default: [:]]["test_inner_reward"] = reward }
        let data = evaluator.data
        return EvaluationReport(
            split: {
                if case .p1 = configuration.split { return "p1" }
                return "files"
            }(),
            users: data.index.userCount, items: data.index.itemCount, tuned: chosen, rankerWeights: test.rankerWeights,
            valid: StageReport(overall: valid.overall, segments: valid.segments, routes: valid.routes),
            test: StageReport(overall: test.overall, segments: test.segments, routes: test.routes),
            seconds: seconds, recommendationsFile: configuration.recommendationsPath)
    }
}
