/// The last stage: removes seen and excluded items, enforces a per-genre cap and trades
/// relevance for genre diversity in MMR style.
public struct Reranker: Sendable {
    public struct Configuration: TunableConfiguration, Equatable {
        /// λ of MMR: relevance (z-scored over the candidates) minus λ × the mean genre
        /// Jaccard similarity to the items already chosen. 0 keeps the ranker's order.
        public var diversity: Double = 0
        /// At most this many items may carry any one genre; nil means no cap.
        public var maxItemsPerGenre: Int? = nil
        /// Items never to recommend (business rule), by item index.
        public var excludedItems: Set<Int> = []
        /// How many of the best candidates MMR may reorder.
        public var candidatePool: Int = 60
        /// Subtracted from relevance per unit of z-scored log popularity (over the pool):
        /// a small value lets long-tail items with nearly the same relevance through,
        /// which raises catalogue coverage.
        public var popularityPenalty: Double = 0

        public init(diversity: Double = 0, maxItemsPerGenre: Int? = nil, excludedItems: Set<Int> = [],
                    candidatePool: Int = 60, popularityPenalty: Double = 0) {
            self.diversity = diversity
            self.maxItemsPerGenre = maxItemsPerGenre
            self.excludedItems = excludedItems
            self.candidatePool = candidatePool
            self.popularityPenalty = popularityPenalty
        }

        public static let decisionSpace = DecisionSpace(component: "reranker", parameters: [
            .double("diversity", 0...2, default: 0),
            .int("maxItemsPerGenre", 1...100, default: 100),
            .int("candidatePool", 10...500, default: 60),
            .double("popularityPenalty", 0...2, default: 0),
        ])

        public init(values: [String: Double]) {
            diversity = Self.value("diversity", in: values)
            let cap = Int(Self.value("maxItemsPerGenre", in: values))
            maxItemsPerGenre = cap >= 100 ? nil : cap
            candidatePool = Int(Self.value("candidatePool", in: values))
            popularityPenalty = Self.value("popularityPenalty", in: values)
        }
    }

    public var configuration: Configuration
    /// Genre bit sets per item index (bit g set when the item has genre g, g < 64).
    public let itemGenres: [UInt64]
    /// Log popularity per item index; needed only for a non-zero popularity penalty.
    public let itemPopularity: [Double]

    public init(configuration: Configuration = .init(), itemGenres: [UInt64], itemPopularity: [Double] = []) {
        self.configuration = configuration
        self.itemGenres = itemGenres
        self.itemPopularity = itemPopularity
    }

    /// Builds genre bit sets from genre-name lists (the first 64 distinct genres count).
    public static func genreBits(_ genres: [[String]]) -> [UInt64] {
        let names = Array(Set(genres.joined())).sorted()
        let index = Dictionary(uniqueKeysWithValues: names.prefix(64).enumerated().map { ($1, $0) })
        return genres.map { g in g.reduce(UInt64(0)) { bits, name in index[name].map { bits | (1 << UInt64($0)) } ?? bits } }
    }

    @inline(__always) static func jaccard(_ a: UInt64, _ b: UInt64) -> Double {
        let union = (a | b).nonzeroBitCount
        return union == 0 ? 0 : Double((a & b).nonzeroBitCount) / Double(union)
    }

    /// Picks `k` items from `candidates` (best first) with `scores` aligned to them.
    /// `seen(i)` tells whether the user already has item `i`.
    public func rerank(candidates: [Int], scores: [Double], k: Int, seen: (Int) -> Bool) -> [Int] {
        precondition(candidates.count == scores.count)
        var pool: [(item: Int, score: Double)] = []
        for (i, s) in zip(candidates, scores)
        where s.isFinite && !seen(i) && !configuration.excludedItems.contains(i) && i < itemGenres.count {
            pool.append((i, s))
        }
        pool.sort { $0.score != $1.score ? $0.score > $1.score : $0.item < $1.item }
        var seenItem = Set<Int>()
        pool = pool.filter { seenItem.insert($0.item).inserted }
        if pool.count > max(configuration.candidatePool, k) { pool.removeLast(pool.count - max(configuration.candidatePool, k)) }
        guard !pool.isEmpty else { return [] }
        let mean = pool.reduce(0) { $0 + $1.score } / Double(pool.count)
        let sd = _sqrt(pool.reduce(0) { $0 + ($1.score - mean) * ($1.score - mean) } / Double(pool.count))
        var relevance = pool.map { sd > 0 ? ($0.score - mean) / sd : 0 }
        let penalty = configuration.popularityPenalty
        if penalty != 0, itemPopularity.count == itemGenres.count {
            let pops = pool.map { itemPopularity[$0.item] }
            let pm = pops.reduce(0, +) / Double(pops.count)
            let psd = _sqrt(pops.reduce(0) { $0 + ($1 - pm) * ($1 - pm) } / Double(pops.count))
            if psd > 0 { for c in 0..<pool.count { relevance[c] -= penalty * (pops[c] - pm) / psd } }
        }
        // Re-sort after the penalty so the λ = 0 shortcut below still takes the best first.
        let order = (0..<pool.count).sorted { relevance[$0] != relevance[$1] ? relevance[$0] > relevance[$1] : pool[$0].item < pool[$1].item }
        pool = order.map { pool[$0] }
        relevance = order.map { relevance[$0] }
        var genreCounts = [Int](repeating: 0, count: 64)
        var chosen: [Int] = []
        var similaritySum = [Double](repeating: 0, count: pool.count)
        var taken = [Bool](repeating: false, count: pool.count)
        let lambda = configuration.diversity
        while chosen.count < k {
            var best = -1
            var bestValue = -Double.infinity
            for c in 0..<pool.count where !taken[c] {
                let bits = itemGenres[pool[c].item]
                if let cap = configuration.maxItemsPerGenre, Self.exceedsCap(bits, genreCounts, cap) { continue }
                let value = relevance[c] - (chosen.isEmpty ? 0 : lambda * similaritySum[c] / Double(chosen.count))
                if value > bestValue { bestValue = value; best = c }
                // Without diversity the pool is already in order: the first admissible wins.
                if lambda == 0 { break }
            }
            guard best >= 0 else { break }
            taken[best] = true
            let item = pool[best].item
            chosen.append(item)
            let bits = itemGenres[item]
            var b = bits
            while b != 0 {
                let g = b.trailingZeroBitCount
                genreCounts[g] += 1
                b &= b - 1
            }
            if lambda != 0 {
                for c in 0..<pool.count where !taken[c] {
                    similaritySum[c] += Self.jaccard(itemGenres[pool[c].item], bits)
                }
            }
        }
        return chosen
    }

    @inline(__always) static func exceedsCap(_ bits: UInt64, _ counts: [Int], _ cap: Int) -> Bool {
        var b = bits
        while b != 0 {
            if counts[b.trailingZeroBitCount] >= cap { return true }
            b &= b - 1
        }
        return false
    }
}
