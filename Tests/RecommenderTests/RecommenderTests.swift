import AgenticTesting
import Testing
@testable import Dataset
@testable import Recommender

func matrix(_ rows: [[Int]], items: Int) -> InteractionMatrix {
    var entries: [(row: Int, column: Int, timestamp: Int)] = []
    for (u, r) in rows.enumerated() { for i in r { entries.append((u, i, 1000 + i)) } }
    return InteractionMatrix(rowCount: rows.count, columnCount: items, entries: entries)
}

@Test(.computeBound, .computeBound) func easeMatchesNumpyOnTinyMatrix() throws {
    // X = [[1,1,0,0],[0,1,1,0],[1,1,1,0],[0,0,1,1]], λ = 1; reference from numpy.linalg.inv.
    let x = matrix([[0, 1], [1, 2], [0, 1, 2], [2, 3]], items: 4)
    let model = try EASE(configuration: .init(lambda: 1)).fit(on: x)
    let expected: [Double] = [0, 10.0 / 19, 0, 0,
                              0.5, 0, 0.5, -1.0 / 6,
                              0, 8.0 / 19, 0, 1.0 / 3,
                              0, -4.0 / 19, 0.5, 0]
    for (a, b) in zip(model.weights, expected) { #expect(abs(a - b) < 1e-12) }
    let all = model.scoreAll()
    let single = model.score(user: 2)
    #expect(abs(single[1] - 18.0 / 19) < 1e-12)
    for i in 0..<4 { #expect(abs(all.row(2)[all.row(2).startIndex + i] - single[i]) < 1e-12) }
    #expect(model.recommend(user: 0, k: 2) == [2, 3])
}

@Test(.computeBound, .computeBound) func easeRejectsNonPositiveLambda() {
    #expect(throws: RecommenderError.self) { try EASE(configuration: .init(lambda: 0)).fit(on: matrix([[0]], items: 2)) }
}

@Test(.computeBound, .computeBound) func topKBreaksTiesByLowerIndex() {
    #expect(topK([1, 3, 3, 2, 3], k: 3) == [1, 2, 4])
    #expect(topK([0.5, -.infinity, 0.5], k: 5) == [0, 2])
}

@Test(.computeBound, .computeBound) func decisionSpacesAreDeclaredAndClamped() {
    let space = EASE.Configuration.decisionSpace
    #expect(space.parameters.map(\.name) == ["lambda", "dropout", "zeroDiagonal", "ratingExponent", "userNormalization"])
    #expect(EASE.Configuration(values: ["lambda": 1e9]).lambda == 20_000)
    #expect(ItemKNN.Configuration(values: ["neighbours": 10.6]).neighbours == 11)
    #expect(RP3beta.Configuration.decisionSpace.parameters.count == 4)
    #expect(ALS.Configuration.decisionSpace.defaults["factors"] == 64)
}

@Test(.computeBound, .computeBound) func alsAndRoutesRankHeldOutCooccurrence() throws {
    // Items 0 and 1 always co-occur; user 3 has 0 only, so 1 must be its top pick.
    let x = matrix([[0, 1], [0, 1, 2], [0, 1], [0], [2, 3]], items: 4)
    let models: [(String, any ScoringModel)] = [
        ("ease", try EASE(configuration: .init(lambda: 1)).fit(on: x)),
        ("itemknn", ItemKNN(configuration: .init(neighbours: 3)).fit(on: x)),
        ("rp3beta", RP3beta(configuration: .init(alpha: 1, beta: 0, neighbours: 4)).fit(on: x)),
        ("als", try ALS(configuration: .init(factors: 2, regularization: 0.1, alpha: 10, iterations: 10)).fit(on: x)),
    ]
    for (name, model) in models {
        #expect(model.recommend(user: 3, k: 1) == [1], "\(name)")
    }
}

@Test(.computeBound, .computeBound) func rerankerHonoursConstraints() {
    let genres: [[String]] = [["Drama"], ["Drama"], ["Drama", "Romance"], ["Comedy"], ["Drama"], ["Action"], ["Comedy"]]
    let bits = Reranker.genreBits(genres)
    let reranker = Reranker(configuration: .init(diversity: 0.5, maxItemsPerGenre: 2, excludedItems: [3]), itemGenres: bits)
    let candidates = [0, 1, 2, 3, 4, 5, 6]
    let scores: [Double] = [7, 6, 5, 4, 3, 2, 1]
    let seen: Set<Int> = [1]
    let out = reranker.rerank(candidates: candidates, scores: scores, k: 6) { seen.contains($0) }
    #expect(!out.contains(1))
    #expect(!out.contains(3))
    #expect(Set(out).count == out.count)
    let dramaCount = out.filter { genres[$0].contains("Drama") }.count
    #expect(dramaCount <= 2)
    #expect(out.first == 0)
    // Without diversity or caps the order is the score order.
    let plain = Reranker(itemGenres: bits).rerank(candidates: candidates, scores: scores, k: 3) { _ in false }
    #expect(plain == [0, 1, 2])
}

@Test(.computeBound, .computeBound) func mmrPrefersADifferentGenreWhenScoresAreClose() {
    // Relevance is z-scored over the pool: [1.22, 0, -1.22]; with λ = 2 the Drama
    // duplicate (0 - 2·1) loses to the Comedy item (-1.22 - 0).
    let bits = Reranker.genreBits([["Drama"], ["Drama"], ["Comedy"]])
    let out = Reranker(configuration: .init(diversity: 2), itemGenres: bits)
        .rerank(candidates: [0, 1, 2], scores: [1.0, 0.99, 0.98], k: 2) { _ in false }
    #expect(out == [0, 2])
}

@Test(.computeBound, .computeBound) func logisticRankerSeparatesClasses() throws {
    var features: [Double] = [], labels: [Bool] = []
    for i in 0..<200 {
        let v = Double(i % 20)
        features += [v, Double(i % 3)]
        labels.append(v + Double(i % 7) * 0.5 > 12)
    }
    let model = try LogisticRanker(configuration: .init(l2: 0.01)).fit(features: features, labels: labels, featureNames: ["a", "b"])
    #expect(model.weights[0] > 0)
    #expect(model.score([19, 0]) > model.score([1, 0]))
}

@Test(.computeBound, .computeBound) func listwiseRankerPrefersTheInformativeFeature() throws {
    // Two users, four candidates each; the positive always has the largest feature a.
    let features: [Double] = [3, 0, 1, 1, 0, 0, 2, 1,
                              0, 1, 5, 0, 1, 1, 2, 0]
    let labels = [true, false, false, false, false, true, false, false]
    let model = try LogisticRanker(configuration: .init(l2: 0.1, objective: .listwise))
        .fit(features: features, labels: labels, featureNames: ["a", "b"], groups: [4, 4])
    #expect(model.weights[0] > 0)
    #expect(model.score([3, 0]) > model.score([1, 1]))
}

/// The sparse AᵀB the item-to-item models fit through equals dense BLAS on the same matrices,
/// including rows with no interactions and weights that differ on each side.
@Test(.computeBound) func interactionProductMatchesDenseProduct() {
    var generator = SystemRandomNumberGenerator()
    let users = 40, items = 30
    let rows = (0..<users).map { u in
        u % 7 == 0 ? [] : (0..<items).filter { _ in Double.random(in: 0..<1, using: &generator) < 0.2 }
    }
    let pattern = matrix(rows, items: items)
    var a = [Double](repeating: 0, count: users * items), b = a
    for u in 0..<users {
        for i in pattern.row(u) {
            a[u * items + Int(i)] = Double.random(in: 0.1...2, using: &generator)
            b[u * items + Int(i)] = Double.random(in: -1...1, using: &generator)
        }
    }
    let dense = Dense.multiply(a, b, m: items, n: items, k: users, transA: true)
    let sparse = Dense.interactionProduct(a, b, pattern: pattern)
    #expect(zip(dense, sparse).allSatisfy { abs($0 - $1) <= 1e-12 * max(1, abs($0)) })
    let gram = Dense.gram(a, rows: users, n: items)
    #expect(zip(gram, Dense.interactionProduct(a, a, pattern: pattern)).allSatisfy { abs($0 - $1) <= 1e-12 * max(1, abs($0)) })
    #expect(sparse.contains { $0 != 0 })
}
