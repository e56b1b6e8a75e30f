/// Why the dashboard cannot serve.
public struct DashboardError: Error, Sendable, CustomStringConvertible {
    public enum Code: Sendable, Equatable {
        /// The listen address is not `HOST:PORT` (optionally with `http://`).
        case invalidListenAddress
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "dashboard: \(message)" }
}
