import Foundation
public import Topology

/// The timed steps of a demo run: where hot swaps, experiments and evolution happen while
/// the replay goes on. Each step runs once, at its offset from the start of the replay
/// (steps run one after another, so a late step waits for the one before it).
public struct DemoScenario: Sendable {
    public var steps: [DemoStep]
    public init(steps: [DemoStep] = []) { self.steps = steps }
}

/// One step of a ``DemoScenario``.
public struct DemoStep: Sendable {
    /// When, from the start of the replay.
    public var at: Duration
    /// What the status line and the report call it (e.g. `swap ease v2`, `experiment 3`).
    public var name: String
    /// Does the step; returns its decision or result in a few words (the report shows it).
    /// A thrown error is reported as the step's outcome and the run goes on.
    public var action: @Sendable (DemoContext) async throws -> String

    public init(at: Duration, name: String, action: @escaping @Sendable (DemoContext) async throws -> String) {
        self.at = at
        self.name = name
        self.action = action
    }
}

/// What a step can see of and add to the running demo.
public struct DemoContext: Sendable {
    /// The gateway's base URL.
    public let gateway: String
    let recorder: Recorder
    let client: GatewayClient

    /// Time since the replay started.
    public func elapsed() async -> Duration { await recorder.elapsed }

    /// The newest epoch a gateway answer has named.
    public func latestEpoch() async -> Int? { await recorder.latestEpoch }

    /// Online hit rate, NDCG@10 and latency of `epoch` so far (nil before any answer of it):
    /// what a swap or an experiment decides on.
    public func online(epoch: Int) async -> DemoReport.EpochSummary? { await recorder.summary(of: epoch) }

    /// Adds an offline reward (measured on split P1) for an epoch to the report and `evolution.svg`.
    public func recordOffline(epoch: Int, metric: String, value: Double) async {
        await recorder.recordOffline(DemoReport.OfflineReward(epoch: epoch, metric: metric, value: value))
    }

    /// Adds a live experiment and its decision to the report.
    public func recordExperiment(_ experiment: DemoReport.Experiment) async {
        await recorder.recordExperiment(experiment)
    }

    /// The topology the gateway serves now, with its epoch (what a swap or an evolution step
    /// starts from); kept for `topology-<epoch>.svg` too.
    public func topology() async throws -> (spec: TopologySpec, epoch: Int) {
        let answer = try await client.topology()
        await recorder.recordTopology(TopologyPicture.Graph(answer.topology, epoch: answer.epoch))
        return (answer.topology, answer.epoch)
    }

    /// Reads the gateway's current topology and keeps it for `topology-<epoch>.svg`.
    /// - Returns: its epoch.
    @discardableResult
    public func snapshotTopology() async throws -> Int {
        let answer = try await client.topology()
        await recorder.recordTopology(TopologyPicture.Graph(answer.topology, epoch: answer.epoch))
        return answer.epoch
    }
}
