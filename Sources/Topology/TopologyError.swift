/// The one error type of the Topology module.
///
/// Equality is on ``code`` only, so tests and callers can match `error == .invalid` style checks
/// without caring about messages.
public struct TopologyError: Error, Sendable, Codable, Equatable, CustomStringConvertible {
    /// What went wrong, as a growable set of codes.
    public struct Code: Sendable, Hashable, Codable, CustomStringConvertible {
        private enum Value: String, Codable {
            case invalid, io, staleEpoch, notFound, encoding
        }
        private let value: Value
        private init(_ value: Value) { self.value = value }

        /// The topology did not validate; ``TopologyError/issues`` says why.
        public static let invalid = Code(.invalid)
        /// Reading, writing, syncing or renaming a file failed.
        public static let io = Code(.io)
        /// A write would not advance the epoch of the file on disk.
        public static let staleEpoch = Code(.staleEpoch)
        /// A file or a history entry does not exist.
        public static let notFound = Code(.notFound)
        /// A spec could not be rendered as YAML.
        public static let encoding = Code(.encoding)

        public var description: String { value.rawValue }
    }

    /// What went wrong.
    public var code: Code
    /// For humans.
    public var message: String
    /// Every validation problem found, for ``Code/invalid``.
    public var issues: [ValidationIssue]
    /// Where in this module the error was made (`file:line`).
    public var source: String

    /// Makes an error; `source` defaults to the caller's position.
    public init(
        _ code: Code, _ message: String, issues: [ValidationIssue] = [],
        fileID: String = #fileID, line: Int = #line
    ) {
        self.code = code
        self.message = message
        self.issues = issues
        self.source = "\(fileID):\(line)"
    }

    public static func == (lhs: TopologyError, rhs: TopologyError) -> Bool { lhs.code == rhs.code }

    /// The message, then one issue per line.
    public var description: String {
        ([message] + issues.map(\.description)).joined(separator: "\n")
    }
}

/// One validation problem, located in the file.
public struct ValidationIssue: Sendable, Hashable, Codable, CustomStringConvertible {
    /// What kind of problem it is.
    public struct Code: Sendable, Hashable, Codable, CustomStringConvertible {
        private enum Value: String, Codable {
            case syntax, unknownKey, wrongType, missingField, unknownKind, duplicateName, unknownAgent, cycle
            case outOfRange, unknownParameter, nonLoopback, invalidValue, unreachable
        }
        private let value: Value
        private init(_ value: Value) { self.value = value }

        /// The YAML itself does not parse.
        public static let syntax = Code(.syntax)
        /// A key the schema does not have (often a typo).
        public static let unknownKey = Code(.unknownKey)
        /// A value of the wrong type (a list where a map belongs, text where a number belongs…).
        public static let wrongType = Code(.wrongType)
        /// A required field is absent.
        public static let missingField = Code(.missingField)
        /// An agent kind the catalogue does not have.
        public static let unknownKind = Code(.unknownKind)
        /// Two agents share a name.
        public static let duplicateName = Code(.duplicateName)
        /// An edge, the gateway or a reward names an agent that does not exist.
        public static let unknownAgent = Code(.unknownAgent)
        /// The edges form a cycle.
        public static let cycle = Code(.cycle)
        /// A number outside its allowed range.
        public static let outOfRange = Code(.outOfRange)
        /// A parameter the agent's kind does not have.
        public static let unknownParameter = Code(.unknownParameter)
        /// A listen address off the loopback interface without `allow_non_loopback: true`.
        public static let nonLoopback = Code(.nonLoopback)
        /// A value that is well typed but not allowed (a bad name, address, choice…).
        public static let invalidValue = Code(.invalidValue)
        /// The exit cannot be reached from an entry.
        public static let unreachable = Code(.unreachable)

        public var description: String { value.rawValue }
    }

    /// What kind of problem.
    public var code: Code
    /// The file, as given to the validator.
    public var file: String
    /// 1-based line; 0 when the spec did not come from a file.
    public var line: Int
    /// 1-based column; 0 when unknown.
    public var column: Int
    /// The field's path, e.g. `agents[2].parameters.lambda`; empty for the document.
    public var field: String
    /// For humans.
    public var message: String

    public init(code: Code, file: String, line: Int, column: Int, field: String, message: String) {
        self.code = code
        self.file = file
        self.line = line
        self.column = column
        self.field = field
        self.message = message
    }

    /// `FILE:LINE:COL: FIELD: message`.
    public var description: String {
        "\(file):\(line):\(column): \(field.isEmpty ? "(document)" : field): \(message)"
    }
}
