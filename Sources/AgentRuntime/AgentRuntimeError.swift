/// The one error type of the AgentRuntime module: a code to branch on, a readable message
/// and where it was made. Equality is on the code.
public struct AgentRuntimeError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong, as a growable set of codes.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case unknownKind, unknownAgent, invalidParameter, badRequest, unavailable, io
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// No agent factory is registered for the kind.
        public static let unknownKind = Code(.unknownKind)
        /// The topology has no agent (or replica) of that name.
        public static let unknownAgent = Code(.unknownAgent)
        /// A parameter name or value that the kind does not accept.
        public static let invalidParameter = Code(.invalidParameter)
        /// A decision request the agent cannot work with.
        public static let badRequest = Code(.badRequest)
        /// The agent takes no new work (draining or stopped).
        public static let unavailable = Code(.unavailable)
        /// Sockets, files or the topology could not be opened.
        public static let io = Code(.io)

        /// The code as it travels in an `ErrorReply` (snake case).
        public var description: String {
            switch base {
            case .unknownKind: "unknown_kind"
            case .unknownAgent: "unknown_agent"
            case .invalidParameter: "invalid_parameter"
            case .badRequest: "bad_request"
            case .unavailable: "unavailable"
            case .io: "io"
            }
        }
    }

    public let code: Code
    public let message: String
    /// Where the error was made (`file:line`).
    public let source: String

    public init(_ code: Code, _ message: String, fileID: String = #fileID, line: Int = #line) {
        self.code = code
        self.message = message
        self.source = "\(fileID):\(line)"
    }

    public static func == (lhs: AgentRuntimeError, rhs: AgentRuntimeError) -> Bool { lhs.code == rhs.code }

    public var description: String { "AgentRuntimeError.\(code): \(message)" }
}
