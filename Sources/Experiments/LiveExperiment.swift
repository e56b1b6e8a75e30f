import AgentProtocol
import AsyncHTTPClient
import Coordinator
public import Evolution
import Foundation
public import Store
import Topology

/// What a live experiment ended with (`agentic experiment start --json`).
public struct ExperimentOutcome: Codable, Sendable {
    /// `exp-ID` (ID: the row of the store's experiments table).
    public var experiment: String
    /// `promote`, `rollback`, `stop` or `gate_failed`.
    public var decision: String
    public var reason: String
    /// The epoch serving afterwards.
    public var epoch: Int
    public var arms: [ExperimentArmCounts]
    public var seconds: Double
}

/// The experiment agent: records the proposal, starts the canary through the coordinator,
/// reads per-arm outcomes from the store, decides with the policy and ends the canary.
/// `agentic up --evolve` (``EvolveLoop``) runs the same loop for each candidate it proposes.
public struct LiveExperiment: Sendable {
    var runDirectory: String
    var database: String?
    var policy: ExperimentPolicy
    var share: Double
    var maximumDuration: Duration
    var poll: Duration = .milliseconds(250)

    public init(
        runDirectory: String, database: String?, policy: ExperimentPolicy, share: Double, maximumDuration: Duration,
        poll: Duration = .milliseconds(250)
    ) {
        self.runDirectory = runDirectory
        self.database = database
        self.policy = policy
        self.share = share
        self.maximumDuration = maximumDuration
        self.poll = poll
    }

    public func run(candidate text: String, file: String, proposal: String, offlineResults: String? = nil) async throws -> ExperimentOutcome {
        let began = ContinuousClock.now
        let store = try KnowledgeStore(path: database ?? runDirectory + "/" + KnowledgeStore.defaultFileName, create: false)
        let serving = try? TopologyValidator.load(contentsOf: RunLayout(runDirectory: runDirectory).topologyFile)
        let candidateSpec = try? TopologyValidator.load(source: text, file: file)
        let diff = serving.flatMap { old in candidateSpec.map { TopologyDiff(from: old, to: $0).description } }
        let id = try store.recordExperiment(proposal: proposal, diff: diff, offlineResults: offlineResults)
        let experiment = "exp-\(id)"
        var policy = self.policy
        if policy.latencyBudgetMilliseconds == nil {
            policy.latencyBudgetMilliseconds = (candidateSpec ?? serving)?.rewards.outer.latencyBudgetMilliseconds.map(Double.init)
        }
        let client = CoordinatorClient(runDirectory: runDirectory)
        let gateway = try? await client.status().gateway
        func seconds() -> Double {
            let elapsed = ContinuousClock.now - began
            return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        }
        let started = try await client.startExperiment(topology: text, file: file, experiment: experiment, share: share)
        if started.outcome == "rolled_back" {
            let reason = "the candidate failed its gate: \(started.reason ?? "")"
            try store.decideExperiment(id: id, onlineResults: nil, decision: "gate_failed: " + reason)
            return ExperimentOutcome(experiment: experiment, decision: "gate_failed", reason: reason, epoch: started.epoch, arms: [], seconds: seconds())
        }
        var verdict = ExperimentVerdict.continue
        var reason = ""
        var arms: [ExperimentArmCounts] = []
        while verdict == .continue {
            try await Task.sleep(for: poll)
            arms = try store.experimentArms(experiment: experiment)
            func outcome(_ name: String) -> ArmOutcome {
                let arm = arms.first { $0.arm == name }
                return ArmOutcome(lists: arm?.lists ?? 0, reward: Double(arm?.clicked ?? 0))
            }
            (verdict, reason) = policy.decide(
                control: outcome("control"), candidate: outcome("candidate"),
                health: await Self.health(gateway: gateway, experiment: experiment, arm: "candidate"))
            if verdict == .continue, ContinuousClock.now - began > maximumDuration {
                verdict = .stop
                reason = "time budget spent without a significant difference: " + reason
            }
        }
        let ended = try await client.endExperiment(promote: verdict == .promote, reason: "experiment \(experiment) \(verdict.rawValue): \(reason)")
        var decision = verdict.rawValue
        if verdict == .promote, ended.outcome != "swapped" {
            decision = "rollback"
            reason = "promotion failed its gate: \(ended.reason ?? "")"
        }
        arms = (try? store.experimentArms(experiment: experiment)) ?? arms
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let online = String(decoding: (try? encoder.encode(arms)) ?? Data(), as: UTF8.self)
        try store.decideExperiment(id: id, onlineResults: online, decision: decision + ": " + reason)
        return ExperimentOutcome(experiment: experiment, decision: decision, reason: reason, epoch: ended.epoch, arms: arms, seconds: seconds())
    }
}

extension LiveExperiment {
    /// An arm's requests, failed or degraded ones and p99 latency (the upper edge of the
    /// histogram bucket that holds it) from the gateway's `/metrics`; nothing when unreachable.
    static func health(gateway: String?, experiment: String, arm: String) async -> ExperimentPolicy.Health {
        let none = ExperimentPolicy.Health(requests: 0, errors: 0, p99Milliseconds: nil)
        guard let gateway, let response = try? await HTTPClient.shared.execute(HTTPClientRequest(url: gateway + "/metrics"), timeout: .seconds(5)),
            let body = try? await response.body.collect(upTo: 16 << 20)
        else { return none }
        let data = Data(body.readableBytesView)
        let labels = ["experiment=\"\(experiment)\"", "arm=\"\(arm)\""]
        var requests = 0, errors = 0
        var buckets: [(Double, Double)] = []
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n") where labels.allSatisfy(line.contains) {
            guard let value = line.split(separator: " ").last.flatMap({ Double($0) }) else { continue }
            if line.hasPrefix("agentic_gateway_experiment_requests_total") {
                requests += Int(value)
                if line.contains("outcome=\"error\"") { errors += Int(value) }
            } else if line.hasPrefix("agentic_gateway_experiment_duration_seconds_bucket"),
                let range = line.range(of: "le=\""), let end = line[range.upperBound...].firstIndex(of: "\"")
            {
                let edge = String(line[range.upperBound..<end])
                buckets.append((edge == "+Inf" ? .infinity : Double(edge) ?? .infinity, value))
            }
        }
        buckets.sort { $0.0 < $1.0 }
        let total = buckets.last?.1 ?? 0
        let p99 = total > 0 ? buckets.first { $0.1 >= 0.99 * total }.map { $0.0 * 1000 } : nil
        return ExperimentPolicy.Health(requests: requests, errors: errors, p99Milliseconds: p99)
    }
}
