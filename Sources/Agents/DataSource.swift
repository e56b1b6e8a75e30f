public import AgentRuntime
public import Artifacts
public import Dataset
import Foundation
import Synchronization

/// Where the MovieLens agents find their data and what they fit on.
///
/// The directory comes from `AGENTIC_DATA` when set (`agentic up` passes its environment to
/// every agent it starts), else `data/ml-100k` in the repository that holds the topology
/// (`REPO/topology/x.yaml` → `REPO/data/ml-100k`), else `data/ml-100k` under the working
/// directory. `AGENTIC_TRAINING` picks the interactions the models are fitted on. Offline
/// evaluation builds the same agents with `training` set per stage (``Training/p1Train`` to
/// score valid, ``Training/p1TrainValid`` to score test), so what it scores is what serves.
public struct DataConfiguration: Sendable, Equatable {
    /// What the serving models are fitted on.
    public enum Training: String, Sendable, CaseIterable {
        /// Train + valid: the test users can be replayed as live traffic with their held-out clicks.
        case p1TrainValid = "p1-train-valid"
        /// Train only (offline evaluation on valid).
        case p1Train = "p1-train"
        /// Every interaction (nothing held out).
        case all
    }

    /// The folder holding `ml-100k.inter`, `ml-100k.item` (and optionally `ml-100k.user`).
    public var directory: String
    public var training: Training
    /// Where train, valid and test come from (the P1 hash split unless files are given).
    public var split: SplitSource
    /// A ``TrainingSnapshot`` id whose events join `training` (a model agent's
    /// `training_snapshot`, set by the trainer); nil: the training split alone.
    public var trainingSnapshot: String?

    /// Environment variable naming the data directory.
    public static let directoryVariable = "AGENTIC_DATA"
    /// Environment variable naming the training set (`p1-train-valid`, `p1-train`, `all`).
    public static let trainingVariable = "AGENTIC_TRAINING"

    public init(directory: String, training: Training = .p1TrainValid, split: SplitSource = .p1) {
        self.directory = directory
        self.training = training
        self.split = split
    }

    /// The configuration for a topology file and an environment.
    /// - Throws: ``AgentRuntimeError/Code/invalidParameter`` for an unknown training set.
    public static func resolve(topologyPath: String?, environment: [String: String]) throws(AgentRuntimeError)
        -> DataConfiguration
    {
        var training = Training.p1TrainValid
        if let text = environment[trainingVariable], !text.isEmpty {
            guard let value = Training(rawValue: text) else {
                throw AgentRuntimeError(
                    .invalidParameter,
                    "\(trainingVariable)=\(text) is not one of \(Training.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            training = value
        }
        if let directory = environment[directoryVariable], !directory.isEmpty {
            return DataConfiguration(directory: directory, training: training)
        }
        var candidates: [String] = []
        if let topologyPath {
            let topology = URL(fileURLWithPath: topologyPath).standardizedFileURL
            let repository = topology.deletingLastPathComponent().deletingLastPathComponent()
            candidates.append(repository.appendingPathComponent("data/ml-100k").path)
        }
        candidates.append(FileManager.default.currentDirectoryPath + "/data/ml-100k")
        let found = candidates.first { FileManager.default.fileExists(atPath: $0 + "/ml-100k.inter") }
        return DataConfiguration(directory: found ?? candidates[0], training: training)
    }
}

/// MovieLens loaded and split once per process: the catalogue, the matrix the serving models
/// fit on, what is held out after it (for evaluation), and the learned ranker's own split of
/// the training interactions.
public struct MovieLensData: Sendable {
    public let configuration: DataConfiguration
    public let index: IndexedData
    /// What the serving models are fitted on (``DataConfiguration/training``).
    public let training: InteractionMatrix
    /// The interactions after `training` in the split: valid when training is train, test when
    /// it is train + valid, empty when it is everything. Only evaluation reads it.
    public let heldOut: InteractionMatrix
    /// `training` less the ranker's hold-out (``HoldOut/lastNinth(_:)``): what a learned
    /// ranker fits its upstream routes on.
    public let rankerFit: InteractionMatrix
    /// The ranker's hold-out of `training`: its labels. A ranker never learns from anything
    /// outside `training`, whatever stage it runs at.
    public let rankerLabels: InteractionMatrix

    /// The training snapshot ids of ``training`` and ``rankerFit``: content hashes of the
    /// interactions (with their times and ratings) and the catalogue, which name the artifacts
    /// fitted on them. Equal data gives equal ids wherever it was loaded from.
    let snapshots: [Matrix: String]
    /// The store `seq` through which `training` holds the store's feedback (0: none, the data
    /// set alone): agents built on it replay only the feedback stored after it.
    public let feedbackThrough: Int64

    public var items: [Item] { index.items }

    /// The snapshot id of what the serving models fit on.
    public var trainingSnapshot: String { snapshots[.training] ?? "" }

    /// Identifies the data and training set, for caches of fitted models.
    public var key: String { Self.key(configuration) }

    private static func key(_ configuration: DataConfiguration) -> String {
        "\(configuration.directory)|\(configuration.training.rawValue)|\(configuration.split)|\(configuration.trainingSnapshot ?? "")"
    }

    private static let cache = Mutex<[String: MovieLensData]>([:])

    /// Loads (once per process and configuration) and splits the data.
    /// - Parameter snapshots: where the parsed, split data is kept between processes (the
    ///   artifact directory); nil: parse the text files.
    /// - Throws: ``AgentRuntimeError/Code/io`` naming the directory and how to fix it.
    public static func load(
        _ configuration: DataConfiguration, snapshots: ArtifactStore? = nil
    ) throws(AgentRuntimeError) -> MovieLensData {
        let key = key(configuration)
        if let cached = cache.withLock({ $0[key] }) { return cached }
        let inter = configuration.directory + "/ml-100k.inter"
        guard FileManager.default.fileExists(atPath: inter) else {
            throw AgentRuntimeError(
                .io,
                "no MovieLens data: \(inter) does not exist (run deploy/fetch-data.sh, or set \(DataConfiguration.directoryVariable) to the folder holding ml-100k.inter and ml-100k.item)"
            )
        }
        let items: [Item]
        let split: Split
        do {
            (items, split) = try DataSnapshot.load(configuration, store: snapshots)
        } catch {
            throw AgentRuntimeError(.io, "cannot load MovieLens from \(configuration.directory): \(error)")
        }
        let index = IndexedData(items: items, interactions: split.train + split.valid + split.test)
        var training: [Interaction]
        let heldOut: [Interaction]
        switch configuration.training {
        case .p1TrainValid:
            (training, heldOut) = (split.train + split.valid, split.test)
        case .p1Train:
            (training, heldOut) = (split.train, split.valid)
        case .all:
            (training, heldOut) = (split.train + split.valid + split.test, [])
        }
        var through: Int64 = 0
        if let id = configuration.trainingSnapshot, !id.isEmpty {
            guard let snapshots else {
                throw AgentRuntimeError(.io, "training snapshot \(id): no artifact directory to read it from")
            }
            let snapshot: TrainingSnapshot
            do {
                snapshot = try TrainingSnapshot.load(id: id, from: snapshots)
            } catch {
                throw AgentRuntimeError(.io, "\(error)")
            }
            // A click weighs as the largest rating, as agents take clicks live (LiveData).
            let largest = training.map(\.rating).max() ?? 1
            let known = Set(index.userIDs), catalogue = Set(index.itemIDs)
            training += snapshot.events.filter { known.contains($0.user) && catalogue.contains($0.item) }.map {
                Interaction(user: $0.user, item: $0.item, rating: $0.rating ?? largest, timestamp: $0.timestamp)
            }
            through = snapshot.through
        }
        let ranker = HoldOut.lastNinth(training)
        let trainingMatrix = index.matrix(training)
        let rankerFit = index.matrix(ranker.kept)
        let loaded = MovieLensData(
            configuration: configuration, index: index, training: trainingMatrix, heldOut: index.matrix(heldOut),
            rankerFit: rankerFit, rankerLabels: index.matrix(ranker.heldOut),
            snapshots: [
                .training: snapshotID(trainingMatrix, index: index), .rankerFit: snapshotID(rankerFit, index: index),
            ],
            feedbackThrough: through)
        cache.withLock { $0[key] = loaded }
        return loaded
    }

    /// A content hash of `matrix` and the catalogue it indexes.
    static func snapshotID(_ matrix: InteractionMatrix, index: IndexedData) -> String {
        var hasher = ContentHash.Hasher()
        hasher.update("movielens-snapshot-1")
        hasher.update([matrix.rowCount, matrix.columnCount])
        hasher.update(matrix.rowPointers)
        hasher.update(matrix.columns)
        hasher.update(matrix.values)
        hasher.update(matrix.timestamps)
        hasher.update(index.userIDs)
        hasher.update(index.itemIDs)
        return "ml-" + hasher.finalize().prefix(24)
    }
}
