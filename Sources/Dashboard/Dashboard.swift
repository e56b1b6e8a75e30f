/// # Dashboard
///
/// A live web page for a running cluster: the topology graph with each agent version's
/// instances, throughput, p99 and restarts; the epoch history with what changed; live and
/// past experiments; online reward over time from the knowledge store. `agentic up` serves it
/// on loopback (`agentic dashboard` for a cluster already running). The page polls
/// `GET /api/state` once a second and redraws in place: it never reloads.
///
/// - ``Dashboard``: the HTTP service (a `Service` for a `ServiceGroup`).
/// - ``ClusterView``: the JSON the page reads.
/// - ``ClusterSource``: where samples come from (the coordinator's control socket).
import Coordinator
import Foundation
import Hummingbird
public import Logging
import NIOCore
public import ServiceLifecycle

public struct Dashboard: Service, CustomStringConvertible {
    public struct Configuration: Sendable {
        /// The run whose coordinator is sampled.
        public var runDirectory: String
        /// `HOST:PORT` (or `http://HOST:PORT`); port 0 picks a free one.
        public var listen: String = "127.0.0.1:0"
        /// How often the cluster is sampled (the page polls at the same rate).
        public var sampleInterval: Duration = .seconds(1)
        /// The reward chart's resolution and span.
        public var rewardBucket: Duration = .seconds(5)
        public var rewardWindow: Duration = .seconds(1800)

        public init(runDirectory: String) { self.runDirectory = runDirectory }
    }

    private let configuration: Configuration
    private let host: String
    private let port: Int
    private let sampler: ClusterSampler
    private let log: Logger
    private let onListening: @Sendable (String) -> Void

    /// - Parameters:
    ///   - source: where samples come from; nil: the run's coordinator.
    ///   - onListening: called with the page's URL once the port is bound.
    /// - Throws: ``DashboardError/Code/invalidListenAddress``.
    public init(
        configuration: Configuration, source: (any ClusterSource)? = nil,
        logger: Logger = Logger(label: "agentic.dashboard"), onListening: @escaping @Sendable (String) -> Void = { _ in }
    ) throws(DashboardError) {
        self.configuration = configuration
        (host, port) = try Self.parse(listen: configuration.listen)
        log = logger
        self.onListening = onListening
        sampler = ClusterSampler(
            source: source
                ?? CoordinatorSource(client: CoordinatorClient(runDirectory: configuration.runDirectory), timeout: .seconds(2)),
            runDirectory: configuration.runDirectory, rewardBucket: configuration.rewardBucket,
            rewardWindow: configuration.rewardWindow, log: logger)
    }

    public var description: String { "Dashboard(\(configuration.runDirectory))" }

    /// Whether `host` is a loopback address (the dashboard shows parameters and history:
    /// elsewhere, say so).
    public var isLoopback: Bool { host == "127.0.0.1" || host == "localhost" || host == "::1" }

    /// Samples the cluster and serves the page until graceful shutdown or cancellation.
    public func run() async throws {
        let sampler = self.sampler
        let interval = configuration.sampleInterval
        let sampling = Task { await sampler.run(every: interval) }
        defer { sampling.cancel() }
        let host = self.host
        let onListening = self.onListening
        let app = Application(
            router: makeRouter(),
            configuration: .init(address: .hostname(host, port: port), serverName: nil),
            onServerRunning: { channel in onListening("http://\(host):\(channel.localAddress?.port ?? 0)/") },
            logger: log
        )
        try await app.run()
    }

    /// One sample now (tests; ``run()`` samples on its own).
    func sampleOnce() async { await sampler.sample(now: Date()) }

    /// The routes: the page, its state, and a health check.
    func makeRouter() -> Router<BasicRequestContext> {
        let router = Router()
        let sampler = self.sampler
        router.get("/") { _, _ in
            await sampler.pageLoaded()
            return Response(
                status: .ok,
                headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"],
                body: .init(byteBuffer: ByteBuffer(string: DashboardPage.html)))
        }
        router.get("/api/state") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "application/json", .cacheControl: "no-store"],
                body: .init(byteBuffer: ByteBuffer(bytes: await sampler.encoded)))
        }
        router.get("/healthz") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: #"{"status":"ok"}"#)))
        }
        return router
    }

    static func parse(listen: String) throws(DashboardError) -> (String, Int) {
        var text = Substring(listen)
        if text.hasPrefix("http://") { text = text.dropFirst("http://".count) }
        while text.hasSuffix("/") { text = text.dropLast() }
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port)
        else {
            throw DashboardError(.invalidListenAddress, "\(listen): expected HOST:PORT, e.g. 127.0.0.1:8080 (port 0 picks one)")
        }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { throw DashboardError(.invalidListenAddress, "\(listen): no host") }
        return (host, port)
    }
}
