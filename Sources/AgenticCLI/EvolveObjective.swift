import Evaluation
import Evolution
import Foundation
import Topology

/// The offline evaluator as the evolution loop's objective: a topology run as written on valid
/// (agents fitted on train) or test (fitted on train + valid, as it serves), with its inner
/// rewards. Fitted models and agents are reused, so edits downstream of the routes refit nothing.
struct EvaluatorObjective: TopologyObjective {
    /// The recall kinds the evaluator can fit (`recall.static` is for data-free examples).
    static let routeKinds = ["recall.als", "recall.content", "recall.ease", "recall.itemknn", "recall.popularity", "recall.rp3beta"]
    /// How often evolution adds each kind: the strongest single models on MovieLens-style data
    /// (EASE, then RP3beta and ALS, per shared/eval/peers.md) more often than the weak ones.
    static let routeKindWeights = ["recall.ease": 4.0, "recall.rp3beta": 2, "recall.als": 2, "recall.itemknn": 1,
                                   "recall.content": 0.5, "recall.popularity": 0.5]

    let evaluator: TopologyEvaluator

    func evaluate(_ spec: TopologySpec, stage: Stage, fraction: Double) async throws(EvolutionError) -> TopologyMeasurement {
        let evaluation: TopologyEvaluation
        do {
            evaluation = try await evaluator.evaluate(spec, on: stage == .valid ? .valid : .test)
        } catch {
            throw EvolutionError(.evaluation, "\(error)")
        }
        return TopologyMeasurement(metrics: Self.metrics(evaluation.overall), innerRewards: evaluation.innerRewards, seconds: evaluation.seconds)
    }

    /// A metric set by its protocol names (`ndcg@10`, `coverage@10`, `ild@10`, …).
    static func metrics(_ set: MetricSet) -> [String: Double] {
        guard let data = try? JSONEncoder().encode(set),
            let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        else { return [:] }
        return object.compactMapValues { ($0 as? NSNumber)?.doubleValue }.filter { $0.key != "users" }
    }
}
