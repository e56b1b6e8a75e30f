import Foundation
import Testing

@testable import Artifacts

@Suite("An artifact store")
struct ArtifactStoreTests {
    let directory = NSTemporaryDirectory() + "artifacts-\(UUID().uuidString)"
    var store: ArtifactStore { ArtifactStore(directory: directory) }
    let key = ArtifactKey(kind: "recall.test", algorithmVersion: 1, fit: "lambda=1", snapshot: "s1")

    func sample() -> Artifact {
        Artifact(
            key: key, doubles: ["weights": (0..<1000).map { Double($0) * 0.5 }, "bias": [3]],
            blobs: ["model": Array("{\"a\":1}".utf8)], metadata: ["items": "10"])
    }

    @Test("reads back what it wrote, bit for bit")
    func roundTrip() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let file = try store.write(sample())
        #expect(file.hasSuffix(key.name + ".artifact"))
        let loaded = try #require(try store.load(key))
        #expect(loaded.doubles == sample().doubles)
        #expect(loaded.blobs == sample().blobs)
        #expect(loaded.metadata == ["items": "10"])
        #expect(store.names() == [key.name + ".artifact"])
    }

    @Test("has nothing for a key never written")
    func missing() throws {
        #expect(try store.load(key) == nil)
    }

    @Test("names artifacts by every part of the key")
    func names() {
        var other = key
        other.snapshot = "s2"
        #expect(other.name != key.name)
        other = key
        other.algorithmVersion = 2
        #expect(other.name != key.name)
        other = key
        other.fit = "lambda=2"
        #expect(other.name != key.name)
        #expect(key.name.hasPrefix("recall.test-"))
    }

    @Test("refuses a file with a flipped payload byte, naming it")
    func corrupt() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let file = try store.write(sample())
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: file)))
        bytes[bytes.count - 100] ^= 0xFF
        try Data(bytes).write(to: URL(fileURLWithPath: file))
        let error = try #require(throws: ArtifactError.self) { try store.load(key) }
        #expect(error.code == .corrupt)
        #expect(error.file == file)
        #expect(error.description.contains("checksum"))
    }

    @Test("refuses a truncated file")
    func truncated() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let file = try store.write(sample())
        let bytes = try Data(contentsOf: URL(fileURLWithPath: file))
        for length in [4, 40, bytes.count - 8] {
            try bytes.prefix(length).write(to: URL(fileURLWithPath: file))
            let error = try #require(throws: ArtifactError.self) { try store.load(key) }
            #expect(error.code == .truncated || error.code == .corrupt)
        }
    }

    @Test("refuses a sound file renamed to another key")
    func mismatch() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let file = try store.write(sample())
        var other = key
        other.snapshot = "s2"
        try FileManager.default.moveItem(atPath: file, toPath: store.path(for: other))
        let error = try #require(throws: ArtifactError.self) { try store.load(other) }
        #expect(error.code == .mismatch)
    }

    @Test("leaves no partial file when the disk fills during a write")
    func fullDisk() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var configuration = ArtifactStore.Configuration(directory: directory)
        configuration.failWritesAfterBytes = 2000
        let full = ArtifactStore(configuration: configuration)
        let error = try #require(throws: ArtifactError.self) { try full.write(sample()) }
        #expect(error.code == .io)
        let left = try FileManager.default.contentsOfDirectory(atPath: directory)
        #expect(left.isEmpty, "left behind: \(left)")
        #expect(try store.load(key) == nil)
    }
}
