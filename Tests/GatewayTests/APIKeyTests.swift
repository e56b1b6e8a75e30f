import AgenticTesting
import AgentProtocol
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

@testable import Gateway

/// Write endpoints behind API keys: 401 with a JSON error without one or with a wrong one,
/// reads open unless asked, and no non-loopback listener without keys.
@Suite(.timeLimit(.minutes(1)))
struct APIKeyTests {
    static let topology = topologyYAML(
        epoch: 1, agents: [.init(name: "router", kind: "router")], edges: [], entry: "router", exit: "router")
    static let click = ByteBuffer(string: #"{"user": "u1", "item": "7", "event": "click"}"#)
    static let ask = ByteBuffer(string: #"{"user": "u1", "k": 1}"#)

    static func configuration(_ keys: APIKeys) -> Gateway.Configuration {
        var configuration = Gateway.Configuration(runDirectory: "", topologyPath: "")
        configuration.apiKeys = keys
        return configuration
    }

    static func headers(_ extra: [(HTTPField.Name, String)] = []) -> HTTPFields {
        var fields: HTTPFields = [.contentType: "application/json"]
        for (name, value) in extra { fields[name] = value }
        return fields
    }

    @Test("feedback needs a key (Bearer or X-API-Key); recommendations do not; refusals are 401 JSON and counted")
    func writesNeedAKey() async throws {
        let harness = try GatewayHarness()
        defer { harness.stop() }
        try harness.fake("router", .items([ScoredItem(item: "7", score: 1)]))
        let keyHeader = try #require(HTTPField.Name("X-API-Key"))
        try await harness.test(topology: Self.topology, configuration: Self.configuration(APIKeys(["s3cret", "other-key"]))) { client in
            for extra in [[], [(HTTPField.Name.authorization, "Bearer wrong")], [(keyHeader, "s3cre")]] {
                try await client.execute(uri: "/v1/feedback", method: .post, headers: Self.headers(extra), body: Self.click) { response in
                    #expect(response.status == .unauthorized)
                    #expect(response.headers[.wwwAuthenticate] == "Bearer")
                    #expect(String(buffer: response.body).contains(#""code":"unauthorized""#))
                }
            }
            for extra in [[(HTTPField.Name.authorization, "Bearer s3cret")], [(keyHeader, "other-key")]] {
                try await client.execute(uri: "/v1/feedback", method: .post, headers: Self.headers(extra), body: Self.click) { response in
                    #expect(response.status == .accepted)
                }
            }
            try await client.execute(uri: "/v1/recommend", method: .post, headers: Self.headers(), body: Self.ask) { response in
                #expect(response.status == .ok)
            }
            try await client.execute(uri: "/metrics", method: .get) { response in
                #expect(String(buffer: response.body).contains(#"agentic_gateway_unauthorized_total{route="/v1/feedback"} 3"#))
            }
        }
    }

    @Test("with keys required for reads, recommendations need one too; health does not")
    func readsCanNeedAKey() async throws {
        let harness = try GatewayHarness()
        defer { harness.stop() }
        try harness.fake("router", .items([ScoredItem(item: "7", score: 1)]))
        let keys = APIKeys(["s3cret"], requiredForReads: true)
        try await harness.test(topology: Self.topology, configuration: Self.configuration(keys)) { client in
            try await client.execute(uri: "/v1/recommend", method: .post, headers: Self.headers(), body: Self.ask) { response in
                #expect(response.status == .unauthorized)
            }
            let authorized = Self.headers([(.authorization, "Bearer s3cret")])
            try await client.execute(uri: "/v1/recommend", method: .post, headers: authorized, body: Self.ask) { response in
                #expect(response.status == .ok)
            }
            try await client.execute(uri: "/healthz", method: .get) { response in
                #expect(response.status == .ok)
            }
        }
    }

    @Test("a non-loopback listener without keys is refused at start; with keys it starts")
    func nonLoopbackNeedsKeys() async throws {
        let harness = try GatewayHarness()
        defer { harness.stop() }
        let path = harness.directory + "/open.yaml"
        try Self.topology.replacingOccurrences(of: "http://127.0.0.1:0", with: "http://0.0.0.0:0")
            .replacingOccurrences(of: "  deadline_ms:", with: "  allow_non_loopback: true\n  deadline_ms:")
            .write(toFile: path, atomically: true, encoding: .utf8)
        var configuration = Gateway.Configuration(runDirectory: harness.directory, topologyPath: path)
        #expect(throws: GatewayError.self) { try Gateway(configuration: configuration) }
        configuration.apiKeys = APIKeys(["s3cret"])
        let gateway = try Gateway(configuration: configuration)
        await gateway.close()
    }

    @Test("keys compare whole: a prefix, a longer string or an empty one is not a key")
    func comparison() {
        let keys = APIKeys(["abc123", ""])
        #expect(keys.accepts(Array("abc123".utf8)))
        for wrong in ["abc12", "abc1234", "", "ABC123", "xbc123"] { #expect(!keys.accepts(Array(wrong.utf8)), "\(wrong)") }
        #expect(APIKeys.parse("# keys\nfirst\n\n second \n") == ["first", "second"])
        #expect(APIKeys([""]).isEmpty)
    }
}
