public import AgentRuntime
public import Dataset
import Foundation
import Synchronization

/// Where the MovieLens agents find their data and what they fit on.
///
/// The directory comes from `AGENTIC_DATA` when set (`agentic up` passes its environment to
/// every agent it starts), else `data/ml-100k` in the repository that holds the topology
/// (`REPO/topology/x.yaml` → `REPO/data/ml-100k`), else `data/ml-100k` under the working
/// directory. `AGENTIC_TRAINING` picks the interactions the models are fitted on.
public struct DataConfiguration: Sendable, Equatable {
    /// What the serving models are fitted on.
    public enum Training: String, Sendable, CaseIterable {
        /// P1 train + valid: P1 test users can be replayed as live traffic with their held-out clicks.
        case p1TrainValid = "p1-train-valid"
        /// P1 train only.
        case p1Train = "p1-train"
        /// Every interaction (no validation set, so no learned ranker).
        case all
    }

    /// The folder holding `ml-100k.inter`, `ml-100k.item` (and optionally `ml-100k.user`).
    public var directory: String
    public var training: Training

    /// Environment variable naming the data directory.
    public static let directoryVariable = "AGENTIC_DATA"
    /// Environment variable naming the training set (`p1-train-valid`, `p1-train`, `all`).
    public static let trainingVariable = "AGENTIC_TRAINING"

    public init(directory: String, training: Training = .p1TrainValid) {
        self.directory = directory
        self.training = training
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
/// fit on, and P1 train / valid for the ranker's honest training.
public struct MovieLensData: Sendable {
    public let configuration: DataConfiguration
    public let index: IndexedData
    /// What the serving models are fitted on (``DataConfiguration/training``).
    public let training: InteractionMatrix
    /// P1 train (the ranker's routes are fitted on it).
    public let train: InteractionMatrix
    /// P1 valid (the ranker's labels); empty when training on everything.
    public let valid: InteractionMatrix

    public var items: [Item] { index.items }

    private static let cache = Mutex<[String: MovieLensData]>([:])

    /// Loads (once per process and configuration) and splits the data.
    /// - Throws: ``AgentRuntimeError/Code/io`` naming the directory and how to fix it.
    public static func load(_ configuration: DataConfiguration) throws(AgentRuntimeError) -> MovieLensData {
        let key = "\(configuration.directory)|\(configuration.training.rawValue)"
        if let cached = cache.withLock({ $0[key] }) { return cached }
        let inter = configuration.directory + "/ml-100k.inter"
        guard FileManager.default.fileExists(atPath: inter) else {
            throw AgentRuntimeError(
                .io,
                "no MovieLens data: \(inter) does not exist (run deploy/fetch-data.sh, or set \(DataConfiguration.directoryVariable) to the folder holding ml-100k.inter and ml-100k.item)"
            )
        }
        let data: MovieLens
        do {
            data = try MovieLens.load(directory: configuration.directory)
        } catch {
            throw AgentRuntimeError(.io, "cannot load MovieLens from \(configuration.directory): \(error)")
        }
        let split = P1Split.split(data.interactions)
        let index = IndexedData(items: data.items, interactions: data.interactions)
        let training: InteractionMatrix
        let valid: InteractionMatrix
        switch configuration.training {
        case .p1TrainValid:
            training = index.matrix(split.train + split.valid)
            valid = index.matrix(split.valid)
        case .p1Train:
            training = index.matrix(split.train)
            valid = index.matrix(split.valid)
        case .all:
            training = index.matrix(data.interactions)
            valid = index.matrix([])
        }
        let loaded = MovieLensData(
            configuration: configuration, index: index, training: training,
            train: configuration.training == .all ? training : index.matrix(split.train), valid: valid)
        cache.withLock { $0[key] = loaded }
        return loaded
    }
}
