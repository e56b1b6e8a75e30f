import AgentProtocol
import AgentRuntime
import AgenticTesting
import Dataset
import Foundation
import Recommender
import Synchronization
import Testing
import Topology

@testable import Agents

/// `FitCache`: one fit per key while it is among the last used, shared by every maker.
@Suite("Fit cache", .computeBound)
struct FitCacheTests {
    final class Counter: Sendable {
        private let count = Mutex(0)
        func increment() { count.withLock { $0 += 1 } }
        var value: Int { count.withLock { $0 } }
    }

    static func key(_ lambda: Double, matrix: MovieLensData.Matrix = .training) -> FitCache.Key {
        FitCache.Key(fit: .ease(EASE.Configuration(lambda: lambda)), data: "d", matrix: matrix)
    }

    @Test("a key is fitted once; the matrix is part of the key; the least recently used goes first")
    func lru() throws {
        let cache = FitCache(capacity: 2)
        let fits = Counter()
        func get(_ key: FitCache.Key) throws {
            _ = try cache.model(for: key) {
                fits.increment()
                return .popularity
            }
        }
        try get(Self.key(1))
        try get(Self.key(1))
        #expect(fits.value == 1)
        try get(Self.key(1, matrix: .rankerFit))
        #expect(fits.value == 2)
        try get(Self.key(1))  // now the most recent
        try get(Self.key(2))  // evicts the ranker-fit key, the least recently used
        #expect(cache.contains(Self.key(1)) && cache.contains(Self.key(2)))
        #expect(!cache.contains(Self.key(1, matrix: .rankerFit)))
        #expect(cache.fits == 3)
    }

    @Test("a failed fit is not kept; makers of one key at once fit it once")
    func failuresAndConcurrency() async throws {
        let cache = FitCache(capacity: 4)
        struct Failure: Error {}
        #expect(throws: Failure.self) { try cache.model(for: Self.key(3)) { throw Failure() } }
        #expect(!cache.contains(Self.key(3)))
        let fits = Counter()
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    _ = try? cache.model(for: Self.key(3)) {
                        fits.increment()
                        Thread.sleep(forTimeInterval: 0.05)
                        return .popularity
                    }
                }
            }
        }
        #expect(fits.value == 1)
    }
}

/// Agents made again in one process (offline evaluation, the ranker's upstream fits) share
/// their fitted models instead of refitting.
@Suite("Fitted models are shared", .serialized, .computeBound)
struct FitSharingTests {
    let directory: ShortDirectory
    let data: DataConfiguration

    init() throws {
        directory = try ShortDirectory()
        data = DataConfiguration(directory: try Fixture.write(to: directory.path + "/ml"))
    }

    static func weights(_ agent: RecallAgent) async -> [Double] {
        if case .itemToItem(let model, _) = await agent.model { return model.weights }
        return []
    }

    @Test("two agents with the same fit share one model; k is not part of the fit")
    func sameFit() async throws {
        let factory = AgentKinds.factory(topologyPath: "\(topologyDirectory)/movielens-small.yaml", data: data)
        let kind = try #require(factory.catalogue["recall.ease"])
        let first = try #require(
            try factory.make(AgentContext(name: "a", kind: kind, parameters: ["lambda": 77.5, "k": 10])) as? RecallAgent
        )
        let second = try #require(
            try factory.make(AgentContext(name: "b", kind: kind, parameters: ["lambda": 77.5, "k": 20])) as? RecallAgent
        )
        let other = try #require(
            try factory.make(AgentContext(name: "c", kind: kind, parameters: ["lambda": 78.5])) as? RecallAgent)
        func address(_ array: [Double]) -> UnsafeRawPointer? { array.withUnsafeBytes { $0.baseAddress } }
        let (a, b, c) = (await Self.weights(first), await Self.weights(second), await Self.weights(other))
        #expect(!a.isEmpty && address(a) == address(b))
        #expect(address(a) != address(c))
    }

    @Test("the ranker's upstream routes are fitted on the ranker's matrix through the cache")
    func rankerRoutes() async throws {
        let path = "\(topologyDirectory)/movielens-small.yaml"
        let factory = AgentKinds.factory(topologyPath: path, data: data)
        let spec = try TopologyValidator.load(contentsOf: path, catalogue: factory.catalogue)
        _ = try factory.make(AgentContext(spec: spec, agent: "ranker", replica: 0, catalogue: factory.catalogue))
        let loaded = try MovieLensData.load(data)
        for route in ["popularity", "itemknn", "content"] {
            let context = try AgentContext(spec: spec, agent: route, replica: 0, catalogue: factory.catalogue)
            let fit = try KindBinding.recall(kind: context.kind.name, ParameterSet(context)).fit
            #expect(FitCache.shared.contains(FitCache.Key(fit: fit, data: loaded.key, matrix: .rankerFit)), "\(route)")
        }
    }
}
