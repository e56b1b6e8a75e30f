/// # Artifacts
///
/// A fitted model as an immutable file, named by a content hash of what it was fitted from
/// (``ArtifactKey``: kind, algorithm version, the fitting parameters, the training snapshot),
/// so a process loads what another fitted instead of fitting again, and two runs that fit the
/// same thing share one file.
///
/// The file: the magic `AGARTF01`, a little-endian `UInt64` header length, the header (JSON:
/// key, sections, metadata, the payload's SHA-256), zero padding to 8 bytes, then the payload:
/// each section's bytes, 8-byte aligned, `Float64` arrays stored as they lie in memory (little
/// endian). ``ArtifactStore`` writes it atomically (a temporary file, fsync, rename) and reads it
/// memory-mapped, refusing a file whose length, checksum, format or key is not what it expects.
import Foundation

/// What an artifact was fitted from; its ``name`` is the file name.
public struct ArtifactKey: Sendable, Hashable, Codable {
    /// The agent kind, e.g. `recall.ease`.
    public var kind: String
    /// Bumped when the fitting code changes what it produces: older files stop matching.
    public var algorithmVersion: Int
    /// The parameters that affect fitting, in a canonical text (never `k` or serving knobs).
    public var fit: String
    /// The training snapshot's id (a content hash of the interactions fitted on).
    public var snapshot: String

    public init(kind: String, algorithmVersion: Int, fit: String, snapshot: String) {
        self.kind = kind
        self.algorithmVersion = algorithmVersion
        self.fit = fit
        self.snapshot = snapshot
    }

    /// `<kind>-<hash>`: the first 128 bits of SHA-256 over the key's fields, in hex.
    public var name: String {
        let text = "\(kind)\n\(algorithmVersion)\n\(fit)\n\(snapshot)"
        return "\(kind)-\(ContentHash.hex(of: Array(text.utf8)).prefix(32))"
    }

    enum CodingKeys: String, CodingKey {
        case kind, fit, snapshot
        case algorithmVersion = "algorithm_version"
    }
}

/// A fitted model's contents: named arrays of doubles, named byte blobs (a JSON-encoded tree
/// ensemble…), and text metadata (shapes, counts) the loader checks before trusting the arrays.
public struct Artifact: Sendable {
    public var key: ArtifactKey
    public var doubles: [String: [Double]]
    public var blobs: [String: [UInt8]]
    public var metadata: [String: String]

    public init(
        key: ArtifactKey, doubles: [String: [Double]] = [:], blobs: [String: [UInt8]] = [:],
        metadata: [String: String] = [:]
    ) {
        self.key = key
        self.doubles = doubles
        self.blobs = blobs
        self.metadata = metadata
    }

    /// The array `name`, or a ``ArtifactError/Code/corrupt`` error naming `file`.
    public func doubles(_ name: String, count: Int? = nil, file: String) throws(ArtifactError) -> [Double] {
        guard let values = doubles[name] else {
            throw ArtifactError(.corrupt, "no section \(name)", file: file)
        }
        if let count, values.count != count {
            throw ArtifactError(.mismatch, "section \(name) holds \(values.count) values, expected \(count)", file: file)
        }
        return values
    }

    /// The metadata integer `name`, or a ``ArtifactError/Code/corrupt`` error naming `file`.
    public func integer(_ name: String, file: String) throws(ArtifactError) -> Int {
        guard let text = metadata[name], let value = Int(text) else {
            throw ArtifactError(.corrupt, "no integer \(name) in the header", file: file)
        }
        return value
    }
}
