public import Evolution
import Foundation
public import Topology

/// The offline evaluator as the evolution loop's objective: a topology run as written on valid
/// (agents fitted on train) or test (fitted on train + valid, as it serves), with its inner
/// rewards. Fitted models and agents are reused, so edits downstream of the routes refit nothing.
public struct EvaluatorObjective: TopologyObjective {
    /// The recall kinds evolution adds routes of (`recall.static` serves data-free examples).
    public static let routeKinds = ["recall.als", "recall.content", "recall.ease", "recall.itemknn", "recall.popularity", "recall.rp3beta"]
    /// How often evolution adds each kind: the strongest single models on MovieLens-style data
    /// (EASE, then RP3beta and ALS, per shared/eval/peers.md) more often than the weak ones.
    public static let routeKindWeights = ["recall.ease": 4.0, "recall.rp3beta": 2, "recall.als": 2, "recall.itemknn": 1,
                                   "recall.content": 0.5, "recall.popularity": 0.5]

    public let evaluator: TopologyEvaluator

    public init(evaluator: TopologyEvaluator) { self.evaluator = evaluator }

    public func evaluate(_ spec: TopologySpec, stage: Stage, fraction: Double) async throws(EvolutionError) -> TopologyMeasurement {
        let evaluation: TopologyEvaluation
        do {
            evaluation = try await evaluator.evaluate(spec, on: stage == .valid ? .valid : .test)
        } catch {
            throw EvolutionError(.evaluation, "\(error)")
        }
        return TopologyMeasurement(metrics: Self.metrics(evaluation.overall), innerRewards: evaluation.innerRewards, seconds: evaluation.seconds)
    }

    /// A metric set by its protocol names (`ndcg@10`, `coverage@10`, `ild@10`, …), exactly.
    static func metrics(_ set: MetricSet) -> [String: Double] {
        [
            "recall@10": set.recall10, "recall@20": set.recall20, "ndcg@10": set.ndcg10, "ndcg@20": set.ndcg20,
            "hitrate@10": set.hitRate10, "mrr@10": set.mrr10, "coverage@10": set.coverage10, "ild@10": set.ild10,
        ]
    }
}
