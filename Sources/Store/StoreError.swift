import AgentProtocol

/// The one error type of the Store module: a code to branch on and a readable message.
/// Equality is on the code.
public struct StoreError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case badRequest = "bad_request"
            case busy = "store_busy"
            case full = "store_full"
            case failed = "store_failed"
            case notFound = "not_found"
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// An event or request that cannot be stored as it is (a client error).
        public static let badRequest = Code(.badRequest)
        /// The database is locked or busy: nothing was stored; retry shortly.
        public static let busy = Code(.busy)
        /// The disk is full: nothing was stored.
        public static let full = Code(.full)
        /// Any other database failure (I/O, corruption, a file that cannot be opened).
        public static let failed = Code(.failed)
        /// No database at the path asked for.
        public static let notFound = Code(.notFound)

        /// The code as it travels in an `ErrorReply` (see `StoreErrorCode`).
        public var description: String { base.rawValue }
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }

    public static func == (lhs: StoreError, rhs: StoreError) -> Bool { lhs.code == rhs.code }
}
