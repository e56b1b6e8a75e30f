/// The single error type of the `Artifacts` module. Every failure names the file, so a bad
/// artifact can be found and removed by hand, and says whether refitting will cure it.
public struct ArtifactError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong, as a closed set callers can match on.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        enum Kind: String, Sendable {
            case truncated
            case corrupt
            case mismatch
            case io
        }
        let kind: Kind
        /// The file ends before its header or payload says it should.
        public static let truncated = Code(kind: .truncated)
        /// The payload's checksum or the header does not read back.
        public static let corrupt = Code(kind: .corrupt)
        /// A sound file for something else: another format or algorithm version, another key,
        /// or a catalogue of another size than the data it would serve.
        public static let mismatch = Code(kind: .mismatch)
        /// The file or directory could not be read or written (a full disk, permissions).
        public static let io = Code(kind: .io)
        public var description: String { kind.rawValue }
    }

    public let code: Code
    public let message: String
    /// The artifact file concerned.
    public let file: String

    public init(_ code: Code, _ message: String, file: String) {
        self.code = code
        self.message = message
        self.file = file
    }

    public var description: String { "\(file): \(code): \(message)" }

    public static func == (lhs: ArtifactError, rhs: ArtifactError) -> Bool { lhs.code == rhs.code }
}
