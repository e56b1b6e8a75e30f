/// The single error type of the `Dataset` module.
///
/// Every failure names the file and, for content problems, the 1-based line, so a
/// malformed download can be fixed without a debugger.
public struct DatasetError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong, as a closed set callers can match on.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        enum Kind: String, Sendable {
            case fileNotReadable
            case fileNotWritable
            case missingHeader
            case missingColumn
            case malformedRow
            case emptyDataset
        }
        let kind: Kind
        /// The file does not exist or could not be decoded as UTF-8.
        public static let fileNotReadable = Code(kind: .fileNotReadable)
        /// The output file could not be written.
        public static let fileNotWritable = Code(kind: .fileNotWritable)
        /// The file has no header line.
        public static let missingHeader = Code(kind: .missingHeader)
        /// A required column is absent from the header.
        public static let missingColumn = Code(kind: .missingColumn)
        /// A data row has too few fields or a field that does not parse.
        public static let malformedRow = Code(kind: .malformedRow)
        /// The data holds no usable rows.
        public static let emptyDataset = Code(kind: .emptyDataset)
        public var description: String { kind.rawValue }
    }

    /// The category of failure.
    public let code: Code
    /// A human-readable explanation naming the file and line where relevant.
    public let message: String
    /// The file concerned, when there is one.
    public let file: String?
    /// The 1-based line concerned, when there is one.
    public let line: Int?

    public init(code: Code, message: String, file: String? = nil, line: Int? = nil) {
        self.code = code
        self.message = message
        self.file = file
        self.line = line
    }

    public var description: String {
        var location = ""
        if let file { location = file }
        if let line { location += ":\(line)" }
        return location.isEmpty ? "\(code): \(message)" : "\(location): \(code): \(message)"
    }
}
