import Foundation

/// A cluster started by `agentic up` for a test: waits until the gateway serves, and stops
/// every process it started when dropped (or at `stop()`), leaving nothing behind.
public final class TestCluster: Sendable {
    /// The run directory (private, under a short /tmp directory).
    public let runDirectory: String
    /// The gateway's base URL, e.g. `http://127.0.0.1:PORT`.
    public let baseURL: String
    /// The `agentic up` process.
    public let up: TestProcess
    /// up's `ready N instances serving, F failed` line.
    public let ready: String
    private let directory: ShortDirectory

    /// Starts `agentic up FILE` and waits until it printed its gateway and run directory.
    /// - Parameters:
    ///   - topology: a topology file path.
    ///   - environment: extra environment for `up` and every agent it starts.
    ///   - timeout: how long the start may take (data-backed agents fit at start).
    public convenience init(topology: String, environment: [String: String] = [:], timeout: Duration = .seconds(120))
        async throws
    {
        try await self.init(topology: topology, in: try ShortDirectory(), environment: environment, timeout: timeout)
    }

    /// The same, with the run directory under `directory` (which the cluster keeps alive).
    public init(
        topology: String, in directory: ShortDirectory, environment: [String: String] = [:], timeout: Duration = .seconds(120)
    ) async throws {
        self.directory = directory
        runDirectory = "\(directory.path)/r"
        up = try TestProcess.agentic(["up", topology, "--run-dir", runDirectory], environment: environment)
        do {
            ready = try await up.waitForLine(timeout: timeout) { $0.hasPrefix("ready ") }
            let line = try await up.waitForLine(timeout: timeout) { $0.hasPrefix("gateway ") }
            baseURL = String(line.dropFirst("gateway ".count))
            _ = try await up.waitForLine { $0.hasPrefix("up ") }
        } catch {
            await up.stopAndWait()
            throw error
        }
    }

    /// The live dashboard's URL (`up` prints `dashboard URL` once it listens).
    public func dashboardURL(timeout: Duration = .seconds(20)) async throws -> String {
        String(try await up.waitForLine(timeout: timeout) { $0.hasPrefix("dashboard ") }.dropFirst("dashboard ".count))
    }

    /// `POST /v1/recommend` for `user`: the item ids served, in order.
    public func recommend(user: String, k: Int) async throws -> [String] {
        let answer = try await HTTP.request(
            "POST", baseURL + "/v1/recommend", body: Data(#"{"user": "\#(user)", "k": \#(k)}"#.utf8), timeout: .seconds(20))
        guard answer.status == 200 else { throw TestFailure("recommend \(user): status \(answer.status)") }
        let items = answer.object["items"] as? [[String: Any]] ?? []
        return items.compactMap { $0["item"] as? String }
    }

    /// Stops the cluster and waits until `up` (and with it every agent) has exited.
    public func stop() async { await up.stopAndWait() }

    deinit { up.stop() }
}
