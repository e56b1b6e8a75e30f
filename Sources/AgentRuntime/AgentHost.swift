public import AgentProtocol
import Foundation
import Logging
public import ServiceLifecycle
import Synchronization
import Topology
import Transport

/// Runs one agent in this process: the sockets, the counters, heartbeats and graceful shutdown.
///
/// - Decisions: a replier at `RunLayout.decisionAddress(agent:version:replica:)` serving up to
///   `concurrency` requests at once (one NNG context each). Anything that is not a decodable
///   `DecisionRequest` in a `.request` envelope gets an `.error` envelope with an `ErrorReply`.
/// - Control: a replier at `RunLayout.controlAddress(agent:version:replica:)` answering `ControlRequest`s.
/// - Facts: hears `EpochAnnouncement`s on the coordinator's events and stored feedback, handed
///   to ``Agent/feedback(_:)``, on every store instance's publisher; publishes a `Heartbeat`
///   every `heartbeatInterval` to the coordinator's heartbeat subscriber.
/// - Replay: an agent that asks for it (``Agent/feedbackReplay``) is given the feedback the
///   stores committed before it started, after subscribing and before the decision socket
///   listens (see ``FeedbackReplay``).
/// - Shutdown: on a graceful shutdown of its `ServiceGroup` (SIGTERM/SIGINT), a `stop` control
///   request, or the parent's death, the host
///   stops taking new decisions (they get a `draining` error), finishes those in flight
///   (up to `drainTimeout`), closes its sockets and ``run()`` returns.
public actor AgentHost: Service {
    /// How to run the host.
    public struct Configuration: Sendable {
        /// The run directory; its `RunLayout` gives every address.
        public var runDirectory: String
        /// The topology file the agent is configured from.
        public var topologyPath: String
        /// The agent's name in the topology.
        public var agent: String
        /// Which replica this process is (from 0).
        public var replica: Int
        /// Decisions served at once.
        public var concurrency: Int = 64
        /// Time between heartbeats.
        public var heartbeatInterval: Duration = .seconds(1)
        /// How long a drain waits for decisions in flight.
        public var drainTimeout: Duration = .seconds(10)
        /// Kind → agent.
        public var factory: AgentFactory
        /// The parent to outlive by no more than a moment (nil: do not watch).
        public var parentPID: Int32? = nil
        /// Also treat end of file on stdin as the parent's death (the coordinator gives each
        /// child a stdin pipe).
        public var watchStandardInput: Bool = false
        /// The nice value of the thread that makes the agent (loads data, fits). A swap starts
        /// the new process beside a cluster that is serving; on few cores its start-up would
        /// otherwise take CPU from the requests in flight (`agentic bench swaps` showed p99
        /// during swaps of data-loading agents at 2-7x the steady p99, fusion's at 1.3x).
        /// 0 (the default) keeps the caller's priority: on a machine short of CPU a low-priority
        /// start-up is starved (the test suite's swaps and restarts then took minutes), and on a
        /// 2-vCPU VM a low priority hurt serving more than a normal one (a loop of EASE start-ups
        /// beside a cluster at 200 req/s: p99 ~35 ms alone, 63–75 ms at nice 0, 118–139 ms at
        /// nice 19). `AGENTIC_START_NICE`.
        public var startNice: Int32 = 0
        /// How stored feedback is replayed into an agent that asks for it (``Agent/feedbackReplay``).
        public var replay = ReplayConfiguration()

        /// How the host reads the stores' feedback log at start. With a store that does not
        /// answer, the start waits at most `subscribeTimeout` + `attempts` × `attemptTimeout` (+
        /// the pauses) for it, about 8 s with the defaults (10 when other stores answer: their
        /// subscription is waited for once more): inside the coordinator's readiness timeout
        /// (20 s), which also covers loading data and fitting.
        public struct ReplayConfiguration: Sendable {
            /// How long one page may take to come back before it is asked for again.
            public var attemptTimeout: Duration = .seconds(2)
            /// Tries of one page; after the last the host gives up on that store (a warning) and
            /// serves without the rest of its feedback.
            public var attempts: Int = 3
            /// The pause after the first failed try; it grows by as much after each.
            public var retryPause: Duration = .milliseconds(100)
            /// How long to wait for the subscription to every store's `feedback` topic before the
            /// first page: an event committed between the replay's read and the subscription
            /// would be missed by both.
            public var subscribeTimeout: Duration = .seconds(2)
            /// Events asked for per page (at most `StoreRequest.feedbackPageLimit`).
            public var pageLimit: Int = StoreRequest.feedbackPageLimit

            public init() {}
        }

        public init(runDirectory: String, topologyPath: String, agent: String, replica: Int = 0, factory: AgentFactory) {
            self.factory = factory
            self.runDirectory = runDirectory
            self.topologyPath = topologyPath
            self.agent = agent
            self.replica = replica
        }
    }

    private let configuration: Configuration
    private let agent: any Agent
    private let context: AgentContext
    private let layout: RunLayout
    /// The publishers of the topology's store instances: stored feedback comes from them.
    private let storeEvents: [String]
    /// The req/rep addresses of the same store instances, in the same order: a replay reads
    /// their feedback logs.
    private let storeAddresses: [String]
    private var log: Logger
    private var state = AgentState.starting
    private var epoch: Int
    private var served = 0
    private var failed = 0
    private var inFlight = 0
    private var latencies = LatencyWindow(capacity: 1024)
    private var stopReason: String?
    private var stopWaiters: [CheckedContinuation<Void, Never>] = []

    /// Loads the topology and makes the agent; sockets open in ``run()``.
    /// - Throws: `TopologyError` for a topology that does not load, ``AgentRuntimeError`` for an
    ///   agent it does not name or a kind the factory cannot make.
    public init(configuration: Configuration) throws {
        let spec = try TopologyValidator.load(
            contentsOf: configuration.topologyPath, catalogue: configuration.factory.catalogue)
        let context = try AgentContext(
            spec: spec, agent: configuration.agent, replica: configuration.replica,
            catalogue: configuration.factory.catalogue)
        self.configuration = configuration
        self.context = context
        self.agent = try Self.make(context, factory: configuration.factory, nice: configuration.startNice)
        let layout = RunLayout(runDirectory: configuration.runDirectory)
        self.layout = layout
        let stores = spec.agents.filter { $0.kind == "store" }.flatMap { store in (0..<store.replicas).map { (store.name, $0) } }
        self.storeEvents = stores.map { layout.storeEvents(agent: $0.0, replica: $0.1) }
        self.storeAddresses = stores.map { layout.storeAddress(agent: $0.0, replica: $0.1) }
        self.epoch = spec.epoch
        var log = Logger(label: "agentic.agent")
        log[metadataKey: "agent"] = "\(context.name)"
        log[metadataKey: "replica"] = "\(context.replica)"
        self.log = log
    }

    /// Makes the agent on a thread of its own at `nice` (a per-thread value on Linux, so the
    /// threads that serve later keep their priority), waiting for it.
    private static func make(_ context: AgentContext, factory: AgentFactory, nice: Int32) throws -> any Agent {
        guard nice > 0 else { return try factory.make(context) }
        let result = Mutex<Result<any Agent, any Error>?>(nil)
        let done = DispatchSemaphore(value: 0)
        let thread = Thread {
            // Linux keeps a nice value per thread; who = 0 is the calling thread.
            setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, nice)
            let made = Result { try factory.make(context) }
            result.withLock { $0 = made }
            done.signal()
        }
        thread.name = "agent-start"
        thread.start()
        done.wait()
        return try result.withLock { $0! }.get()
    }

    /// Serves until asked to stop, then drains and closes.
    /// - Throws: `TransportError` when a socket cannot be opened (e.g. the address is in use).
    public func run() async throws {
        var replierConfiguration = Replier.Configuration()
        replierConfiguration.concurrency = max(1, configuration.concurrency)
        // A decision runs on the NNG thread that received it, through decode, the agent and
        // encode, until the reply is handed back: no hop to Swift's pool and back per hop of
        // the graph (thread switches were the largest cost of the mesh in `perf`). The agent's
        // work is a fraction of a millisecond, short enough to hold an NNG thread for.
        replierConfiguration.runsHandlersOnCallbackThread = true
        let decisions = try Replier(configuration: replierConfiguration)
        var controlConfiguration = Replier.Configuration()
        controlConfiguration.concurrency = 4
        let control = try Replier(configuration: controlConfiguration)
        let heartbeats = try Publisher()
        let events = try Subscriber()
        // The stores' publishers on a socket of their own: its connections tell when the
        // subscription to every store is up, which a replay waits for.
        let storedFeedback = try Subscriber()
        defer {
            // Blocks briefly (Socket.close waits for NNG); only ever at the end of the process.
            decisions.close()
            control.close()
            heartbeats.close()
            events.close()
            storedFeedback.close()
        }
        let service = agent as? any AgentService
        if let service { try await service.start(layout: layout) }
        try heartbeats.dial(layout.heartbeats)
        try events.subscribe(topic: Topics.epoch)
        try events.subscribe(topic: Topics.feedback)
        try events.dial(layout.coordinatorEvents)
        // Feedback as the gateway accepts it (topic `feedback`), so agents learn online
        // before anything stores it. The gateway may start later: NNG dials until it listens.
        // Without a store in the topology the gateway publishes; with one, the store does,
        // after commit.
        try events.dial(layout.gatewayEvents)
        try storedFeedback.subscribe(topic: Topics.feedback)
        for address in storeEvents { try storedFeedback.dial(address) }
        // Subscribed first, replayed second (what is committed meanwhile waits in the
        // subscription, handed on once serving), listening last: no decision reaches an agent
        // that has not caught up, and callers reach the replicas that have.
        if let replay = await agent.feedbackReplay { await replayFeedback(replay, subscription: storedFeedback) }
        try decisions.listen(layout.decisionAddress(agent: context.name, version: context.version, replica: context.replica))
        try control.listen(layout.controlAddress(agent: context.name, version: context.version, replica: context.replica))
        try decisions.start { [self] message in await self.answerDecision(message) }
        try control.start { [self] message in await self.answerControl(message) }
        state = .serving
        log.info("serving", metadata: ["kind": "\(context.kind.name)", "version": "\(context.version)"])

        let background = Task { [self] in
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await self.publishHeartbeats(heartbeats) }
                group.addTask { await self.followEvents(events) }
                group.addTask { await self.followEvents(storedFeedback) }
            }
        }
        if let parent = configuration.parentPID {
            let watchStandardInput = configuration.watchStandardInput
            // Not awaited: it returns only when the parent is gone, possibly never.
            Task { [self] in
                await ProcessEvents.parentDeath(parent: parent, watchStandardInput: watchStandardInput)
                self.stop(reason: "parent gone")
            }
        }
        // Under a ServiceGroup (as `agentic agent` runs it), SIGTERM and SIGINT arrive as a
        // graceful shutdown: the same drain as a `stop` control request.
        await withGracefulShutdownHandler {
            await self.waitForStop()
        } onGracefulShutdown: {
            Task { await self.stop(reason: "graceful shutdown (SIGTERM or SIGINT)") }
        }
        log.info("stopping", metadata: ["reason": "\(stopReason ?? "")"])
        await drain()
        if let service { await service.shutdown() }
        background.cancel()
        await background.value
        // Let a `stop` control reply, already handed to NNG, leave before the socket closes.
        try? await Task.sleep(for: .milliseconds(100))
        state = .stopped
        log.info("stopped", metadata: ["served": "\(served)", "failed": "\(failed)"])
    }

    /// Asks the host to drain and stop; ``run()`` returns once it has.
    public func stop(reason: String = "requested") {
        if stopReason == nil { stopReason = reason }
        let waiters = stopWaiters
        stopWaiters.removeAll()
        waiters.forEach { $0.resume() }
    }

    /// The host's state and counters, as a control request or a heartbeat reports them.
    public func status() async -> ControlResponse {
        let parameters = await agent.parameters.mapValues(\.description)
        let (p50, p99) = latencies.percentiles()
        return ControlResponse(
            agent: context.name, instance: context.replica, kind: context.kind.name, version: context.version,
            pid: getpid(), state: state, epoch: epoch,
            stats: AgentStats(
                served: served, failed: failed, inFlight: inFlight, latencyP50Microseconds: p50,
                latencyP99Microseconds: p99),
            parameters: parameters)
    }

    // MARK: decisions

    private func answerDecision(_ message: Message) async -> Message? {
        let envelope: Envelope
        do {
            envelope = try message.envelope()
        } catch {
            failed += 1
            log.warning("malformed frame", metadata: ["error": "\(error)"])
            return Self.errorReply(to: nil, code: "malformed_frame", "\(error)")
        }
        guard envelope.type == .batch else { return try? Message(envelope: await decision(envelope)) }
        // A batch (the gateway sends the requests that queued behind one in flight as one
        // message): each request answered in turn, the replies in one batch, in order.
        let requests: [Envelope]
        do {
            requests = try Batch.envelopes(in: envelope.payload)
        } catch {
            failed += 1
            log.warning("malformed batch", metadata: ["error": "\(error)"])
            return Self.errorReply(to: envelope, code: "malformed_batch", "\(error)")
        }
        var replies: [Envelope] = []
        replies.reserveCapacity(requests.count)
        for request in requests { replies.append(await decision(request)) }
        return try? Message(
            envelope: Envelope(
                type: .batch, requestID: envelope.requestID, deadline: envelope.deadline, traceID: envelope.traceID,
                payload: Batch.payload(replies)))
    }

    /// The reply (or error) envelope to one decision request envelope.
    private func decision(_ envelope: Envelope) async -> Envelope {
        // Built only when something is logged: copying metadata on every decision showed in profiles.
        func log(_ requestID: String) -> Logger {
            var log = self.log
            log[metadataKey: "request_id"] = "\(requestID)"
            return log
        }
        guard envelope.type == .request else {
            failed += 1
            log("\(envelope.requestID)").warning("unexpected message type", metadata: ["type": "\(envelope.type)"])
            return Self.errorEnvelope(
                to: envelope, code: "unexpected_type", "decision sockets take request envelopes, not \(envelope.type)")
        }
        guard state == .serving else {
            failed += 1
            return Self.errorEnvelope(
                to: envelope, code: "draining", "\(context.name) is \(state.rawValue) and takes no new requests")
        }
        if Self.isPast(envelope.deadline) { return expired(envelope) }
        let request: DecisionRequest
        do {
            request = try WireCodec.decode(DecisionRequest.self, from: envelope.payload)
        } catch {
            failed += 1
            log("\(envelope.requestID)").warning("undecodable decision request", metadata: ["error": "\(error)"])
            return Self.errorEnvelope(to: envelope, code: "bad_payload", "the payload is not a DecisionRequest: \(error)")
        }
        let start = ContinuousClock.now
        inFlight += 1
        do {
            guard let response = try await agent.decide(request, unlessPast: envelope.deadline) else {
                inFlight -= 1
                return expired(envelope)
            }
            let payload = try WireCodec.encode(response)
            inFlight -= 1
            served += 1
            latencies.record(ContinuousClock.now - start)
            return Envelope(
                type: .reply, requestID: envelope.requestID, deadline: envelope.deadline, traceID: envelope.traceID,
                payload: payload)
        } catch {
            inFlight -= 1
            failed += 1
            log(request.requestID).warning("decision failed", metadata: ["error": "\(error)"])
            return Self.errorEnvelope(to: envelope, code: "decision_failed", "\(error)")
        }
    }

    /// Whether a wall-clock deadline (ms since the Unix epoch, 0: none) has passed.
    static func isPast(_ deadline: UInt64) -> Bool {
        deadline != 0 && UInt64(max(0, Date().timeIntervalSince1970 * 1000)) > deadline
    }

    /// The answer to a request whose caller stopped waiting before its turn came: computing it
    /// anyway would only delay the requests queued behind it (at saturation the agents worked
    /// through requests the gateway had given up on, and more requests came back degraded).
    private func expired(_ envelope: Envelope) -> Envelope {
        failed += 1
        var log = self.log
        log[metadataKey: "request_id"] = "\(envelope.requestID)"
        log.debug("deadline passed before the decision", metadata: ["deadline": "\(envelope.deadline)"])
        return Self.errorEnvelope(to: envelope, code: "deadline_exceeded", "the request's deadline passed before its turn")
    }

    static func errorEnvelope(to request: Envelope, code: String, _ message: String) -> Envelope {
        let payload = (try? WireCodec.encode(ErrorReply(code: code, message: message))) ?? []
        return Envelope(
            type: .error, requestID: request.requestID, deadline: request.deadline, traceID: request.traceID, payload: payload)
    }

    static func errorReply(to request: Envelope?, code: String, _ message: String) -> Message? {
        let payload = (try? WireCodec.encode(ErrorReply(code: code, message: message))) ?? []
        return try? Message(
            envelope: Envelope(
                type: .error, requestID: request?.requestID ?? 0, deadline: request?.deadline ?? 0,
                traceID: request?.traceID ?? .none, payload: payload))
    }

    // MARK: control

    private func answerControl(_ message: Message) async -> Message? {
        let envelope: Envelope
        let request: ControlRequest
        do {
            envelope = try message.envelope()
        } catch {
            return Self.errorReply(to: nil, code: "malformed_frame", "\(error)")
        }
        guard envelope.type == .control else {
            return Self.errorReply(
                to: envelope, code: "unexpected_type", "control sockets take control envelopes, not \(envelope.type)")
        }
        do {
            request = try WireCodec.decode(ControlRequest.self, from: envelope.payload)
        } catch {
            return Self.errorReply(to: envelope, code: "bad_payload", "the payload is not a ControlRequest: \(error)")
        }
        switch request.command {
        case .health, .stats:
            break
        case .parameters:
            if let changes = request.parameters {
                do {
                    try await agent.setParameters(changes)
                    log.info(
                        "parameters changed", metadata: ["names": "\(changes.keys.sorted().joined(separator: ","))"])
                } catch {
                    return Self.errorReply(to: envelope, code: error.code.description, error.message)
                }
            }
        case .drain:
            await drain()
        case .stop:
            stop(reason: "stop requested")
            await drain()
        default:
            return Self.errorReply(
                to: envelope, code: "unknown_command", "unknown control command \(request.command.rawValue)")
        }
        let payload = (try? WireCodec.encode(await status())) ?? []
        return try? Message(
            envelope: Envelope(type: .reply, requestID: envelope.requestID, traceID: envelope.traceID, payload: payload)
        )
    }

    // MARK: lifecycle

    private func waitForStop() async {
        if stopReason != nil { return }
        await withCheckedContinuation { stopWaiters.append($0) }
    }

    /// Refuses new decisions, then waits (up to `drainTimeout`) for those in flight.
    private func drain() async {
        if state == .serving || state == .starting {
            state = .draining
            log.info("draining", metadata: ["in_flight": "\(inFlight)"])
        }
        let deadline = ContinuousClock.now + configuration.drainTimeout
        while inFlight > 0, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(5))
        }
        if inFlight > 0 { log.warning("drain timed out", metadata: ["in_flight": "\(inFlight)"]) }
    }

    private func publishHeartbeats(_ publisher: Publisher) async {
        var sequence: UInt64 = 0
        while !Task.isCancelled {
            sequence += 1
            let heartbeat = Heartbeat(sequence: sequence, status: await status())
            if let payload = try? WireCodec.encode(heartbeat),
                let message = try? Message(
                    topic: Topics.heartbeat, envelope: Envelope(type: .heartbeat, requestID: sequence, payload: payload)
                )
            {
                try? publisher.publish(message)
            }
            do { try await Task.sleep(for: configuration.heartbeatInterval) } catch { return }
        }
    }

    /// Reads the feedback every store instance committed after `replay.after` into the agent
    /// (see ``FeedbackReplay``), store by store. Gives up on a store that does not answer within
    /// `configuration.replay`'s bounds, with a warning; never throws.
    private func replayFeedback(_ replay: FeedbackReplay, subscription: Subscriber) async {
        guard !storeAddresses.isEmpty else { return }
        let clock = ContinuousClock()
        let started = clock.now
        let settings = configuration.replay
        let replayer = FeedbackReplayer(configuration: settings)
        let requesters: [Requester?] = storeAddresses.map { address in
            guard let requester = try? Requester() else { return nil }
            try? requester.dial(address)
            return requester
        }
        defer {
            // Closing waits for NNG: off the pool's threads, as the coordinator's gate does.
            let open = requesters.compactMap { $0 }
            Thread.detachNewThread { open.forEach { $0.close() } }
        }
        var outcomes = storeAddresses.map { _ in FeedbackReplayer.Outcome(cursor: replay.after) }
        var subscribed = await waitForSubscription(subscription, within: settings.subscribeTimeout)
        while true {
            // Every store's log from where the last read left off (a store given up on stays so).
            for index in storeAddresses.indices where outcomes[index].failure == nil {
                guard let requester = requesters[index] else {
                    outcomes[index].failure = "no socket to the store"
                    continue
                }
                let read = await replayer.replay(after: outcomes[index].cursor, fetch: FeedbackReplayer.fetch(over: requester)) {
                    [agent] payload in await agent.feedback(payload)
                }
                outcomes[index].events += read.events
                outcomes[index].pages += read.pages
                outcomes[index].cursor = read.cursor
                outcomes[index].failure = read.failure
            }
            if subscribed || outcomes.allSatisfy({ $0.failure != nil }) { break }
            // A store that was not up yet (at `up` every process starts at once) is subscribed
            // to only once it is: what it committed between the read and then would be missed
            // by both, so once subscribed, read on from the cursor.
            subscribed = await waitForSubscription(subscription, within: settings.subscribeTimeout)
            if !subscribed {
                log.warning(
                    "not subscribed to every store's feedback: events they commit before it are missed",
                    metadata: ["stores": "\(storeEvents.count)", "subscribed": "\(subscription.socket.pipeCount)"])
                break
            }
        }
        for (address, outcome) in zip(storeAddresses, outcomes) {
            guard let failure = outcome.failure else { continue }
            log.warning(
                "feedback replay incomplete; serving without the rest of this store's feedback",
                metadata: [
                    "store": "\(address)", "events": "\(outcome.events)", "cursor": "\(outcome.cursor)", "error": "\(failure)",
                ])
        }
        log.info(
            "feedback replayed",
            metadata: [
                "events": "\(outcomes.reduce(0) { $0 + $1.events })", "pages": "\(outcomes.reduce(0) { $0 + $1.pages })",
                "stores": "\(storeAddresses.count)", "incomplete": "\(outcomes.count { $0.failure != nil })",
                "after": "\(replay.after)", "took": "\(clock.now - started)",
            ])
    }

    /// Whether `subscription` is connected to every store's publisher, waiting up to `timeout`.
    private func waitForSubscription(_ subscription: Subscriber, within timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while subscription.socket.pipeCount < storeEvents.count {
            guard ContinuousClock.now < deadline else { return false }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return true
    }

    /// Epoch announcements update the epoch the host reports; stored feedback goes to the agent.
    private func followEvents(_ subscriber: Subscriber) async {
        for await message in subscriber.messages {
            guard let (topic, envelope) = try? message.topicEnvelope() else { continue }
            if topic == Topics.feedback {
                // The store sends each commit's events in one message (`FeedbackBatch`).
                for event in FeedbackBatch.events(in: envelope.payload) { await agent.feedback(Array(event)) }
                continue
            }
            guard topic == Topics.epoch,
                let announcement = try? WireCodec.decode(EpochAnnouncement.self, from: envelope.payload)
            else { continue }
            if announcement.epoch != epoch {
                epoch = announcement.epoch
                log.info("epoch", metadata: ["epoch": "\(epoch)"])
            }
        }
    }
}

/// The latest latency samples, for p50 and p99.
struct LatencyWindow: Sendable {
    private var samples: [Double] = []
    private var next = 0
    let capacity: Int

    init(capacity: Int) { self.capacity = capacity }

    mutating func record(_ duration: Duration) {
        let microseconds = Double(duration.components.seconds) * 1e6 + Double(duration.components.attoseconds) / 1e12
        if samples.count < capacity {
            samples.append(microseconds)
        } else {
            samples[next] = microseconds
            next = (next + 1) % capacity
        }
    }

    /// p50 and p99 in microseconds (0 with no samples).
    func percentiles() -> (Double, Double) {
        guard !samples.isEmpty else { return (0, 0) }
        let sorted = samples.sorted()
        func at(_ q: Double) -> Double { sorted[min(sorted.count - 1, Int(Double(sorted.count) * q))] }
        return (at(0.5), at(0.99))
    }
}
