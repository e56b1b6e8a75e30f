public import Artifacts
import Dataset
import Foundation

/// The store's feedback up to a point, frozen for training: what a trainer exports from the
/// knowledge store before it refits the model agents. An agent fitted on it trains on the data
/// set's training split plus these events, and replays at start only the feedback stored after
/// ``through`` (the store's `seq`), so nothing is counted twice and nothing is lost.
///
/// Kept in the artifact directory (an ``Artifact`` of kind `snapshot.feedback`) under its
/// ``id``, which names the last `seq` and a hash of the events.
public struct TrainingSnapshot: Sendable, Equatable {
    /// One interaction the store holds. MovieLens ids are integers; a user or item id that is
    /// not one has no row or column in the training matrix and is left out of the snapshot.
    public struct Event: Sendable, Equatable {
        public var user: Int
        public var item: Int
        /// The rating; nil for a click (fitted as the data's largest rating, as agents learn it live).
        public var rating: Double?
        /// Seconds since the Unix epoch.
        public var timestamp: Int

        public init(user: Int, item: Int, rating: Double?, timestamp: Int) {
            self.user = user
            self.item = item
            self.rating = rating
            self.timestamp = timestamp
        }
    }

    public var events: [Event]
    /// The store `seq` of the last event the snapshot includes (0: none).
    public var through: Int64

    public init(events: [Event], through: Int64) {
        self.events = events
        self.through = through
    }

    /// `fb<through>-<hash>`: readable, and equal only for equal contents.
    public var id: String {
        var hasher = ContentHash.Hasher()
        hasher.update(events.map(\.user))
        hasher.update(events.map(\.item))
        hasher.update(events.map { $0.rating ?? -1 })
        hasher.update(events.map(\.timestamp))
        return "fb\(through)-" + hasher.finalize().prefix(16)
    }

    static func key(id: String) -> ArtifactKey {
        ArtifactKey(kind: "snapshot.feedback", algorithmVersion: 1, fit: "", snapshot: id)
    }

    /// Writes the snapshot into `store`; returns its id.
    /// - Throws: ``ArtifactError`` when it cannot be written (nothing partial is left).
    @discardableResult
    public func write(to store: ArtifactStore) throws(ArtifactError) -> String {
        let id = self.id
        try store.write(
            Artifact(
                key: Self.key(id: id),
                doubles: [
                    "user": events.map { Double($0.user) }, "item": events.map { Double($0.item) },
                    "rating": events.map { $0.rating ?? -1 }, "timestamp": events.map { Double($0.timestamp) },
                ],
                metadata: ["through": "\(through)", "events": "\(events.count)"]))
        return id
    }

    /// The snapshot `id` from `store`.
    /// - Throws: ``ArtifactError`` naming the file when it is missing or unsound.
    public static func load(id: String, from store: ArtifactStore) throws(ArtifactError) -> TrainingSnapshot {
        let key = key(id: id)
        let file = store.path(for: key)
        guard let artifact = try store.load(key) else {
            throw ArtifactError(.io, "no training snapshot \(id) (a trainer writes them into this directory)", file: file)
        }
        let users = try artifact.doubles("user", file: file)
        let items = try artifact.doubles("item", count: users.count, file: file)
        let ratings = try artifact.doubles("rating", count: users.count, file: file)
        let times = try artifact.doubles("timestamp", count: users.count, file: file)
        guard let through = artifact.metadata["through"].flatMap(Int64.init) else {
            throw ArtifactError(.corrupt, "no through sequence", file: file)
        }
        let events = users.indices.map {
            Event(
                user: Int(users[$0]), item: Int(items[$0]), rating: ratings[$0] < 0 ? nil : ratings[$0],
                timestamp: Int(times[$0]))
        }
        return TrainingSnapshot(events: events, through: through)
    }
}
