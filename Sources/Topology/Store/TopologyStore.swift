import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

#if canImport(Glibc)
    private let systemWrite = Glibc.write
#elseif canImport(Darwin)
    private let systemWrite = Darwin.write
#endif

/// Reads and rewrites one topology file, keeping every epoch it ever held.
///
/// A write validates the spec, refuses an epoch that does not advance, records the new epoch in the
/// history directory and then replaces the file atomically (temporary file in the same directory,
/// fsync, rename, fsync of the directory), so a reader sees the old file or the new one, never half.
/// One writer per file is assumed (the coordinator); readers may be many.
public struct TopologyStore: Sendable {
    /// Options of a ``TopologyStore``.
    public struct Configuration: Sendable {
        /// Where `epoch-<N>.yaml` files go; `nil` means `history/<file name without .yaml>/` beside the file.
        public var historyDirectory: String?
        /// The catalogue specs are validated against.
        public var catalogue: KindCatalogue
        /// Refuse a write whose epoch is not greater than the epoch of the file on disk.
        public var requireEpochIncrease: Bool

        public init(
            historyDirectory: String? = nil, catalogue: KindCatalogue = .builtin, requireEpochIncrease: Bool = true
        ) {
            self.historyDirectory = historyDirectory
            self.catalogue = catalogue
            self.requireEpochIncrease = requireEpochIncrease
        }
    }

    /// The topology file.
    public let path: String
    /// The options.
    public let configuration: Configuration

    /// A store for the file at `path` (which need not exist yet).
    public init(path: String, configuration: Configuration = Configuration()) {
        self.path = path
        self.configuration = configuration
    }

    /// The directory holding `epoch-<N>.yaml`.
    public var historyDirectory: String {
        if let directory = configuration.historyDirectory { return directory }
        let name = Self.lastComponent(path)
        let stem = name.hasSuffix(".yaml") ? String(name.dropLast(5)) : name
        return Self.join(Self.directory(of: path), "history", stem)
    }

    /// Reads and validates the current file.
    /// - Throws: ``TopologyError`` (`notFound`, `io` or `invalid`).
    public func load() throws(TopologyError) -> TopologySpec {
        try TopologyValidator.load(contentsOf: path, catalogue: configuration.catalogue)
    }

    /// Validates `spec` and makes it the current file, recording it in the history.
    ///
    /// If the file on disk holds an epoch the history lacks (say, written by hand), that file is
    /// archived first, verbatim, so no epoch is ever lost.
    /// - Returns: The spec as written (normalised by validation).
    /// - Throws: ``TopologyError`` (`invalid`, `staleEpoch` or `io`).
    @discardableResult
    public func write(_ spec: TopologySpec) throws(TopologyError) -> TopologySpec {
        let spec = try TopologyValidator.validate(spec, file: path, catalogue: configuration.catalogue).get()
        try createDirectory(historyDirectory)
        if FileManager.default.fileExists(atPath: path) {
            let text = try TopologyValidator.readFile(path)
            if let current = try? TopologyValidator.load(source: text, file: path, catalogue: configuration.catalogue) {
                if configuration.requireEpochIncrease && spec.epoch <= current.epoch {
                    throw TopologyError(
                        .staleEpoch, "\(path): epoch \(spec.epoch) does not advance the current epoch \(current.epoch)")
                }
                let archived = historyPath(epoch: current.epoch)
                if !FileManager.default.fileExists(atPath: archived) { try Self.atomicWrite(text, to: archived) }
            }
        }
        let text = spec.renderYAML()
        try Self.atomicWrite(text, to: historyPath(epoch: spec.epoch))
        try Self.atomicWrite(text, to: path)
        return spec
    }

    /// Loads the current spec, lets `change` edit it, bumps the epoch and writes it.
    /// - Returns: The spec as written.
    /// - Throws: ``TopologyError``, or whatever `change` throws.
    @discardableResult
    public func update(_ change: (inout TopologySpec) throws -> Void) throws -> TopologySpec {
        var spec = try load()
        let epoch = spec.epoch
        try change(&spec)
        spec.epoch = max(spec.epoch, epoch + 1)
        return try write(spec)
    }

    /// Makes the spec of an earlier `epoch` current again, under a new epoch (current + 1).
    /// - Throws: ``TopologyError`` (`notFound` for an epoch the history lacks).
    @discardableResult
    public func rollback(to epoch: Int) throws(TopologyError) -> TopologySpec {
        var spec = try load(epoch: epoch)
        let current = (try? load().epoch) ?? epoch
        spec.epoch = max(current, epoch) + 1
        return try write(spec)
    }

    /// The epochs kept in the history, ascending.
    /// - Throws: ``TopologyError`` (`io`) when the directory exists but cannot be listed.
    public func history() throws(TopologyError) -> [Int] {
        let directory = historyDirectory
        guard FileManager.default.fileExists(atPath: directory) else { return [] }
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory)
        } catch {
            throw TopologyError(.io, "\(directory): cannot list: \(error)")
        }
        return names.compactMap { name -> Int? in
            guard name.hasPrefix("epoch-"), name.hasSuffix(".yaml") else { return nil }
            return Int(name.dropFirst(6).dropLast(5))
        }.sorted()
    }

    /// The path of the history entry for `epoch`.
    public func historyPath(epoch: Int) -> String {
        Self.join(historyDirectory, Topology.historyFileName(epoch: epoch))
    }

    /// Reads and validates the history entry for `epoch`.
    /// - Throws: ``TopologyError`` (`notFound`, `io` or `invalid`).
    public func load(epoch: Int) throws(TopologyError) -> TopologySpec {
        try TopologyValidator.load(contentsOf: historyPath(epoch: epoch), catalogue: configuration.catalogue)
    }

    // MARK: - Files

    /// Write to a temporary file beside `path`, fsync it, rename it over `path`, fsync the directory.
    static func atomicWrite(_ text: String, to path: String) throws(TopologyError) {
        let directory = directory(of: path)
        let temporary = join(directory, ".\(lastComponent(path)).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw ioError("create \(temporary)") }
        var failed: TopologyError?
        let bytes = Array(text.utf8)
        var written = 0
        while written < bytes.count && failed == nil {
            let count = bytes[written...].withUnsafeBytes { systemWrite(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno != EINTR { failed = ioError("write \(temporary)") }
            } else {
                written += count
            }
        }
        if failed == nil && fsync(descriptor) != 0 { failed = ioError("fsync \(temporary)") }
        if close(descriptor) != 0 && failed == nil { failed = ioError("close \(temporary)") }
        if failed == nil && rename(temporary, path) != 0 { failed = ioError("rename \(temporary) to \(path)") }
        if let failed {
            unlink(temporary)
            throw failed
        }
        // Without this the rename itself may not survive a crash.
        let directoryDescriptor = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard directoryDescriptor >= 0 else { throw ioError("open \(directory)") }
        defer { close(directoryDescriptor) }
        if fsync(directoryDescriptor) != 0 { throw ioError("fsync \(directory)") }
    }

    private func createDirectory(_ directory: String) throws(TopologyError) {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw TopologyError(.io, "\(directory): cannot create: \(error)")
        }
    }

    private static func ioError(_ what: String, fileID: String = #fileID, line: Int = #line) -> TopologyError {
        TopologyError(.io, "cannot \(what): \(String(cString: strerror(errno)))", fileID: fileID, line: line)
    }

    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    static func lastComponent(_ path: String) -> String {
        path.lastIndex(of: "/").map { String(path[path.index(after: $0)...]) } ?? path
    }

    static func join(_ parts: String...) -> String {
        parts.dropFirst().reduce(parts[0]) { $0.hasSuffix("/") ? $0 + $1 : $0 + "/" + $1 }
    }
}
