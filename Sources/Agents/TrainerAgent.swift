// The learning loop, from what users did back into the models: the `trainer` agent reads the
// knowledge store's feedback, freezes it into a `TrainingSnapshot` and asks the coordinator to
// move the model agents onto it. The coordinator fits the new models in its fitting job
// (outside every serving process) and swaps them in as a new epoch, gated like any swap; the
// history records the snapshot. Agents on the snapshot replay only the feedback stored after
// it, so nothing is learned twice or lost.
public import AgentProtocol
public import AgentRuntime
import Artifacts
import Coordinator
import Foundation
import Logging
import Topology
import Transport

/// `trainer`: refits the topology's model agents from the store's feedback after every
/// `every_events` new events (and, with `interval_s` > 0, on that schedule when any arrived).
/// `agents` (comma-separated) limits which are refitted; empty: every agent whose kind holds
/// a model. It takes no part in serving: a decision gets an empty list.
public actor TrainerAgent: AgentService {
    public nonisolated let context: AgentContext
    public var parameterSet: ParameterSet
    private var task: Task<Void, Never>?
    private let log: Logger

    public init(_ context: AgentContext) {
        self.context = context
        self.parameterSet = ParameterSet(context)
        var log = Logger(label: "agentic.trainer")
        log[metadataKey: "agent"] = "\(context.name)"
        self.log = log
    }

    /// Registers the `trainer` kind's maker in `factory`.
    public static func register(in factory: inout AgentFactory) {
        factory.register(kind: "trainer") { TrainerAgent($0) }
    }

    public func decide(_ request: DecisionRequest) async throws -> DecisionResponse {
        AgentOutput(agent: context.name, version: context.version, items: [])
    }

    public func start(layout: RunLayout) async throws {
        let seconds = parameterSet.double("interval_s") ?? 0
        let settings = Settings(
            everyEvents: max(1, parameterSet.int("every_events") ?? 500),
            interval: seconds > 0 ? .milliseconds(Int64(seconds * 1000)) : nil,
            poll: .milliseconds(Int64(max(50, parameterSet.int("poll_ms") ?? 1000))),
            agents: (parameterSet.string("agents") ?? "").split(separator: ",").map {
                $0.trimmingCharacters(in: .whitespaces)
            }.filter { !$0.isEmpty })
        let loop = TrainingLoop(settings: settings, layout: layout, name: context.name, log: log)
        task = Task { await loop.run() }
    }

    public func shutdown() async {
        task?.cancel()
        await task?.value
    }

    struct Settings: Sendable {
        var everyEvents: Int
        var interval: Duration?
        var poll: Duration
        var agents: [String]
    }
}

/// The trainer's work: poll the store, snapshot, apply.
struct TrainingLoop: Sendable {
    let settings: TrainerAgent.Settings
    let layout: RunLayout
    let name: String
    let log: Logger

    func run() async {
        var events: [TrainingSnapshot.Event] = []
        var cursor: Int64 = 0
        var pending = 0
        var lastApplied = ContinuousClock.now
        while !Task.isCancelled {
            try? await Task.sleep(for: settings.poll)
            guard !Task.isCancelled else { return }
            guard let spec = try? TopologyValidator.load(contentsOf: layout.topologyFile) else { continue }
            do {
                let read = try await readFeedback(after: cursor, spec: spec)
                events += read.events
                pending += read.events.count
                cursor = read.cursor
            } catch {
                log.warning("store not readable; trying again", metadata: ["error": "\(error)"])
                continue
            }
            let due =
                pending >= settings.everyEvents
                || (pending > 0 && settings.interval.map { ContinuousClock.now - lastApplied >= $0 } ?? false)
            guard due else { continue }
            if await refit(spec: spec, snapshot: TrainingSnapshot(events: events, through: cursor)) {
                pending = 0
                lastApplied = .now
            }
        }
    }

    /// Every interaction the store committed after `after`, as snapshot events, and the new cursor.
    func readFeedback(after: Int64, spec: TopologySpec) async throws -> (events: [TrainingSnapshot.Event], cursor: Int64) {
        var cursor = after
        var events: [TrainingSnapshot.Event] = []
        for store in spec.agents where store.kind == "store" {
            let requester = try Requester()
            defer { Thread.detachNewThread { requester.close() } }
            try requester.dial(layout.storeAddress(agent: store.name, replica: 0))
            var more = true
            var position = after
            var attempt: UInt64 = 0
            while more {
                attempt += 1
                let request = StoreRequest(operation: .feedbackAfter, after: position, limit: StoreRequest.feedbackPageLimit)
                let message = try Message(
                    envelope: Envelope(type: .request, requestID: attempt, payload: try WireCodec.encode(request)))
                let reply = try await requester.request(message, timeout: .seconds(5)).envelope()
                guard reply.type == .reply else {
                    throw AgentRuntimeError(.badRequest, "the store refused feedback_after")
                }
                let page = try WireCodec.decode(StoreReply.self, from: reply.payload)
                for stored in page.feedback ?? [] {
                    let event = stored.event
                    guard event.event == "click" || event.event == "rating", let user = Int(event.user),
                        let item = Int(event.item)
                    else { continue }
                    events.append(
                        TrainingSnapshot.Event(
                            user: user, item: item, rating: event.event == "rating" ? event.value : nil,
                            timestamp: Int(event.receivedAt / 1000)))
                }
                position = page.cursor ?? position
                more = (page.hasMore ?? false) && !(page.feedback ?? []).isEmpty
            }
            cursor = max(cursor, position)
        }
        return (events, cursor)
    }

    /// Writes `snapshot` and asks the coordinator to move the model agents onto it.
    /// - Returns: whether the new epoch serves.
    func refit(spec: TopologySpec, snapshot: TrainingSnapshot) async -> Bool {
        let store = ArtifactStore(directory: ModelFitting.artifactDirectory(spec: spec, runDirectory: layout.runDirectory))
        let id: String
        do {
            id = try snapshot.write(to: store)
        } catch {
            log.error("snapshot not written", metadata: ["error": "\(error)"])
            return false
        }
        var next = spec
        var moved: [String] = []
        for index in next.agents.indices {
            let agent = next.agents[index]
            let chosen = settings.agents.isEmpty ? ModelFitting.fittedKinds.contains(agent.kind) : settings.agents.contains(agent.name)
            guard chosen, agent.name != name else { continue }
            next.agents[index].parameters["training_snapshot"] = .string(id)
            moved.append(agent.name)
        }
        guard !moved.isEmpty else {
            log.warning("no model agent to refit")
            return false
        }
        let reason = "trainer: snapshot \(id), \(snapshot.events.count) events through seq \(snapshot.through)"
        log.info("refitting", metadata: ["snapshot": "\(id)", "events": "\(snapshot.events.count)", "agents": "\(moved.joined(separator: ","))"])
        do {
            let report = try await CoordinatorClient(runDirectory: layout.runDirectory).apply(
                topology: next.renderYAML(), file: "trainer", reason: reason, timeout: .seconds(900))
            log.info(
                "refit \(report.outcome)",
                metadata: ["snapshot": "\(id)", "epoch": "\(report.epoch)", "total_ms": "\(Int(report.totalMilliseconds))"])
            return report.outcome == "swapped"
        } catch {
            log.error("refit not applied", metadata: ["snapshot": "\(id)", "error": "\(error)"])
            return false
        }
    }
}
