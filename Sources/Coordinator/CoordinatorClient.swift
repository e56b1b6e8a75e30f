import AgentProtocol
import Foundation
public import Topology
import Transport

/// Talks to the coordinator of a run: what `agentic status`, `down`, `swap`, `apply`,
/// `rollback`, `history` and `diff` use.
public struct CoordinatorClient: Sendable {
    public let runDirectory: String

    public init(runDirectory: String) { self.runDirectory = runDirectory }

    /// The cluster's status.
    /// - Throws: ``CoordinatorError/Code/notRunning`` when no coordinator answers in `timeout`.
    public func status(timeout: Duration = .seconds(3)) async throws(CoordinatorError) -> ClusterStatus {
        try await ask(.status, timeout: timeout)
    }

    /// Asks the coordinator to stop everything and waits (up to `timeout`) until its process is gone.
    /// - Returns: the status the coordinator had when asked.
    /// - Throws: ``CoordinatorError/Code/notRunning`` when no coordinator answers; the same code
    ///   with another message when it does not exit in time.
    @discardableResult
    public func down(timeout: Duration = .seconds(30)) async throws(CoordinatorError) -> ClusterStatus {
        let status = try await ask(.down, timeout: .seconds(3))
        let deadline = ContinuousClock.now + timeout
        while ProcessProbe.isAlive(status.coordinatorPID) {
            guard ContinuousClock.now < deadline else {
                throw CoordinatorError(
                    .notRunning, "the coordinator (pid \(status.coordinatorPID)) did not stop within \(timeout)")
            }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return status
    }

    /// Replaces every instance of `agent` (see ``Coordinator/swap(agent:changes:version:kind:reason:)``).
    /// - Returns: the report; its `outcome` is `rolled_back`, with the reason, when the gate failed.
    /// - Throws: ``CoordinatorError`` for a request the coordinator refuses (unknown agent, bad spec).
    public func swap(
        agent: String, parameters: [String: String] = [:], version: String? = nil, kind: String? = nil,
        timeout: Duration = .seconds(120)
    ) async throws(CoordinatorError) -> SwapReport {
        try await ask(
            CoordinatorRequest(command: .swap, agent: agent, parameters: parameters, version: version, kind: kind),
            as: SwapReport.self, timeout: timeout)
    }

    /// Changes the running system to the topology `text` (named `file` in errors); `reason`
    /// goes into the history (default: `apply FILE`).
    public func apply(
        topology text: String, file: String, reason: String? = nil, timeout: Duration = .seconds(120)
    ) async throws(CoordinatorError) -> SwapReport {
        try await ask(
            CoordinatorRequest(command: .apply, topology: text, file: file, reason: reason ?? "apply \(file)"),
            as: SwapReport.self, timeout: timeout)
    }

    /// Starts a live experiment (see `Coordinator.startExperiment`).
    public func startExperiment(topology text: String, file: String, experiment: String, share: Double, timeout: Duration = .seconds(120))
        async throws(CoordinatorError) -> SwapReport
    {
        try await ask(
            CoordinatorRequest(command: .experimentStart, agent: experiment, parameters: ["share": "\(share)"], topology: text, file: file),
            as: SwapReport.self, timeout: timeout)
    }

    /// Ends the live experiment: promote the candidate or keep control (a new epoch either way).
    public func endExperiment(promote: Bool, reason: String, timeout: Duration = .seconds(120)) async throws(CoordinatorError) -> SwapReport {
        try await ask(
            CoordinatorRequest(command: .experimentEnd, parameters: ["decision": promote ? "promote" : "rollback"], reason: reason),
            as: SwapReport.self, timeout: timeout)
    }

    /// Goes back to an earlier epoch's agents and wiring, as a new epoch.
    public func rollback(to epoch: Int, timeout: Duration = .seconds(120)) async throws(CoordinatorError) -> SwapReport {
        try await ask(CoordinatorRequest(command: .rollback, epoch: epoch), as: SwapReport.self, timeout: timeout)
    }

    /// Every epoch of the run.
    public func history(timeout: Duration = .seconds(3)) async throws(CoordinatorError) -> HistoryReport {
        try await ask(CoordinatorRequest(command: .history), as: HistoryReport.self, timeout: timeout)
    }

    /// What changed from epoch `from` to epoch `to`.
    public func diff(from: Int, to: Int, timeout: Duration = .seconds(3)) async throws(CoordinatorError) -> TopologyDiff {
        try await ask(CoordinatorRequest(command: .diff, epoch: from, toEpoch: to), as: TopologyDiff.self, timeout: timeout)
    }

    /// The spec the serving epoch runs.
    public func topology(timeout: Duration = .seconds(3)) async throws(CoordinatorError) -> ServingTopology {
        try await ask(CoordinatorRequest(command: .topology), as: ServingTopology.self, timeout: timeout)
    }

    private func ask(_ command: CoordinatorRequest.Command, timeout: Duration) async throws(CoordinatorError)
        -> ClusterStatus
    {
        try await ask(CoordinatorRequest(command: command), as: ClusterStatus.self, timeout: timeout)
    }

    private func ask<Answer: Decodable>(_ request: CoordinatorRequest, as: Answer.Type, timeout: Duration)
        async throws(CoordinatorError) -> Answer
    {
        let layout = RunLayout(runDirectory: runDirectory)
        let socketPath = String(layout.coordinatorControl.dropFirst("ipc://".count))
        guard FileManager.default.fileExists(atPath: socketPath) else {
            throw CoordinatorError(.notRunning, "no cluster is running in \(runDirectory)")
        }
        let reply: Envelope
        do {
            let requester = try Requester()
            defer { requester.close() }
            try requester.dial(layout.coordinatorControl)
            let payload = try WireCodec.encode(request)
            reply = try await requester.request(
                Message(envelope: Envelope(type: .control, requestID: 1, payload: payload)), timeout: timeout
            )
            .envelope()
        } catch {
            throw CoordinatorError(.notRunning, "no coordinator answers in \(runDirectory) (\(error))")
        }
        if reply.type == .error, let problem = try? WireCodec.decode(ErrorReply.self, from: reply.payload),
            let code = CoordinatorError.Code.named(problem.code)
        {
            throw CoordinatorError(code, problem.message)
        }
        guard reply.type == .reply, let answer = try? WireCodec.decode(Answer.self, from: reply.payload) else {
            let detail =
                (try? WireCodec.decode(ErrorReply.self, from: reply.payload)).map { "\($0.code): \($0.message)" }
                ?? "undecodable"
            throw CoordinatorError(.protocolError, "the coordinator answered \(reply.type): \(detail)")
        }
        return answer
    }
}

/// Whether a process still runs (a zombie, dead but not yet reaped, does not).
public enum ProcessProbe {
    public static func isAlive(_ pid: Int32) -> Bool {
        guard pid > 0, kill(pid, 0) == 0 || errno == EPERM else { return false }
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return true }
        let state = stat[stat.index(after: close)...].drop { $0 == " " }.first
        return state != "Z" && state != "X"
    }
}
