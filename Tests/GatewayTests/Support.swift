import AgentProtocol
import AgenticTesting
import Foundation
import Synchronization
import Testing
import Transport

/// One agent of a test topology.
struct TestAgent {
    var name: String
    var kind: String
    var replicas = 1
}

/// Writes a topology file the real validator accepts.
func topologyYAML(epoch: Int, agents: [TestAgent], edges: [(String, String)], entry: String, exit: String, deadlineMilliseconds: Int = 1000, nng: String? = nil) -> String {
    var text = "epoch: \(epoch)\nname: test\ntransport:\n  kind: ipc\nagents:\n"
    for agent in agents {
        text += "  - name: \(agent.name)\n    kind: \(agent.kind)\n    replicas: \(agent.replicas)\n"
    }
    text += "edges:\n"
    for (from, to) in edges { text += "  - { from: \(from), to: \(to) }\n" }
    text += "gateway:\n  listen: [ \"http://127.0.0.1:0\" ]\n  entry: \(entry)\n  exit: \(exit)\n  deadline_ms: \(deadlineMilliseconds)\n"
    if let nng { text += "  nng: \"\(nng)\"\n" }
    return text
}

/// A temporary run: the harness's short run directory and fake agents, and the real
/// `agentic gateway` process. `stop()` ends everything it started.
final class TestRun: @unchecked Sendable {
    private let harness: GatewayHarness
    var directory: String { harness.directory }
    var layout: RunLayout { harness.layout }
    private(set) var gateway: TestProcess?
    private(set) var baseURL = ""

    init() throws { harness = try GatewayHarness() }

    @discardableResult
    func fake(_ name: String, replica: Int = 0, _ behaviour: FakeAgent.Behaviour) throws -> FakeAgent {
        try harness.fake(name, replica: replica, behaviour)
    }

    func write(_ file: String, _ text: String) throws -> String {
        let path = "\(directory)/\(file)"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// Starts the gateway on `topology` and waits for its `listening` line.
    func startGateway(topology: String, environment: [String: String] = [:]) async throws {
        let process = try TestProcess.agentic(["gateway", "--run-dir", directory, "--topology", topology], environment: environment)
        gateway = process
        let line = try await process.waitForLine { $0.hasPrefix("listening ") }
        baseURL = String(line.dropFirst("listening ".count))
    }

    func stop() {
        gateway?.stop()
        harness.stop()
    }

    deinit { stop() }

    // MARK: HTTP

    struct HTTPResult {
        var status: Int
        var body: Data
        var contentType: String?
        func json() throws -> [String: Any] {
            guard let object = try JSONSerialization.jsonObject(with: body) as? [String: Any] else { throw TestFailure("not a JSON object") }
            return object
        }
        /// The `{"error": {"code", "message"}}` body's code.
        func errorCode() throws -> String? {
            ((try json())["error"] as? [String: Any])?["code"] as? String
        }
    }

    func http(_ method: String, _ path: String, body: Data? = nil, contentType: String? = "application/json") async throws -> HTTPResult {
        let answer = try await HTTP.request(method, baseURL + path, body: body, contentType: contentType)
        return HTTPResult(status: answer.status, body: answer.body, contentType: answer.contentType)
    }

    func post(_ path: String, _ json: String, contentType: String? = "application/json") async throws -> HTTPResult {
        try await http("POST", path, body: Data(json.utf8), contentType: contentType)
    }

    /// A recommendation, decoded.
    func recommend(user: String = "u1", k: Int = 10) async throws -> Recommended {
        let result = try await post("/v1/recommend", #"{"user": "\#(user)", "k": \#(k)}"#)
        guard result.status == 200 else { throw TestFailure("status \(result.status): \(String(decoding: result.body, as: UTF8.self))") }
        return try JSONDecoder().decode(Recommended.self, from: result.body)
    }
}

struct Recommended: Decodable {
    var items: [ScoredItem]
    var epoch: Int
    var degraded: [String]
    var request_id: String
    var itemIDs: [String] { items.map(\.item) }
}

