import ArgumentParser
import Coordinator
import Dataset
import Demo
import Foundation
import Agents
import Topology

/// `agentic bench learning`: the closed loop, shown. The held-out users' interactions are
/// replayed in time order through the gateway (ask for ten items, then click the item the user
/// really took), once with a trainer in the topology and once without, on the same models at
/// the start; the hit rate on the later half of the stream is compared, event by event.
struct BenchLearning: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "learning",
        abstract: "Hit rate of a replayed stream with the trainer refitting from feedback, against the same stream without.",
        discussion: """
            The stream is P1 test (what the served models never saw), in time order, its first \
            --events interactions (all of it by default: with the first 4,000 the 95 % \
            interval of the gain still held 0). Both arms start from the same artifacts. With the trainer on, \
            the replay waits at each --every events until the trainer's new epoch serves (the \
            stream's clock stops during a refit, as if refits were quick next to traffic), so \
            both arms see the same requests. Both arms learn online from every click (histories, \
            popularity); the difference is what refitting adds. Reported with a 95 % confidence \
            interval of the paired per-event difference.
            """)

    @Flag(help: "Print one JSON object instead of a table.") var json = false
    @Option(help: "The topology (its models are refitted by the trainer).") var topology = "topology/movielens.yaml"
    @Option(help: "Interactions replayed (the earliest of P1 test); default: all of it (10,785).") var events = Int.max
    @Option(help: "The trainer refits after this many new events.") var every = 1000
    @Option(
        help: "Agents the trainer refits (comma-separated); default: the recall routes that hold a model. The ranker's time features would read the gateway's clock, decades after MovieLens's.")
    var agents: String?
    @Option(help: "Items asked for per request.") var k = 10

    struct Arm: Codable {
        var hitRate: Double
        var laterHitRate: Double
        var refits: Int
        var epochs: [String]
        enum CodingKeys: String, CodingKey {
            case refits, epochs
            case hitRate = "hit_rate"
            case laterHitRate = "later_half_hit_rate"
        }
    }

    func run() async throws {
        guard events >= 10, every >= 1, every < events, (1...100).contains(k) else {
            throw ValidationError("--events ≥ 10, 1 ≤ --every < --events, --k in 1 … 100")
        }
        Logs.bootstrap(defaultLevel: .error)
        let say: (String) -> Void = { if !json { printError($0) } }
        let factory = Kinds.factory(topologyPath: topology)
        var spec: TopologySpec
        do {
            spec = try TopologyValidator.load(contentsOf: topology, catalogue: factory.catalogue)
        } catch {
            throw CLIError("\(topology): \(error.description)")
        }
        guard spec.agents.contains(where: { $0.kind == "store" }) else {
            throw CLIError("\(topology): the trainer reads feedback from a store agent; the topology has none")
        }
        let data = try DataConfiguration.resolve(topologyPath: topology, environment: ProcessInfo.processInfo.environment)
        setenv(DataConfiguration.directoryVariable, data.directory, 1)
        let movieLens = try MovieLens.load(directory: data.directory)
        let stream = Array(
            P1Split.split(movieLens.interactions).test.sorted { ($0.timestamp, $0.user, $0.item) < ($1.timestamp, $1.user, $1.item) }
                .prefix(events))
        let refitted =
            agents?.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }
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

        say("\(stream.count) events of P1 test in time order; trainer refits \(refitted.joined(separator: ",")) every \(every)")
        say("arm off")
        let (offHits, offArm) = try await replay(off, run: temporary.path + "/r-off", stream: stream, waitForRefits: false, say: say)
        say("arm on")
        let (onHits, onArm) = try await replay(on, run: temporary.path + "/r-on", stream: stream, waitForRefits: true, say: say)

        let later = stream.count / 2
        let differences = (later..<stream.count).map { Double(onHits[$0] ? 1 : 0) - Double(offHits[$0] ? 1 : 0) }
        let mean = differences.reduce(0, +) / Double(differences.count)
        let variance = differences.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(max(1, differences.count - 1))
        let half = 1.96 * (variance / Double(differences.count)).squareRoot()
        if json {
            struct Report: Codable {
                var events: Int
                var everyEvents: Int
                var refitted: [String]
                var off: Arm
                var on: Arm
                var laterHalfDifference: Double
                var ci95: [Double]
                enum CodingKeys: String, CodingKey {
                    case events, refitted, off, on
                    case everyEvents = "every_events"
                    case laterHalfDifference = "later_half_difference"
                    case ci95 = "ci95"
                }
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            let report = Report(
                events: stream.count, everyEvents: every, refitted: refitted, off: offArm, on: onArm,
                laterHalfDifference: mean, ci95: [mean - half, mean + half])
            emitLine(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            emitLine(String(format: "hit@%d, later half: trainer off %.4f, on %.4f (%d refits)", k, offArm.laterHitRate, onArm.laterHitRate, onArm.refits))
            emitLine(String(format: "difference %+.4f, 95%% CI [%+.4f, %+.4f]", mean, mean - half, mean + half))
        }
    }

    /// Runs one arm: `up`, the stream, `down`. Returns each event's hit and the arm's summary.
    func replay(
        _ topology: String, run: String, stream: [Interaction], waitForRefits: Bool, say: (String) -> Void
    ) async throws -> ([Bool], Arm) {
        let (up, endpoint) = try await BenchMesh.up(topology, runDirectory: run)
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
                let answer = try await client.recommend(user: user, k: k)
                hits.append(answer.items.contains { $0.item == item })
                try await client.feedback(user: user, item: item, requestID: answer.requestID)
            } catch {
                await client.shutdown()
                throw CLIError("event \(index): \(error)")
            }
            if waitForRefits, (index + 1) % every == 0, index + 1 < stream.count {
                refits += 1
                let began = ContinuousClock.now
                while await trainerEpochs().count < refits {
                    guard ContinuousClock.now - began < .seconds(300) else {
                        await client.shutdown()
                        throw CLIError("the trainer's refit \(refits) did not serve within 300 s")
                    }
                    try await Task.sleep(for: .milliseconds(200))
                }
                say("  refit \(refits) serving after \(ContinuousClock.now - began)")
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
