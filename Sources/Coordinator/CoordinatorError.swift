/// The one error type of the Coordinator module: a code, a message, where it was made.
/// Equality is on the code.
public struct CoordinatorError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong, as a growable set of codes.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case notRunning, alreadyRunning, invalidTopology, runDirectory, spawn, protocolError
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// No coordinator answers in the run directory.
        public static let notRunning = Code(.notRunning)
        /// A coordinator already runs in the run directory.
        public static let alreadyRunning = Code(.alreadyRunning)
        /// The topology names something this build cannot run.
        public static let invalidTopology = Code(.invalidTopology)
        /// The run directory cannot be made private, or its paths are too long for sockets.
        public static let runDirectory = Code(.runDirectory)
        /// A child process could not be started.
        public static let spawn = Code(.spawn)
        /// The coordinator answered something that does not decode.
        public static let protocolError = Code(.protocolError)

        public var description: String { base.rawValue }
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

    public static func == (lhs: CoordinatorError, rhs: CoordinatorError) -> Bool { lhs.code == rhs.code }

    public var description: String { message }
}
