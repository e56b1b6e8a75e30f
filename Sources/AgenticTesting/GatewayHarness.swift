public import AgentProtocol
import Foundation
public import Gateway
import Hummingbird
public import HummingbirdTesting

/// The gateway's HTTP routes in the test process, without an HTTP socket (HummingbirdTesting's
/// `.router` setup, as Hummingbird tests its own routes), in front of ``FakeAgent``s on a short
/// run directory. For what the routes answer; the `agentic gateway` process (its listener,
/// epochs, signals) is what the cross-process suites start.
///
/// ```swift
/// let harness = try GatewayHarness()
/// defer { harness.stop() }
/// try harness.fake("a", .items([ScoredItem(item: "1", score: 1)]))
/// let status = try await harness.test(topology: yaml) { client in
///     try await client.execute(uri: "/healthz", method: .get) { $0.status }
/// }
/// ```
public final class GatewayHarness: @unchecked Sendable {
    /// The run directory (short: NNG's ipc paths are limited).
    public let directory: String
    public let layout: RunLayout
    private var agents: [FakeAgent] = []

    public init() throws {
        var template = Array("/tmp/agh.XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw TestFailure("mkdtemp failed") }
        directory = String(cString: made)
        layout = RunLayout(runDirectory: directory)
        try FileManager.default.createDirectory(atPath: layout.socketDirectory, withIntermediateDirectories: true)
    }

    /// A fake instance of `name` answering as `behaviour` says.
    @discardableResult
    public func fake(_ name: String, replica: Int = 0, _ behaviour: FakeAgent.Behaviour) throws -> FakeAgent {
        let agent = try FakeAgent(name, replica: replica, layout: layout, behaviour)
        agents.append(agent)
        return agent
    }

    /// Makes a gateway for `topology` (YAML text), runs `test` against its routes, closes it.
    /// - Parameter configuration: the gateway's settings (its run directory and topology path
    ///   are the harness's).
    public func test<Value: Sendable>(
        topology: String, configuration: Gateway.Configuration? = nil, _ test: @Sendable (any TestClientProtocol) async throws -> Value
    ) async throws -> Value {
        let path = directory + "/topology-\(UInt32.random(in: 0 ... .max)).yaml"
        try topology.write(toFile: path, atomically: true, encoding: .utf8)
        var settings = configuration ?? Gateway.Configuration(runDirectory: directory, topologyPath: path)
        settings.runDirectory = directory
        settings.topologyPath = path
        let gateway = try Gateway(configuration: settings)
        do {
            try await gateway.awaitConnections(within: .seconds(2), feedbackSubscribers: false)
            let value = try await Application(router: gateway.makeRouter()).test(.router, test)
            await gateway.close()
            return value
        } catch {
            await gateway.close()
            throw error
        }
    }

    /// Stops the fakes and removes the run directory.
    public func stop() {
        agents.forEach { $0.close() }
        try? FileManager.default.removeItem(atPath: directory)
    }
}
