import Artifacts
import Dataset
import Foundation

/// The catalogue and the split interactions, parsed once and kept as an artifact beside the
/// models: an agent's start then reads a few megabytes of arrays instead of parsing and
/// splitting MovieLens's text (about 0.12 s of every start, measured on this machine).
///
/// Its key holds a SHA-256 of the source files' bytes, so an edited data file makes a new
/// snapshot, never a stale one.
enum DataSnapshot {
    static let algorithmVersion = 1

    /// The split data of `configuration`: from `store` when it holds it, else parsed (and
    /// written there).
    static func load(
        _ configuration: DataConfiguration, store: ArtifactStore?
    ) throws -> (items: [Item], split: Split) {
        guard let store, let key = try? key(configuration) else { return try parse(configuration) }
        let file = store.path(for: key)
        if let artifact = try? store.load(key), let loaded = try? decode(artifact, file: file) {
            return loaded
        }
        let parsed = try parse(configuration)
        _ = try? store.write(encode(parsed, key: key))
        return parsed
    }

    static func parse(_ configuration: DataConfiguration) throws -> (items: [Item], split: Split) {
        let data = try MovieLens.load(directory: configuration.directory)
        return (data.items, try configuration.split.split(data.interactions))
    }

    /// What the snapshot is made from: the files' bytes and how they are split.
    static func key(_ configuration: DataConfiguration) throws -> ArtifactKey {
        var files = ["ml-100k.inter", "ml-100k.item", "ml-100k.user"].map { configuration.directory + "/" + $0 }
        var split = "p1"
        if case .files(let train, let valid, let test) = configuration.split {
            files += [train, valid, test]
            split = "files"
        }
        var hasher = ContentHash.Hasher()
        for file in files {
            // A missing optional file (ml-100k.user) hashes as empty; a missing required one
            // fails the parse later with its own message.
            hasher.update(file.split(separator: "/").last.map(String.init) ?? file)
            hasher.update([UInt8]((try? Data(contentsOf: URL(fileURLWithPath: file))) ?? Data()))
        }
        return ArtifactKey(
            kind: "data.movielens", algorithmVersion: algorithmVersion, fit: "split=\(split)",
            snapshot: "files-" + hasher.finalize().prefix(32))
    }

    static func encode(_ data: (items: [Item], split: Split), key: ArtifactKey) -> Artifact {
        var doubles: [String: [Double]] = [:]
        for (name, part) in [("train", data.split.train), ("valid", data.split.valid), ("test", data.split.test)] {
            // Ids and timestamps are integers far below 2^53: doubles hold them exactly.
            doubles[name + ".user"] = part.map { Double($0.user) }
            doubles[name + ".item"] = part.map { Double($0.item) }
            doubles[name + ".rating"] = part.map(\.rating)
            doubles[name + ".timestamp"] = part.map { Double($0.timestamp) }
        }
        let items = (try? JSONEncoder().encode(data.items)).map { Array($0) } ?? []
        return Artifact(key: key, doubles: doubles, blobs: ["items": items])
    }

    static func decode(_ artifact: Artifact, file: String) throws -> (items: [Item], split: Split) {
        func part(_ name: String) throws -> [Interaction] {
            let users = try artifact.doubles(name + ".user", file: file)
            let items = try artifact.doubles(name + ".item", count: users.count, file: file)
            let ratings = try artifact.doubles(name + ".rating", count: users.count, file: file)
            let times = try artifact.doubles(name + ".timestamp", count: users.count, file: file)
            return users.indices.map {
                Interaction(user: Int(users[$0]), item: Int(items[$0]), rating: ratings[$0], timestamp: Int(times[$0]))
            }
        }
        guard let bytes = artifact.blobs["items"] else { throw ArtifactError(.corrupt, "no items", file: file) }
        let items = try JSONDecoder().decode([Item].self, from: Data(bytes))
        return (items, Split(train: try part("train"), valid: try part("valid"), test: try part("test")))
    }
}
