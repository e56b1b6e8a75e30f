import AgenticTestSupport
import Dataset
import Foundation
import Testing
import Topology
@testable import Evaluation
@testable import Recommender

/// 60 users in three taste groups over 30 items (group g likes items with i % 3 == g),
/// with an 8:1:1 split per user; user 59 has no training history at all (cold).
private func syntheticData() -> TopologyEvaluator.Data {
    let genres = ["A", "B", "C"]
    let items = (1...30).map { Item(id: $0, title: "Movie \($0)", releaseYear: 1990 + $0 % 7, genres: [genres[$0 % 3]]) }
    var train: [Interaction] = [], valid: [Interaction] = [], test: [Interaction] = []
    for user in 1...60 {
        let group = user % 3
        var generator = SeededGenerator(seed: UInt64(user))
        let liked = (1...30).filter { $0 % 3 == group }.shuffled(using: &generator)
        for (n, item) in liked.enumerated() {
            let event = Interaction(user: user, item: item, rating: Double(1 + (item + user) % 5), timestamp: 1000 * n + user)
            if user == 60 { n < 2 ? test.append(event) : valid.append(event); continue }
            if n < 8 { train.append(event) } else if n == 8 { valid.append(event) } else { test.append(event) }
        }
    }
    return TopologyEvaluator.Data(items: items, split: Split(train: train, valid: valid, test: test))
}

private struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed &* 0x9E37_79B9_7F4A_7C15 | 1 }
    mutating func next() -> UInt64 {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        return state
    }
}

private func topology(rankerModel: String? = "linear", fusionWeight: Double = 0.5, mmrLambda: Double = 0.8) -> TopologySpec {
    var agents = [
        AgentSpec(name: "router", kind: "router", parameters: ["cold_max_history": .int(0), "light_max_history": .int(7)]),
        AgentSpec(name: "pop", kind: "recall.popularity", parameters: ["k": .int(10)]),
        AgentSpec(name: "knn", kind: "recall.itemknn", parameters: ["k": .int(10), "neighbours": .int(10)],
                  decisionSpace: ["neighbours": .int(5...29, log: true)]),
        AgentSpec(name: "ease", kind: "recall.ease", parameters: ["k": .int(10), "lambda": .double(10)]),
        AgentSpec(name: "fusion", kind: "fusion",
                  parameters: ["weight.pop": .double(0.1), "weight.knn": .double(fusionWeight), "weight.ease": .double(1)]),
        AgentSpec(name: "mmr", kind: "rerank.mmr", parameters: ["k": .int(10), "lambda": .double(mmrLambda)],
                  decisionSpace: ["lambda": .double(0.5...1)]),
    ]
    var edges = [Edge(from: "router", to: "pop"), Edge(from: "router", to: "knn"), Edge(from: "router", to: "ease"),
                 Edge(from: "pop", to: "fusion"), Edge(from: "knn", to: "fusion"), Edge(from: "ease", to: "fusion")]
    if let rankerModel {
        agents.append(AgentSpec(name: "ranker", kind: "rank.learned",
                                parameters: ["k": .int(20), "l2": .double(0.1), "model": .string(rankerModel), "trees": .int(10)]))
        edges += [Edge(from: "fusion", to: "ranker"), Edge(from: "ranker", to: "mmr")]
    } else {
        edges.append(Edge(from: "fusion", to: "mmr"))
    }
    return TopologySpec(name: "synthetic", agents: agents, edges: edges, gateway: GatewaySpec(entry: ["router"], exit: "mmr"))
}

@Test(.computeBound, .computeBound) func topologyIsValidForTheCatalogue() throws {
    for model in ["linear", "boosted", nil] as [String?] {
        _ = try TopologyValidator.validate(topology(rankerModel: model)).get()
    }
}

@Test(.computeBound, .computeBound) func evaluatesTopologyAsSpecifiedWithInnerRewards() async throws {
    let evaluator = TopologyEvaluator(configuration: .init(dataDirectory: ""), data: syntheticData())
    for stage in EvaluationStage.allCases {
        let result = try await evaluator.evaluate(topology(), on: stage)
        #expect(result.overall.users == 60)
        // The taste groups are easy: co-occurrence routes beat popularity by far.
        #expect(result.overall.ndcg10 > result.routes["pop"]!.ndcg10)
        #expect(result.overall.ndcg10 > 0.5)
        for agent in ["pop", "knn", "ease", "ranker", "mmr", "router"] { #expect(result.innerRewards[agent] != nil, "\(agent)") }
        #expect(Set(result.routes.keys) == ["pop", "knn", "ease"])
        // Only on valid is the last user history-less (at test, valid is history).
        if stage == .valid { #expect(result.segmentRewards["cold"] != nil) }
        // The cold user (no history) still gets a full list, from popularity.
        #expect(result.recommendations[59]?.count == 20)
    }
}

@Test(.computeBound, .computeBound) func downstreamChangesReuseFittedRoutes() async throws {
    let evaluator = TopologyEvaluator(configuration: .init(dataDirectory: ""), data: syntheticData())
    let first = try await evaluator.evaluate(topology(rankerModel: nil), on: .valid)
    let fits = await evaluator.routeFits
    #expect(fits == 3)
    let second = try await evaluator.evaluate(topology(rankerModel: nil, fusionWeight: 0, mmrLambda: 0.5), on: .valid)
    #expect(await evaluator.routeFits == fits)
    #expect(first.overall.users == second.overall.users)
    _ = try await evaluator.evaluate(topology(rankerModel: "boosted"), on: .valid)
    #expect(await evaluator.routeFits == fits)
}

@Test(.computeBound, .computeBound) func rerankerChangesReuseCandidatePoolsAndMatchAFreshEvaluation() async throws {
    let cached = TopologyEvaluator(configuration: .init(dataDirectory: ""), data: syntheticData())
    _ = try await cached.evaluate(topology(mmrLambda: 1), on: .valid)
    let builds = await cached.candidatePoolBuilds
    let reused = try await cached.evaluate(topology(mmrLambda: 0.5), on: .valid)
    #expect(await cached.candidatePoolBuilds == builds)
    let fresh = try await TopologyEvaluator(configuration: .init(dataDirectory: ""), data: syntheticData())
        .evaluate(topology(mmrLambda: 0.5), on: .valid)
    #expect(reused.recommendations == fresh.recommendations)
    _ = try await cached.evaluate(topology(fusionWeight: 0.2, mmrLambda: 0.5), on: .valid)
    #expect(await cached.candidatePoolBuilds == builds + 1)
}

@Test(.computeBound, .computeBound) func rankerModelNoneServesTheFusedOrder() async throws {
    let evaluator = TopologyEvaluator(configuration: .init(dataDirectory: ""), data: syntheticData())
    let none = topology(rankerModel: "none")
    _ = try TopologyValidator.validate(none).get()
    var passthrough = none
    let index = passthrough.agents.firstIndex { $0.name == "ranker" }!
    passthrough.agents[index] = AgentSpec(name: "ranker", kind: "rank.passthrough", parameters: ["k": .int(20)])
    for stage in EvaluationStage.allCases {
        let a = try await evaluator.evaluate(none, on: stage), b = try await evaluator.evaluate(passthrough, on: stage)
        #expect(a.recommendations == b.recommendations)
        #expect(a.rankerWeights.isEmpty)
    }
}

@Test(.computeBound, .computeBound) func tuningStaysInsideTheDecisionSpace() async throws {
    let evaluator = TopologyEvaluator(configuration: .init(dataDirectory: ""), data: syntheticData())
    let tuned = try await evaluator.tune(topology())
    let neighbours = tuned.topology.agent(named: "knn")!.parameters["neighbours"]!.number!
    #expect((5...29).contains(Int(neighbours)))
    let lambda = tuned.topology.agent(named: "mmr")!.parameters["lambda"]!.number!
    #expect(lambda >= 0.5 && lambda <= 1)
    // Whether the learned ranker serves is decided on valid and written into the topology.
    #expect(["linear", "none"].contains(tuned.topology.agent(named: "ranker")!.parameters["model"]!.string!))
    #expect(tuned.chosen["ranker"]?["used"] != nil)
    _ = try TopologyValidator.validate(tuned.topology).get()
    let valid = try await evaluator.evaluate(tuned.topology, on: .valid)
    #expect(valid.overall.ndcg10 > 0)
}

@Test(.computeBound, .computeBound) func topologyWithoutRecallAgentIsAClearError() async throws {
    let evaluator = TopologyEvaluator(configuration: .init(dataDirectory: ""), data: syntheticData())
    var spec = topology(rankerModel: nil)
    spec.agents.removeAll { $0.kind.hasPrefix("recall.") }
    spec.edges.removeAll { ["pop", "knn", "ease"].contains($0.from) || ["pop", "knn", "ease"].contains($0.to) }
    await #expect(throws: EvaluationError.self) { try await evaluator.evaluate(spec, on: .valid) }
}

private func metrics(ndcg: Double, coverage: Double, ild: Double) -> MetricSet {
    MetricSet(recall10: 0, recall20: 0, ndcg10: ndcg, ndcg20: 0, hitRate10: 0, mrr10: 0, coverage10: coverage, ild10: ild, users: 1)
}

@Test(.computeBound) func rerankSelectionTreatsDiversityFloorsAsConstraints() {
    let settings = [
        metrics(ndcg: 0.30, coverage: 0.10, ild: 0.90),  // most accurate, too narrow
        metrics(ndcg: 0.28, coverage: 0.25, ild: 0.82),  // clears both
        metrics(ndcg: 0.29, coverage: 0.25, ild: 0.80),  // too similar
        metrics(ndcg: 0.27, coverage: 0.30, ild: 0.85),  // clears both, less accurate
    ]
    #expect(TopologyEvaluator.constrainedBest(settings, coverageFloor: 0.2, ildFloor: 0.81) == 1)
    // Coverage must be strictly above its floor.
    #expect(TopologyEvaluator.violation(settings[1], coverageFloor: 0.25, ildFloor: 0.81) > 0)
    // Nothing clears: the closest to clearing wins, not the most accurate.
    #expect(TopologyEvaluator.constrainedBest(settings, coverageFloor: 0.4, ildFloor: 0.81) == 3)
}

@Test(.computeBound) func routesFittedSideBySideMatchSequentialFitsAndAreCached() async throws {
    let data = syntheticData()
    let evaluator = TopologyEvaluator(configuration: .init(dataDirectory: ""), data: data)
    let plan = try TopologyPlan(topology(rankerModel: nil))
    let together = try await evaluator.fittedConcurrently(plan.routes + plan.routes, stage: .valid)
    #expect(await evaluator.routeFits == plan.routes.count)
    for (route, fitted) in zip(plan.routes + plan.routes, together) {
        let alone = try TopologyEvaluator.fit(route, on: data.train, items: data.index.items)
        #expect(fitted.scores.values == alone.scores.values, "\(route.name)")
    }
    _ = try await evaluator.evaluate(topology(rankerModel: nil), on: .valid)
    #expect(await evaluator.routeFits == plan.routes.count)
}

@Test(.computeBound) func tuningClearsTheDiversityReferenceWhenItCan() async throws {
    // Popularity as the reference (narrow lists, a floor the pipeline can clear); the ILD
    // floor is off, since each synthetic user likes a single genre.
    var configuration = TopologyEvaluator.Configuration(dataDirectory: "")
    configuration.diversityReference = .popularity(.init())
    configuration.minimumValidILD = 0
    configuration.ildMargin = -1
    let evaluator = TopologyEvaluator(configuration: configuration, data: syntheticData())
    let tuned = try await evaluator.tune(topology(rankerModel: nil))
    let reference = try #require(try await evaluator.diversityReferenceMetrics())
    let floors = try #require(tuned.chosen["mmr"])
    #expect(floors["valid_coverage_floor"]! >= reference.coverage10 * 1.03 - 1e-12)
    #expect(floors["valid_coverage_floor"]! > 0)
    #expect(tuned.seconds["routes"] != nil && tuned.seconds["rerank"] != nil)
    let valid = try await evaluator.evaluate(tuned.topology, on: .valid)
    // Personalised lists cover more than popularity's on this data, so a setting clears
    // the floor, and the pick must be one that does.
    #expect(valid.overall.coverage10 > floors["valid_coverage_floor"]!)
}
