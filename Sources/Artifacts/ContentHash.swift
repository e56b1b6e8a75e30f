import Crypto
public import Foundation

/// SHA-256, for artifact names, payload checksums and training snapshot ids.
public enum ContentHash {
    /// The hex digest of `bytes`.
    public static func hex(of bytes: some DataProtocol) -> String {
        SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
    }

    /// An incremental digest over several arrays without concatenating them.
    public struct Hasher: Sendable {
        private var state = SHA256()

        public init() {}

        public mutating func update<T: BitwiseCopyable>(_ values: [T]) {
            values.withUnsafeBytes { state.update(bufferPointer: $0) }
        }

        public mutating func update(_ text: String) {
            update(Array(text.utf8))
        }

        public func finalize() -> String {
            state.finalize().map { String(format: "%02x", $0) }.joined()
        }
    }
}
