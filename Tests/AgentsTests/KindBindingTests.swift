import AgentProtocol
import AgentRuntime
import Recommender
import Testing
import Topology

@testable import Agents

/// `KindBinding`: each kind's parameters land in the configuration field they name, with the
/// catalogue's defaults and nothing else.
@Suite("Kind binding")
struct KindBindingTests {
    static func parameters(_ kind: String, _ values: [String: ParameterValue] = [:]) -> ParameterSet {
        ParameterSet(AgentContext(name: "a", kind: KindCatalogue.builtin[kind]!, parameters: values))
    }

    @Test("recall.ease: every parameter reaches EASE.Configuration; defaults are the catalogue's")
    func ease() throws {
        let bound = try KindBinding.recall(
            kind: "recall.ease",
            Self.parameters(
                "recall.ease",
                [
                    "k": 20, "lambda": 50.0, "dropout": 0.5, "zero_diagonal": false, "rating_exponent": 1.5,
                    "user_normalization": 0.25,
                ]))
        #expect(bound.k == 20)
        #expect(
            bound.fit
                == .ease(
                    EASE.Configuration(
                        lambda: 50, dropout: 0.5, zeroDiagonal: false, ratingExponent: 1.5, userNormalization: 0.25)))
        let defaults = try KindBinding.recall(kind: "recall.ease", Self.parameters("recall.ease"))
        #expect(defaults.k == 100)
        #expect(
            defaults.fit
                == .ease(
                    EASE.Configuration(
                        lambda: 300, dropout: 0, zeroDiagonal: true, ratingExponent: 0, userNormalization: 0)))
    }

    @Test("recall.itemknn, recall.rp3beta, recall.als, recall.content, recall.popularity")
    func otherRoutes() throws {
        #expect(
            try KindBinding.recall(
                kind: "recall.itemknn",
                Self.parameters("recall.itemknn", ["neighbours": 7, "shrinkage": 3.0, "rating_exponent": 2.0])
            ).fit == .itemKNN(ItemKNN.Configuration(neighbours: 7, shrinkage: 3, ratingExponent: 2)))
        #expect(
            try KindBinding.recall(
                kind: "recall.rp3beta",
                Self.parameters(
                    "recall.rp3beta", ["alpha": 0.4, "beta": 0.3, "neighbours": 9, "rating_exponent": 0.5])
            ).fit == .rp3beta(RP3beta.Configuration(alpha: 0.4, beta: 0.3, neighbours: 9, ratingExponent: 0.5)))
        #expect(
            try KindBinding.recall(
                kind: "recall.als",
                Self.parameters(
                    "recall.als", ["factors": 16, "reg": 2.0, "alpha": 4.0, "iterations": 3, "rating_exponent": 1.0])
            ).fit
                == .als(ALS.Configuration(factors: 16, regularization: 2, alpha: 4, iterations: 3, ratingExponent: 1)))
        #expect(
            try KindBinding.recall(
                kind: "recall.content",
                Self.parameters("recall.content", ["genre_weight": 0.1, "year_weight": 0.2, "title_weight": 0.7])
            ).fit == .content(ContentModel.Configuration(genreWeight: 0.1, yearWeight: 0.2, titleWeight: 0.7)))
        let popularity = try KindBinding.recall(
            kind: "recall.popularity", Self.parameters("recall.popularity", ["k": 15]))
        #expect(popularity == KindBinding.Recall(k: 15, fit: .popularity))
        #expect(throws: AgentRuntimeError(.unknownKind, "")) {
            try KindBinding.recall(kind: "recall.static", Self.parameters("recall.static"))
        }
    }

    @Test("router, fusion and MMR")
    func pipeline() throws {
        #expect(
            try KindBinding.router(Self.parameters("router", ["cold_max_history": 3, "light_max_history": 40]))
                == SegmentRule(coldMaximum: 3, lightMaximum: 40))
        let fusion = try KindBinding.fusion(Self.parameters("fusion", ["method": "rank", "weight.ease": 0.25]))
        #expect(fusion == FusionRule(method: "rank", weights: ["ease": 0.25], defaultWeight: 1))
        #expect(fusion.weight(of: "ease") == 0.25 && fusion.weight(of: "als") == 1)
        let mmr = try KindBinding.mmr(
            Self.parameters("rerank.mmr", ["k": 7, "lambda": 0.8, "genre_cap": 2, "popularity_penalty": 0.3]))
        #expect(mmr.k == 7)
        #expect(abs(mmr.reranker.diversity - 0.25) < 1e-12)
        #expect(mmr.reranker.maxItemsPerGenre == 2)
        #expect(mmr.reranker.popularityPenalty == 0.3)
        let defaults = try KindBinding.mmr(Self.parameters("rerank.mmr"))
        #expect(
            defaults.k == 10 && defaults.reranker.maxItemsPerGenre == nil && defaults.reranker.popularityPenalty == 0)
        #expect(try KindBinding.mmr(Self.parameters("rerank.mmr", ["lambda": 0.0])).reranker.diversity == 100)
    }

    @Test("rank.learned: linear is listwise with l2 per training user, boosted takes the tree settings")
    func ranker() throws {
        let linear = try KindBinding.ranker(Self.parameters("rank.learned", ["k": 30, "l2": 0.5]))
        #expect(linear == KindBinding.Ranker(k: 30, model: .linear(l2PerUser: 0.5)))
        let configuration = KindBinding.linearRanker(l2PerUser: 0.5, users: 40)
        #expect(configuration.l2 == 20 && configuration.objective == .listwise)
        let boosted = try KindBinding.ranker(
            Self.parameters(
                "rank.learned", ["model": "boosted", "trees": 30, "depth": 2, "learning_rate": 0.2, "l2": 0.5]))
        #expect(
            boosted.model == .boosted(BoostedRanker.Configuration(trees: 30, depth: 2, learningRate: 0.2, l2: 50)))
        #expect(try KindBinding.ranker(Self.parameters("rank.learned", ["model": "none"])).model == .passthrough)
        #expect(try KindBinding.ranker(Self.parameters("rank.learned")).k == 50)
    }

    @Test("a kind that does not declare a parameter its binding needs fails to bind, naming it")
    func missingParameter() throws {
        var kind = try #require(KindCatalogue.builtin["recall.ease"])
        kind.parameters.removeAll { $0.name == "dropout" }
        let parameters = ParameterSet(AgentContext(name: "a", kind: kind))
        #expect(throws: AgentRuntimeError(.invalidParameter, "")) {
            try KindBinding.recall(kind: "recall.ease", parameters)
        }
        do {
            _ = try KindBinding.recall(kind: "recall.ease", parameters)
        } catch {
            #expect(error.message.contains("dropout"), "\(error)")
        }
    }

    @Test("the segment rule and the fusion rule's all-zero fallback")
    func rules() {
        let rule = SegmentRule(coldMaximum: 4, lightMaximum: 99)
        #expect(
            [nil, 0, 4, 5, 99, 100].map { rule.segment(historyCount: $0) } == [
                "cold", "cold", "cold", "light", "light", "heavy",
            ])
        let fusion = FusionRule(method: "zscore", weights: ["a": 0, "b": 0, "c": 2])
        let item = [ScoredItem(item: "1", score: 1)]
        func output(_ agent: String, _ items: [ScoredItem]) -> AgentOutput {
            AgentOutput(agent: agent, version: "1", items: items)
        }
        #expect(fusion.weights(for: [output("a", item), output("b", item), output("c", [])]) == [1, 1, 2])
        #expect(fusion.weights(for: [output("a", item), output("c", item)]) == [0, 2])
        #expect(fusion.weights(for: [output("a", [])]) == [0])
    }
}
