import Foundation
import Topology

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// The gateway's HTTP API as the demo uses it.
struct GatewayClient: Sendable {
    struct Recommendation: Decodable {
        struct Item: Decodable { var item: String }
        var items: [Item]
        var epoch: Int
        var degraded: [String]
        var requestID: String
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
    let session: URLSession
    let timeout: Duration

    init(base: String, timeout: Duration, connections: Int) {
        self.base = base.hasSuffix("/") ? String(base.dropLast()) : base
        self.timeout = timeout
        let configuration = URLSessionConfiguration.ephemeral
        configuration.httpMaximumConnectionsPerHost = connections
        configuration.timeoutIntervalForRequest = timeout.seconds
        session = URLSession(configuration: configuration)
    }

    /// - Throws: ``DemoError/Code/gateway`` with a short reason (the failure's name in the report).
    func recommend(user: String, k: Int) async throws(DemoError) -> Recommendation {
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

    func feedback(user: String, item: String, requestID: String) async throws(DemoError) {
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
        let data = try await send(URLRequest(url: try url("/v1/topology")), expecting: [200])
        do {
            return try JSONDecoder().decode(TopologyAnswer.self, from: data)
        } catch {
            throw DemoError(.gateway, "undecodable topology: \(error)")
        }
    }

    private func url(_ path: String) throws(DemoError) -> URL {
        guard let url = URL(string: base + path) else { throw DemoError(.gateway, "bad gateway URL \(base)") }
        return url
    }

    private func post(_ path: String, _ body: some Encodable, expecting statuses: Set<Int>) async throws(DemoError) -> Data {
        var request = URLRequest(url: try url(path))
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.httpBody = try? JSONEncoder().encode(body)
        return try await send(request, expecting: statuses)
    }

    private func send(_ request: URLRequest, expecting statuses: Set<Int>) async throws(DemoError) -> Data {
        var request = request
        request.timeoutInterval = timeout.seconds
        let data: Data
        let response: URLResponse
        do {
            (data, response) = try await session.data(for: request)
        } catch let error as URLError where error.code == .timedOut {
            throw DemoError(.gateway, "timeout")
        } catch is CancellationError {
            throw DemoError(.gateway, "cancelled")
        } catch {
            throw DemoError(.gateway, "connection")
        }
        guard let http = response as? HTTPURLResponse else { throw DemoError(.gateway, "not_http") }
        guard statuses.contains(http.statusCode) else { throw DemoError(.gateway, "http_\(http.statusCode)") }
        return data
    }
}
