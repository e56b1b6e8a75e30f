import Crypto
import Foundation

/// A directory of artifacts, one file per ``ArtifactKey/name``.
///
/// Safe to share between processes and runs: a file appears only complete (written to a
/// temporary name, synced, then renamed), so a reader sees the old state or the new, never
/// half a file, and two writers of one key write the same bytes.
public struct ArtifactStore: Sendable {
    public struct Configuration: Sendable {
        /// Where the artifacts live (created on the first write).
        public var directory: String
        /// Fails a write after this many bytes, as a full disk would: lets tests check that a
        /// failed write leaves nothing behind. Nil in every real use.
        var failWritesAfterBytes: Int?

        public init(directory: String) {
            self.directory = directory
        }
    }

    public let configuration: Configuration

    public init(configuration: Configuration) {
        self.configuration = configuration
    }

    public init(directory: String) {
        self.init(configuration: Configuration(directory: directory))
    }

    /// The file `key`'s artifact has (or would have).
    public func path(for key: ArtifactKey) -> String {
        configuration.directory + "/" + key.name + ".artifact"
    }

    /// Whether `key`'s file exists (not whether it is sound: ``load(_:)`` checks that).
    public func contains(_ key: ArtifactKey) -> Bool {
        FileManager.default.fileExists(atPath: path(for: key))
    }

    /// The artifact for `key`; nil when there is none.
    /// - Throws: ``ArtifactError`` naming the file when it exists but is truncated, corrupt or
    ///   for another key or format: it is never half-trusted.
    public func load(_ key: ArtifactKey) throws(ArtifactError) -> Artifact? {
        let file = path(for: key)
        guard FileManager.default.fileExists(atPath: file) else { return nil }
        let data: Data
        do {
            // Mapped: the arrays are copied out once, without a second buffer of the whole file.
            data = try Data(contentsOf: URL(fileURLWithPath: file), options: .alwaysMapped)
        } catch {
            throw ArtifactError(.io, "cannot read: \(error.localizedDescription)", file: file)
        }
        let artifact = try ArtifactFormat.decode(data, file: file)
        guard artifact.key == key else {
            throw ArtifactError(
                .mismatch, "holds \(artifact.key.kind) fitted from another key than its name says", file: file)
        }
        return artifact
    }

    /// Writes `artifact` under its key's name, atomically; returns the file.
    /// - Throws: ``ArtifactError/Code/io`` (a full disk, a read-only directory); no partial
    ///   file is left behind.
    @discardableResult
    public func write(_ artifact: Artifact) throws(ArtifactError) -> String {
        let file = path(for: artifact.key)
        let bytes = ArtifactFormat.encode(artifact)
        let temporary = configuration.directory + "/.\(artifact.key.name).\(getpid()).\(UInt32.random(in: 0...UInt32.max)).tmp"
        do {
            try FileManager.default.createDirectory(
                atPath: configuration.directory, withIntermediateDirectories: true)
        } catch {
            throw ArtifactError(.io, "cannot create the artifact directory: \(error.localizedDescription)", file: file)
        }
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw ArtifactError(.io, "cannot create \(temporary): \(String(cString: strerror(errno)))", file: file)
        }
        var failure: String?
        bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                var length = min(buffer.count - offset, 1 << 22)
                if let limit = configuration.failWritesAfterBytes {
                    length = min(length, max(0, limit - offset))
                    if length == 0 {
                        failure = String(cString: strerror(ENOSPC))
                        return
                    }
                }
                let written = Glibc.write(descriptor, buffer.baseAddress! + offset, length)
                if written < 0 {
                    if errno == EINTR { continue }
                    failure = String(cString: strerror(errno))
                    return
                }
                offset += written
            }
            if fsync(descriptor) != 0 { failure = String(cString: strerror(errno)) }
        }
        close(descriptor)
        if let failure {
            unlink(temporary)
            throw ArtifactError(.io, "cannot write the artifact (\(failure)); nothing was kept", file: file)
        }
        guard rename(temporary, file) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw ArtifactError(.io, "cannot rename \(temporary) into place: \(reason)", file: file)
        }
        // The rename is durable only once the directory is synced.
        let directory = open(configuration.directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directory >= 0 {
            fsync(directory)
            close(directory)
        }
        return file
    }

    /// Removes `key`'s file, if any (a refused artifact before its refit).
    public func remove(_ key: ArtifactKey) {
        unlink(path(for: key))
    }

    /// The artifact files in the directory, by name.
    public func names() -> [String] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: configuration.directory)) ?? []
        return entries.filter { $0.hasSuffix(".artifact") }.sorted()
    }
}

/// The byte layout (see the module's doc comment).
enum ArtifactFormat {
    static let magic = Array("AGARTF01".utf8)
    static let formatVersion = 1

    struct Header: Codable {
        struct Section: Codable {
            var name: String
            /// `f64` (an array of doubles) or `bytes`.
            var type: String
            var offset: Int
            var length: Int
        }
        var format: Int
        var key: ArtifactKey
        var sections: [Section]
        var metadata: [String: String]
        var payloadLength: Int
        var payloadSHA256: String

        enum CodingKeys: String, CodingKey {
            case format, key, sections, metadata
            case payloadLength = "payload_length"
            case payloadSHA256 = "payload_sha256"
        }
    }

    static func aligned(_ n: Int) -> Int { (n + 7) & ~7 }

    static func encode(_ artifact: Artifact) -> [UInt8] {
        var payload: [UInt8] = []
        var sections: [Header.Section] = []
        for name in artifact.doubles.keys.sorted() {
            let values = artifact.doubles[name]!
            let offset = payload.count
            values.withUnsafeBytes { payload.append(contentsOf: $0) }
            sections.append(Header.Section(name: name, type: "f64", offset: offset, length: values.count * 8))
            payload.append(contentsOf: [UInt8](repeating: 0, count: aligned(payload.count) - payload.count))
        }
        for name in artifact.blobs.keys.sorted() {
            let bytes = artifact.blobs[name]!
            sections.append(Header.Section(name: name, type: "bytes", offset: payload.count, length: bytes.count))
            payload.append(contentsOf: bytes)
            payload.append(contentsOf: [UInt8](repeating: 0, count: aligned(payload.count) - payload.count))
        }
        let header = Header(
            format: formatVersion, key: artifact.key, sections: sections, metadata: artifact.metadata,
            payloadLength: payload.count, payloadSHA256: ContentHash.hex(of: payload))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        var headerBytes = Array((try? encoder.encode(header)) ?? Data())
        headerBytes.append(contentsOf: [UInt8](repeating: 0x20, count: aligned(headerBytes.count) - headerBytes.count))
        var bytes = magic
        withUnsafeBytes(of: UInt64(headerBytes.count).littleEndian) { bytes.append(contentsOf: $0) }
        bytes += headerBytes
        bytes += payload
        return bytes
    }

    static func decode(_ data: Data, file: String) throws(ArtifactError) -> Artifact {
        let prefix = magic.count + 8
        guard data.count >= prefix else {
            throw ArtifactError(.truncated, "\(data.count) bytes is shorter than an artifact's prefix", file: file)
        }
        guard Array(data.prefix(magic.count)) == magic else {
            throw ArtifactError(.corrupt, "not an artifact (bad magic)", file: file)
        }
        let headerLength = data.withUnsafeBytes {
            Int(UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: magic.count, as: UInt64.self)))
        }
        guard headerLength >= 0, headerLength <= data.count - prefix else {
            throw ArtifactError(.truncated, "the header needs \(headerLength) bytes; the file ends first", file: file)
        }
        let header: Header
        do {
            header = try JSONDecoder().decode(Header.self, from: data.subdata(in: prefix..<(prefix + headerLength)))
        } catch {
            throw ArtifactError(.corrupt, "the header does not decode", file: file)
        }
        guard header.format == formatVersion else {
            throw ArtifactError(.mismatch, "format \(header.format), this build reads \(formatVersion)", file: file)
        }
        let start = prefix + headerLength
        guard data.count - start == header.payloadLength else {
            let code: ArtifactError.Code = data.count - start < header.payloadLength ? .truncated : .corrupt
            throw ArtifactError(
                code, "the payload is \(data.count - start) bytes, the header says \(header.payloadLength)", file: file)
        }
        let payload = data[start...]
        guard ContentHash.hex(of: payload) == header.payloadSHA256 else {
            throw ArtifactError(.corrupt, "the payload's checksum does not match its header", file: file)
        }
        var artifact = Artifact(key: header.key, metadata: header.metadata)
        for section in header.sections {
            guard section.offset >= 0, section.length >= 0, section.offset + section.length <= header.payloadLength
            else {
                throw ArtifactError(.corrupt, "section \(section.name) lies outside the payload", file: file)
            }
            let range = (start + section.offset)..<(start + section.offset + section.length)
            switch section.type {
            case "f64":
                guard section.length % 8 == 0 else {
                    throw ArtifactError(.corrupt, "section \(section.name) is not whole doubles", file: file)
                }
                let count = section.length / 8
                artifact.doubles[section.name] = data.withUnsafeBytes { raw in
                    [Double](unsafeUninitializedCapacity: count) { buffer, initialized in
                        UnsafeMutableRawBufferPointer(buffer).copyMemory(
                            from: UnsafeRawBufferPointer(rebasing: raw[range]))
                        initialized = count
                    }
                }
            case "bytes":
                artifact.blobs[section.name] = Array(data[range])
            default:
                throw ArtifactError(.corrupt, "section \(section.name) has unknown type \(section.type)", file: file)
            }
        }
        return artifact
    }
}
