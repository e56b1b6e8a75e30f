/// LambdaMART: gradient-boosted regression trees on LambdaRank gradients, which weight
/// each (relevant, irrelevant) pair of a user's candidates by the NDCG change of
/// swapping them. Histogram splits over per-feature quantile bins keep a fit on ~100k
/// candidate rows within seconds.
public struct BoostedRanker: Sendable {
    public struct Configuration: TunableConfiguration, Equatable {
        public var trees: Int = 200
        public var depth: Int = 4
        public var learningRate: Double = 0.05
        /// Smallest summed Hessian in a leaf (guards tiny leaves).
        public var minimumLeafHessian: Double = 1
        /// L2 on leaf values.
        public var l2: Double = 1
        /// Quantile bins per feature.
        public var bins: Int = 32
        /// Pairs count only when one side ranks within this many positions.
        public var truncation: Int = 30

        public init(trees: Int = 200, depth: Int = 4, learningRate: Double = 0.05, minimumLeafHessian: Double = 1,
                    l2: Double = 1, bins: Int = 32, truncation: Int = 30) {
            self.trees = trees
            self.depth = depth
            self.learningRate = learningRate
            self.minimumLeafHessian = minimumLeafHessian
            self.l2 = l2
            self.bins = bins
            self.truncation = truncation
        }

        public static let decisionSpace = DecisionSpace(component: "boosted-ranker", parameters: [
            .int("trees", 1...2000, default: 200, logScale: true),
            .int("depth", 1...8, default: 4),
            .double("learningRate", 0.001...1, default: 0.05, logScale: true),
            .double("minimumLeafHessian", 0...1000, default: 1),
            .double("l2", 0...1000, default: 1),
            .int("bins", 4...255, default: 32),
            .int("truncation", 1...1000, default: 30),
        ])

        public init(values: [String: Double]) {
            trees = Int(Self.value("trees", in: values))
            depth = Int(Self.value("depth", in: values))
            learningRate = Self.value("learningRate", in: values)
            minimumLeafHessian = Self.value("minimumLeafHessian", in: values)
            l2 = Self.value("l2", in: values)
            bins = Int(Self.value("bins", in: values))
            truncation = Int(Self.value("truncation", in: values))
        }
    }

    /// One tree, as parallel arrays; a node with `feature < 0` is a leaf holding `value`.
    public struct Tree: Sendable, Codable, Equatable {
        public var feature: [Int]
        public var threshold: [Double]
        public var left: [Int]
        public var right: [Int]
        public var value: [Double]

        @inline(__always) func score(_ x: UnsafeBufferPointer<Double>) -> Double {
            var node = 0
            while feature[node] >= 0 {
                node = x[feature[node]] <= threshold[node] ? left[node] : right[node]
            }
            return value[node]
        }
    }

    public struct Model: Sendable, Codable, Equatable {
        public let featureNames: [String]
        public let trees: [Tree]

        public func score(_ features: UnsafeBufferPointer<Double>) -> Double {
            var s = 0.0
            for tree in trees { s += tree.score(features) }
            return s
        }

        public func score(_ features: [Double]) -> Double {
            features.withUnsafeBufferPointer { score($0) }
        }
    }

    public var configuration: Configuration

    public init(configuration: Configuration = .init()) { self.configuration = configuration }

    /// Fits on a row-major `labels.count × featureNames.count` matrix whose rows come in
    /// consecutive per-user `groups`.
    public func fit(features: [Double], labels: [Bool], featureNames: [String], groups: [Int]) throws(RecommenderError) -> Model {
        let d = featureNames.count, rows = labels.count
        guard rows > 0, features.count == rows * d, groups.reduce(0, +) == rows else {
            throw RecommenderError(code: .emptyTraining, message: "boosted ranker needs rows × features and group sizes summing to the rows")
        }
        guard labels.contains(true), labels.contains(false) else {
            throw RecommenderError(code: .emptyTraining, message: "boosted ranker needs both positive and negative examples")
        }
        let c = configuration
        // Quantile bin edges per feature; bin b holds values ≤ edges[b].
        var edges: [[Double]] = []
        var binned = [UInt8](repeating: 0, count: rows * d)
        let maxBins = min(max(c.bins, 2), 255)
        for k in 0..<d {
            var column = (0..<rows).map { features[$0 * d + k] }
            column.sort()
            var e: [Double] = []
            for b in 1..<maxBins {
                let v = column[min(rows - 1, b * rows / maxBins)]
                if e.last.map({ v > $0 }) ?? true { e.append(v) }
            }
            if e.last.map({ $0 < column[rows - 1] }) ?? true { e.append(column[rows - 1]) }
            edges.append(e)
            for r in 0..<rows {
                let v = features[r * d + k]
                var lo = 0, hi = e.count - 1
                while lo < hi { let mid = (lo + hi) / 2; if v <= e[mid] { hi = mid } else { lo = mid + 1 } }
                binned[r * d + k] = UInt8(lo)
            }
        }
        var starts: [Int] = []
        var offset = 0
        for g in groups { starts.append(offset); offset += g }
        // Ideal DCG per group (binary gains, truncated at the group size).
        let idealDCG: [Double] = groups.indices.map { g in
            let positives = (starts[g]..<(starts[g] + groups[g])).filter { labels[$0] }.count
            return (0..<positives).reduce(0) { $0 + 1 / _log2(Double($1) + 2) }
        }

        var scores = [Double](repeating: 0, count: rows)
        var gradient = [Double](repeating: 0, count: rows), hessian = [Double](repeating: 0, count: rows)
        var trees: [Tree] = []
        for _ in 0..<c.trees {
            for r in 0..<rows { gradient[r] = 0; hessian[r] = 0 }
            for g in groups.indices where idealDCG[g] > 0 {
                let lo = starts[g], n = groups[g]
                let order = (0..<n).sorted { scores[lo + $0] > scores[lo + $1] }
                var position = [Int](repeating: 0, count: n)
                for (p, i) in order.enumerated() { position[i] = p }
                for i in 0..<n where labels[lo + i] {
                    for j in 0..<n where !labels[lo + j] {
                        let pi = position[i], pj = position[j]
                        if pi >= c.truncation && pj >= c.truncation { continue }
                        let delta = abs(1 / _log2(Double(pi) + 2) - 1 / _log2(Double(pj) + 2)) / idealDCG[g]
                        let rho = 1 / (1 + _exp(scores[lo + i] - scores[lo + j]))
                        let lambda = rho * delta
                        let h = max(rho * (1 - rho) * delta, 1e-12)
                        gradient[lo + i] -= lambda
                        gradient[lo + j] += lambda
                        hessian[lo + i] += h
                        hessian[lo + j] += h
                    }
                }
            }
            let tree = grow(binned: binned, edges: edges, d: d, rows: rows, gradient: gradient, hessian: hessian)
            features.withUnsafeBufferPointer { f in
                for r in 0..<rows { scores[r] += tree.score(UnsafeBufferPointer(rebasing: f[(r * d)..<((r + 1) * d)])) }
            }
            trees.append(tree)
        }
        return Model(featureNames: featureNames, trees: trees)
    }

    /// One depth-limited tree by histogram splits; leaf values are shrunk Newton steps.
    func grow(binned: [UInt8], edges: [[Double]], d: Int, rows: Int, gradient: [Double], hessian: [Double]) -> Tree {
        let c = configuration
        var tree = Tree(feature: [-1], threshold: [0], left: [-1], right: [-1], value: [0])
        var frontier: [(node: Int, rows: [Int])] = [(0, Array(0..<rows))]
        for level in 0...c.depth {
            var next: [(node: Int, rows: [Int])] = []
            for (node, members) in frontier {
                var g = 0.0, h = 0.0
                for r in members { g += gradient[r]; h += hessian[r] }
                tree.value[node] = -c.learningRate * g / (h + c.l2)
                guard level < c.depth, members.count >= 2 else { continue }
                // Best split over all features' histograms.
                var best: (gain: Double, feature: Int, bin: Int) = (0, -1, -1)
                let parent = g * g / (h + c.l2)
                var hg = [Double](repeating: 0, count: 256), hh = [Double](repeating: 0, count: 256)
                for k in 0..<d {
                    let bins = edges[k].count
                    guard bins > 1 else { continue }
                    for b in 0..<bins { hg[b] = 0; hh[b] = 0 }
                    for r in members {
                        let b = Int(binned[r * d + k])
                        hg[b] += gradient[r]
                        hh[b] += hessian[r]
                    }
                    var gl = 0.0, hl = 0.0
                    for b in 0..<(bins - 1) {
                        gl += hg[b]; hl += hh[b]
                        let gr = g - gl, hr = h - hl
                        if hl < c.minimumLeafHessian || hr < c.minimumLeafHessian { continue }
                        let gain = gl * gl / (hl + c.l2) + gr * gr / (hr + c.l2) - parent
                        if gain > best.gain { best = (gain, k, b) }
                    }
                }
                guard best.feature >= 0 else { continue }
                let k = best.feature
                var leftRows: [Int] = [], rightRows: [Int] = []
                for r in members { if Int(binned[r * d + k]) <= best.bin { leftRows.append(r) } else { rightRows.append(r) } }
                let l = tree.feature.count, rr = l + 1
                for _ in 0..<2 {
                    tree.feature.append(-1); tree.threshold.append(0); tree.left.append(-1); tree.right.append(-1); tree.value.append(0)
                }
                tree.feature[node] = k
                tree.threshold[node] = edges[k][best.bin]
                tree.left[node] = l
                tree.right[node] = rr
                next.append((l, leftRows))
                next.append((rr, rightRows))
            }
            frontier = next
            if frontier.isEmpty { break }
        }
        return tree
    }
}
