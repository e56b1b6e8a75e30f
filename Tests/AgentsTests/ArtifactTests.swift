import AgentProtocol
import AgentRuntime
import AgenticTesting
import Artifacts
import Dataset
import Foundation
import Testing
import Topology

@testable import Agents

/// Models as artifacts: fitted once into a file named by what they were fitted from, loaded
/// by every later start, refused (and refitted) when the file is bad.
@Suite("Model artifacts", .serialized, .computeBound)
struct ArtifactTests {
    let directory: ShortDirectory
    let data: MovieLensData
    let configuration: DataConfiguration
    let spec: TopologySpec
    let catalogue: KindCatalogue
    let store: ArtifactStore

    init() throws {
        directory = try ShortDirectory()
        configuration = DataConfiguration(directory: try Fixture.write(to: directory.path + "/ml"))
        data = try MovieLensData.load(configuration)
        let path = "\(topologyDirectory)/movielens-small.yaml"
        catalogue = AgentKinds.factory(topologyPath: path).catalogue
        spec = try TopologyValidator.load(contentsOf: path, catalogue: catalogue)
        store = ArtifactStore(directory: directory.path + "/artifacts")
    }

    func recall(_ agent: String) throws -> KindBinding.Recall {
        let context = try AgentContext(spec: spec, agent: agent, replica: 0, catalogue: catalogue)
        return try KindBinding.recall(kind: context.kind.name, ParameterSet(context))
    }

    /// Every user's top 20 from `model`, with scores.
    func answers(_ model: RecallModel) -> [[ScoredItem]] {
        let live = LiveData(data: data)
        return data.index.userIDs.map { model.recommend(user: String($0), k: 20, live: live) }
    }

    @Test("fit, write, load: every route and the ranker answer exactly as fitted")
    func roundTrip() throws {
        let agents = ModelFitting.modelAgents(in: spec)
        #expect(Set(agents) == ["itemknn", "content", "ranker"])
        for agent in agents {
            let report = try ModelFitting.fit(
                agent: agent, spec: spec, catalogue: catalogue, data: configuration, artifacts: store)
            #expect(report.origin.artifact != nil, "\(agent): \(report.origin)")
        }
        for route in ["itemknn", "content"] {
            let binding = try recall(route)
            let fitted = try RecallModel.fit(binding.fit, on: data.training, items: data.items)
            // A fresh cache: the model must come from the file, not from this process's memory.
            let (loaded, origin) = try RecallModel.fitted(
                binding.fit, data: data, matrix: .training, cache: FitCache(capacity: 2), artifacts: store)
            guard case .loaded = origin else {
                Issue.record("\(route): \(origin)")
                continue
            }
            #expect(answers(loaded) == answers(fitted), "\(route)")
        }
        let binding = try KindBinding.ranker(
            ParameterSet(try AgentContext(spec: spec, agent: "ranker", replica: 0, catalogue: catalogue)))
        let upstream = LearnedRankAgent.upstream(of: "ranker", in: spec)
        let features = RankerFeatures(routes: upstream.routes.sorted(), timeline: Timeline(data: data, matrix: data.training))
        let (loaded, origin) = try LearnedRankAgent.obtain(
            binding, upstream: upstream, data: data, spec: spec, catalogue: catalogue, features: features, artifacts: store,
            log: nil)
        guard case .loaded = origin else {
            Issue.record("ranker: \(origin)")
            return
        }
        let (trained, fitted) = try LearnedRankAgent.obtain(
            binding, upstream: upstream, data: data, spec: spec, catalogue: catalogue, features: features, artifacts: nil,
            log: nil)
        #expect(fitted.isFit)
        #expect(loaded == trained)
    }

    @Test("a corrupt artifact is refused naming its file, removed and refitted; the refit is sound")
    func corrupt() throws {
        let binding = try recall("itemknn")
        _ = try RecallModel.fitted(binding.fit, data: data, matrix: .training, cache: FitCache(capacity: 2), artifacts: store)
        let key = try #require(ModelArtifacts.key(binding.fit, snapshot: data.trainingSnapshot))
        let file = store.path(for: key)
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: file)))
        bytes[bytes.count / 2] ^= 0x55
        try Data(bytes).write(to: URL(fileURLWithPath: file))
        let (model, origin) = try RecallModel.fitted(
            binding.fit, data: data, matrix: .training, cache: FitCache(capacity: 2), artifacts: store)
        guard case .refitted(let refused, let written) = origin else {
            Issue.record("not refused: \(origin)")
            return
        }
        #expect(refused.contains(file) && refused.contains("checksum"), "\(refused)")
        #expect(written == file)
        let again = try RecallModel.fitted(
            binding.fit, data: data, matrix: .training, cache: FitCache(capacity: 2), artifacts: store)
        #expect(again.origin == .loaded(file))
        #expect(answers(again.model) == answers(model))
    }

    @Test("an artifact for another catalogue is refused: nothing is served from it")
    func otherCatalogue() throws {
        let binding = try recall("content")
        let key = try #require(ModelArtifacts.key(binding.fit, snapshot: data.trainingSnapshot))
        // A sound file under the right name, fitted on a catalogue of another size.
        try store.write(
            Artifact(key: key, doubles: ["item_features": [1, 2, 3]], metadata: ["users": "1", "items": "3", "dimension": "1"]))
        let (_, origin) = try RecallModel.fitted(
            binding.fit, data: data, matrix: .training, cache: FitCache(capacity: 2), artifacts: store)
        guard case .refitted(let refused, _) = origin else {
            Issue.record("not refused: \(origin)")
            return
        }
        #expect(refused.contains("mismatch") && refused.contains("3 items"), "\(refused)")
    }

    @Test("what does not shape a fit is not in its key: k, MMR's lambda and fusion's weights never fit")
    func keys() throws {
        var a = try recall("itemknn")
        a.k = 7
        let b = try recall("itemknn")
        #expect(ModelArtifacts.key(a.fit, snapshot: "s") == ModelArtifacts.key(b.fit, snapshot: "s"))
        #expect(ModelArtifacts.key(a.fit, snapshot: "s") != ModelArtifacts.key(a.fit, snapshot: "t"))
        #expect(!ModelFitting.fittedKinds.contains("rerank.mmr") && !ModelFitting.fittedKinds.contains("fusion"))
        #expect(ModelArtifacts.key(.popularity, snapshot: "s") == nil)
    }

    @Test("a training snapshot joins the training data: new pairs, a new key, and the store seq it holds")
    func trainingSnapshot() throws {
        // User 1 clicks three items it has never seen.
        let seen = Set(data.training.row(0).map { data.index.itemIDs[Int($0)] })
        let fresh = data.index.itemIDs.filter { !seen.contains($0) }.prefix(3)
        let snapshot = TrainingSnapshot(
            events: fresh.map { TrainingSnapshot.Event(user: data.index.userIDs[0], item: $0, rating: nil, timestamp: 990_000_000) },
            through: 42)
        let id = try snapshot.write(to: store)
        #expect(try TrainingSnapshot.load(id: id, from: store) == snapshot)
        var withFeedback = configuration
        withFeedback.trainingSnapshot = id
        let grown = try MovieLensData.load(withFeedback, snapshots: store)
        #expect(grown.training.nonZeroCount == data.training.nonZeroCount + 3)
        #expect(grown.feedbackThrough == 42 && data.feedbackThrough == 0)
        #expect(grown.trainingSnapshot != data.trainingSnapshot)
        let fit = try recall("itemknn").fit
        #expect(ModelArtifacts.key(fit, snapshot: grown.trainingSnapshot) != ModelArtifacts.key(fit, snapshot: data.trainingSnapshot))
        // A snapshot that is not there is a clear error, not a silent fit on less data.
        var missing = configuration
        missing.trainingSnapshot = "fb9-0000"
        #expect(throws: AgentRuntimeError.self) { try MovieLensData.load(missing, snapshots: store) }
    }
}
