/// The one error type of the Coordinator module: a code, a message, where it was made.
/// Equality is on the code.
public struct CoordinatorError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong, as a growable set of codes.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case notRunning, alreadyRunning, invalidTopology, runDirectory, spawn, protocolError
            case gateFailed, notFound, io, experimentRunning
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
        /// A change's new processes failed their gate: they were stopped and nothing changed.
        public static let gateFailed = Code(.gateFailed)
        /// No such agent or epoch.
        public static let notFound = Code(.notFound)
        /// The run's topology file or history could not be written or read.
        public static let io = Code(.io)
        /// A live experiment runs: the cluster changes only through its decision.
        public static let experimentRunning = Code(.experimentRunning)

        /// The code whose description is `name` (an error that crossed the wire), if any.
        static func named(_ name: String) -> Code? {
            Base(rawValue: name).map(Code.init)
        }

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
