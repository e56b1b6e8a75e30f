import AgentProtocol
import AgentRuntime
import AgenticTesting
import Foundation
import Testing
import Topology

@testable import Agents

/// The MovieLens agents in process, on the fixture data: decisions, seen-item filtering,
/// online learning from feedback events, cold start, ranker training, start-up errors.
@Suite("MovieLens agents in process", .serialized, .computeBound)
struct AgentTests {
    let directory: ShortDirectory
    let data: DataConfiguration
    let spec: TopologySpec
    let factory: AgentFactory
    let topologyPath = "\(topologyDirectory)/movielens-small.yaml"

    init() throws {
        directory = try ShortDirectory()
        data = DataConfiguration(directory: try Fixture.write(to: directory.path + "/ml"))
        factory = AgentKinds.factory(topologyPath: topologyPath, data: data)
        spec = try TopologyValidator.load(contentsOf: topologyPath, catalogue: factory.catalogue)
    }

    func agent(_ name: String) throws -> any Agent {
        try factory.make(AgentContext(spec: spec, agent: name, replica: 0, catalogue: factory.catalogue))
    }

    /// An agent of `kind` made outside the topology, with `parameters`.
    func agent(kind: String, _ parameters: [String: ParameterValue]) throws -> any Agent {
        let descriptor = try #require(factory.catalogue[kind])
        return try factory.make(AgentContext(name: kind, kind: descriptor, parameters: parameters))
    }

    func decide(_ agent: any Agent, user: String, k: Int = 10, inputs: [AgentOutput] = []) async throws -> [ScoredItem] {
        try await agent.decide(DecisionRequest(requestID: "t", user: user, k: k, epoch: 0, inputs: inputs)).items
    }

    func click(_ agent: any Agent, user: String, item: String, extra: String = "") async {
        await agent.feedback(
            Array(#"{"user": "\#(user)", "item": "\#(item)", "event": "click", "value": 1, "received_at": 1\#(extra)}"#.utf8))
    }

    /// The fixture user's training items (P1 train + valid).
    func history(_ user: String) throws -> Set<String> {
        let loaded = try MovieLensData.load(data)
        let row = try #require(loaded.index.userIndex(of: Int(user)!))
        return Set(loaded.training.row(row).map { String(loaded.index.itemIDs[Int($0)]) })
    }

    @Test("popularity: seen items never come back; an unknown user gets the most popular items")
    func popularity() async throws {
        let popularity = try agent("popularity")
        let seen = try history("7")
        #expect(!seen.isEmpty)
        let known = try await decide(popularity, user: "7")
        #expect(!known.isEmpty)
        #expect(known.allSatisfy { !seen.contains($0.item) })
        let cold = try await decide(popularity, user: "stranger")
        #expect(cold.first?.item == "1", "item 1 is everyone's")
        await click(popularity, user: "stranger", item: "1")
        #expect(try await decide(popularity, user: "stranger").allSatisfy { $0.item != "1" })
    }

    @Test("an unknown item in feedback joins the catalogue and rises with its clicks")
    func unknownItem() async throws {
        let popularity = try agent("popularity")
        for user in 0..<80 { await click(popularity, user: "new-\(user)", item: "brand-new") }
        // The same event again (pub/sub may deliver twice, a store may replay) counts once.
        await click(popularity, user: "new-0", item: "brand-new", extra: #", "event_id": "e1""#)
        let cold = try await decide(popularity, user: "stranger")
        #expect(cold.first?.item == "brand-new")
        #expect(cold.first?.score == 80)
    }

    @Test("item-kNN: no signal for a new user until a click, then neighbours; history updates scoring")
    func itemKNN() async throws {
        let knn = try agent("itemknn")
        #expect(try await decide(knn, user: "stranger").isEmpty)
        await click(knn, user: "stranger", item: "5")
        let after = try await decide(knn, user: "stranger")
        #expect(!after.isEmpty)
        #expect(after.allSatisfy { $0.item != "5" })
        // A known user's top item disappears once clicked, and the list is rescored.
        let before = try await decide(knn, user: "3")
        let top = try #require(before.first)
        await click(knn, user: "3", item: top.item)
        let later = try await decide(knn, user: "3")
        #expect(!later.contains { $0.item == top.item })
        #expect(later.map(\.item) != before.map(\.item))
    }

    @Test("EASE, RP3beta, ALS and content answer known users and learn new ones from clicks")
    func otherRoutes() async throws {
        let agents = [
            try agent(kind: "recall.ease", ["k": .int(20), "lambda": .double(50)]),
            try agent(kind: "recall.rp3beta", ["k": .int(20)]),
            try agent(kind: "recall.als", ["k": .int(20), "factors": .int(8), "iterations": .int(3), "reg": .double(1)]),
            try agent(kind: "recall.content", ["k": .int(20)]),
        ]
        let seen = try history("2")
        for route in agents {
            let known = try await decide(route, user: "2")
            #expect(known.count == 20, "\(route.context.kind.name)")
            #expect(known.allSatisfy { !seen.contains($0.item) }, "\(route.context.kind.name)")
            #expect(try await decide(route, user: "stranger").isEmpty, "\(route.context.kind.name)")
            for item in ["2", "6", "10"] { await click(route, user: "stranger", item: item) }
            let learned = try await decide(route, user: "stranger")
            #expect(learned.count == 20, "\(route.context.kind.name)")
            #expect(learned.allSatisfy { !["2", "6", "10"].contains($0.item) }, "\(route.context.kind.name)")
        }
    }

    @Test("each agent declares its decision space and inner reward from the topology")
    func declarations() throws {
        let knn = try agent("itemknn")
        #expect(knn.decisionSpace["neighbours"]?.max == 200)
        #expect(knn.innerRewardMetric == "recall@100")
        let mmr = try agent("mmr")
        #expect(mmr.decisionSpace["lambda"]?.min == 0.5)
        #expect(mmr.innerRewardMetric == "ndcg@10")
        // Without a declared space, the kind's catalogue ranges.
        #expect(try agent("content").decisionSpace["genre_weight"] != nil)
    }

    @Test("router: segments by the real history length, which feedback grows")
    func router() async throws {
        let router = try agent("router")
        let count = try history("4").count
        #expect(count > 4)
        #expect(try await router.decide(DecisionRequest(requestID: "t", user: "4", k: 10, epoch: 0)).segment == "light")
        #expect(try await router.decide(DecisionRequest(requestID: "t", user: "x", k: 10, epoch: 0)).segment == "cold")
        for item in 1...5 { await click(router, user: "x", item: "\(item)") }
        #expect(try await router.decide(DecisionRequest(requestID: "t", user: "x", k: 10, epoch: 0)).segment == "light")
    }

    @Test("fusion passes per-route scores on; the ranker is trained on valid and reorders")
    func fusionAndRanker() async throws {
        let routes = try ["popularity", "itemknn", "content"].map { try agent($0) }
        var outputs: [AgentOutput] = []
        for route in routes {
            outputs.append(try await route.decide(DecisionRequest(requestID: "t", user: "9", k: 10, epoch: 0)))
        }
        let fused = try await decide(try agent("fusion"), user: "9", inputs: outputs)
        #expect(!fused.isEmpty)
        let first = try #require(fused.first)
        let sources = try #require(first.sources)
        #expect(Set(sources.keys).isSubset(of: ["popularity", "itemknn", "content"]))
        #expect(sources.count >= 2)
        // The wire form keeps `sources`, and an item without them encodes as before.
        let json = String(decoding: try WireCodec.encode(ScoredItem(item: "1", score: 2)), as: UTF8.self)
        #expect(!json.contains("sources"))
        #expect(try WireCodec.decode(ScoredItem.self, from: Array(#"{"item": "1", "score": 2}"#.utf8)).sources == nil)

        let ranker = try #require(try agent("ranker") as? LearnedRankAgent)
        #expect(await ranker.isTrained)
        let ranked = try await decide(ranker, user: "9", inputs: [AgentOutput(agent: "fusion", version: "1", items: fused)])
        #expect(ranked.count == min(50, fused.count))
    }

    @Test("the ranker trains on its own hold-out even with nothing held out after training; model none passes through")
    func rankerWithoutValidation() async throws {
        // Training on every interaction leaves no valid or test set, but the ranker learns
        // from the last ninth of the training data itself, so it still trains.
        var all = data
        all.training = .all
        let factory = AgentKinds.factory(topologyPath: topologyPath, data: all)
        let trained = try #require(
            try factory.make(AgentContext(spec: spec, agent: "ranker", replica: 0, catalogue: factory.catalogue))
                as? LearnedRankAgent)
        #expect(await trained.isTrained)
        let kind = try #require(factory.catalogue["rank.learned"])
        let ranker = try #require(
            try factory.make(AgentContext(name: "ranker", kind: kind, parameters: ["model": "none"]))
                as? LearnedRankAgent)
        #expect(await !ranker.isTrained)
        let input = AgentOutput(agent: "fusion", version: "1", items: (1...60).map { ScoredItem(item: "\($0)", score: 1) })
        #expect(try await decide(ranker, user: "1", inputs: [input]).map(\.item) == (1...50).map { "\($0)" })
    }

    @Test("MMR: removes seen items (also ones clicked since), caps genres, trims to k")
    func mmr() async throws {
        let mmr = try agent("mmr")
        let seen = try history("5")
        let candidates = (1...40).map { ScoredItem(item: "\($0)", score: Double(100 - $0)) }
        let input = [AgentOutput(agent: "ranker", version: "1", items: candidates)]
        let list = try await decide(mmr, user: "5", inputs: input)
        #expect(list.count == 10)
        #expect(list.allSatisfy { !seen.contains($0.item) })
        var perGenre: [String: Int] = [:]
        for item in list { perGenre[Fixture.genre(of: Int(item.item)!), default: 0] += 1 }
        #expect(perGenre.values.allSatisfy { $0 <= 4 })
        let top = try #require(list.first)
        await click(mmr, user: "5", item: top.item)
        #expect(try await decide(mmr, user: "5", inputs: input).allSatisfy { $0.item != top.item })
        #expect(try await decide(mmr, user: "5", k: 3, inputs: input).count == 3)
    }

    @Test("bad feedback is ignored, ids as numbers and extra fields are accepted")
    func feedbackDecoding() async throws {
        #expect(FeedbackPayload.decode(Array("not json".utf8)) == nil)
        #expect(FeedbackPayload.decode(Array(#"{"item": "1"}"#.utf8)) == nil)
        let decoded = FeedbackPayload.decode(
            Array(#"{"user": 12, "item": 7, "event": "rating", "value": 4, "event_id": 9, "stored": true}"#.utf8))
        #expect(decoded == FeedbackPayload(user: "12", item: "7", event: "rating", value: 4))
        let popularity = try agent("popularity")
        await popularity.feedback(Array("garbage".utf8))
        await popularity.feedback(Array(#"{"user": "u", "item": "zzz", "event": "skip"}"#.utf8))
        #expect(try await decide(popularity, user: "u", k: 100).allSatisfy { $0.item != "zzz" })
    }

    @Test("a missing data directory is a clear start-up error")
    func missingData() throws {
        let factory = AgentKinds.factory(
            topologyPath: topologyPath, data: DataConfiguration(directory: directory.path + "/nowhere"))
        let context = try AgentContext(spec: spec, agent: "itemknn", replica: 0, catalogue: factory.catalogue)
        do {
            _ = try factory.make(context)
            Issue.record("made an itemknn agent without data")
        } catch {
            #expect("\(error)".contains("nowhere/ml-100k.inter does not exist"), "\(error)")
            #expect("\(error)".contains("AGENTIC_DATA"), "\(error)")
        }
        // Fusion needs no data; router and MMR fall back to their data-free versions.
        _ = try factory.make(AgentContext(spec: spec, agent: "fusion", replica: 0, catalogue: factory.catalogue))
        let router = try factory.make(AgentContext(spec: spec, agent: "router", replica: 0, catalogue: factory.catalogue))
        #expect(router is RouterAgent)
        let mmr = try factory.make(AgentContext(spec: spec, agent: "mmr", replica: 0, catalogue: factory.catalogue))
        #expect(mmr is MMRRerankAgent)
    }

    @Test("the data directory comes from AGENTIC_DATA, else the topology's repository")
    func resolution() throws {
        let fromEnvironment = try DataConfiguration.resolve(
            topologyPath: "/x/topology/t.yaml", environment: ["AGENTIC_DATA": "/d", "AGENTIC_TRAINING": "all"])
        #expect(fromEnvironment == DataConfiguration(directory: "/d", training: .all))
        let repository = URL(fileURLWithPath: topologyDirectory).deletingLastPathComponent().path
        let fromTopology = try DataConfiguration.resolve(topologyPath: topologyPath, environment: [:])
        #expect(fromTopology.directory == repository + "/data/ml-100k")
        #expect(fromTopology.training == .p1TrainValid)
        #expect(throws: AgentRuntimeError.self) {
            try DataConfiguration.resolve(topologyPath: nil, environment: ["AGENTIC_TRAINING": "everything"])
        }
    }
}
