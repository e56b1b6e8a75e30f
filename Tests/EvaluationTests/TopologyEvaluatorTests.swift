import AgenticTesting
import Dataset
import Foundation
import Testing
import Topology
@testable import Evaluation
import Evolution

/// 60 users in three taste groups over 60 items (group g likes items with i % 3 == g), with a
/// 16:2:2 split per user, written as MovieLens atomic files plus three split files: the
/// evaluator loads them exactly as it loads MovieLens.
private final class SyntheticData: Sendable {
    let directory: ShortDirectory
    let split: SplitSource

    init() throws {
        directory = try ShortDirectory()
        let genres = ["A", "B", "C"]
        var itemText = "item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq\n"
        for i in 1...60 { itemText += "\(i)\tMovie \(i)\t\(1990 + i % 7)\t\(genres[i % 3])\n" }
        var train: [Interaction] = [], valid: [Interaction] = [], test: [Interaction] = []
        for user in 1...60 {
            let group = user % 3
            var generator = SeededGenerator(seed: UInt64(user))
            let liked = (1...60).filter { $0 % 3 == group }.shuffled(using: &generator)
            for (n, item) in liked.enumerated() {
                let event = Interaction(user: user, item: item, rating: Double(1 + (item + user) % 5), timestamp: 1000 * n + user)
                if n < 16 { train.append(event) } else if n < 18 { valid.append(event) } else { test.append(event) }
            }
        }
        var interText = "user_id:token\titem_id:token\trating:float\ttimestamp:float\n"
        for x in train + valid + test { interText += "\(x.user)\t\(x.item)\t\(Int(x.rating))\t\(x.timestamp)\n" }
        _ = try directory.write("ml-100k.item", itemText)
        _ = try directory.write("ml-100k.inter", interText)
        split = .files(
            train: try directory.write("train.tsv", SplitFile.render(train)),
            valid: try directory.write("valid.tsv", SplitFile.render(valid)),
            test: try directory.write("test.tsv", SplitFile.render(test)))
    }

    func evaluator() throws -> TopologyEvaluator {
        try TopologyEvaluator(configuration: .init(dataDirectory: directory.path, split: split))
    }
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
        AgentSpec(name: "knn", kind: "recall.itemknn", parameters: ["k": .int(10), "neighbours": .int(10)]),
        AgentSpec(name: "ease", kind: "recall.ease", parameters: ["k": .int(10), "lambda": .double(10)]),
        AgentSpec(name: "fusion", kind: "fusion",
                  parameters: ["weight.pop": .double(0.1), "weight.knn": .double(fusionWeight), "weight.ease": .double(1)]),
        AgentSpec(name: "mmr", kind: "rerank.mmr", parameters: ["k": .int(10), "lambda": .double(mmrLambda)]),
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

@Test func syntheticTopologiesAreValidForTheCatalogue() throws {
    for model in ["linear", "boosted", nil] as [String?] {
        _ = try TopologyValidator.validate(topology(rankerModel: model)).get()
    }
}

@Test(.computeBound) func evaluatesTheTopologyAsWrittenWithInnerRewards() async throws {
    let data = try SyntheticData()
    let evaluator = try data.evaluator()
    let evaluation = try await evaluator.evaluate(topology(), on: .test)
    // Every user has held-out items and gets the exit's list: MMR's k = 10.
    #expect(evaluation.overall.users == 60)
    #expect(evaluation.recommendations.count == 60)
    #expect(evaluation.recommendations.values.allSatisfy { $0.count == 10 })
    // The taste groups are learnable: the pipeline beats popularity alone by far.
    let popularity = try #require(evaluation.routes["pop"])
    #expect(evaluation.overall.ndcg10 > popularity.ndcg10 + 0.1)
    #expect(Set(evaluation.routes.keys) == ["pop", "knn", "ease"])
    #expect(Set(evaluation.innerRewards.keys) == ["router", "pop", "knn", "ease", "fusion", "ranker", "mmr"])
    #expect(evaluation.innerRewards["router"] == evaluation.overall.ndcg10)
    // light_max_history 7 with 16 training items each: every user is heavy, as the router says.
    #expect(Set(evaluation.segments.keys) == ["heavy"])
    #expect(evaluation.degraded.isEmpty)
}

@Test(.computeBound) func nothingOfTheHeldOutStageLeaksIntoWhatIsServed() async throws {
    let data = try SyntheticData()
    let evaluator = try data.evaluator()
    let valid = try await evaluator.evaluate(topology(), on: .valid)
    let test = try await evaluator.evaluate(topology(), on: .test)
    let loadedValid = try await evaluator.data(.valid), loadedTest = try await evaluator.data(.test)
    // Valid serves from train only: no training item comes back; test serves from train + valid.
    for (u, list) in valid.recommendations {
        #expect(list.allSatisfy { !loadedValid.training.contains(row: u, column: $0) })
    }
    for (u, list) in test.recommendations {
        #expect(list.allSatisfy { !loadedTest.training.contains(row: u, column: $0) })
    }
    // The ranker's labels come from inside what it is given.
    #expect(loadedValid.rankerLabels.nonZeroCount > 0)
    for u in 0..<loadedValid.rankerLabels.rowCount {
        for i in loadedValid.rankerLabels.row(u) {
            #expect(loadedValid.training.contains(row: u, column: Int(i)))
            #expect(!loadedValid.heldOut.contains(row: u, column: Int(i)))
        }
    }
}

@Test(.computeBound) func downstreamChangesReuseTheAgentsUpstream() async throws {
    let data = try SyntheticData()
    let evaluator = try data.evaluator()
    _ = try await evaluator.evaluate(topology(), on: .valid)
    let made = await evaluator.agentsMade
    #expect(made == 7)
    // MMR's λ shapes MMR only.
    let mmr = try await evaluator.evaluate(topology(mmrLambda: 0.6), on: .valid)
    #expect(await evaluator.agentsMade == made + 1)
    // A fusion weight shapes fusion and the ranker, which trains on fusion's output.
    _ = try await evaluator.evaluate(topology(fusionWeight: 0.9), on: .valid)
    #expect(await evaluator.agentsMade == made + 3)
    // A new version with the same parameters (an adoption in evolution) makes nothing new.
    var bumped = topology(fusionWeight: 0.9)
    for index in bumped.agents.indices { bumped.agents[index].version = "7" }
    _ = try await evaluator.evaluate(bumped, on: .valid)
    #expect(await evaluator.agentsMade == made + 3)
    // Reused agents answer as fresh ones do.
    let fresh = try await data.evaluator().evaluate(topology(mmrLambda: 0.6), on: .valid)
    #expect(fresh.recommendations == mmr.recommendations)
}

@Test(.computeBound) func missingDataIsAClearError() throws {
    let directory = try ShortDirectory()
    let error = #expect(throws: EvaluationError.self) {
        _ = try TopologyEvaluator(configuration: .init(dataDirectory: directory.path))
    }
    #expect(error?.code == .data)
    #expect(error?.message.contains("ml-100k.inter") == true)
}

/// The one-pipeline contract end to end: the lists a live cluster serves over HTTP are the
/// lists `agentic eval --out` reports for the same users, item for item.
@Test(.computeBound, .timeLimit(.minutes(5)))
func servedListsEqualWhatEvalReports() async throws {
    let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let file = repository.appendingPathComponent("topology/movielens-small.yaml").path
    let data = repository.appendingPathComponent("data/ml-100k").path
    let directory = try ShortDirectory()
    let out = "\(directory.path)/eval.tsv"
    let eval = try TestProcess.agentic(["eval", file, "--data", data, "--out", out, "--json"])
    #expect(try await eval.waitForExit(timeout: .seconds(240)) == 0)
    var evaluated: [String: [String]] = [:]
    for line in try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n").dropFirst() {
        let fields = line.split(separator: "\t")
        evaluated[String(fields[0]), default: []].append(String(fields[1]))
    }
    #expect(evaluated.count == 943)

    let cluster = try await TestCluster(topology: file, environment: ["AGENTIC_DATA": data])
    // Every test user, as served.py asks; the lists must match item for item.
    let users = evaluated.keys.sorted { Int($0)! < Int($1)! }
    var different: [String] = []
    for user in users where try await cluster.recommend(user: user, k: 20) != evaluated[user] {
        different.append(user)
    }
    await cluster.stop()
    #expect(different.isEmpty, "served lists differ from eval --out for users \(different.prefix(10))")
}

/// What evolution reads: the served lists' metrics under their protocol names, and the inner rewards.
@Test(.computeBound) func theObjectiveReportsProtocolMetricsAndInnerRewards() async throws {
    let data = try SyntheticData()
    let objective = EvaluatorObjective(evaluator: try data.evaluator())
    let measurement = try await objective.evaluate(topology(), stage: .valid, fraction: 1)
    let direct = try await data.evaluator().evaluate(topology(), on: .valid)
    #expect(measurement.metrics["ndcg@10"] == direct.overall.ndcg10)
    #expect(measurement.metrics["ild@10"] == direct.overall.ild10)
    #expect(measurement.metrics["coverage@10"] == direct.overall.coverage10)
    // The same names as the report's JSON (users aside).
    let json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(direct.overall)) as? [String: Any] ?? [:]
    #expect(Set(measurement.metrics.keys) == Set(json.keys).subtracting(["users"]))
    #expect(measurement.innerRewards == direct.innerRewards)
}
