import Foundation

/// Parses and checks topology files, collecting every problem at once.
public enum TopologyValidator {
    /// Parses and checks `source`.
    ///
    /// - Parameters:
    ///   - source: The YAML text.
    ///   - file: The name issues are reported under (usually the path).
    ///   - catalogue: The agent kinds the topology may use.
    /// - Returns: The spec, normalised (int literals of double parameters become doubles), or an error
    ///   with code ``TopologyError/Code/invalid`` carrying every ``ValidationIssue``, in file order.
    public static func validate(
        source: String, file: String, catalogue: KindCatalogue = .builtin
    ) -> Result<TopologySpec, TopologyError> {
        var decoder = NodeDecoder(file: file)
        guard var spec = decoder.decode(source: source) else { return .failure(invalid(decoder.issues, file: file)) }
        var checker = SemanticChecker(
            catalogue: catalogue, file: file, sourceMap: decoder.sourceMap, poisoned: decoder.poisoned)
        checker.check(&spec)
        let issues = inFileOrder(decoder.issues + checker.issues)
        return issues.isEmpty ? .success(spec) : .failure(invalid(issues, file: file))
    }

    /// Parses and checks `source`; see ``validate(source:file:catalogue:)``.
    /// - Throws: ``TopologyError`` with code ``TopologyError/Code/invalid``.
    public static func load(
        source: String, file: String, catalogue: KindCatalogue = .builtin
    ) throws(TopologyError) -> TopologySpec {
        try validate(source: source, file: file, catalogue: catalogue).get()
    }

    /// Reads, parses and checks the file at `path`.
    /// - Throws: ``TopologyError`` with code ``TopologyError/Code/notFound``, ``TopologyError/Code/io``
    ///   or ``TopologyError/Code/invalid``.
    public static func load(contentsOf path: String, catalogue: KindCatalogue = .builtin) throws(TopologyError)
        -> TopologySpec
    {
        try load(source: try readFile(path), file: path, catalogue: catalogue)
    }

    /// Checks a spec built in code (a tuner's or the architect's proposal) before it is written.
    ///
    /// Issues carry `file` and line 0, since the spec has no source yet.
    /// - Returns: The normalised spec, or an error with every issue.
    public static func validate(
        _ spec: TopologySpec, file: String = "<memory>", catalogue: KindCatalogue = .builtin
    ) -> Result<TopologySpec, TopologyError> {
        var spec = spec
        var checker = SemanticChecker(catalogue: catalogue, file: file)
        checker.check(&spec)
        return checker.issues.isEmpty ? .success(spec) : .failure(invalid(checker.issues, file: file))
    }

    static func readFile(_ path: String) throws(TopologyError) -> String {
        guard FileManager.default.fileExists(atPath: path) else {
            throw TopologyError(.notFound, "\(path): no such file")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TopologyError(.io, "\(path): cannot read")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw TopologyError(.io, "\(path): not UTF-8 text")
        }
        return text
    }

    private static func invalid(_ issues: [ValidationIssue], file: String) -> TopologyError {
        TopologyError(.invalid, "\(file): \(issues.count) problem\(issues.count == 1 ? "" : "s")", issues: issues)
    }

    private static func inFileOrder(_ issues: [ValidationIssue]) -> [ValidationIssue] {
        issues.enumerated()
            .sorted {
                ($0.element.line, $0.element.column, $0.offset) < ($1.element.line, $1.element.column, $1.offset)
            }
            .map(\.element)
    }
}
