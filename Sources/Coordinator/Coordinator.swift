/// # Coordinator
///
/// Launches a topology as processes and keeps it alive.
///
/// - ``Coordinator`` starts one `agentic agent` process per agent instance (replicas too),
///   gates each on a real decision request, starts the gateway, publishes the topology epoch,
///   hears heartbeats, and supervises Erlang-style: a crashed instance is restarted per its
///   restart policy with exponential back-off, and a crash loop (more than `intensity`
///   restarts in `period_s`) marks it `failed` instead of restarting forever.
/// - ``RestartIntensity`` is that restart rule as a pure value with an injected clock.
/// - ``Coordinator/apply(_:reason:)`` changes the running system without downtime: one
///   mechanism for a swap (new parameters, version or kind), adding or removing an agent and
///   rewiring edges. New processes serve beside the old on version-distinct addresses, are
///   gated on the real serving path, a new epoch is published (the run's topology file is
///   rewritten atomically, every epoch kept in its history), the gateway switches, and the old
///   processes drain and stop. A failed gate stops the new processes and changes nothing.
/// - ``CoordinatorClient`` asks a running coordinator for its ``ClusterStatus``, to stop, or to
///   swap, apply, roll back, and for the history and diffs of its epochs.
/// - ``RunDirectory`` makes the private run directory its sockets live in.
import AgentProtocol
public import AgentRuntime
import Foundation
import Logging
public import Topology
import Transport

/// The supervisor of one run: agents, gateway, epoch announcements, control socket.
public actor Coordinator {
    /// How to run the cluster.
    public struct Configuration: Sendable {
        /// The private run directory (see ``RunDirectory/prepare(_:)``).
        public var runDirectory: String
        /// The topology file (an absolute path: children are given it).
        public var topologyPath: String
        /// The `agentic` executable the children run.
        public var executable: String
        /// Start `agentic gateway` (off: agents only, as the cluster tests that talk to them directly).
        public var startsGateway: Bool = true
        /// How long one instance may take to answer its first decision.
        public var readinessTimeout: Duration = .seconds(20)
        /// How long the gateway may take to say `listening …`.
        public var gatewayTimeout: Duration = .seconds(30)
        /// How long children get to drain on shutdown before SIGKILL.
        public var shutdownTimeout: Duration = .seconds(10)
        /// Time between epoch announcements (pub/sub may drop one, and late joiners need one).
        public var announceInterval: Duration = .seconds(1)
        /// Kind → agent; the topology is validated against its catalogue.
        public var factory: AgentFactory
        /// A serving instance silent for this long is taken for hung and killed (then restarted
        /// per its policy); nil: never.
        public var heartbeatTimeout: Duration? = .seconds(10)
        /// How the gateway process is restarted when it dies.
        public var gatewayRestart = RestartPolicy()
        /// How long a swap waits for the gateway to confirm it serves the new epoch before it
        /// drains the old processes anyway (a gateway that is down reads the new file on restart).
        public var switchTimeout: Duration = .seconds(5)
        /// How long a swapped-out process gets to finish its requests before SIGKILL.
        public var drainTimeout: Duration = .seconds(10)
        /// Rounds of real requests a swap's serving-path gate sends through the new graph. They
        /// also warm the new process: with one round instead of three, more users' requests
        /// right after a swap missed their deadline (bench swaps: 20–130 degraded, against 0–14).
        public var gateRounds: Int = 3
        /// Scheduling priority (0 … 19) at which a swap's or canary's new process builds its
        /// agent (loads data and models), so the processes serving users keep the CPU; its
        /// sockets and its serving threads run at normal priority.
        public var candidateStartNice: Int32 = 10
        /// Kinds whose agents hold a fitted model: before one starts (at start-up, in a swap or
        /// a canary) the coordinator runs `executable fit` for it, outside any serving process.
        /// Empty: agents fit (or load) on their own.
        public var fittedKinds: Set<String> = []
        /// How long the fitting job may run before it is killed (its agents then fit at start).
        public var fitTimeout: Duration = .seconds(900)

        public init(runDirectory: String, topologyPath: String, executable: String, factory: AgentFactory) {
            self.factory = factory
            self.runDirectory = runDirectory
            self.topologyPath = topologyPath
            self.executable = executable
        }
    }

    /// What `up` reports once the cluster serves.
    public struct Readiness: Sendable {
        /// Instances answering decisions.
        public var serving: Int
        /// Instances that crash-looped at start and were marked failed.
        public var failed: Int
        /// The gateway's URL, when one was started.
        public var gatewayURL: String?
    }

    struct Key: Hashable, Sendable, CustomStringConvertible {
        var name: String
        /// Two versions of an agent serve side by side during a swap.
        var version: String
        var replica: Int
        var description: String { version == "1" ? "\(name).\(replica)" : "\(name)~\(version).\(replica)" }
    }

    struct Instance {
        let key: Key
        let kind: String
        let version: String
        let policy: RestartPolicy
        var state = AgentState.starting
        var child: Child?
        var generation = 0
        var startedAt: ContinuousClock.Instant?
        var restarts = 0
        var intensity: RestartIntensity<ContinuousClock>
        var stats = AgentStats()
        var lastHeartbeat: ContinuousClock.Instant?
        /// The topology file the process is started with (a swap's candidate file until it commits).
        var topologyPath: String
        /// Started by a swap that has not committed: never restarted, stopped on a failed gate.
        var candidate = false
        /// Swapped out and draining: never restarted.
        var retiring = false
        /// How the process last ended, for a gate's reason.
        var exitNote: String?
    }

    let configuration: Configuration
    /// The epoch serving now.
    var spec: TopologySpec
    let layout: RunLayout
    var log = Logger(label: "agentic.coordinator")
    var order: [Key] = []
    var instances: [Key: Instance] = [:]
    /// Process generations are numbered across the whole run, not per instance: a stopped and
    /// re-created instance (a promoted canary) must not mistake its predecessor's late exit
    /// notice for its own.
    private var lastGeneration = 0
    /// The run's copy of the topology: rewritten by every change, its epochs kept in `history/`.
    let store: TopologyStore
    /// What each epoch was, when and why (the files hold what it was).
    var journal: [EpochRecord] = []
    var events: Publisher?
    /// The epoch the gateway says it serves (it answers each announcement).
    var gatewayEpoch: Int?
    /// The live experiment's candidate processes, its spec and its file, while one runs.
    var canary: CanaryState?
    /// Model agents (``fitFingerprint(_:in:)``) the fitting job has made artifacts for in this
    /// run: starting one again with the same parameters needs no job.
    var fittedFingerprints: Set<String> = []
    var changing = false
    var changeWaiters: [CheckedContinuation<Void, Never>] = []
    private var gateway: Child?
    private var gatewayURL: String?
    private var gatewayIntensity: RestartIntensity<ContinuousClock>
    private var phase = "starting"
    var shutdownRequested = false
    private var shutdownWaiters: [CheckedContinuation<Void, Never>] = []

    /// Loads and checks the topology.
    /// - Throws: `TopologyError` when it does not validate; ``CoordinatorError/Code/invalidTopology``
    ///   when it names a kind this build cannot run.
    public init(configuration: Configuration) throws {
        let spec = try TopologyValidator.load(
            contentsOf: configuration.topologyPath, catalogue: configuration.factory.catalogue)
        let runnable = Set(configuration.factory.kinds)
        let missing = spec.agents.filter { !runnable.contains($0.kind) }
        guard missing.isEmpty else {
            throw CoordinatorError(
                .invalidTopology,
                "\(configuration.topologyPath): no implementation in this build for "
                    + missing.map { "\($0.name) (kind \($0.kind))" }.joined(separator: ", "))
        }
        self.configuration = configuration
        self.spec = spec
        self.layout = RunLayout(runDirectory: configuration.runDirectory)
        self.store = TopologyStore(
            path: layout.topologyFile,
            configuration: TopologyStore.Configuration(
                historyDirectory: layout.historyDirectory, catalogue: configuration.factory.catalogue))
        self.gatewayIntensity = RestartIntensity(policy: configuration.gatewayRestart, clock: ContinuousClock())
        for agent in spec.agents {
            for replica in 0..<agent.replicas {
                let key = Key(name: agent.name, version: agent.version, replica: replica)
                order.append(key)
                instances[key] = Instance(
                    key: key, kind: agent.kind, version: agent.version, policy: agent.restart,
                    intensity: RestartIntensity(policy: agent.restart, clock: ContinuousClock()),
                    topologyPath: layout.topologyFile)
            }
        }
    }

    /// Starts everything, calls `onReady` once every instance serves (or has failed) and the
    /// gateway listens, then supervises until ``shutdown()``; returns when all is stopped and
    /// the socket files are gone.
    /// - Throws: ``CoordinatorError/Code/alreadyRunning`` when another coordinator holds the run
    ///   directory, `TransportError` when a socket cannot be opened.
    public func run(onReady: @Sendable (Readiness) -> Void) async throws {
        let control = try Replier()
        do {
            try control.listen(layout.coordinatorControl)
        } catch let error as TransportError where error.code == .addressInUse {
            throw CoordinatorError(.alreadyRunning, "a coordinator already runs in \(configuration.runDirectory)")
        }
        try startHistory()
        let events = try Publisher()
        let heartbeats = try Subscriber()
        let served = try Subscriber()
        try events.listen(layout.coordinatorEvents)
        self.events = events
        try heartbeats.subscribe(topic: Topics.heartbeat)
        try heartbeats.listen(layout.heartbeats)
        try served.subscribe(topic: Topics.epoch)
        try served.dial(layout.gatewayEvents)
        try control.start { [self] message in await self.answerControl(message) }
        let background = Task { [self] in
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await self.announceEpochs(events) }
                group.addTask { await self.followHeartbeats(heartbeats) }
                group.addTask { await self.watchHeartbeats() }
                group.addTask { await self.followGatewayEpochs(served) }
            }
        }
        log.info("starting", metadata: ["instances": "\(order.count)", "run_dir": "\(configuration.runDirectory)"])
        if let failure = await fitModels(spec.agents, in: spec, topologyPath: layout.topologyFile) {
            log.warning("starting without artifacts", metadata: ["reason": "\(failure)"])
        }
        for key in order { start(key) }
        await waitUntilSettled()
        if !shutdownRequested {
            if configuration.startsGateway {
                await startGateway()
            }
            phase = "serving"
            let values = Array(instances.values)
            onReady(
                Readiness(
                    serving: values.count { $0.state == .serving }, failed: values.count { $0.state == .failed },
                    gatewayURL: gatewayURL))
            await waitForShutdown()
        }
        phase = "stopping"
        await stopChildren()
        background.cancel()
        await background.value
        // Let the answer to a `down` leave before the control socket closes.
        try? await Task.sleep(for: .milliseconds(100))
        control.close()
        events.close()
        heartbeats.close()
        served.close()
        let left = RunDirectory.removeSockets(configuration.runDirectory)
        if !left.isEmpty { log.warning("socket files left", metadata: ["files": "\(left)"]) }
        log.info("stopped")
    }

    /// Stops the cluster gracefully: every child gets SIGTERM and time to drain.
    public func shutdown() {
        guard !shutdownRequested else { return }
        shutdownRequested = true
        log.info("shutdown requested")
        let waiters = shutdownWaiters
        shutdownWaiters.removeAll()
        waiters.forEach { $0.resume() }
    }

    /// The cluster as `agentic status` shows it.
    public func status() -> ClusterStatus {
        let now = ContinuousClock.now
        return ClusterStatus(
            runDirectory: configuration.runDirectory, coordinatorPID: getpid(), topology: store.path,
            epoch: spec.epoch, state: phase, gateway: gatewayURL,
            agents: order.compactMap { key in
                guard let instance = instances[key] else { return nil }
                let uptime = instance.startedAt.map { now - $0 } ?? .zero
                return InstanceStatus(
                    name: key.name, replica: key.replica, kind: instance.kind, version: instance.version,
                    pid: instance.child?.pid ?? 0,
                    address: layout.decisionAddress(agent: key.name, version: key.version, replica: key.replica),
                    state: instance.state,
                    uptimeSeconds: Double(uptime.components.seconds) + Double(uptime.components.attoseconds) / 1e18,
                    restarts: instance.restarts, served: instance.stats.served, failed: instance.stats.failed,
                    latencyP99Microseconds: instance.stats.latencyP99Microseconds)
            },
            experiment: canary.map { canary in
                ExperimentStatus(
                    experiment: canary.experiment, share: canary.share,
                    candidates: Array(Set(canary.keys.map { "\($0.name)@\($0.version)" })).sorted())
            })
    }

    // MARK: supervision

    func start(_ key: Key) {
        guard !shutdownRequested, var instance = instances[key], instance.child == nil, !instance.retiring else {
            return
        }
        // A SIGKILLed predecessor leaves its socket files; the new process must be able to listen.
        for address in [
            layout.decisionAddress(agent: key.name, version: key.version, replica: key.replica),
            layout.controlAddress(agent: key.name, version: key.version, replica: key.replica),
        ] {
            unlink(String(address.dropFirst("ipc://".count)))
        }
        lastGeneration += 1
        instance.generation = lastGeneration
        let generation = instance.generation
        var arguments = [
            "agent", "--run-dir", configuration.runDirectory, "--topology", instance.topologyPath,
            "--agent", key.name, "--replica", String(key.replica), "--parent-pid", String(getpid()), "--watch-stdin",
        ]
        if instance.candidate, configuration.candidateStartNice > 0 {
            arguments += ["--start-nice", String(configuration.candidateStartNice)]
        }
        do {
            instance.child = try Child(executable: configuration.executable, arguments: arguments) {
                [self] status, signalled in
                Task { await self.exited(key, generation: generation, status: status, signalled: signalled) }
            }
        } catch {
            log.error("cannot start", metadata: ["agent": "\(key)", "error": "\(error)"])
            instances[key] = instance
            Task { exited(key, generation: generation, status: -1, signalled: false) }
            return
        }
        instance.state = .starting
        instance.startedAt = .now
        instance.stats = AgentStats()
        instances[key] = instance
        log.info("started", metadata: ["agent": "\(key)", "pid": "\(instance.child?.pid ?? 0)"])
        // A swap's candidates are gated by the swap itself, on the serving path.
        if !instance.candidate { Task { await gate(key, generation: generation) } }
    }

    /// A requester for a process that is still starting: it redials every 20 ms at most, where
    /// NNG's backoff would wait up to half a second after the process began to listen (which
    /// a swap's gate then paid for, with two versions running all the while).
    static func startingRequester() throws -> Requester {
        var configuration = Requester.Configuration()
        configuration.socket.reconnectMinimum = .milliseconds(5)
        configuration.socket.reconnectMaximum = .milliseconds(20)
        return try Requester(configuration: configuration)
    }

    /// Marks the instance serving once it answers a real decision request; kills it if it
    /// does not within `readinessTimeout` (the exit then goes through the restart policy).
    private func gate(_ key: Key, generation: Int) async {
        let deadline = ContinuousClock.now + configuration.readinessTimeout
        guard let requester = try? Self.startingRequester() else { return }
        // Closing waits for NNG (up to 2 s if NNG 1.5.2 hangs): never on one of the two pool threads.
        defer { Thread.detachNewThread { requester.close() } }
        try? requester.dial(layout.decisionAddress(agent: key.name, version: key.version, replica: key.replica))
        var attempt: UInt64 = 0
        while ContinuousClock.now < deadline {
            guard let instance = instances[key], instance.generation == generation, instance.state == .starting,
                !shutdownRequested
            else { return }
            attempt += 1
            let request = DecisionRequest(
                requestID: "gate-\(key)-\(generation)-\(attempt)", user: "gate", k: 10, epoch: spec.epoch)
            if let payload = try? WireCodec.encode(request),
                let message = try? Message(envelope: Envelope(type: .request, requestID: attempt, payload: payload)),
                let reply = try? await requester.request(message, timeout: .milliseconds(500)),
                let envelope = try? reply.envelope(), envelope.type == .reply,
                (try? WireCodec.decode(DecisionResponse.self, from: envelope.payload)) != nil
            {
                guard var current = instances[key], current.generation == generation, current.state == .starting else {
                    return
                }
                current.state = .serving
                current.lastHeartbeat = .now
                instances[key] = current
                log.info("serving", metadata: ["agent": "\(key)"])
                return
            }
            try? await Task.sleep(for: .milliseconds(20))
        }
        guard let instance = instances[key], instance.generation == generation, instance.state == .starting else {
            return
        }
        log.error("not ready in time; killing it", metadata: ["agent": "\(key)"])
        instance.child?.signal(SIGKILL)
    }

    private func exited(_ key: Key, generation: Int, status: Int32, signalled: Bool) {
        guard var instance = instances[key], instance.generation == generation else { return }
        instance.child = nil
        instance.startedAt = nil
        let abnormal = signalled || status != 0
        let how = signalled ? "signal \(status)" : "status \(status)"
        instance.exitNote = how
        if shutdownRequested || instance.candidate || instance.retiring {
            // A swap decides what happens to its candidates and to the processes it retires.
            instance.state = instance.candidate && abnormal ? .failed : .stopped
            instances[key] = instance
            return
        }
        guard RestartIntensity<ContinuousClock>.restarts(instance.policy.strategy, abnormalExit: abnormal) else {
            instance.state = abnormal ? .failed : .stopped
            instances[key] = instance
            log.warning(
                "exited; not restarted (policy \(instance.policy.strategy))",
                metadata: ["agent": "\(key)", "exit": "\(how)"])
            return
        }
        switch instance.intensity.recordCrash() {
        case .escalate:
            instance.state = .failed
            log.error(
                "crash loop: more than \(instance.policy.intensity) restarts in \(instance.policy.periodSeconds) s; marked failed",
                metadata: ["agent": "\(key)", "exit": "\(how)"])
        case .restart(let delay):
            instance.state = .starting
            instance.restarts += 1
            log.warning("exited; restarting", metadata: ["agent": "\(key)", "exit": "\(how)", "backoff": "\(delay)"])
            Task {
                try? await Task.sleep(for: delay)
                start(key)
            }
        }
        instances[key] = instance
    }

    /// Waits until every instance serves or has failed (or shutdown is asked for).
    private func waitUntilSettled() async {
        while !shutdownRequested,
            instances.values.contains(where: { $0.state != .serving && $0.state != .failed && $0.state != .stopped })
        {
            try? await Task.sleep(for: .milliseconds(20))
        }
    }

    private func waitForShutdown() async {
        if shutdownRequested { return }
        await withCheckedContinuation { shutdownWaiters.append($0) }
    }

    /// SIGTERM to everyone, a drain's worth of patience, then SIGKILL for the rest.
    private func stopChildren() async {
        var children = instances.values.compactMap(\.child)
        if let gateway { children.append(gateway) }
        for key in order {
            guard var instance = instances[key] else { continue }
            instance.state = instance.child == nil ? .stopped : .draining
            instances[key] = instance
        }
        children.forEach { $0.signal(SIGTERM) }
        for (patience, escalation) in [(configuration.shutdownTimeout, SIGKILL), (Duration.seconds(5), 0)] {
            let deadline = ContinuousClock.now + patience
            while children.contains(where: \.isRunning), ContinuousClock.now < deadline {
                try? await Task.sleep(for: .milliseconds(20))
            }
            let left = children.filter(\.isRunning)
            guard !left.isEmpty, escalation != 0 else { break }
            log.warning("children did not drain in time; killing", metadata: ["pids": "\(left.map(\.pid))"])
            left.forEach { $0.signal(escalation) }
        }
        for key in order { instances[key]?.state = .stopped }
    }

    // MARK: gateway

    private func startGateway() async {
        let child: Child
        do {
            child = try Child(
                executable: configuration.executable,
                arguments: [
                    "gateway", "--run-dir", configuration.runDirectory, "--topology", store.path,
                ],
                capturesOutput: true
            ) { [self] status, signalled in
                Task { await self.gatewayExited(status: status, signalled: signalled) }
            }
        } catch {
            log.error("cannot start the gateway", metadata: ["error": "\(error)"])
            return
        }
        gateway = child
        let url = await Self.firstListeningLine(child.lines, timeout: configuration.gatewayTimeout)
        guard let url else {
            log.error("the gateway did not say where it listens in time")
            return
        }
        gatewayURL = url
        log.info("gateway listening", metadata: ["url": "\(url)"])
        // Keep draining its output so it never blocks on a full pipe.
        Task.detached { for await line in child.lines { FileHandle.standardError.write(Data((line + "\n").utf8)) } }
    }

    private static func firstListeningLine(_ lines: AsyncStream<String>, timeout: Duration) async -> String? {
        await withTaskGroup(of: String?.self) { group in
            group.addTask {
                for await line in lines where line.hasPrefix("listening ") {
                    return String(line.dropFirst("listening ".count)).trimmingCharacters(in: .whitespaces)
                }
                return nil
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
    }

    /// The gateway is supervised like an agent: restarted with back-off until it crash-loops.
    /// With port 0 a restarted gateway may listen on a new port; `status` shows the new URL.
    private func gatewayExited(status: Int32, signalled: Bool) {
        gateway = nil
        guard !shutdownRequested else { return }
        gatewayURL = nil
        let exit = "\(signalled ? "signal" : "status") \(status)"
        switch gatewayIntensity.recordCrash() {
        case .escalate:
            log.error("the gateway crash-loops; not restarting it", metadata: ["exit": "\(exit)"])
        case .restart(let delay):
            log.error("the gateway exited; restarting", metadata: ["exit": "\(exit)", "backoff": "\(delay)"])
            Task {
                try? await Task.sleep(for: delay)
                if !shutdownRequested, gateway == nil { await startGateway() }
            }
        }
    }

    /// Kills serving instances whose heartbeats stopped: alive to the kernel, dead to us.
    private func watchHeartbeats() async {
        guard let timeout = configuration.heartbeatTimeout else { return }
        while !Task.isCancelled {
            let now = ContinuousClock.now
            for key in order {
                guard let instance = instances[key], instance.state == .serving, let last = instance.lastHeartbeat,
                    now - last > timeout
                else { continue }
                log.error("no heartbeat for \(timeout); killing it", metadata: ["agent": "\(key)"])
                instance.child?.signal(SIGKILL)
                instances[key]?.lastHeartbeat = nil
            }
            do { try await Task.sleep(for: .seconds(1)) } catch { return }
        }
    }

    // MARK: sockets

    private func answerControl(_ message: Message) async -> Message? {
        guard let envelope = try? message.envelope(), envelope.type == .control,
            let request = try? WireCodec.decode(CoordinatorRequest.self, from: envelope.payload)
        else {
            let payload =
                (try? WireCodec.encode(
                    ErrorReply(code: "bad_request", message: "expected a CoordinatorRequest in a control envelope")))
                ?? []
            return try? Message(envelope: Envelope(type: .error, requestID: 0, payload: payload))
        }
        switch request.command {
        case .status:
            break
        case .down:
            shutdown()
        case .swap, .apply, .rollback, .experimentStart, .experimentEnd:
            do {
                return Self.reply(try await change(request), to: envelope)
            } catch {
                return Self.errorReply(error, to: envelope)
            }
        case .history:
            return Self.reply(HistoryReport(epoch: spec.epoch, epochs: journal), to: envelope)
        case .topology:
            return Self.reply(ServingTopology(epoch: spec.epoch, spec: spec), to: envelope)
        case .diff:
            do {
                return Self.reply(try diff(from: request.epoch ?? spec.epoch, to: request.toEpoch ?? spec.epoch), to: envelope)
            } catch {
                return Self.errorReply(error, to: envelope)
            }
        default:
            let payload =
                (try? WireCodec.encode(ErrorReply(code: "unknown_command", message: request.command.rawValue))) ?? []
            return try? Message(envelope: Envelope(type: .error, requestID: envelope.requestID, payload: payload))
        }
        var answer = status()
        if shutdownRequested { answer.state = "stopping" }
        let payload = (try? WireCodec.encode(answer)) ?? []
        return try? Message(envelope: Envelope(type: .reply, requestID: envelope.requestID, payload: payload))
    }

    private static func reply(_ value: some Encodable, to envelope: Envelope) -> Message? {
        let payload = (try? WireCodec.encode(value)) ?? []
        return try? Message(envelope: Envelope(type: .reply, requestID: envelope.requestID, payload: payload))
    }

    private static func errorReply(_ error: CoordinatorError, to envelope: Envelope) -> Message? {
        let payload = (try? WireCodec.encode(ErrorReply(code: error.code.description, message: error.message))) ?? []
        return try? Message(envelope: Envelope(type: .error, requestID: envelope.requestID, payload: payload))
    }

    private func announceEpochs(_ publisher: Publisher) async {
        var sequence: UInt64 = 0
        while !Task.isCancelled {
            sequence += 1
            announce(sequence: sequence, on: publisher)
            do { try await Task.sleep(for: configuration.announceInterval) } catch { return }
        }
    }

    /// Publishes the current epoch now (a swap does not wait for the next tick).
    func announce(sequence: UInt64 = 0, on publisher: Publisher? = nil) {
        guard let publisher = publisher ?? events else { return }
        let announcement = EpochAnnouncement(epoch: spec.epoch, topologyPath: store.path)
        if let payload = try? WireCodec.encode(announcement),
            let message = try? Message(
                topic: Topics.epoch, envelope: Envelope(type: .epoch, requestID: sequence, payload: payload))
        {
            try? publisher.publish(message)
        }
    }

    /// The gateway answers each announcement with the epoch it serves.
    private func followGatewayEpochs(_ subscriber: Subscriber) async {
        for await message in subscriber.messages {
            guard let (topic, envelope) = try? message.topicEnvelope(), topic == Topics.epoch,
                let announcement = try? WireCodec.decode(EpochAnnouncement.self, from: envelope.payload)
            else { continue }
            gatewayEpoch = announcement.epoch
        }
    }

    private func followHeartbeats(_ subscriber: Subscriber) async {
        for await message in subscriber.messages {
            guard let (topic, envelope) = try? message.topicEnvelope(), topic == Topics.heartbeat,
                let heartbeat = try? WireCodec.decode(Heartbeat.self, from: envelope.payload)
            else { continue }
            let key = Key(name: heartbeat.status.agent, version: heartbeat.status.version, replica: heartbeat.status.instance)
            // Only the current process of the instance speaks for it.
            guard var instance = instances[key], instance.child?.pid == heartbeat.status.pid else { continue }
            instance.stats = heartbeat.status.stats
            instance.lastHeartbeat = .now
            instances[key] = instance
        }
    }
}
