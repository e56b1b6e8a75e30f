/// Why the gateway could not start or apply a topology. Agent failures are never errors
/// here: the gateway degrades around them and says so in the response.
public struct GatewayError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What kind of failure; compare codes, not messages.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: String {
            case invalidTopology = "invalid topology"
            case invalidListenAddress = "invalid listen address"
            case transport
        }
        private let value: Value
        private init(_ value: Value) { self.value = value }

        /// The topology file does not load, does not validate, or has no path from entry to exit.
        public static let invalidTopology = Code(.invalidTopology)
        /// The HTTP listen address is malformed or not allowed.
        public static let invalidListenAddress = Code(.invalidListenAddress)
        /// A socket could not be opened, dialled or bound.
        public static let transport = Code(.transport)

        public var description: String { value.rawValue }
    }

    /// What kind of failure.
    public let code: Code
    /// What went wrong, for a person.
    public let message: String
    /// Where the error was made.
    public let file: String
    public let line: Int

    public init(_ code: Code, _ message: String, file: String = #fileID, line: Int = #line) {
        self.code = code
        self.message = message
        self.file = file
        self.line = line
    }

    public var description: String { "\(code): \(message)" }

    public static func == (lhs: GatewayError, rhs: GatewayError) -> Bool { lhs.code == rhs.code }
}
