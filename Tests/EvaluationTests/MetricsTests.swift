import AgenticTesting
import Foundation
import Testing
@testable import Dataset
@testable import Evaluation
@testable import Recommender

private func matrix(_ rows: [[Int]], items: Int) -> InteractionMatrix {
    var entries: [(row: Int, column: Int, timestamp: Int)] = []
    for (u, r) in rows.enumerated() { for i in r { entries.append((u, i, 0)) } }
    return InteractionMatrix(rowCount: rows.count, columnCount: items, entries: entries)
}

@Test(.computeBound, .computeBound) func metricsMatchHandComputedValues() {
    // 30 items; genres: item i has genre i % 3 ("A","B","C"); item 29 also has "A".
    var genreNames = (0..<30).map { [["A", "B", "C"][$0 % 3]] }
    genreNames[29].append("A")
    let genres = Reranker.genreBits(genreNames)
    // User 0: test {1, 5}; user 1: test {0}; user 2: no test items (not evaluated).
    let truth = matrix([[1, 5], [0], []], items: 30)
    let known = matrix([[2], [], []], items: 30)
    let recs: [Int: [Int]] = [
        0: [2, 1, 3, 4, 6, 7, 8, 9, 10, 11, 5] + Array(12..<22),  // 2 is known → dropped
        1: Array(10..<30),
    ]
    let m = Metrics.compute(recommendations: recs, truth: truth, known: known, itemGenres: genres, catalogueSize: 30)
    // User 0 after dropping 2: [1,3,4,6,7,8,9,10,11,5,...]: hits at ranks 1 and 10.
    let idcg2 = 1 + 1 / log2(3.0)
    let ndcgU0 = (1 + 1 / log2(11.0)) / idcg2
    #expect(m.users == 2)
    #expect(abs(m.recall10 - (1.0 + 0) / 2) < 1e-12)
    #expect(abs(m.recall20 - (1.0 + 0) / 2) < 1e-12)
    #expect(abs(m.ndcg10 - ndcgU0 / 2) < 1e-12)
    #expect(abs(m.ndcg20 - ndcgU0 / 2) < 1e-12)
    #expect(abs(m.hitRate10 - 0.5) < 1e-12)
    #expect(abs(m.mrr10 - 0.5) < 1e-12)
    // Top-10s: {1,3,4,5,6,7,8,9,10,11} ∪ {10..19} = 18 distinct of 30.
    #expect(abs(m.coverage10 - 18.0 / 30) < 1e-12)
    // Single-genre items: similarity 1 within a genre, else 0.
    func ild(_ items: [Int]) -> Double {
        var s = 0.0, n = 0.0
        for a in 0..<items.count { for b in (a + 1)..<items.count { s += items[a] % 3 == items[b] % 3 ? 1 : 0; n += 1 } }
        return 1 - s / n
    }
    let expectedILD = (ild([1, 3, 4, 6, 7, 8, 9, 10, 11, 5]) + ild(Array(10..<20))) / 2
    #expect(abs(m.ild10 - expectedILD) < 1e-12)
    #expect(abs(Metrics.ndcg10(recommendations: recs.mapValues { $0.filter { $0 != 2 } }, truth: truth) - m.ndcg10) < 1e-12)
}

@Test(.computeBound, .computeBound) func userWithoutRecommendationsScoresZero() {
    let truth = matrix([[1], [2]], items: 5)
    let m = Metrics.compute(recommendations: [0: [1, 0]], truth: truth, known: nil,
                            itemGenres: Reranker.genreBits((0..<5).map { _ in ["A"] }), catalogueSize: 5)
    #expect(m.ndcg10 == 0.5)
    #expect(m.hitRate10 == 0.5)
    #expect(m.ild10 == 0)  // one user with two same-genre items
}

@Test(.computeBound, .computeBound) func reportUsesProtocolKeys() throws {
    let m = MetricSet(recall10: 0, recall20: 0, ndcg10: 0, ndcg20: 0, hitRate10: 0, mrr10: 0, coverage10: 0, ild10: 0, users: 0)
    let json = String(decoding: try JSONEncoder().encode(m), as: UTF8.self)
    for key in ["ndcg@10", "recall@20", "coverage@10", "ild@10", "recall@10", "ndcg@20", "hitrate@10", "mrr@10"] {
        #expect(json.contains("\"\(key)\""))
    }
}
