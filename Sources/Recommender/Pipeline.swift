public import Dataset

/// Item metadata in the form the pipeline needs, aligned with matrix columns.
public struct ItemSideInformation: Sendable {
    public let genreBits: [UInt64]
    /// Release year, with the catalogue mean where unknown.
    public let releaseYear: [Double]

    public init(items: [Item]) {
        genreBits = Reranker.genreBits(items.map(\.genres))
        let known = items.compactMap(\.releaseYear)
        let mean = known.isEmpty ? 0 : Double(known.reduce(0, +)) / Double(known.count)
        releaseYear = items.map { $0.releaseYear.map(Double.init) ?? mean }
    }
}

/// The full recommender: routes → fusion → learned ranker → re-ranker, with a router
/// choosing the pipeline per user segment.
public struct HybridRecommender: Sendable {
    /// What one user segment runs.
    public struct SegmentPolicy: Sendable, Equatable {
        /// Route weights for fusion (calibrated per user).
        public var fusion: Fusion.Configuration
        /// Whether the learned ranker reorders the candidates (when one is trained).
        public var useRanker: Bool
        /// MMR diversity λ for this segment.
        public var diversity: Double
        /// Re-ranker popularity penalty for this segment (raises catalogue coverage).
        public var popularityPenalty: Double

        public init(fusion: Fusion.Configuration, useRanker: Bool, diversity: Double, popularityPenalty: Double = 0) {
            self.fusion = fusion
            self.useRanker = useRanker
            self.diversity = diversity
            self.popularityPenalty = popularityPenalty
        }
    }

    public struct Configuration: Sendable, Equatable {
        /// Candidates taken from the head of the fused list.
        public var candidatesPerRoute: Int = 100
        /// Extra candidates from the head of each route alone (0: fused head only, which
        /// keeps the ranker focused on reordering plausible items).
        public var routeCandidates: Int = 0
        /// Routes whose calibrated scores and ranks become ranker features.
        public var featureRoutes: [String] = []
        public var router: Router.Configuration = .init()
        /// Policies per segment; a missing segment falls back to `.light`'s, then popularity.
        public var policies: [Router.Segment: SegmentPolicy] = [:]
        /// Shared re-ranker settings (its diversity is overridden per segment).
        public var reranker: Reranker.Configuration = .init()
        public var ranker: LogisticRanker.Configuration = .init()

        public init(candidatesPerRoute: Int = 100, featureRoutes: [String] = [], router: Router.Configuration = .init(),
                    policies: [Router.Segment: SegmentPolicy] = [:], reranker: Reranker.Configuration = .init(),
                    ranker: LogisticRanker.Configuration = .init()) {
            self.candidatesPerRoute = candidatesPerRoute
            self.featureRoutes = featureRoutes
            self.router = router
            self.policies = policies
            self.reranker = reranker
            self.ranker = ranker
        }

        public static let decisionSpace = DecisionSpace(component: "pipeline", parameters: [
            .int("candidatesPerRoute", 20...1000, default: 100, logScale: true),
        ])

        func policy(for segment: Router.Segment) -> SegmentPolicy {
            policies[segment] ?? policies[.light]
                ?? SegmentPolicy(fusion: .init(weights: ["popularity": 1]), useRanker: false, diversity: 0)
        }
    }

    /// A fitted pipeline: immutable and safe to share across serving tasks.
    public struct Model: Sendable {
        public let configuration: Configuration
        public let routes: RouteSet
        public let side: ItemSideInformation
        public let ranker: LogisticRanker.Model?
        /// Boosted trees; when present they score the candidates instead of `ranker`.
        public let boosted: BoostedRanker.Model?
        let builder: FeatureBuilder

        init(configuration: Configuration, routes: RouteSet, side: ItemSideInformation, ranker: LogisticRanker.Model?,
             boosted: BoostedRanker.Model? = nil) {
            self.configuration = configuration
            self.routes = routes
            self.side = side
            self.ranker = ranker
            self.boosted = boosted
            builder = FeatureBuilder(routes: routes, side: side, configuration: configuration)
        }

        private init(configuration: Configuration, reusing model: Model) {
            self.configuration = configuration
            routes = model.routes
            side = model.side
            ranker = model.ranker
            boosted = model.boosted
            builder = model.builder
        }

        /// This model with other re-ranker settings (shared λ, candidate pool, per-segment
        /// diversity and popularity penalty). Candidates and ranker scores do not depend on
        /// them, so an offline search over re-ranker settings reuses the fitted parts instead
        /// of rebuilding the feature index (item timelines) for every setting. Everything
        /// else in `configuration` must equal this model's.
        public func reranking(with configuration: Configuration) -> Model {
            precondition(configuration.candidatesPerRoute == self.configuration.candidatesPerRoute
                && configuration.routeCandidates == self.configuration.routeCandidates
                && configuration.featureRoutes == self.configuration.featureRoutes
                && configuration.router == self.configuration.router,
                "only re-ranker settings may change")
            return Model(configuration: configuration, reusing: self)
        }

        public var router: Router { Router(configuration: configuration.router) }

        public func segment(user: Int) -> Router.Segment {
            router.segment(historyLength: routes.training.rowLength(user))
        }

        /// The `k` best items for `user`, never a seen or excluded item.
        public func recommend(user: Int, k: Int, excluding: Set<Int> = []) -> [Int] {
            let policy = configuration.policy(for: segment(user: user))
            let candidates = scoredCandidates(user: user, policy: policy, excluding: excluding)
            return rerank(user: user, candidates: candidates, k: k, excluding: excluding)
        }

        /// `user`'s candidates with their ranker (or fused) scores, before re-ranking: the
        /// part of ``recommend(user:k:excluding:)`` that re-ranker settings do not change,
        /// so an offline search over those settings computes it once per user.
        public func scoredCandidates(user: Int) -> (items: [Int], scores: [Double]) {
            scoredCandidates(user: user, policy: configuration.policy(for: segment(user: user)), excluding: [])
        }

        /// Re-ranks candidates from ``scoredCandidates(user:)`` (of any model with the same
        /// routes, fusion and ranker) with this model's re-ranker settings.
        public func rerank(user: Int, candidates: (items: [Int], scores: [Double]), k: Int, excluding: Set<Int> = []) -> [Int] {
            let policy = configuration.policy(for: segment(user: user))
            var rerankConfiguration = configuration.reranker
            rerankConfiguration.diversity = policy.diversity
            rerankConfiguration.popularityPenalty = policy.popularityPenalty
            rerankConfiguration.excludedItems.formUnion(excluding)
            let reranker = Reranker(configuration: rerankConfiguration, itemGenres: side.genreBits,
                                    itemPopularity: builder.logPopularity)
            let training = routes.training
            return reranker.rerank(candidates: candidates.items, scores: candidates.scores, k: k) {
                training.contains(row: user, column: $0)
            }
        }

        /// The `k` best candidates in the ranker's order (the fused order where the user's
        /// segment runs no ranker), before re-ranking: what the ranker alone would serve.
        public func rankedCandidates(user: Int, k: Int, excluding: Set<Int> = []) -> [Int] {
            let policy = configuration.policy(for: segment(user: user))
            let c = scoredCandidates(user: user, policy: policy, excluding: excluding)
            return topK(c.scores, k: k).map { c.items[$0] }
        }

        func scoredCandidates(user: Int, policy: SegmentPolicy, excluding: Set<Int>) -> (items: [Int], scores: [Double]) {
            var candidates = builder.candidates(user: user, fusion: policy.fusion, excluding: excluding)
            if policy.useRanker, let boosted {
                let features = builder.features(user: user, candidates: candidates.items, fused: candidates.fused)
                let d = boosted.featureNames.count
                features.withUnsafeBufferPointer { f in
                    for c in 0..<candidates.items.count {
                        candidates.scores[c] = boosted.score(UnsafeBufferPointer(rebasing: f[(c * d)..<((c + 1) * d)]))
                    }
                }
            } else if policy.useRanker, let ranker {
                let features = builder.features(user: user, candidates: candidates.items, fused: candidates.fused)
                let d = ranker.weights.count
                features.withUnsafeBufferPointer { f in
                    for c in 0..<candidates.items.count {
                        candidates.scores[c] = ranker.score(UnsafeBufferPointer(rebasing: f[(c * d)..<((c + 1) * d)]))
                    }
                }
            }
            return (candidates.items, candidates.scores)
        }
    }

    public var configuration: Configuration

    public init(configuration: Configuration) { self.configuration = configuration }

    /// Assembles a model from fitted routes and an optional trained ranker.
    public func model(routes: RouteSet, items: [Item], ranker: LogisticRanker.Model?) -> Model {
        Model(configuration: configuration, routes: routes, side: ItemSideInformation(items: items), ranker: ranker)
    }

    /// Assembles a model whose ranker is boosted trees.
    public func model(routes: RouteSet, items: [Item], boosted: BoostedRanker.Model?) -> Model {
        Model(configuration: configuration, routes: routes, side: ItemSideInformation(items: items), ranker: nil, boosted: boosted)
    }

    /// Trains a LambdaMART ranker on the same candidates and labels as ``trainRanker(routes:items:targets:)``.
    public func trainBoostedRanker(routes: RouteSet, items: [Item], targets: InteractionMatrix,
                                   configuration boosting: BoostedRanker.Configuration) throws(RecommenderError) -> BoostedRanker.Model {
        let t = trainingRows(routes: routes, items: items, targets: targets)
        return try BoostedRanker(configuration: boosting)
            .fit(features: t.features, labels: t.labels, featureNames: t.names, groups: t.groups)
    }

    /// Trains the ranker: candidates from `routes` (fitted without `targets`), label 1
    /// where the user has the candidate in `targets`. Only users whose segment uses the
    /// ranker contribute.
    public func trainRanker(routes: RouteSet, items: [Item], targets: InteractionMatrix) throws(RecommenderError) -> LogisticRanker.Model {
        let t = trainingRows(routes: routes, items: items, targets: targets)
        return try LogisticRanker(configuration: configuration.ranker)
            .fit(features: t.features, labels: t.labels, featureNames: t.names, groups: t.groups)
    }

    func trainingRows(routes: RouteSet, items: [Item], targets: InteractionMatrix)
        -> (features: [Double], labels: [Bool], groups: [Int], names: [String]) {
        let side = ItemSideInformation(items: items)
        let builder = FeatureBuilder(routes: routes, side: side, configuration: configuration)
        let router = Router(configuration: configuration.router)
        let users = (0..<routes.training.rowCount).filter { u in
            targets.rowLength(u) > 0 && configuration.policy(for: router.segment(historyLength: routes.training.rowLength(u))).useRanker
        }
        let perUser = ConcurrentSlots<(features: [Double], labels: [Bool])>(count: users.count)
        parallelFor(users.count) { index in
            let u = users[index]
            let policy = configuration.policy(for: router.segment(historyLength: routes.training.rowLength(u)))
            let c = builder.candidates(user: u, fusion: policy.fusion, excluding: [])
            let f = builder.features(user: u, candidates: c.items, fused: c.fused)
            perUser.set(index, (f, c.items.map { targets.contains(row: u, column: $0) }))
        }
        var features: [Double] = [], labels: [Bool] = [], groups: [Int] = []
        for r in perUser.values { features += r.features; labels += r.labels; groups.append(r.labels.count) }
        return (features, labels, groups, builder.featureNames)
    }
}

/// Candidate generation and ranker features for one pipeline.
struct FeatureBuilder: Sendable {
    let routes: RouteSet
    let side: ItemSideInformation
    let configuration: HybridRecommender.Configuration
    let logPopularity: [Double]
    let itemFirstSeen: [Int]
    /// Each item's event timestamps, ascending (for popularity around a user's active time).
    let itemTimes: [[Int]]

    init(routes: RouteSet, side: ItemSideInformation, configuration: HybridRecommender.Configuration) {
        self.routes = routes
        self.side = side
        self.configuration = configuration
        let training = routes.training
        // Relative to the mean count, so the feature means the same on train and on
        // train + valid (trees split on absolute thresholds).
        let meanCount = Double(max(training.nonZeroCount, 1)) / Double(max(training.columnCount, 1))
        logPopularity = training.columnCounts().map { _log((1 + Double($0)) / meanCount) }
        var first = [Int](repeating: Int.max, count: training.columnCount)
        var times = [[Int]](repeating: [], count: training.columnCount)
        for k in 0..<training.nonZeroCount {
            let i = Int(training.columns[k])
            first[i] = min(first[i], training.timestamps[k])
            times[i].append(training.timestamps[k])
        }
        itemFirstSeen = first
        itemTimes = times.map { $0.sorted() }
    }

    var featureRoutes: [String] { configuration.featureRoutes.filter { routes.scores[$0] != nil } }

    var featureNames: [String] {
        featureRoutes.flatMap { ["z.\($0)", "logrank.\($0)"] }
            + ["fused", "log_popularity", "release_year", "genre_affinity", "first_seen_gap", "window_popularity",
               "log_history"]
    }

    /// Union of each route's and the fused list's head, with fused scores as the default order.
    func candidates(user: Int, fusion: Fusion.Configuration, excluding: Set<Int>) -> (items: [Int], scores: [Double], fused: [Double]) {
        let n = routes.training.columnCount
        var seen = [Bool](repeating: false, count: n)
        for i in routes.training.row(user) { seen[Int(i)] = true }
        for i in excluding where i < n { seen[i] = true }
        var rows: [String: ArraySlice<Double>] = [:]
        for (name, matrix) in routes.scores { rows[name] = matrix.row(user) }
        let fused = Fusion(configuration: fusion).fuse(rows, seen: seen)
        var pool = Set(topK(fused, k: configuration.candidatesPerRoute))
        let k = configuration.routeCandidates
        for name in Set(fusion.weights.keys).union(featureRoutes) where k > 0 {
            guard let row = rows[name] else { continue }
            var s = Array(row)
            for i in 0..<n where seen[i] { s[i] = -.infinity }
            pool.formUnion(topK(s, k: k))
        }
        let items = pool.sorted()
        return (items, items.map { fused[$0] }, fused)
    }

    /// Row-major candidates × featureNames.count matrix.
    func features(user: Int, candidates: [Int], fused: [Double]) -> [Double] {
        let training = routes.training
        let n = training.columnCount
        var seen = [Bool](repeating: false, count: n)
        for i in training.row(user) { seen[Int(i)] = true }
        let names = featureRoutes
        let d = names.count * 2 + 7
        var out = [Double](repeating: 0, count: candidates.count * d)
        for (r, name) in names.enumerated() {
            let row = routes.scores[name]!.row(user)
            let z = Fusion.calibrate(row, seen: seen, method: .zScore)
            // Rank among unseen items, from one sort per route and user.
            var masked = Array(row)
            for i in 0..<n where seen[i] { masked[i] = -.infinity }
            let order = topK(masked, k: n)
            var rank = [Int](repeating: n, count: n)
            for (position, i) in order.enumerated() { rank[i] = position }
            for (c, i) in candidates.enumerated() {
                out[c * d + 2 * r] = z[i]
                out[c * d + 2 * r + 1] = _log(1 + Double(rank[i]))
            }
        }
        var genreCounts = [Double](repeating: 0, count: 64)
        var lastSeen = 0, firstSeen = Int.max
        let history = training.row(user)
        for (i, t) in zip(history, training.rowTimestamps(user)) {
            var b = side.genreBits[Int(i)]
            while b != 0 { genreCounts[b.trailingZeroBitCount] += 1; b &= b - 1 }
            lastSeen = max(lastSeen, t)
            firstSeen = min(firstSeen, t)
        }
        // Events of all users within two weeks of this user's active period: what was
        // being watched (and released) when the user rated.
        let margin = 14 * 86_400
        let windowLow = firstSeen == Int.max ? Int.min : firstSeen - margin
        let windowHigh = history.isEmpty ? Int.max : lastSeen + margin
        func countAtMost(_ times: [Int], _ t: Int) -> Int {
            var lo = 0, hi = times.count
            while lo < hi { let mid = (lo + hi) / 2; if times[mid] <= t { lo = mid + 1 } else { hi = mid } }
            return lo
        }
        let historyCount = Double(max(history.count, 1))
        let base = names.count * 2
        for (c, i) in candidates.enumerated() {
            let row = c * d + base
            out[row] = fused[i].isFinite ? fused[i] : -10
            out[row + 1] = logPopularity[i]
            out[row + 2] = (side.releaseYear[i] - 1990) / 10
            var affinity = 0.0
            var b = side.genreBits[i]
            let g = Double(max(b.nonzeroBitCount, 1))
            while b != 0 { affinity += genreCounts[b.trailingZeroBitCount]; b &= b - 1 }
            out[row + 3] = affinity / historyCount / g
            // Months between the item's first rating and the user's last: items that
            // appeared after the user left are unlikely picks.
            let gap = itemFirstSeen[i] == Int.max ? 12 : Double(itemFirstSeen[i] - lastSeen) / (30 * 86_400)
            out[row + 4] = min(max(gap, -12), 12)
            let times = itemTimes[i]
            let inWindow = windowHigh == Int.max ? times.count
                : countAtMost(times, windowHigh) - countAtMost(times, windowLow == Int.min ? Int.min : windowLow - 1)
            out[row + 5] = _log(1 + Double(inWindow)) - _log(1 + Double(times.count))
            out[row + 6] = _log(1 + Double(history.count))
        }
        return out
    }
}
