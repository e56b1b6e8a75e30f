import AsyncHTTPClient
import Foundation
import NIOCore
import Topology

/// The gateway's HTTP API as the demo (and `agentic bench learning`) uses it.
public struct GatewayClient: Sendable {
    public struct Recommendation: Decodable, Sendable {
        public struct Item: Decodable, Sendable { public var item: String }
        public var items: [Item]
        public var epoch: Int
        public var degraded: [String]
        public var requestID: String
        enum CodingKeys: String, CodingKey {
            case items, epoch, degraded
            case requestID = "request_id"
        }
    }

    struct TopologyAnswer: Decodable {
        var epoch: Int
        var topology: TopologySpec
    }

    let base: String
    let timeout: Duration
    // Not URLSession: swift-corelibs-foundation's async `data(for:)` blocks a thread of
    // Swift's cooperative pool per request, which on two cores stalls the whole replay.
    private let client: HTTPClient

    public init(base: String, timeout: Duration, connections: Int) {
        self.base = base.hasSuffix("/") ? String(base.dropLast()) : base
        self.timeout = timeout
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = max(1, connections)
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    /// Closes the connections; the client is unusable afterwards.
    public func shutdown() async { try? await client.shutdown() }

    public func recommend(user: String, k: Int) async throws(DemoError) -> Recommendation {
        struct Body: Encodable {
            var user: String
            var k: Int
        }
        let data = try await post("/v1/recommend", Body(user: user, k: k), expecting: [200])
        do {
            return try JSONDecoder().decode(Recommendation.self, from: data)
        } catch {
            throw DemoError(.gateway, "undecodable_answer")
        }
    }

    public func feedback(user: String, item: String, requestID: String) async throws(DemoError) {
        struct Body: Encodable {
            var user: String
            var item: String
            var event = "click"
            var value = 1.0
            var requestID: String
            enum CodingKeys: String, CodingKey {
                case user, item, event, value
                case requestID = "request_id"
            }
        }
        // 200 once a store agent committed the click, 202 when the gateway only published it.
        _ = try await post("/v1/feedback", Body(user: user, item: item, requestID: requestID), expecting: [200, 202])
    }

    func topology() async throws(DemoError) -> TopologyAnswer {
        let data = try await send(HTTPClientRequest(url: base + "/v1/topology"), expecting: [200])
        do {
            return try JSONDecoder().decode(TopologyAnswer.self, from: data)
        } catch {
            throw DemoError(.gateway, "undecodable topology: \(error)")
        }
    }

    private func post(_ path: String, _ body: some Encodable, expecting statuses: Set<Int>) async throws(DemoError) -> Data {
        var request = HTTPClientRequest(url: base + path)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: (try? JSONEncoder().encode(body)) ?? Data()))
        return try await send(request, expecting: statuses)
    }

    private func send(_ request: HTTPClientRequest, expecting statuses: Set<Int>) async throws(DemoError) -> Data {
        let status: Int
        let body: ByteBuffer
        do {
            let response = try await client.execute(request, timeout: .milliseconds(Int64(timeout.seconds * 1000)))
            status = Int(response.status.code)
            body = try await response.body.collect(upTo: 16 << 20)
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout {
            throw DemoError(.gateway, "timeout")
        } catch is CancellationError {
            throw DemoError(.gateway, "cancelled")
        } catch let error as HTTPClientError where error == .cancelled {
            throw DemoError(.gateway, "cancelled")
        } catch {
            throw DemoError(.gateway, "connection")
        }
        guard statuses.contains(status) else { throw DemoError(.gateway, "http_\(status)") }
        return Data(body.readableBytesView)
    }
}
