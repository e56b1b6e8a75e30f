/// # Agents
///
/// Every agent kind this build runs, made through ``AgentKinds``: the data-free kinds
/// (``RouterAgent``, ``StaticRecallAgent``, ``FusionAgent``, ``PassthroughRankAgent``,
/// ``MMRRerankAgent``, the test kind ``ProbeAgent``), the trainer (``TrainerAgent``) and the
/// MovieLens kinds: each `Recommender` algorithm wrapped in an ``AgentRuntime/Agent`` actor
/// that loads the data once per process, fits once at start (or loads its artifact), serves
/// decisions and learns online from the `feedback` topic.
///
/// - Recall (`recall.popularity`, `recall.itemknn`, `recall.rp3beta`, `recall.ease`,
///   `recall.als`, `recall.content`): ``RecallAgent``.
/// - `router` (segments by real history length): ``HistoryRouterAgent``; without data, the
///   data-free `RouterAgent` (so data-free topologies still start).
/// - `fusion` (weights `weight.<route>`, `method`; per-route scores travel on in
///   `ScoredItem.sources`): ``FusionAgent``, the same with and without data.
/// - `rank.learned` (listwise linear or LambdaMART, trained on the training data's own
///   hold-out over routes fitted on the rest): ``LearnedRankAgent``.
/// - `rerank.mmr` (genre MMR, genre cap, popularity penalty, seen items removed):
///   ``GenreMMRAgent``; without data, the data-free `MMRRerankAgent`.
///
/// Every agent reads its parameters through one binding, `KindBinding` (kind and parameters
/// to the `Recommender` configuration), and recall fits are shared within a process through
/// `FitCache`.
///
/// Data: ``DataConfiguration`` (`AGENTIC_DATA`, `AGENTIC_TRAINING`). A missing data set is a
/// start-up error with a message, which the coordinator's restart policy then handles.
public import AgentRuntime
import Artifacts
import Foundation
import Logging
public import Topology

public enum AgentKinds {
    /// The data-free kinds of `KindCatalogue.builtin`, and optionally the test kind
    /// `test.probe` (`agentic` turns it on with `AGENTIC_TEST_KINDS=1`, read at the edge).
    public static func dataFree(includingTestKinds: Bool = false) -> AgentFactory {
        var factory = AgentFactory(catalogue: .builtin)
        factory.register(kind: "router") { try RouterAgent($0) }
        factory.register(kind: "recall.static") { StaticRecallAgent($0) }
        factory.register(kind: "fusion") { try FusionAgent($0) }
        factory.register(kind: "rank.passthrough") { PassthroughRankAgent($0) }
        factory.register(kind: "rerank.mmr") { MMRRerankAgent($0) }
        if includingTestKinds {
            factory.register(ProbeAgent.kind) { ProbeAgent($0) }
        }
        return factory
    }

    /// The MovieLens kinds this module makes over the data-free ones.
    public static let kinds = [
        "recall.popularity", "recall.itemknn", "recall.rp3beta", "recall.ease", "recall.als", "recall.content",
        "router", "fusion", "rank.learned", "rerank.mmr",
    ]

    /// `base` (the data-free kinds by default) with the MovieLens kinds registered over it.
    ///
    /// Makers load the data only when a data-backed kind is made, so the data-free kinds of
    /// `base` and `fusion` start without it.
    /// - Parameters:
    ///   - topologyPath: the topology file (locates the data by default; the ranker reads its
    ///     upstream routes from it).
    ///   - data: the data to use; nil resolves it from the environment and the topology path.
    ///   - environment: where `AGENTIC_DATA` and `AGENTIC_TRAINING` are read (nil: this process's).
    ///   - runDirectory: the run the agents serve in: models load from (and fits go to) its
    ///     artifact directory (``ModelFitting/artifactDirectory(spec:runDirectory:)``); nil: fit
    ///     in memory, keep nothing.
    public static func factory(
        topologyPath: String, data: DataConfiguration? = nil,
        environment: [String: String]? = nil, base: AgentFactory = dataFree(), runDirectory: String? = nil
    ) -> AgentFactory {
        let environment = environment ?? ProcessInfo.processInfo.environment
        let catalogue = base.catalogue
        let artifacts: @Sendable () -> ArtifactStore? = {
            guard let runDirectory, let spec = try? TopologyValidator.load(contentsOf: topologyPath, catalogue: catalogue)
            else { return nil }
            return ArtifactStore(directory: ModelFitting.artifactDirectory(spec: spec, runDirectory: runDirectory))
        }
        return factory(
            base: base,
            spec: { try TopologyValidator.load(contentsOf: topologyPath, catalogue: catalogue) },
            data: { snapshot in
                var configuration = try data ?? DataConfiguration.resolve(topologyPath: topologyPath, environment: environment)
                configuration.trainingSnapshot = snapshot
                return try MovieLensData.load(configuration, snapshots: artifacts())
            },
            artifacts: artifacts)
    }

    /// `base` with the MovieLens kinds registered over it, for the topology `spec` on `data`:
    /// the agents offline evaluation runs in one process, exactly as `agentic agent` makes them.
    public static func factory(spec: TopologySpec, data: DataConfiguration, base: AgentFactory = dataFree()) -> AgentFactory {
        factory(
            base: base, spec: { spec },
            data: { snapshot in
                var configuration = data
                configuration.trainingSnapshot = snapshot
                return try MovieLensData.load(configuration)
            }, artifacts: { nil })
    }

    private static func factory(
        base: AgentFactory, spec: @escaping @Sendable () throws -> TopologySpec,
        data load: @escaping @Sendable (_ trainingSnapshot: String?) throws -> MovieLensData,
        artifacts: @escaping @Sendable () -> ArtifactStore?
    ) -> AgentFactory {
        var factory = base
        // A model agent fits on its own `training_snapshot` (set by a trainer); the others keep
        // the training split and replay every stored event into their live view.
        @Sendable func snapshot(_ context: AgentContext) -> String? {
            ParameterSet(context).string("training_snapshot").flatMap { $0.isEmpty ? nil : $0 }
        }
        let catalogue = factory.catalogue
        for kind in kinds where kind.hasPrefix("recall.") {
            factory.register(kind: kind) { try RecallAgent($0, data: load(snapshot($0)), artifacts: artifacts()) }
        }
        // Router and MMR also run in data-free topologies (minimal.yaml): without data they
        // fall back to the built-in kinds, saying so, instead of failing to start.
        factory.register(kind: "router") { context in
            let data: MovieLensData
            do {
                data = try load(nil)
            } catch {
                fallback(context, error)
                return try RouterAgent(context)
            }
            return try HistoryRouterAgent(context, data: data)
        }
        factory.register(kind: "rerank.mmr") { context in
            let data: MovieLensData
            do {
                data = try load(nil)
            } catch {
                fallback(context, error)
                return MMRRerankAgent(context)
            }
            return try GenreMMRAgent(context, data: data)
        }
        factory.register(kind: "rank.learned") { context in
            try LearnedRankAgent(context, data: load(snapshot(context)), spec: spec(), catalogue: catalogue, artifacts: artifacts())
        }
        return factory
    }

    private static func fallback(_ context: AgentContext, _ error: any Error) {
        var log = Logger(label: "agentic.agent")
        log[metadataKey: "agent"] = "\(context.name)"
        log.warning("no data (\(error)); running the data-free \(context.kind.name) instead")
    }
}
