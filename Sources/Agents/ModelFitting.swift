import AgentRuntime
public import Artifacts
import Dataset
import Foundation
import Logging
public import Topology

/// The fitting job: the models of a topology's agents, fitted into artifacts outside any
/// serving process (`agentic fit`, which the coordinator runs before it starts or swaps in an
/// agent that holds a model), so agents start by loading them.
public enum ModelFitting {
    /// Kinds whose agents hold a fitted model. Popularity, the router, fusion and MMR fit
    /// nothing: their start-up never waits on a fit, and changing their parameters (`k`,
    /// MMR's `lambda`, fusion's weights) never causes one.
    public static let fittedKinds: Set<String> = [
        "recall.itemknn", "recall.rp3beta", "recall.ease", "recall.als", "recall.content", "rank.learned",
    ]

    /// The artifact directory of `spec` run in `runDirectory`: the topology's `artifacts`
    /// (relative to the working directory unless absolute), else `artifacts` in the run.
    public static func artifactDirectory(spec: TopologySpec, runDirectory: String) -> String {
        guard let configured = spec.artifacts else { return runDirectory + "/artifacts" }
        return configured.hasPrefix("/") ? configured : FileManager.default.currentDirectoryPath + "/" + configured
    }

    /// What fitting one agent did.
    public struct Report: Sendable {
        public var agent: String
        public var kind: String
        public var origin: ModelOrigin
        public var seconds: Double
    }

    /// The agents of `spec` that hold a model, recall routes first (a ranker's training reads
    /// routes of its own, fitted on less data, so the order only shapes the progress shown).
    public static func modelAgents(in spec: TopologySpec) -> [String] {
        let fitted = spec.agents.filter { fittedKinds.contains($0.kind) }
        return fitted.filter { $0.kind != "rank.learned" }.map(\.name) + fitted.filter { $0.kind == "rank.learned" }.map(\.name)
    }

    /// Makes sure `agent`'s model is in `artifacts`: loads and verifies it, or fits and writes it,
    /// on `data` with the agent's own `training_snapshot`.
    /// - Throws: ``AgentRuntimeError`` for an agent or kind that is not there, or a training
    ///   snapshot that is not in `artifacts`, and whatever the fit throws.
    public static func fit(
        agent: String, spec: TopologySpec, catalogue: KindCatalogue, data configuration: DataConfiguration,
        artifacts: ArtifactStore
    ) throws -> Report {
        let started = ContinuousClock.now
        let context = try AgentContext(spec: spec, agent: agent, replica: 0, catalogue: catalogue)
        var configuration = configuration
        configuration.trainingSnapshot = ParameterSet(context).string("training_snapshot").flatMap { $0.isEmpty ? nil : $0 }
        let data = try MovieLensData.load(configuration, snapshots: artifacts)
        var log = Logger(label: "agentic.fit")
        log[metadataKey: "agent"] = "\(agent)"
        let origin: ModelOrigin
        switch context.kind.name {
        case "rank.learned":
            let binding = try KindBinding.ranker(ParameterSet(context))
            if binding.model == .passthrough {
                origin = .none
            } else {
                let upstream = LearnedRankAgent.upstream(of: agent, in: spec)
                let features = RankerFeatures(
                    routes: upstream.routes.sorted(), timeline: Timeline(data: data, matrix: data.training))
                origin = try LearnedRankAgent.obtain(
                    binding, upstream: upstream, data: data, spec: spec, catalogue: catalogue, features: features,
                    artifacts: artifacts, log: log
                ).1
            }
        case let kind where kind.hasPrefix("recall."):
            let binding = try KindBinding.recall(kind: kind, ParameterSet(context))
            origin = try RecallModel.fitted(binding.fit, data: data, matrix: .training, artifacts: artifacts, log: log).origin
        case let kind:
            throw AgentRuntimeError(.unknownKind, "\(agent): kind \(kind) has no model to fit")
        }
        let took = ContinuousClock.now - started
        return Report(
            agent: agent, kind: context.kind.name, origin: origin,
            seconds: Double(took.components.seconds) + Double(took.components.attoseconds) / 1e18)
    }
}
