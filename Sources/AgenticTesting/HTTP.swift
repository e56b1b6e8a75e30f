import AsyncHTTPClient
public import Foundation
import NIOCore
import NIOHTTP1

/// An HTTP answer as the tests read it.
public struct HTTPAnswer: Sendable {
    public let status: Int
    public let body: Data
    public let contentType: String?

    /// The body as a JSON object (empty when it is not one).
    public var object: [String: Any] { ((try? JSONSerialization.jsonObject(with: body)) as? [String: Any]) ?? [:] }
}

/// HTTP for the tests, over AsyncHTTPClient.
///
/// Not `URLSession`: swift-corelibs-foundation's async `data(for:)` blocks the calling
/// thread of Swift's cooperative pool (a `DispatchQueue.sync` inside), and with two
/// cores two such calls stall every other test in the process.
public enum HTTP {
    /// Sends one request; throws when the connection fails or `timeout` passes.
    public static func request(
        _ method: String, _ url: String, body: Data? = nil, contentType: String? = "application/json",
        headers: [String: String] = [:], timeout: Duration = .seconds(10)
    ) async throws -> HTTPAnswer {
        var request = HTTPClientRequest(url: url)
        request.method = HTTPMethod(rawValue: method)
        if let contentType { request.headers.add(name: "Content-Type", value: contentType) }
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body { request.body = .bytes(ByteBuffer(bytes: body)) }
        let seconds = Double(timeout.components.seconds) + Double(timeout.components.attoseconds) / 1e18
        let response = try await HTTPClient.shared.execute(request, timeout: .milliseconds(Int64(seconds * 1000)))
        let buffer = try await response.body.collect(upTo: 64 << 20)
        return HTTPAnswer(
            status: Int(response.status.code), body: Data(buffer.readableBytesView),
            contentType: response.headers.first(name: "Content-Type"))
    }

    public static func get(_ url: String, timeout: Duration = .seconds(10)) async throws -> HTTPAnswer {
        try await request("GET", url, contentType: nil, timeout: timeout)
    }

    /// POSTs a JSON text; a failed connection is status 0 with an empty object, for loops
    /// that count failures rather than stop at the first.
    public static func postJSON(_ url: String, _ json: String, timeout: Duration = .seconds(10)) async -> (status: Int, object: [String: Any]) {
        guard let answer = try? await request("POST", url, body: Data(json.utf8), timeout: timeout) else { return (0, [:]) }
        return (answer.status, answer.object)
    }
}
