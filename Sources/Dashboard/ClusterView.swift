public import Coordinator
import Foundation
public import Store
import Topology

/// What the page shows, as `GET /api/state` answers it: one snapshot of the cluster, built
/// from the coordinator's status, spec and history and the knowledge store's records.
public struct ClusterView: Codable, Sendable, Equatable {
    /// Seconds since 1970 when the snapshot was taken.
    public var time: Double
    /// Whether the coordinator answered the last sample; `error` says why not. The rest of the
    /// view is then the last one it did answer.
    public var reachable: Bool
    public var error: String?
    public var name: String
    public var epoch: Int
    /// `starting`, `serving` or `stopping`.
    public var state: String
    public var runDirectory: String
    public var gateway: String?
    /// One entry per agent version that has processes (serving, candidate or draining).
    public var agents: [AgentView]
    public var edges: [EdgeView]
    /// The agents requests enter at, and the one whose answer is the response.
    public var entry: [String]
    public var exit: String
    /// The `store` agent, when the topology has one: the gateway feeds it feedback and served lists.
    public var store: String?
    public var epochs: [EpochRecord]
    public var experiment: ExperimentStatus?
    public var experiments: [ExperimentRecord]
    public var reward: RewardView?
    /// How often the page was loaded (a reload counts; the page's own updates do not).
    public var pageLoads: Int

    enum CodingKeys: String, CodingKey {
        case time, reachable, error, name, epoch, state, gateway, agents, edges, entry, exit, store, epochs
        case experiment, experiments, reward
        case runDirectory = "run_dir"
        case pageLoads = "page_loads"
    }
}

/// One version of one agent and its instances.
public struct AgentView: Codable, Sendable, Equatable {
    public var name: String
    public var kind: String
    public var version: String
    /// `serving` (the serving epoch's version), `candidate` (a live experiment's) or `retiring`
    /// (an older version still draining after a swap).
    public var role: String
    public var instances: [InstanceView]
    /// Decisions per second over the last few samples, summed over instances.
    public var throughput: Double
    /// The worst instance's p99, microseconds.
    public var latencyP99Microseconds: Double
    public var restarts: Int

    enum CodingKeys: String, CodingKey {
        case name, kind, version, role, instances, throughput, restarts
        case latencyP99Microseconds = "latency_p99_us"
    }
}

public struct InstanceView: Codable, Sendable, Equatable {
    public var replica: Int
    public var pid: Int32
    public var state: String
    public var uptimeSeconds: Double
    public var restarts: Int
    public var served: Int
    public var failed: Int
    public var throughput: Double
    public var latencyP99Microseconds: Double

    enum CodingKeys: String, CodingKey {
        case replica, pid, state, restarts, served, failed, throughput
        case uptimeSeconds = "uptime_s"
        case latencyP99Microseconds = "latency_p99_us"
    }
}

public struct EdgeView: Codable, Sendable, Equatable {
    public var from: String
    public var to: String
    public var segments: [String]?
}

/// Online reward over time: per bucket, the share of served lists that got a positive reaction.
public struct RewardView: Codable, Sendable, Equatable {
    public var bucketSeconds: Double
    public var buckets: [RewardBucket]
    /// Why there are no buckets, when there are none (no store, or nothing served yet).
    public var note: String?

    enum CodingKeys: String, CodingKey {
        case buckets, note
        case bucketSeconds = "bucket_s"
    }
}

extension ClusterView {
    /// The view of `status` running `spec`; `throughput` gives each instance's decisions per
    /// second (keyed by ``instanceKey(name:version:replica:)``).
    static func make(
        status: ClusterStatus, spec: TopologySpec, history: [EpochRecord], throughput: [String: Double],
        experiments: [ExperimentRecord], reward: RewardView?, pageLoads: Int, time: Date
    ) -> ClusterView {
        let candidates = Set(status.experiment?.candidates ?? [])
        var order: [String] = []
        var groups: [String: [InstanceStatus]] = [:]
        for instance in status.agents {
            let key = instance.name + "@" + instance.version
            if groups[key] == nil { order.append(key) }
            groups[key, default: []].append(instance)
        }
        let agents = order.map { key -> AgentView in
            let instances = groups[key] ?? []
            let first = instances[0]
            let role =
                candidates.contains(key)
                ? "candidate" : spec.agent(named: first.name)?.version == first.version ? "serving" : "retiring"
            let views = instances.map { instance in
                InstanceView(
                    replica: instance.replica, pid: instance.pid, state: instance.state.rawValue,
                    uptimeSeconds: instance.uptimeSeconds, restarts: instance.restarts, served: instance.served,
                    failed: instance.failed,
                    throughput: throughput[instanceKey(name: instance.name, version: instance.version, replica: instance.replica)] ?? 0,
                    latencyP99Microseconds: instance.latencyP99Microseconds)
            }
            return AgentView(
                name: first.name, kind: first.kind, version: first.version, role: role, instances: views,
                throughput: views.reduce(0) { $0 + $1.throughput },
                latencyP99Microseconds: views.map(\.latencyP99Microseconds).max() ?? 0,
                restarts: views.reduce(0) { $0 + $1.restarts })
        }
        return ClusterView(
            time: time.timeIntervalSince1970, reachable: true, error: nil, name: spec.name, epoch: status.epoch,
            state: status.state, runDirectory: status.runDirectory, gateway: status.gateway, agents: agents,
            edges: spec.edges.map { EdgeView(from: $0.from, to: $0.to, segments: $0.segments) },
            entry: spec.gateway.entry, exit: spec.gateway.exit, store: spec.agents.first { $0.kind == "store" }?.name,
            epochs: Array(history.suffix(50).reversed()), experiment: status.experiment, experiments: experiments,
            reward: reward, pageLoads: pageLoads)
    }

    static func instanceKey(name: String, version: String, replica: Int) -> String { "\(name)@\(version)#\(replica)" }

    /// Before the coordinator first answered.
    static func unreachable(runDirectory: String, error: String, time: Date) -> ClusterView {
        ClusterView(
            time: time.timeIntervalSince1970, reachable: false, error: error, name: "", epoch: 0, state: "unknown",
            runDirectory: runDirectory, gateway: nil, agents: [], edges: [], entry: [], exit: "", store: nil, epochs: [],
            experiment: nil, experiments: [], reward: nil, pageLoads: 0)
    }
}
