public import Dataset
import Recommender

/// The offline metrics of the P1 protocol for one group of users.
public struct MetricSet: Sendable, Codable, Equatable {
    public var recall10: Double
    public var recall20: Double
    public var ndcg10: Double
    public var ndcg20: Double
    public var hitRate10: Double
    public var mrr10: Double
    public var coverage10: Double
    public var ild10: Double
    /// Users with at least one held-out item (the denominator of the means).
    public var users: Int

    enum CodingKeys: String, CodingKey {
        case recall10 = "recall@10"
        case recall20 = "recall@20"
        case ndcg10 = "ndcg@10"
        case ndcg20 = "ndcg@20"
        case hitRate10 = "hitrate@10"
        case mrr10 = "mrr@10"
        case coverage10 = "coverage@10"
        case ild10 = "ild@10"
        case users
    }

    public init(recall10: Double, recall20: Double, ndcg10: Double, ndcg20: Double, hitRate10: Double,
                mrr10: Double, coverage10: Double, ild10: Double, users: Int) {
        self.recall10 = recall10
        self.recall20 = recall20
        self.ndcg10 = ndcg10
        self.ndcg20 = ndcg20
        self.hitRate10 = hitRate10
        self.mrr10 = mrr10
        self.coverage10 = coverage10
        self.ild10 = ild10
        self.users = users
    }
}

/// Metric computation that mirrors `score.py` line by line: duplicates, known items and
/// items outside the catalogue are dropped from each list before truncation to 20.
public enum Metrics {
    /// - Parameters:
    ///   - recommendations: item indices per user index, best first.
    ///   - truth: held-out items per user (rows = users).
    ///   - known: items to drop from the lists (train, or train + valid).
    ///   - itemGenres: genre bit sets per item index.
    ///   - catalogueSize: coverage denominator.
    ///   - users: restricts the evaluated users (e.g. one router segment); nil = all.
    public static func compute(recommendations: [Int: [Int]], truth: InteractionMatrix, known: InteractionMatrix?,
                               itemGenres: [UInt64], catalogueSize: Int, users: Set<Int>? = nil) -> MetricSet {
        var sums = [Double](repeating: 0, count: 6)
        var top10 = Set<Int>()
        var ildSum = 0.0, ildCount = 0, evaluated = 0
        for u in 0..<truth.rowCount where truth.rowLength(u) > 0 {
            if let users, !users.contains(u) { continue }
            evaluated += 1
            let relevant = Set(truth.row(u).map { Int($0) })
            var list: [Int] = []
            var seen = Set<Int>()
            for i in recommendations[u] ?? [] {
                guard seen.insert(i).inserted else { continue }
                if let known, known.contains(row: u, column: i) { continue }
                guard i >= 0 && i < itemGenres.count else { continue }
                list.append(i)
                if list.count == 20 { break }
            }
            for (slot, k) in [10, 20].enumerated() {
                let top = list.prefix(k)
                var hits = 0, dcg = 0.0
                for (r, i) in top.enumerated() where relevant.contains(i) {
                    hits += 1
                    dcg += 1 / binaryLog(Double(r) + 2)
                }
                var idcg = 0.0
                for r in 0..<min(relevant.count, k) { idcg += 1 / binaryLog(Double(r) + 2) }
                sums[slot] += Double(hits) / Double(relevant.count)
                sums[2 + slot] += dcg / idcg
            }
            let top = Array(list.prefix(10))
            if let first = top.firstIndex(where: { relevant.contains($0) }) {
                sums[4] += 1
                sums[5] += 1 / Double(first + 1)
            }
            top10.formUnion(top)
            if top.count >= 2 {
                var sim = 0.0, pairs = 0
                for a in 0..<top.count {
                    for b in (a + 1)..<top.count {
                        let ga = itemGenres[top[a]], gb = itemGenres[top[b]]
                        let union = (ga | gb).nonzeroBitCount
                        sim += union == 0 ? 0 : Double((ga & gb).nonzeroBitCount) / Double(union)
                        pairs += 1
                    }
                }
                ildSum += 1 - sim / Double(pairs)
                ildCount += 1
            }
        }
        let n = Double(max(evaluated, 1))
        return MetricSet(recall10: sums[0] / n, recall20: sums[1] / n, ndcg10: sums[2] / n, ndcg20: sums[3] / n,
                         hitRate10: sums[4] / n, mrr10: sums[5] / n,
                         coverage10: Double(top10.count) / Double(catalogueSize),
                         ild10: ildCount > 0 ? ildSum / Double(ildCount) : .nan, users: evaluated)
    }

    /// NDCG@10 alone, the tuning objective (cheaper than the full set).
    public static func ndcg10(recommendations: [Int: [Int]], truth: InteractionMatrix) -> Double {
        var total = 0.0, count = 0
        for u in 0..<truth.rowCount where truth.rowLength(u) > 0 {
            count += 1
            let list = recommendations[u] ?? []
            var dcg = 0.0
            for (r, i) in list.prefix(10).enumerated() where truth.contains(row: u, column: i) {
                dcg += 1 / binaryLog(Double(r) + 2)
            }
            var idcg = 0.0
            for r in 0..<min(truth.rowLength(u), 10) { idcg += 1 / binaryLog(Double(r) + 2) }
            total += dcg / idcg
        }
        return count > 0 ? total / Double(count) : 0
    }
}

@inline(__always) func binaryLog(_ x: Double) -> Double { _math_log2(x) }
