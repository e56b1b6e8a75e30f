import COpenBLAS
public import Dataset

/// Content-based route: items as L2-normalised vectors of genres, release-year buckets
/// and title tokens; a user is the mean of their items' vectors and an item's score is
/// its cosine-like similarity to that profile. Needs no co-occurrence, so it serves
/// cold users and items nobody has rated yet.
public struct ContentModel: Sendable {
    public struct Configuration: TunableConfiguration, Hashable {
        /// Weight of the genre block.
        public var genreWeight: Double = 1
        /// Weight of the release-year block.
        public var yearWeight: Double = 0.5
        /// Weight of the title-token block.
        public var titleWeight: Double = 0.3
        /// Width in years of one release-year bucket; neighbouring buckets share half weight.
        public var yearBucket: Int = 5
        /// A title token becomes a feature only if at least this many titles contain it.
        public var minimumTokenCount: Int = 3

        public init(genreWeight: Double = 1, yearWeight: Double = 0.5, titleWeight: Double = 0.3,
                    yearBucket: Int = 5, minimumTokenCount: Int = 3) {
            self.genreWeight = genreWeight
            self.yearWeight = yearWeight
            self.titleWeight = titleWeight
            self.yearBucket = yearBucket
            self.minimumTokenCount = minimumTokenCount
        }

        public static let decisionSpace = DecisionSpace(component: "content", parameters: [
            .double("genreWeight", 0...5, default: 1),
            .double("yearWeight", 0...5, default: 0.5),
            .double("titleWeight", 0...5, default: 0.3),
            .int("yearBucket", 1...30, default: 5),
            .int("minimumTokenCount", 1...50, default: 3),
        ])

        public init(values: [String: Double]) {
            genreWeight = Self.value("genreWeight", in: values)
            yearWeight = Self.value("yearWeight", in: values)
            titleWeight = Self.value("titleWeight", in: values)
            yearBucket = Int(Self.value("yearBucket", in: values))
            minimumTokenCount = Int(Self.value("minimumTokenCount", in: values))
        }
    }

    public struct Model: ScoringModel {
        public let training: InteractionMatrix
        public let dimension: Int
        /// items × dimension, rows L2-normalised.
        public let itemFeatures: [Double]

        /// A model from its parts (a fit, or an artifact of one).
        public init(training: InteractionMatrix, dimension: Int, itemFeatures: [Double]) {
            self.training = training
            self.dimension = dimension
            self.itemFeatures = itemFeatures
        }

        /// Scores for an arbitrary history of item indices (empty history: all zeros).
        public func score(history: [Int]) -> [Double] {
            let n = training.columnCount, d = dimension
            var profile = [Double](repeating: 0, count: d)
            guard !history.isEmpty else { return [Double](repeating: 0, count: n) }
            itemFeatures.withUnsafeBufferPointer { f in
                for i in history where i >= 0 && i < n {
                    cblas_daxpy(blasint(d), 1.0 / Double(history.count), f.baseAddress! + i * d, 1, &profile, 1)
                }
            }
            var s = [Double](repeating: 0, count: n)
            cblas_dgemv(CblasRowMajor, CblasNoTrans, blasint(n), blasint(d), 1.0, itemFeatures, blasint(d),
                        profile, 1, 0.0, &s, 1)
            return s
        }

        public func score(user: Int) -> [Double] { score(history: training.row(user).map { Int($0) }) }

        public func scoreAll() -> ScoreMatrix {
            let m = training.rowCount, n = training.columnCount
            var x = training.dense()
            for u in 0..<m {
                let len = training.rowLength(u)
                if len > 0 { for i in training.row(u) { x[u * n + Int(i)] = 1 / Double(len) } }
            }
            let profiles = Dense.multiply(x, itemFeatures, m: m, n: dimension, k: n)
            return ScoreMatrix(userCount: m, itemCount: n,
                               values: Dense.multiply(profiles, itemFeatures, m: m, n: n, k: dimension, transB: true))
        }
    }

    public var configuration: Configuration

    public init(configuration: Configuration = .init()) { self.configuration = configuration }

    /// `items[i]` describes column `i` of `training`.
    public func fit(on training: InteractionMatrix, items: [Item]) -> Model {
        precondition(items.count == training.columnCount, "one Item per matrix column")
        let c = configuration
        let genres = Array(Set(items.flatMap(\.genres))).sorted()
        let genreIndex = Dictionary(uniqueKeysWithValues: genres.enumerated().map { ($1, $0) })
        let years = items.compactMap(\.releaseYear)
        let minYear = years.min() ?? 0, maxYear = years.max() ?? 0
        let bucketWidth = max(1, c.yearBucket)
        let buckets = (maxYear - minYear) / bucketWidth + 1
        var tokenCounts: [String: Int] = [:]
        let tokens = items.map { Self.tokens(of: $0.title) }
        for t in tokens { for w in Set(t) { tokenCounts[w, default: 0] += 1 } }
        let vocabulary = tokenCounts.filter { $0.value >= max(1, c.minimumTokenCount) }.keys.sorted()
        let tokenIndex = Dictionary(uniqueKeysWithValues: vocabulary.enumerated().map { ($1, $0) })
        let d = genres.count + buckets + vocabulary.count
        let n = items.count
        var f = [Double](repeating: 0, count: n * d)
        for (i, item) in items.enumerated() {
            let row = i * d
            var block = [Double](repeating: 0, count: d)
            let g = item.genres.compactMap { genreIndex[$0] }
            for k in g { block[k] = c.genreWeight / _sqrt(Double(g.count)) }
            if let y = item.releaseYear {
                let b = (y - minYear) / bucketWidth
                block[genres.count + b] = c.yearWeight
                if b > 0 { block[genres.count + b - 1] = c.yearWeight / 2 }
                if b + 1 < buckets { block[genres.count + b + 1] = c.yearWeight / 2 }
            }
            let t = Set(tokens[i]).compactMap { tokenIndex[$0] }
            for k in t {
                // IDF so that "the" matters less than "star" or "trek".
                let df = Double(tokenCounts[vocabulary[k]] ?? 1)
                block[genres.count + buckets + k] = c.titleWeight * _log(Double(n) / df) / _sqrt(Double(t.count))
            }
            let norm = _sqrt(block.reduce(0) { $0 + $1 * $1 })
            if norm > 0 { for k in 0..<d { f[row + k] = block[k] / norm } }
        }
        return Model(training: training, dimension: d, itemFeatures: f)
    }

    static func tokens(of title: String) -> [String] {
        title.lowercased().split { !$0.isLetter && !$0.isNumber }.map(String.init).filter { $0.count > 1 }
    }
}
