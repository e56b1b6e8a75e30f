import AgentRuntime
public import Artifacts
import Dataset
import Dispatch
import Foundation
import Logging
import Synchronization
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

    /// Makes sure the models of `agents` are in `artifacts` (see ``fit(agent:spec:catalogue:data:artifacts:)``),
    /// at most `width` at once on threads of their own (fits block for seconds: never on
    /// Swift's few pool threads): the recall routes first, then the rankers, whose jobs are
    /// long and would hold a core the routes could share. `done` hears of each as it ends.
    /// - Returns: each agent's report, in `agents`' order (routes, then rankers), and the failures.
    public static func fitAll(
        _ agents: [String], spec: TopologySpec, catalogue: KindCatalogue, data: DataConfiguration, artifacts: ArtifactStore,
        width: Int, done: @escaping @Sendable (String, Result<Report, any Error>) -> Void
    ) async -> (reports: [Report], failures: [String]) {
        let routes = agents.filter { spec.agent(named: $0)?.kind != "rank.learned" }
        let rankers = agents.filter { spec.agent(named: $0)?.kind == "rank.learned" }
        var reports: [Report] = []
        var failures: [String] = []
        for batch in [routes, rankers] where !batch.isEmpty {
            let results = await parallel(batch, width: width) { name in
                let result = Result { try fit(agent: name, spec: spec, catalogue: catalogue, data: data, artifacts: artifacts) }
                done(name, result)
                return result
            }
            for (name, result) in zip(batch, results) {
                switch result {
                case .success(let report): reports.append(report)
                case .failure(let error): failures.append("\(name): \(error)")
                }
            }
        }
        return (reports, failures)
    }

    /// `work` on each of `names`, at most `width` at once, on threads of their own; results in
    /// `names`' order.
    static func parallel<T: Sendable>(
        _ names: [String], width: Int, _ work: @escaping @Sendable (String) -> T
    ) async -> [T] {
        await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                let results = Mutex<[T?]>(Array(repeating: nil, count: names.count))
                let queue = DispatchQueue(label: "agentic.fit", attributes: .concurrent)
                let slots = DispatchSemaphore(value: max(1, width))
                let group = DispatchGroup()
                for (index, name) in names.enumerated() {
                    slots.wait()
                    queue.async(group: group) {
                        let result = work(name)
                        results.withLock { $0[index] = result }
                        slots.signal()
                    }
                }
                group.wait()
                continuation.resume(returning: results.withLock { $0.map { $0! } })
            }
        }
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
