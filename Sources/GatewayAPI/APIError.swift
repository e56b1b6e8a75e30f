import Foundation
package import HTTPTypes

/// An error as the client hears it: an HTTP status and the `{"error": {"code", "message"}}`
/// body. The one error the gateway's handlers throw; the HTTP front turns it into its response,
/// and the NNG front into an `ErrorReply` with the same code and message.
package struct APIError: Error, Sendable {
    package var status: HTTPResponse.Status
    package var code: String
    package var message: String
    /// Sent as `Retry-After` (an overloaded gateway says when to come back).
    package var retryAfterSeconds: Int?
    /// More headers of the answer (`WWW-Authenticate` on a 401).
    package var headers: [(HTTPField.Name, String)] = []
    /// The body, written once (see ``prepared()``).
    private var preparedBody: [UInt8]?

    package init(_ status: HTTPResponse.Status, _ code: String, _ message: String, retryAfterSeconds: Int? = nil) {
        self.status = status
        self.code = code
        self.message = message
        self.retryAfterSeconds = retryAfterSeconds
    }

    /// The JSON body, `{"error": {"code", "message"}}`.
    package func body() -> [UInt8] {
        if let preparedBody { return preparedBody }
        struct Wrapper: Encodable {
            struct Inner: Encodable {
                var code: String
                var message: String
            }
            var error: Inner
        }
        return (try? Array(JSONEncoder().encode(Wrapper(error: .init(code: code, message: message)))))
            ?? Array(#"{"error":{"code":"internal","message":"unencodable error"}}"#.utf8)
    }

    /// The same error with its body written now, for one answered often (a shed request).
    package func prepared() -> APIError {
        var error = self
        error.preparedBody = body()
        return error
    }

    package func withHeader(_ name: HTTPField.Name, _ value: String) -> APIError {
        var error = self
        error.headers.append((name, value))
        return error
    }
}
