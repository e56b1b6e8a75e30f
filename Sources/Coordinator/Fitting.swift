import Foundation
import Synchronization
import Topology

extension Coordinator {
    /// Runs the fitting job (`agentic fit FILE --agent NAME…`, a process of its own at low
    /// priority) for those of `agents` whose kind holds a fitted model, and waits for it, so
    /// the agents then load artifacts instead of fitting inside their serving process.
    ///
    /// The job is quick when the artifacts exist (it loads and verifies each), and a model
    /// whose parameters did not change keeps its artifact: only a changed fit costs CPU.
    /// - Returns: nil when done or nothing needed fitting; else why the job failed (the agents
    ///   then fit at start, as a last resort, and say so in their logs).
    func fitModels(_ agents: [AgentSpec], in spec: TopologySpec, topologyPath: String) async -> String? {
        let needed = agents.filter {
            configuration.fittedKinds.contains($0.kind) && !fittedFingerprints.contains(Self.fitFingerprint($0, in: spec))
        }
        let names = needed.map(\.name)
        guard !names.isEmpty else { return nil }
        let arguments =
            ["fit", topologyPath, "--run-dir", configuration.runDirectory, "--nice", "10"]
            + names.flatMap { ["--agent", $0] }
        let started = ContinuousClock.now
        let (executable, timeout) = (configuration.executable, configuration.fitTimeout)
        let log = self.log
        let waiter = ExitWaiter()
        let outcome: (status: Int32, signalled: Bool) = await withCheckedContinuation { continuation in
            waiter.set(continuation)
            do {
                let child = try Child(executable: executable, arguments: arguments) { status, signalled in
                    waiter.finish(status, signalled)
                }
                Task.detached {
                    try? await Task.sleep(for: timeout)
                    if !waiter.finished { child.signal(SIGKILL) }
                }
            } catch {
                log.error("cannot start the fitting job", metadata: ["error": "\(error)"])
                waiter.finish(-1, false)
            }
        }
        let took = ContinuousClock.now - started
        guard outcome.status == 0, !outcome.signalled else {
            let reason =
                "the fitting job for \(names.joined(separator: ", ")) "
                + (outcome.signalled ? "was killed" : "exited with status \(outcome.status)")
            log.error("fitting failed", metadata: ["agents": "\(names.joined(separator: ","))", "took": "\(took)"])
            return reason
        }
        log.info("models ready", metadata: ["agents": "\(names.joined(separator: ","))", "took": "\(took)"])
        for agent in needed { fittedFingerprints.insert(Self.fitFingerprint(agent, in: spec)) }
        return nil
    }

    /// What a model agent's artifact can depend on, over-approximated from the topology alone
    /// (the coordinator has no data to compute artifact keys): its kind and parameters but `k`,
    /// and for a learned ranker, which trains on the routes and fusion upstream, every agent's.
    static func fitFingerprint(_ agent: AgentSpec, in spec: TopologySpec) -> String {
        func text(_ agent: AgentSpec) -> String {
            agent.kind + "{" + agent.parameters.filter { $0.key != "k" }.sorted { $0.key < $1.key }
                .map { "\($0.key)=\($0.value)" }.joined(separator: ",") + "}"
        }
        var fingerprint = agent.name + ":" + text(agent)
        if agent.kind == "rank.learned" {
            fingerprint += "|" + spec.agents.filter { $0.name != agent.name }.map { $0.name + ":" + text($0) }.joined(separator: ";")
        }
        return fingerprint
    }
}

/// Hands a child's exit to the one task waiting for it.
private final class ExitWaiter: Sendable {
    private let continuation = Mutex<CheckedContinuation<(status: Int32, signalled: Bool), Never>?>(nil)
    private let done = Mutex(false)

    func set(_ continuation: CheckedContinuation<(status: Int32, signalled: Bool), Never>) {
        self.continuation.withLock { $0 = continuation }
    }

    func finish(_ status: Int32, _ signalled: Bool) {
        done.withLock { $0 = true }
        continuation.withLock {
            $0?.resume(returning: (status, signalled))
            $0 = nil
        }
    }

    var finished: Bool { done.withLock { $0 } }
}
