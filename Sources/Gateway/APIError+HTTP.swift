import GatewayAPI
import HTTPTypes
package import Hummingbird

/// Hummingbird answers a thrown `APIError` with its status, headers and JSON body.
extension APIError: HTTPResponseError {
    package func response(from request: Request, context: some RequestContext) throws -> Response {
        response
    }

    var response: Response {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let retryAfterSeconds { headers[.retryAfter] = String(retryAfterSeconds) }
        for (name, value) in self.headers { headers[name] = value }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body())))
    }

    /// The error a response of Hummingbird's own (an unknown path, a wrong method) stands for.
    init(_ error: any HTTPResponseError) {
        let status = error.status
        let code = status == .notFound ? "not_found" : status == .methodNotAllowed ? "method_not_allowed" : "http_\(status.code)"
        self.init(status, code, status.reasonPhrase)
    }
}
