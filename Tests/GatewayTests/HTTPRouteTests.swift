import AgenticTesting
import AgentProtocol
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

/// The gateway's HTTP routes in this process, without a socket (`GatewayHarness`), in front
/// of fake agents.
@Suite(.timeLimit(.minutes(2)))
struct GatewayRouteTests {
    static let oneAgent = topologyYAML(
        epoch: 1, agents: [.init(name: "router", kind: "router")], edges: [], entry: "router", exit: "router")

    static func errorCode(_ body: ByteBuffer) -> String? {
        let object = try? JSONSerialization.jsonObject(with: Data(buffer: body)) as? [String: Any]
        return (object?["error"] as? [String: Any])?["code"] as? String
    }

    @Test func recommendAnswersFromTheGraphAndHealthSaysTheEpoch() async throws {
        let harness = try GatewayHarness()
        defer { harness.stop() }
        let router = try harness.fake("router", .items([ScoredItem(item: "7", score: 2), ScoredItem(item: "3", score: 1)]))
        try await harness.test(topology: Self.oneAgent) { client in
            try await client.execute(
                uri: "/v1/recommend", method: .post, headers: [.contentType: "application/json"],
                body: ByteBuffer(string: #"{"user": "u1", "k": 1}"#)
            ) { response in
                #expect(response.status == .ok)
                let object = try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any]
                #expect((object?["items"] as? [[String: Any]])?.compactMap { $0["item"] as? String } == ["7"])
                #expect(object?["degraded"] as? [String] == [])
                #expect(object?["epoch"] as? Int == 1)
            }
            try await client.execute(uri: "/healthz", method: .get) { response in
                #expect(response.status == .ok)
                let object = try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any]
                #expect(object?["epoch"] as? Int == 1)
            }
        }
        #expect(router.requests == 1)
    }

    @Test func badInputGetsAClientErrorWithAJSONBody() async throws {
        let harness = try GatewayHarness()
        defer { harness.stop() }
        let router = try harness.fake("router", .items([ScoredItem(item: "1", score: 1)]))
        let cases: [(String, String, String?, Int, String)] = [
            ("/v1/recommend", "{not json", "application/json", 400, "malformed_json"),
            ("/v1/recommend", "[1, 2]", "application/json", 400, "malformed_json"),
            ("/v1/recommend", "", "application/json", 400, "empty_body"),
            ("/v1/recommend", #"{"k": 5}"#, "application/json", 400, "missing_field"),
            ("/v1/recommend", #"{"user": 42}"#, "application/json", 400, "invalid_field"),
            ("/v1/recommend", #"{"user": ""}"#, "application/json", 400, "invalid_field"),
            ("/v1/recommend", #"{"user": "u", "k": 0}"#, "application/json", 400, "k_out_of_range"),
            ("/v1/recommend", #"{"user": "u", "k": 101}"#, "application/json", 400, "k_out_of_range"),
            ("/v1/recommend", #"{"user": "u", "k": "ten"}"#, "application/json", 400, "invalid_field"),
            ("/v1/recommend", #"{"user": "u", "k": 1e30}"#, "application/json", 400, "invalid_field"),
            ("/v1/recommend", #"{"user": "u"}"#, "text/plain", 415, "unsupported_media_type"),
            ("/v1/recommend", #"{"user": "\#(String(repeating: "x", count: 70_000))"}"#, "application/json", 413, "body_too_large"),
            ("/v1/feedback", #"{"user": "u", "item": "1", "event": "purchase"}"#, "application/json", 400, "invalid_field"),
            ("/v1/feedback", #"{"user": "u", "item": "1", "event": "rating"}"#, "application/json", 400, "missing_field"),
            ("/v1/feedback", #"{"user": "u", "event": "click"}"#, "application/json", 400, "missing_field"),
            // The batch or the one event? Not guessed.
            ("/v1/feedback", #"{"user": "u", "item": "1", "event": "click", "events": [{"user": "u", "item": "2", "event": "click"}]}"#, "application/json", 400, "invalid_field"),
            // Identifiers are counted in characters (as JSON Schema's maxLength counts): 257 are too many.
            ("/v1/recommend", #"{"user": "\#(String(repeating: "é", count: 257))"}"#, "application/json", 400, "invalid_field"),
            ("/v1/nothing", "{}", "application/json", 404, "not_found"),
        ]
        try await harness.test(topology: Self.oneAgent) { client in
            for (path, body, type, status, code) in cases {
                var headers = HTTPFields()
                if let type { headers[.contentType] = type }
                try await client.execute(uri: path, method: .post, headers: headers, body: ByteBuffer(string: body)) { response in
                    #expect(response.status.code == status, "\(path) \(body.prefix(40))")
                    #expect(Self.errorCode(response.body) == code, "\(path) \(body.prefix(40)): \(String(buffer: response.body))")
                    #expect(response.headers[.contentType] == "application/json")
                }
            }
            // A known path with another method: 405, and Allow names the one it takes.
            for (path, method, allowed) in [
                ("/v1/recommend", HTTPRequest.Method.get, "POST"), ("/v1/feedback", .put, "POST"), ("/healthz", .post, "GET"),
                ("/metrics", .delete, "GET"), ("/v1/topology", HTTPRequest.Method(rawValue: "TRACE")!, "GET"),
            ] {
                try await client.execute(uri: path, method: method) { response in
                    #expect(response.status == .methodNotAllowed, "\(method) \(path)")
                    #expect(response.headers[.allow] == allowed)
                    #expect(Self.errorCode(response.body) == "method_not_allowed")
                }
            }
            // 256 characters of two bytes each (512 bytes) are a valid user.
            try await client.execute(
                uri: "/v1/recommend", method: .post, headers: [.contentType: "application/json"],
                body: ByteBuffer(string: #"{"user": "\#(String(repeating: "é", count: 256))"}"#)
            ) { response in
                #expect(response.status == .ok)
            }
            // Still serving after all that.
            try await client.execute(
                uri: "/v1/recommend", method: .post, headers: [.contentType: "application/json"],
                body: ByteBuffer(string: #"{"user": "u1"}"#)
            ) { response in
                #expect(response.status == .ok)
            }
        }
        #expect(router.requests == 2, "no bad request reached an agent")
    }
}
