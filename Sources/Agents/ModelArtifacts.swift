import AgentRuntime
import Artifacts
import Dataset
import Foundation
import Logging
import Recommender

/// Where an agent's model came from, for its start-up log and the fitting job's report.
public enum ModelOrigin: Sendable, Equatable, CustomStringConvertible {
    /// Nothing to fit (popularity, a pass-through ranker).
    case none
    /// Already in this process (``FitCache``).
    case memory
    /// Loaded from this artifact file.
    case loaded(String)
    /// Fitted now; written to this file (nil: not written, no artifact directory or a failed write).
    case fitted(String?)
    /// The artifact file was refused (the error says why), then the model was refitted.
    case refitted(refused: String, file: String?)

    public var description: String {
        switch self {
        case .none: "nothing to fit"
        case .memory: "in memory"
        case .loaded(let file): "loaded \(file)"
        case .fitted(let file): file.map { "fitted, wrote \($0)" } ?? "fitted"
        case .refitted(let refused, let file): "refused (\(refused)), refitted" + (file.map { ", wrote \($0)" } ?? "")
        }
    }

    /// The artifact file loaded or written, if any.
    public var artifact: String? {
        switch self {
        case .loaded(let file): file
        case .fitted(let file), .refitted(_, let file): file
        case .none, .memory: nil
        }
    }

    /// Whether the model was fitted (not loaded) for this start.
    public var isFit: Bool {
        switch self {
        case .fitted, .refitted: true
        case .none, .memory, .loaded: false
        }
    }
}

/// Reads and writes models as artifacts: the one place that knows which parameters shape a
/// fit (the key) and how a model's arrays lie in a file.
enum ModelArtifacts {
    /// Bump when a recall fit changes what it produces for the same key.
    static let recallAlgorithmVersion = 1
    /// Bump when the ranker's training or features change.
    static let rankerAlgorithmVersion = 1

    /// Loads `key`'s artifact through `convert`, or fits with `fit` and writes the result.
    /// A refused artifact (corrupt, truncated, for another catalogue) is logged naming the
    /// file, removed and refitted: nothing is ever served from it. A failed write is logged
    /// and the fitted model served anyway.
    static func loadOrFit<Model>(
        key: ArtifactKey, store: ArtifactStore?, log: Logger?,
        convert: (Artifact, String) throws(ArtifactError) -> Model,
        fit: () throws -> Model, artifact: (Model) -> Artifact?
    ) throws -> (Model, ModelOrigin) {
        guard let store else { return (try fit(), .fitted(nil)) }
        let file = store.path(for: key)
        var refused: ArtifactError?
        do {
            if let loaded = try store.load(key) {
                return (try convert(loaded, file), .loaded(file))
            }
        } catch {
            refused = error
            log?.error("artifact refused; refitting", metadata: ["artifact": "\(file)", "error": "\(error)"])
            store.remove(key)
        }
        let model = try fit()
        var written: String?
        if let contents = artifact(model) {
            do {
                written = try store.write(contents)
            } catch {
                log?.error("artifact not written", metadata: ["error": "\(error)"])
            }
        }
        if let refused { return (model, .refitted(refused: refused.description, file: written)) }
        return (model, .fitted(written))
    }

    // MARK: recall

    static func key(_ fit: KindBinding.RecallFit, snapshot: String) -> ArtifactKey? {
        let (kind, text): (String, String)
        switch fit {
        case .popularity: return nil
        case .itemKNN(let c): (kind, text) = ("recall.itemknn", "\(c)")
        case .rp3beta(let c): (kind, text) = ("recall.rp3beta", "\(c)")
        case .ease(let c): (kind, text) = ("recall.ease", "\(c)")
        case .als(let c): (kind, text) = ("recall.als", "\(c)")
        case .content(let c): (kind, text) = ("recall.content", "\(c)")
        }
        return ArtifactKey(kind: kind, algorithmVersion: recallAlgorithmVersion, fit: text, snapshot: snapshot)
    }

    static func artifact(_ model: RecallModel, key: ArtifactKey) -> Artifact? {
        func shaped(_ training: InteractionMatrix) -> [String: String] {
            ["users": "\(training.rowCount)", "items": "\(training.columnCount)"]
        }
        switch model {
        case .popularity:
            return nil
        case .itemToItem(let model, _):
            return Artifact(key: key, doubles: ["weights": model.weights], metadata: shaped(model.training))
        case .als(let model, let gram, _, _):
            var metadata = shaped(model.training)
            metadata["factors"] = "\(model.factors)"
            return Artifact(
                key: key, doubles: ["user_factors": model.userFactors, "item_factors": model.itemFactors, "gram": gram],
                metadata: metadata)
        case .content(let model):
            var metadata = shaped(model.training)
            metadata["dimension"] = "\(model.dimension)"
            return Artifact(key: key, doubles: ["item_features": model.itemFeatures], metadata: metadata)
        }
    }

    /// The model `fit` describes, from its artifact, checked against `training`'s shape.
    static func recallModel(
        _ artifact: Artifact, fit: KindBinding.RecallFit, training: InteractionMatrix, file: String
    ) throws(ArtifactError) -> RecallModel {
        let users = try artifact.integer("users", file: file)
        let items = try artifact.integer("items", file: file)
        guard users == training.rowCount, items == training.columnCount else {
            throw ArtifactError(
                .mismatch,
                "fitted on \(users) users × \(items) items; the data has \(training.rowCount) × \(training.columnCount)",
                file: file)
        }
        let n = items
        switch fit {
        case .popularity:
            return .popularity
        case .itemKNN(let c):
            let weights = try artifact.doubles("weights", count: n * n, file: file)
            return .itemToItem(
                ItemToItemModel(training: training, weights: weights, ratingExponent: c.ratingExponent),
                RatingTransform(exponent: c.ratingExponent, training: training))
        case .rp3beta(let c):
            let weights = try artifact.doubles("weights", count: n * n, file: file)
            return .itemToItem(
                ItemToItemModel(training: training, weights: weights, ratingExponent: c.ratingExponent),
                RatingTransform(exponent: c.ratingExponent, training: training))
        case .ease(let c):
            let weights = try artifact.doubles("weights", count: n * n, file: file)
            return .itemToItem(
                ItemToItemModel(training: training, weights: weights, ratingExponent: c.ratingExponent),
                RatingTransform(exponent: c.ratingExponent, training: training))
        case .als(let c):
            let f = try artifact.integer("factors", file: file)
            guard f == c.factors else {
                throw ArtifactError(.mismatch, "\(f) factors, the configuration says \(c.factors)", file: file)
            }
            let model = ALS.Model(
                training: training, factors: f,
                userFactors: try artifact.doubles("user_factors", count: users * f, file: file),
                itemFactors: try artifact.doubles("item_factors", count: n * f, file: file))
            return .als(
                model, gram: try artifact.doubles("gram", count: f * f, file: file), configuration: c,
                RatingTransform(exponent: c.ratingExponent, training: training))
        case .content:
            let d = try artifact.integer("dimension", file: file)
            return .content(
                ContentModel.Model(
                    training: training, dimension: d,
                    itemFeatures: try artifact.doubles("item_features", count: n * d, file: file)))
        }
    }

    // MARK: ranker

    /// The ranker's key: everything its training reads (its own binding, the upstream routes'
    /// fits and list lengths, the fusion rule, the features) and the training snapshot.
    static func rankerKey(
        _ binding: KindBinding.Ranker, routes: [(name: String, recall: KindBinding.Recall)], rule: FusionRule,
        features: [String], snapshot: String
    ) -> ArtifactKey {
        let weights = rule.weights.keys.sorted().map { "\($0)=\(rule.weights[$0]!)" }.joined(separator: ",")
        let upstream = routes.map { "\($0.name):k=\($0.recall.k):\($0.recall.fit)" }.joined(separator: ";")
        let text = """
            k=\(binding.k) model=\(binding.model)
            routes=\(upstream)
            fusion=\(rule.method) default=\(rule.defaultWeight) \(weights)
            features=\(features.joined(separator: ","))
            """
        return ArtifactKey(kind: "rank.learned", algorithmVersion: rankerAlgorithmVersion, fit: text, snapshot: snapshot)
    }

    static func artifact(_ ranker: TrainedRanker, key: ArtifactKey, features: [String]) -> Artifact? {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        guard let bytes = try? encoder.encode(ranker) else { return nil }
        return Artifact(key: key, blobs: ["model": Array(bytes)], metadata: ["features": features.joined(separator: ",")])
    }

    static func ranker(_ artifact: Artifact, features: [String], file: String) throws(ArtifactError) -> TrainedRanker {
        guard artifact.metadata["features"] == features.joined(separator: ",") else {
            throw ArtifactError(.mismatch, "trained on other features than \(features.joined(separator: ","))", file: file)
        }
        guard let bytes = artifact.blobs["model"] else {
            throw ArtifactError(.corrupt, "no model section", file: file)
        }
        do {
            return try JSONDecoder().decode(TrainedRanker.self, from: Data(bytes))
        } catch {
            throw ArtifactError(.corrupt, "the model does not decode", file: file)
        }
    }
}
