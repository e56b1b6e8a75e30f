import AgentProtocol
import Agents
import Coordinator
import Dataset
import Demo
import Foundation
import Topology

/// `agentic bench learning`: the closed loop, shown. The held-out users' interactions (P1
/// test, in time order) are replayed through the gateway (ask for `k` items, then click the
/// item the user really took), once with a trainer in the topology and once without, on the
/// same models at the start; the hit rate on the later half of the stream is compared, event
/// by event, with a 95 % confidence interval of the paired difference. With the trainer on,
/// the replay waits at each `every` events until the trainer's new epoch serves, so both arms
/// see the same requests. Both arms learn online from every click (histories, popularity);
/// the difference is what refitting adds.
public struct LearningBenchmark: Sendable {
    public struct Configuration: Sendable {
        /// The topology (its models are refitted by the trainer; it needs a store agent).
        public var topology = "topology/movielens.yaml"
        /// Interactions replayed, the earliest of P1 test (default: all of it).
        public var events = Int.max
        /// The trainer refits after this many new events.
        public var every = 1000
        /// Agents the trainer refits; nil: the recall routes that hold a model.
        public var agents: [String]?
        /// Items asked for per request.
        public var k = 10
        public init() {}
    }

    public struct Arm: Codable, Sendable {
        public var hitRate: Double
        public var laterHitRate: Double
        public var refits: Int
        public var epochs: [String]
        enum CodingKeys: String, CodingKey {
            case refits, epochs
            case hitRate = "hit_rate"
            case laterHitRate = "later_half_hit_rate"
        }
    }

    public struct Report: Codable, Sendable {
        public var events: Int
        public var everyEvents: Int
        public var refitted: [String]
        public var off: Arm
        public var on: Arm
        public var laterHalfDifference: Double
        public var ci95: [Double]
        enum CodingKeys: String, CodingKey {
            case events, refitted, off, on
            case everyEvents = "every_events"
            case laterHalfDifference = "later_half_difference"
            case ci95 = "ci95"
        }
    }

    public let configuration: Configuration
    let factory: FactoryForTopology

    public init(configuration: Configuration, factory: @escaping FactoryForTopology) {
        self.configuration = configuration
        self.factory = factory
    }

    /// Runs both arms, saying what it does through `log`.
    public func run(log: @Sendable (String) -> Void) async throws -> Report {
        let (topology, events, every, agents) = (configuration.topology, configuration.events, configuration.every, configuration.agents)
        var spec = try BenchCluster.load(topology, factory: factory(topology))
        guard spec.agents.contains(where: { $0.kind == "store" }) else {
            throw BenchmarkError("\(topology): the trainer reads feedback from a store agent; the topology has none")
        }
        let data = try DataConfiguration.resolve(topologyPath: topology, environment: ProcessInfo.processInfo.environment)
        setenv(DataConfiguration.directoryVariable, data.directory, 1)
        let movieLens = try MovieLens.load(directory: data.directory)
        let stream = Array(
            P1Split.split(movieLens.interactions).test.sorted { ($0.timestamp, $0.user, $0.item) < ($1.timestamp, $1.user, $1.item) }
                .prefix(events))
        let refitted =
            agents
            ?? spec.agents.filter { ModelFitting.fittedKinds.contains($0.kind) && $0.kind != "rank.learned" }.map(\.name)

        let temporary = try TemporaryDirectory(prefix: "agt")
        defer { temporary.remove() }
        spec.artifacts = temporary.path + "/artifacts"
        let off = temporary.path + "/off.yaml"
        try spec.renderYAML().write(toFile: off, atomically: true, encoding: .utf8)
        var learning = spec
        learning.agents.append(
            AgentSpec(
                name: "trainer", kind: "trainer",
                parameters: [
                    "every_events": .int(every), "poll_ms": .int(200), "agents": .string(refitted.joined(separator: ",")),
                ]))
        let on = temporary.path + "/on.yaml"
        try learning.renderYAML().write(toFile: on, atomically: true, encoding: .utf8)

        log("\(stream.count) events of P1 test in time order; trainer refits \(refitted.joined(separator: ",")) every \(every)")
        log("arm off")
        let (offHits, offArm) = try await replay(off, run: temporary.path + "/r-off", stream: stream, waitForRefits: false, log: log)
        log("arm on")
        let (onHits, onArm) = try await replay(on, run: temporary.path + "/r-on", stream: stream, waitForRefits: true, log: log)

        let later = stream.count / 2
        let differences = (later..<stream.count).map { Double(onHits[$0] ? 1 : 0) - Double(offHits[$0] ? 1 : 0) }
        let mean = differences.reduce(0, +) / Double(differences.count)
        let variance = differences.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(max(1, differences.count - 1))
        let half = 1.96 * (variance / Double(differences.count)).squareRoot()
        return Report(
            events: stream.count, everyEvents: every, refitted: refitted, off: offArm, on: onArm,
            laterHalfDifference: mean, ci95: [mean - half, mean + half])
    }

    /// Runs one arm: `up`, the stream, `down`. Returns each event's hit and the arm's summary.
    func replay(
        _ topology: String, run: String, stream: [Interaction], waitForRefits: Bool, log: (String) -> Void
    ) async throws -> ([Bool], Arm) {
        let (up, endpoint) = try await BenchCluster.up(topology, runDirectory: run)
        defer { up.stop() }
        let base = endpoint.hasSuffix("/v1/recommend") ? String(endpoint.dropLast("/v1/recommend".count)) : endpoint
        let client = GatewayClient(base: base, timeout: .seconds(10), connections: 4)
        let coordinator = CoordinatorClient(runDirectory: run)
        func trainerEpochs() async -> [EpochRecord] {
            ((try? await coordinator.history())?.epochs ?? []).filter { $0.reason.hasPrefix("trainer:") }
        }
        var hits: [Bool] = []
        var refits = 0
        for (index, event) in stream.enumerated() {
            let user = String(event.user), item = String(event.item)
            do {
                let answer = try await client.recommend(user: user, k: configuration.k)
                hits.append(answer.items.contains { $0.item == item })
                try await client.feedback(user: user, item: item, requestID: answer.requestID)
            } catch {
                await client.shutdown()
                throw BenchmarkError("event \(index): \(error)")
            }
            if waitForRefits, (index + 1) % configuration.every == 0, index + 1 < stream.count {
                refits += 1
                let began = ContinuousClock.now
                while await trainerEpochs().count < refits {
                    guard ContinuousClock.now - began < .seconds(300) else {
                        await client.shutdown()
                        throw BenchmarkError("the trainer's refit \(refits) did not serve within 300 s")
                    }
                    try await Task.sleep(for: .milliseconds(200))
                }
                log("  refit \(refits) serving after \(ContinuousClock.now - began)")
            }
        }
        await client.shutdown()
        let epochs = await trainerEpochs().map(\.reason)
        let later = stream.count / 2
        return (
            hits,
            Arm(
                hitRate: Double(hits.count { $0 }) / Double(hits.count),
                laterHitRate: Double(hits[later...].count { $0 }) / Double(hits.count - later), refits: epochs.count,
                epochs: epochs)
        )
    }
}
