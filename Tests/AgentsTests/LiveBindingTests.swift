import AgentProtocol
import AgentRuntime
import AgenticTesting
import Dataset
import Foundation
import Recommender
import Testing
import Topology

@testable import Agents

/// What the bound parameters do live: rating weights on changed histories, fusion's all-zero
/// fallback, MMR's popularity penalty, the ranker's models.
@Suite("Bound parameters live", .serialized, .computeBound)
struct LiveBindingTests {
    let directory: ShortDirectory
    let data: DataConfiguration
    let loaded: MovieLensData

    init() throws {
        directory = try ShortDirectory()
        data = DataConfiguration(directory: try Fixture.write(to: directory.path + "/ml"))
        loaded = try MovieLensData.load(data)
    }

    /// `live` with user `user` re-rating their first training item as it is: the history is
    /// the same, but now counts as changed, so models score it from the live history.
    func touched(_ user: String) throws -> LiveData {
        var live = LiveData(data: loaded)
        let history = live.history(user)
        let item = live.itemIDs[try #require(history.items.first)]
        _ = live.apply(FeedbackPayload(user: user, item: item, event: "rating", value: history.ratings[0]))
        #expect(live.fittedUser(user) == nil)
        return live
    }

    static func distance(_ a: [Double], _ b: [Double]) -> Double {
        zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) }
    }

    @Test(
        "EASE, item-kNN and RP3beta score a changed history with the fit's rating weights",
        arguments: [
            KindBinding.RecallFit.ease(EASE.Configuration(lambda: 50, ratingExponent: 1.5, userNormalization: 0.5)),
            .itemKNN(ItemKNN.Configuration(neighbours: 20, ratingExponent: 2)),
            .rp3beta(RP3beta.Configuration(ratingExponent: 1)),
        ])
    func itemToItem(fit: KindBinding.RecallFit) throws {
        let model = try RecallModel.fit(fit, on: loaded.training, items: loaded.items)
        for user in ["2", "7"] {
            let fitted = try #require(model.scores(user: user, live: LiveData(data: loaded)))
            let live = try #require(model.scores(user: user, live: try touched(user)))
            #expect(Self.distance(fitted, live) <= 1e-9 * max(1, fitted.map(abs).max() ?? 1), "\(fit) user \(user)")
        }
    }

    @Test("ALS folds a history in with the fit's rating weights")
    func alsFoldIn() throws {
        // Converged, the fitted user factors are the fold-in against the final item factors.
        let configuration = ALS.Configuration(
            factors: 8, regularization: 1, alpha: 5, iterations: 60, ratingExponent: 2)
        let model = try RecallModel.fit(.als(configuration), on: loaded.training, items: loaded.items)
        guard case .als(let als, let gram, _, let transform) = model else {
            Issue.record("not an ALS model")
            return
        }
        for user in ["2", "7"] {
            let fitted = try #require(model.scores(user: user, live: LiveData(data: loaded)))
            let folded = try #require(model.scores(user: user, live: try touched(user)))
            let history = LiveData(data: loaded).history(user)
            let unweighted = try #require(
                als.foldIn(
                    items: history.items, weights: history.items.map { _ in 1 }, gram: gram,
                    regularization: 1, alpha: 5))
            let scale = fitted.map(abs).max() ?? 1
            #expect(Self.distance(fitted, folded) < 1e-3 * scale, "user \(user)")
            #expect(Self.distance(fitted, folded) * 10 < Self.distance(fitted, unweighted), "user \(user)")
            #expect(transform(5) == 1 && abs(transform(4) - 0.64) < 1e-12)
        }
    }

    @Test("fusion weighs the routes that answered equally when all of them weigh 0")
    func fusionZeroWeights() async throws {
        let kind = try #require(KindCatalogue.builtin["fusion"])
        let fusion = try FusionAgent(
            AgentContext(
                name: "fusion", kind: kind,
                parameters: ["method": "zscore", "weight.popularity": 0.0, "weight.ease": 0.0, "weight.als": 1.0],
                predecessors: ["popularity", "ease", "als"]))
        // A cold user: only popularity answers; ease and ALS have no signal.
        let popular = AgentOutput(
            agent: "popularity", version: "1",
            items: [("50", 90.0), ("7", 60), ("31", 30), ("2", 10)].map { ScoredItem(item: $0.0, score: $0.1) })
        let empty = ["ease", "als"].map { AgentOutput(agent: $0, version: "1", items: []) }
        let fused = await fusion.fuse([popular] + empty)
        #expect(fused.map(\.item) == ["50", "7", "31", "2"], "popularity's order, not the ids'")
        #expect(fused.allSatisfy { $0.sources?["popularity"] != nil })
        // With a weighted route answering, the zero-weighted one adds nothing.
        let als = AgentOutput(
            agent: "als", version: "1", items: [ScoredItem(item: "2", score: 1), ScoredItem(item: "31", score: 0)])
        let mixed = await fusion.fuse([popular, als])
        #expect(mixed.map(\.item) == ["2", "50", "7", "31"])
        #expect(mixed.map(\.score) == [1, 0, 0, -1])
    }

    @Test("MMR's popularity penalty lets less popular items through")
    func popularityPenalty() async throws {
        let kind = try #require(KindCatalogue.builtin["rerank.mmr"])
        let factory = AgentKinds.factory(topologyPath: "\(topologyDirectory)/movielens-small.yaml", data: data)
        func list(_ penalty: Double) async throws -> [String] {
            let mmr = try factory.make(
                AgentContext(
                    name: "mmr", kind: kind,
                    parameters: ["k": 5, "lambda": 1.0, "popularity_penalty": .double(penalty)]))
            // Equal relevance: only popularity can decide.
            let candidates = (1...40).map { ScoredItem(item: "\($0)", score: 1) }
            return try await mmr.decide(
                DecisionRequest(
                    requestID: "t", user: "stranger", k: 5, epoch: 0,
                    inputs: [AgentOutput(agent: "ranker", version: "1", items: candidates)])
            ).items.map(\.item)
        }
        let counts = loaded.training.columnCounts()
        func meanPopularity(_ items: [String]) -> Double {
            items.compactMap { loaded.index.itemIndex(of: Int($0)!) }.map { Double(counts[$0]) }.reduce(0, +) / 5
        }
        let plain = try await list(0)
        let penalised = try await list(1)
        #expect(plain.count == 5 && penalised.count == 5)
        #expect(!penalised.contains("1"), "item 1 is everyone's")
        #expect(meanPopularity(penalised) < meanPopularity(plain))
    }

    @Test(
        "the ranker trains the listwise linear model or boosted trees, as `model` says",
        arguments: ["linear", "boosted"])
    func rankerModels(model: String) async throws {
        let path = "\(topologyDirectory)/movielens-small.yaml"
        let factory = AgentKinds.factory(topologyPath: path, data: data)
        var spec = try TopologyValidator.load(contentsOf: path, catalogue: factory.catalogue)
        let index = try #require(spec.agents.firstIndex { $0.name == "ranker" })
        spec.agents[index].parameters["model"] = .string(model)
        spec.agents[index].parameters["trees"] = 30
        let ranker = try #require(
            try factory.make(AgentContext(spec: spec, agent: "ranker", replica: 0, catalogue: factory.catalogue))
                as? LearnedRankAgent)
        let trained = await ranker.model
        switch (model, trained) {
        case ("linear", .linear(let linear)?): #expect(linear.bias == 0, "listwise: no bias")
        case ("boosted", .boosted(let boosted)?): #expect(boosted.trees.count == 30)
        default: Issue.record("\(model): trained \(String(describing: trained))")
        }
    }
}
