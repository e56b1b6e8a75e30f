public import Coordinator
import Foundation
import Logging
import Store
import Topology

/// Where the dashboard reads the cluster from: in a run, the coordinator's control socket.
public protocol ClusterSource: Sendable {
    func status() async throws -> ClusterStatus
    func topology() async throws -> ServingTopology
    func history() async throws -> HistoryReport
}

/// The coordinator of a run directory, asked over its control socket.
struct CoordinatorSource: ClusterSource {
    let client: CoordinatorClient
    let timeout: Duration

    func status() async throws -> ClusterStatus { try await client.status(timeout: timeout) }
    func topology() async throws -> ServingTopology { try await client.topology(timeout: timeout) }
    func history() async throws -> HistoryReport { try await client.history(timeout: timeout) }
}

/// Samples the cluster once per interval and keeps the encoded view the page polls, so a
/// page load or a poll costs a copy of bytes and never a request to the coordinator.
actor ClusterSampler {
    private let source: any ClusterSource
    private let runDirectory: String
    private let rewardBucket: Duration
    private let rewardWindow: Duration
    private let log: Logger
    private var serving: ServingTopology?
    private var history: [EpochRecord] = []
    private var historyEpoch: Int?
    private var experimentSeen: String?
    /// Per instance: (seconds, served) of the last samples, oldest first.
    private var served: [String: [(time: Double, served: Int, pid: Int32)]] = [:]
    private var store: KnowledgeStore?
    private var view: ClusterView
    private(set) var encoded: [UInt8]
    private(set) var pageLoads = 0
    private static let throughputSamples = 6

    init(source: any ClusterSource, runDirectory: String, rewardBucket: Duration, rewardWindow: Duration, log: Logger) {
        self.source = source
        self.runDirectory = runDirectory
        self.rewardBucket = rewardBucket
        self.rewardWindow = rewardWindow
        self.log = log
        view = .unreachable(runDirectory: runDirectory, error: "not sampled yet", time: Date())
        encoded = Self.encode(view)
    }

    func pageLoaded() { pageLoads += 1 }

    var current: ClusterView { view }

    /// Samples until cancelled.
    func run(every interval: Duration) async {
        while !Task.isCancelled {
            await sample(now: Date())
            do { try await Task.sleep(for: interval) } catch { return }
        }
    }

    /// Takes one sample: the coordinator's status (the spec and history again only when the
    /// epoch or the experiment changed), each instance's throughput, and the store's records.
    func sample(now: Date) async {
        let status: ClusterStatus
        do {
            status = try await source.status()
            if serving?.epoch != status.epoch || experimentSeen != status.experiment?.experiment {
                serving = try await source.topology()
                experimentSeen = status.experiment?.experiment
            }
            if historyEpoch != status.epoch || history.isEmpty {
                history = try await source.history().epochs
                historyEpoch = status.epoch
            }
        } catch {
            view.reachable = false
            view.error = "the coordinator does not answer: \(error)"
            view.time = now.timeIntervalSince1970
            view.pageLoads = pageLoads
            encoded = Self.encode(view)
            return
        }
        guard let serving else { return }
        let throughput = measureThroughput(status, at: now.timeIntervalSince1970)
        let (experiments, reward) = readStore(spec: serving.spec, now: now)
        view = ClusterView.make(
            status: status, spec: serving.spec, history: history, throughput: throughput, experiments: experiments,
            reward: reward, pageLoads: pageLoads, time: now)
        encoded = Self.encode(view)
    }

    private func measureThroughput(_ status: ClusterStatus, at time: Double) -> [String: Double] {
        var rates: [String: Double] = [:]
        var seen: Set<String> = []
        for instance in status.agents {
            let key = ClusterView.instanceKey(name: instance.name, version: instance.version, replica: instance.replica)
            seen.insert(key)
            var samples = served[key] ?? []
            // A new process counts from zero again.
            if let last = samples.last, last.pid != instance.pid || last.served > instance.served { samples.removeAll() }
            samples.append((time, instance.served, instance.pid))
            if samples.count > Self.throughputSamples { samples.removeFirst(samples.count - Self.throughputSamples) }
            served[key] = samples
            if let first = samples.first, let last = samples.last, last.time > first.time {
                rates[key] = Double(last.served - first.served) / (last.time - first.time)
            }
        }
        for key in served.keys where !seen.contains(key) { served[key] = nil }
        return rates
    }

    private func readStore(spec: TopologySpec, now: Date) -> ([ExperimentRecord], RewardView?) {
        let bucketSeconds = Double(rewardBucket.components.seconds) + Double(rewardBucket.components.attoseconds) / 1e18
        guard let agent = spec.agents.first(where: { $0.kind == "store" }) else {
            return ([], RewardView(bucketSeconds: bucketSeconds, buckets: [], note: "this topology has no store"))
        }
        let path = KnowledgeStore.databasePath(configured: agent.parameters["path"]?.string, runDirectory: runDirectory)
        if store?.path != path {
            // The store agent creates the file when it starts; until then there is nothing to read.
            store = try? KnowledgeStore(path: path, create: false)
        }
        guard let store else {
            return ([], RewardView(bucketSeconds: bucketSeconds, buckets: [], note: "the store has no database yet"))
        }
        let bucketMilliseconds = Int64(bucketSeconds * 1000)
        let windowMilliseconds = Int64(Double(rewardWindow.components.seconds) * 1000)
        let since = Int64(now.timeIntervalSince1970 * 1000) - windowMilliseconds
        do {
            let buckets = try store.rewardTimeline(bucketMilliseconds: bucketMilliseconds, since: since)
            let experiments = try store.experiments(limit: 20)
            return (
                experiments,
                RewardView(bucketSeconds: bucketSeconds, buckets: buckets, note: buckets.isEmpty ? "no list served yet" : nil)
            )
        } catch {
            log.warning("cannot read the store", metadata: ["error": "\(error)"])
            return ([], RewardView(bucketSeconds: bucketSeconds, buckets: [], note: "the store cannot be read: \(error)"))
        }
    }

    private static func encode(_ view: ClusterView) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? Array(encoder.encode(view))) ?? Array(#"{"reachable":false,"error":"cannot encode the view"}"#.utf8)
    }
}
