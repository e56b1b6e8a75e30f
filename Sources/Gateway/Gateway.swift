/// # Gateway
///
/// The front door of an agentic run, in its own process: an HTTP server (Hummingbird) and
/// an optional NNG req/rep front. Each recommendation executes the current topology
/// epoch's graph of agents with a deadline, spreading load over replicas, retrying another
/// replica when one fails, and degrading around a failed or late agent (saying so in the
/// response) rather than failing the request. The coordinator announces new epochs on its
/// publisher; the gateway switches between requests.
///
/// ```swift
/// let gateway = try Gateway(configuration: .init(runDirectory: dir, topologyPath: file)) { url in
///     print("listening \(url)")
/// }
/// try await ServiceGroup(services: [gateway], gracefulShutdownSignals: [.sigterm], logger: log).run()
/// ```
import GatewayAPI
import AgentProtocol
import Dispatch
import Foundation
public import Hummingbird
public import Logging
import NIOCore
public import ServiceLifecycle
import Topology
import Transport

/// The gateway process's one long-lived piece: run it in a `ServiceGroup`; graceful
/// shutdown stops taking requests, lets those in flight finish, then closes every socket.
public struct Gateway: Service, CustomStringConvertible {
    /// How the gateway finds its run and serves it.
    public struct Configuration: Sendable {
        /// The run directory: agents' sockets live under it (see `RunLayout`).
        public var runDirectory: String
        /// The topology file served until an epoch announcement names another.
        public var topologyPath: String
        /// Overrides the topology's first `gateway.listen` address (`http://HOST:PORT`, port 0 picks one).
        public var listen: String?
        /// Largest request body accepted; larger ones get 413 (nil: the topology's
        /// `gateway.max_body_bytes`, else 64 KiB).
        public var maximumBodySize: Int?
        /// How long a replica that failed is tried after its siblings.
        public var suspension: Duration = .milliseconds(500)
        /// No attempt on an agent is started with less time left than this.
        public var minimumAttempt: Duration = .milliseconds(1)
        /// Recommendations walking the graph at once; more wait at the door in arrival order,
        /// their deadline running (0: no limit). Enough to keep every core busy through the
        /// graph's hops and to fill the agents' batches, few enough that those inside are not
        /// late at fusion at saturation (at 48 clients, a limit of 48 left hundreds of answers
        /// degraded, 32 a handful in thousands). nil: the topology's `gateway.max_in_flight`, else 32.
        public var maximumInFlight: Int?
        /// Recommendations waiting at the door at once; one more is answered 503 with
        /// `Retry-After` at once (0: no limit). 256 is ~8 times what is inside: at saturation
        /// on this kind of machine (~700 answers/s) the last of them waits ~0.4 s, inside a
        /// typical deadline; beyond that waiting only makes answers late. nil: the topology's
        /// `gateway.max_queued`, else 256.
        public var maximumQueued: Int?
        /// The longest a recommendation waits at the door, in milliseconds (0: no limit); a
        /// request that would wait longer is answered 503 at once. nil: the topology's
        /// `gateway.max_wait_ms`, else a quarter of its deadline: the graph needs the rest, and
        /// needs more of it under a flood, when shedding takes CPU from the agents (at half the
        /// deadline, admitted answers reached a p99 of 250 ms against a 250 ms deadline).
        public var maximumWait: Int?

        static let defaultMaximumBodySize = 64 * 1024
        static let defaultMaximumInFlight = 32
        static let defaultMaximumQueued = 256

        /// These settings with every limit decided: set here, else `gateway`'s, else the default.
        func resolved(by gateway: GatewaySpec) -> Configuration {
            var resolved = self
            resolved.maximumBodySize = maximumBodySize ?? gateway.maximumBodyBytes ?? Self.defaultMaximumBodySize
            resolved.maximumInFlight = maximumInFlight ?? gateway.maximumInFlight ?? Self.defaultMaximumInFlight
            resolved.maximumQueued = maximumQueued ?? gateway.maximumQueued ?? Self.defaultMaximumQueued
            resolved.maximumWait = maximumWait ?? gateway.maximumWaitMilliseconds ?? gateway.deadlineMilliseconds / 4
            return resolved
        }

        var bodyLimit: Int { maximumBodySize ?? Self.defaultMaximumBodySize }

        /// The keys write endpoints require (nil or empty: none; then the HTTP listener must
        /// be on loopback). `agentic gateway` reads them from `AGENTIC_API_KEYS_FILE` or
        /// `AGENTIC_API_KEYS`.
        public var apiKeys: APIKeys?

        public init(runDirectory: String, topologyPath: String, listen: String? = nil) {
            self.runDirectory = runDirectory
            self.topologyPath = topologyPath
            self.listen = listen
        }
    }

    private let configuration: Configuration
    private let core: GatewayCore
    private let host: String
    private let port: Int
    private let nngAddress: String?
    private let log: Logger
    private let onListening: @Sendable (String) -> Void

    /// Loads and checks the topology and dials every agent instance it names (dialling
    /// does not wait for the agents to be up).
    /// - Parameter onListening: called once with `http://HOST:PORT` when the HTTP server is bound.
    /// - Throws: `GatewayError` for an invalid topology or listen address, or a socket that
    ///   cannot be opened.
    public init(configuration: Configuration, logger: Logger = Logger(label: "agentic.gateway"), onListening: @escaping @Sendable (String) -> Void = { _ in }) throws {
        let spec = try GatewayCore.load(configuration.topologyPath)
        let listen = configuration.listen ?? spec.gateway.listen.first ?? "http://127.0.0.1:0"
        (host, port) = try Self.parse(listen: listen, allowNonLoopback: spec.gateway.allowNonLoopback)
        if !Self.isLoopback(host), configuration.apiKeys?.isEmpty ?? true {
            // Anyone who reaches the port could write feedback, and so change what everyone is shown.
            throw GatewayError(
                .invalidListenAddress,
                "\(host) is not loopback: the gateway needs API keys for its write endpoints there (AGENTIC_API_KEYS_FILE or AGENTIC_API_KEYS)")
        }
        let layout = RunLayout(runDirectory: configuration.runDirectory)
        let configuration = configuration.resolved(by: spec.gateway)
        self.configuration = configuration
        self.log = logger
        self.onListening = onListening
        self.nngAddress = spec.gateway.nng.map { Self.resolve(nng: $0, runDirectory: configuration.runDirectory) }
        core = try GatewayCore(spec: spec, layout: layout, configuration: configuration, log: logger)
    }

    public var description: String { "Gateway(\(configuration.topologyPath))" }

    /// Serves until graceful shutdown (or cancellation): HTTP, the NNG front if configured,
    /// and the epoch watcher; then closes every requester.
    /// - Throws: `GatewayError` when the HTTP port or the NNG front address cannot be bound.
    public func run() async throws {
        try await awaitConnections(within: .seconds(2))
        let router = makeRouter()
        var services: [any Service] = [EpochWatcher(core: core, layout: core.layout, log: log)]
        if let servedLog = core.servedLog { services.append(servedLog) }
        if let nngAddress { services.append(NNGFront(core: core, address: nngAddress, maximumPayload: configuration.bodyLimit, log: log)) }
        let host = self.host
        let onListening = self.onListening
        let log = self.log
        let app = Application(
            router: router,
            configuration: .init(address: .hostname(host, port: port), serverName: nil),
            services: services,
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? 0
                log.info("serving", metadata: ["url": "http://\(host):\(port)"])
                onListening("http://\(host):\(port)")
            },
            logger: logger(for: log)
        )
        do {
            try await app.run()
        } catch {
            await core.shutdown()
            throw error
        }
        await core.shutdown()

    }

    /// The HTTP routes and their error middleware, as ``run()`` serves them. Tests drive them
    /// without a socket (HummingbirdTesting's `.router` setup, see `AgenticTesting`); epochs
    /// then stay as loaded and nothing is logged to a store.
    public func makeRouter() -> Router<BasicRequestContext> {
        let router = Router()
        router.add(middleware: JSONErrorMiddleware<BasicRequestContext>(metrics: core.metrics))
        if let keys = configuration.apiKeys, !keys.isEmpty {
            router.add(middleware: APIKeyMiddleware<BasicRequestContext>(keys: keys, metrics: core.metrics))
        }
        HTTPFront(core: core, maximumBodySize: configuration.bodyLimit).register(on: router)
        return router
    }

    /// Waits (up to `limit`) until every agent instance of the topology is connected and has
    /// subscribed to the feedback published here. Dials are non-blocking: without this the
    /// first requests would wait on the connections and come back degraded, and NNG's pub/sub
    /// drops what a subscriber not yet connected would have got (a click sent just after
    /// start-up was lost for good by an agent still between redials). An instance that is
    /// down holds the gateway back no longer than `limit`. `feedbackSubscribers` false: the
    /// connections to the agents only (fake agents subscribe to nothing).
    public func awaitConnections(within limit: Duration, feedbackSubscribers: Bool = true) async throws {
        let plan = await core.registry.current
        let subscribers = feedbackSubscribers ? plan.spec.agents.reduce(0) { $0 + max(1, $1.replicas) } : 0
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline,
            plan.routes.values.contains(where: { $0.instances.contains { !$0.isConnected } })
                || core.feedbackSubscribers < subscribers
        {
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    /// Closes every requester, for a gateway whose ``run()`` never ran (``run()`` closes its own).
    public func close() async { await core.shutdown() }

    /// Hummingbird logs every request at debug and errors at info; ours stays quieter.
    private func logger(for log: Logger) -> Logger {
        var appLog = log
        appLog.logLevel = max(log.logLevel, .notice)
        return appLog
    }

    static func parse(listen: String, allowNonLoopback: Bool) throws(GatewayError) -> (String, Int) {
        guard let url = URLComponents(string: listen), url.scheme == "http", let host = url.host, !host.isEmpty else {
            throw GatewayError(.invalidListenAddress, "\(listen) is not http://HOST:PORT")
        }
        let port = url.port ?? 80
        guard (0...65535).contains(port) else { throw GatewayError(.invalidListenAddress, "port \(port) is out of range") }
        guard isLoopback(host) || allowNonLoopback else {
            throw GatewayError(.invalidListenAddress, "\(host) is not loopback and the topology does not allow it")
        }
        return (host, port)
    }

    static func isLoopback(_ host: String) -> Bool { ["127.0.0.1", "localhost", "::1", "[::1]"].contains(host) }

    /// A bare ipc name (`ipc://gateway.sock`) lives in the run directory.
    static func resolve(nng address: String, runDirectory: String) -> String {
        let prefix = "ipc://"
        guard address.hasPrefix(prefix) else { return address }
        let path = String(address.dropFirst(prefix.count))
        return path.hasPrefix("/") ? address : prefix + runDirectory + "/" + path
    }
}

/// What both fronts share: the epochs, the executor, the store link (or, without a store, the
/// feedback publisher), the served-list log and the metrics.
final class GatewayCore: Sendable {
    let registry: EpochRegistry
    let executor: GraphExecutor
    let metrics: GatewayMetrics
    let layout: RunLayout
    let log: Logger
    private let feedback: Publisher
    /// The store instances of the topology, when it has any: feedback is stored there.
    let store: StoreLink?
    /// Served lists on their way to the store.
    let servedLog: ServedLog?
    /// Bounds the recommendations inside the graph at once.
    let admission: AdmissionGate

    init(spec: TopologySpec, layout: RunLayout, configuration: Gateway.Configuration, log: Logger) throws {
        let metrics = GatewayMetrics()
        self.metrics = metrics
        self.layout = layout
        self.log = log
        let configuration = configuration.resolved(by: spec.gateway)
        admission = AdmissionGate(
            limit: configuration.maximumInFlight ?? 0, queueLimit: configuration.maximumQueued ?? 0,
            maximumWait: configuration.maximumWait.map { .milliseconds($0) })
        registry = try EpochRegistry(spec: spec, layout: layout, log: log, door: admission)
        executor = GraphExecutor(metrics: metrics, log: log, suspension: configuration.suspension, minimumAttempt: configuration.minimumAttempt)
        do {
            feedback = try Publisher()
            try feedback.listen(layout.gatewayEvents)
        } catch {
            throw GatewayError(.transport, "listening for feedback subscribers at \(layout.gatewayEvents): \(error)")
        }
        store = try StoreLink(spec: spec, layout: layout)
        servedLog = store.map { ServedLog(link: $0, log: log) }
        metrics.epoch(spec.epoch)
    }

    /// Connections to the feedback publisher (every agent instance subscribes).
    var feedbackSubscribers: Int { feedback.socket.pipeCount }

    /// ``load(_:)`` on a Dispatch thread: parsing and validating takes a few milliseconds of
    /// CPU, which on one of the two cooperative threads would hold up the requests in flight
    /// at every epoch switch.
    static func loadOffPool(_ path: String) async throws(GatewayError) -> TopologySpec {
        try await onDispatchThread { Result { () throws(GatewayError) in try load(path) } }.get()
    }

    /// Loads and validates a topology file.
    static func load(_ path: String) throws(GatewayError) -> TopologySpec {
        do {
            return try TopologyValidator.load(contentsOf: path)
        } catch {
            throw GatewayError(.invalidTopology, error.description)
        }
    }

    /// Made once: under a flood it is most of what the gateway answers, and fast.
    static let overloaded = APIError(
        503, "overloaded", "the gateway is at capacity (its door's queue is full or too slow to get in in time); try again shortly",
        retryAfterSeconds: 1
    ).prepared()

    /// Runs one recommendation on the current epoch, once the door lets it in; the deadline
    /// counts from its arrival.
    /// - Throws: `APIError` 503 `overloaded` (with `Retry-After`) when the door's queue is full.
    func recommend(user: String, k: Int) async throws(APIError) -> RecommendResponse {
        let id = RequestIDs.make()
        let began = ContinuousClock.now
        switch await admission.enter() {
        case .admitted:
            break
        case .full, .late:
            metrics.shed()
            throw Self.overloaded

        case .cancelled:
            // Cancelled while waiting at the door (its caller has gone): nothing was asked
            // of the graph, and nothing is.
            return RecommendResponse(items: [], epoch: await registry.current.epoch, degraded: [], requestID: RequestIDs.text(id))
        }
        let admittedAt = ContinuousClock.now
        defer { admission.leave(after: ContinuousClock.now - admittedAt) }
        let (plan, canary, arm) = await registry.lease(user: user)
        let deadline = began + plan.spec.gateway.deadline
        let result = await executor.execute(plan, requestID: id, user: user, k: k, deadline: deadline)
        if let servedLog, !result.items.isEmpty {
            var served = Attribution.servedList(
                plan: plan, requestID: RequestIDs.text(id), user: user, items: result.items, outputs: result.outputs)
            if let canary, let arm {
                served.experiment = canary.experiment + ":" + arm
                served.propensity = canary.propensity(of: arm)
            }
            servedLog.record(served)
        }
        await registry.release(plan)
        if let canary, let arm {
            let failed = result.items.isEmpty || !result.degraded.isEmpty
            metrics.experiment(canary.experiment, arm: arm, outcome: failed ? "error" : "ok", duration: ContinuousClock.now - began)
        }
        if !result.degraded.isEmpty {
            log.notice("degraded", metadata: ["request_id": .string(RequestIDs.text(id)), "agents": .array(result.degraded.map { .string($0) })])
        }
        return RecommendResponse(
            items: result.items, epoch: result.epoch, degraded: result.degraded, requestID: RequestIDs.text(id), arm: arm,
            experiment: canary?.experiment)
    }

    /// Publishes accepted feedback on topic `feedback` (pub/sub may drop it: not stored yet).
    func publish(_ event: FeedbackEvent) throws {
        let envelope = Envelope(type: .feedback, requestID: RequestIDs.make(), traceID: .random(), payload: try WireCodec.encode(event))
        try feedback.publish(Message(topic: Topics.feedback, envelope: envelope))
    }

    /// Applies the topology file of an announced epoch, or logs why not. The coordinator may
    /// announce an epoch more than once (pub/sub may drop): a repeat is skipped quietly.
    func apply(_ announcement: EpochAnnouncement) async {
        // Tell the coordinator which epoch serves now (it drains a swap's old processes only
        // once it hears this); every announcement gets an answer, so a dropped one is repeated.
        defer { Task { await self.announceServedEpoch(path: announcement.topologyPath) } }
        let current = await registry.current.epoch
        guard announcement.epoch > current else {
            log.debug("epoch already applied", metadata: ["epoch": "\(announcement.epoch)"])
            await refreshCanary()
            return
        }
        defer { Task { await self.refreshCanary() } }
        var path = announcement.topologyPath
        if !path.hasPrefix("/") { path = layout.runDirectory + "/" + path }
        do {
            let spec = try await Self.loadOffPool(path)
            guard spec.epoch > current else {
                throw GatewayError(.invalidTopology, "its epoch \(spec.epoch) is not newer than \(current)")
            }
            try await registry.install(spec)
            metrics.epoch(spec.epoch)
            log.notice("switched epoch", metadata: ["epoch": "\(spec.epoch)", "previous": "\(current)"])
        } catch {
            metrics.epochRejected()
            log.error("ignoring an announced topology", metadata: ["epoch": "\(announcement.epoch)", "path": .string(path), "error": "\(error)"])
        }
    }

    /// Starts, keeps or ends the live experiment `RUN/experiment.json` describes (the
    /// coordinator writes it and announces; every announcement re-reads it).
    func refreshCanary() async {
        let path = layout.runDirectory + "/experiment.json"
        let running = await registry.canary
        guard let data = FileManager.default.contents(atPath: path),
            let file = try? JSONDecoder().decode(ExperimentFile.self, from: data)
        else {
            if let running {
                try? await registry.setCanary(nil, experiment: running.experiment, share: 0, baseEpoch: 0)
                log.notice("experiment ended", metadata: ["experiment": .string(running.experiment)])
            }
            return
        }
        if let running, running.experiment == file.experiment, running.baseEpoch == file.epoch { return }
        var topology = file.topology
        if !topology.hasPrefix("/") { topology = layout.runDirectory + "/" + topology }
        do {
            let spec = try await Self.loadOffPool(topology)
            try await registry.setCanary(spec, experiment: file.experiment, share: file.share, baseEpoch: file.epoch)
            log.notice("experiment started", metadata: ["experiment": .string(file.experiment), "share": "\(file.share)"])
        } catch {
            log.error("ignoring an experiment", metadata: ["experiment": .string(file.experiment), "error": "\(error)"])
        }
    }

    /// Publishes the epoch serving now on topic `epoch` at `RunLayout.gatewayEvents`.
    private func announceServedEpoch(path: String) async {
        let epoch = await registry.current.epoch
        guard let payload = try? WireCodec.encode(EpochAnnouncement(epoch: epoch, topologyPath: path)) else { return }
        let envelope = Envelope(type: .epoch, requestID: RequestIDs.make(), payload: payload)
        try? feedback.publish(Message(topic: Topics.epoch, envelope: envelope))
    }

    func shutdown() async {
        await registry.closeAll()
        store?.close()
        // nng_close of the listening pub socket sometimes takes ~1 s in NNG 1.5: off the
        // cooperative pool, like every other close.
        let feedback = self.feedback
        await onDispatchThread { feedback.close() }
    }
}

/// Runs `work` on a Dispatch thread and waits for it without holding one of Swift's few
/// cooperative threads, which serve the requests in flight: NNG's closes can block for
/// seconds, and parsing a topology takes milliseconds.
func onDispatchThread<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        DispatchQueue.global().async { continuation.resume(returning: work()) }
    }
}


