import AgentProtocol
import Foundation
import Transport

/// Talks to the coordinator of a run: what `agentic status` and `agentic down` use.
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

    private func ask(_ command: CoordinatorRequest.Command, timeout: Duration) async throws(CoordinatorError)
        -> ClusterStatus
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
            let payload = try WireCodec.encode(CoordinatorRequest(command: command))
            reply = try await requester.request(
                Message(envelope: Envelope(type: .control, requestID: 1, payload: payload)), timeout: timeout
            )
            .envelope()
        } catch {
            throw CoordinatorError(.notRunning, "no coordinator answers in \(runDirectory) (\(error))")
        }
        guard reply.type == .reply, let status = try? WireCodec.decode(ClusterStatus.self, from: reply.payload) else {
            let detail =
                (try? WireCodec.decode(ErrorReply.self, from: reply.payload)).map { "\($0.code): \($0.message)" }
                ?? "undecodable"
            throw CoordinatorError(.protocolError, "the coordinator answered \(reply.type): \(detail)")
        }
        return status
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
