import GatewayAPI
import HTTPTypes
import Hummingbird

/// The keys that open the gateway's write endpoints (and, when asked, its reads): sent as
/// `Authorization: Bearer KEY` or `X-API-Key: KEY`, compared in constant time, never logged.
public struct APIKeys: Sendable {
    private let keys: [[UInt8]]
    /// Reads (`/v1/recommend`, `/v1/topology`) need a key too; `/healthz` and `/metrics` never do.
    public var requiredForReads: Bool

    /// - Parameter keys: the accepted keys (empty ones are ignored).
    public init(_ keys: [String], requiredForReads: Bool = false) {
        self.keys = keys.map { Array($0.utf8) }.filter { !$0.isEmpty }
        self.requiredForReads = requiredForReads
    }

    /// The keys of a file (one per line; blank lines and `#` comments skipped) or of a
    /// comma-separated list.
    public static func parse(_ text: String, separator: Character = "\n") -> [String] {
        text.split(separator: separator).map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty && !$0.hasPrefix("#") }
    }

    public var isEmpty: Bool { keys.isEmpty }

    /// Whether `candidate` is one of the keys. Every key is compared whole, whatever matches,
    /// so the time taken says nothing about how much of a key was right.
    func accepts(_ candidate: some Collection<UInt8>) -> Bool {
        let candidate = Array(candidate)
        var found = false
        for key in keys {
            var difference = UInt8(truncatingIfNeeded: key.count ^ candidate.count)
            for index in 0..<key.count {
                difference |= key[index] ^ (index < candidate.count ? candidate[index] : 0)
            }
            found = found || difference == 0
        }
        return found
    }

    /// The key a request carries, if any.
    static func presented(in request: Request) -> Substring? {
        if let header = request.headers[.authorization], header.lowercased().hasPrefix("bearer ") {
            return header.dropFirst("bearer ".count)
        }
        if let name = HTTPField.Name("X-API-Key"), let header = request.headers[name] { return Substring(header) }
        return nil
    }
}

/// Turns away, with 401 and the JSON error body, a request to an endpoint that needs a key
/// when it carries none or a wrong one; counted in `agentic_gateway_unauthorized_total`.
struct APIKeyMiddleware<Context: RequestContext>: RouterMiddleware {
    let keys: APIKeys
    let metrics: GatewayMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let path = request.uri.path
        let write = path == "/v1/feedback"
        let read = path == "/v1/recommend" || path == "/v1/topology"
        guard write || (read && keys.requiredForReads) else { return try await next(request, context) }
        guard let presented = APIKeys.presented(in: request) else {
            metrics.unauthorized(route: path)
            throw APIError(401, "unauthorized", "this endpoint needs an API key (Authorization: Bearer KEY or X-API-Key)")
                .withHeader(.wwwAuthenticate, "Bearer")
        }
        guard keys.accepts(presented.utf8) else {
            metrics.unauthorized(route: path)
            throw APIError(401, "unauthorized", "the API key is not valid").withHeader(.wwwAuthenticate, "Bearer")
        }
        return try await next(request, context)
    }
}
