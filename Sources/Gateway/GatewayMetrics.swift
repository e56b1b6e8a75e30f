import Metrics
import Prometheus
import Synchronization

/// The gateway's counters and histograms, through swift-metrics into its own Prometheus
/// registry (not the global bootstrap, so the gateway can live in a process that has one).
struct GatewayMetrics: Sendable {
    let registry: PrometheusCollectorRegistry
    private let factory: PrometheusMetricsFactory
    /// The per-agent-call metrics, made once per agent and outcome: eleven agent calls per
    /// recommendation each made a Counter and a Timer (labels, dimensions, a registry lookup
    /// under its lock), ~3% of the gateway's CPU in `perf`.
    private let agentCalls = MetricsCache<AgentCallMetrics>()

    init() {
        registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        // Agent calls take 0.1–10 ms on ipc; deadlines are hundreds of ms.
        factory.defaultDurationHistogramBuckets = [
            .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5),
            .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250),
            .milliseconds(500), .seconds(1), .seconds(2.5),
        ]
        self.factory = factory
    }

    /// One HTTP or NNG request answered, by route and status.
    func request(route: String, status: Int, duration: Duration) {
        Counter(label: "agentic_gateway_requests_total", dimensions: [("route", route), ("status", String(status))], factory: factory).increment()
        if status >= 400 {
            Counter(label: "agentic_gateway_request_errors_total", dimensions: [("route", route), ("status", String(status))], factory: factory).increment()
        }
        Timer(label: "agentic_gateway_request_duration_seconds", dimensions: [("route", route)], factory: factory).recordNanoseconds(duration.nanoseconds)
    }

    /// One attempt on one agent instance; `outcome` is ok, timeout, error or closed.
    func agentCall(agent: String, outcome: String, duration: Duration) {
        let factory = self.factory
        let metrics = agentCalls.get(agent + "\u{0}" + outcome) {
            AgentCallMetrics(
                calls: Counter(label: "agentic_gateway_agent_calls_total", dimensions: [("agent", agent), ("outcome", outcome)], factory: factory),
                errors: outcome == "ok"
                    ? nil
                    : Counter(label: "agentic_gateway_agent_errors_total", dimensions: [("agent", agent), ("outcome", outcome)], factory: factory),
                duration: Timer(label: "agentic_gateway_agent_call_duration_seconds", dimensions: [("agent", agent)], factory: factory))
        }
        metrics.calls.increment()
        metrics.errors?.increment()
        metrics.duration.recordNanoseconds(duration.nanoseconds)
    }

    /// A request turned away for a missing or wrong API key.
    func unauthorized(route: String) {
        Counter(label: "agentic_gateway_unauthorized_total", dimensions: [("route", route)], factory: factory).increment()
    }

    /// A recommendation turned away at the door (its queue was full).
    func shed() {
        Counter(label: "agentic_gateway_shed_total", factory: factory).increment()
    }

    /// A recommendation that skipped `agent`.
    func degraded(agent: String) {
        Counter(label: "agentic_gateway_degraded_total", dimensions: [("agent", agent)], factory: factory).increment()
    }

    /// A retry on another replica of `agent`.
    func retried(agent: String) {
        Counter(label: "agentic_gateway_retries_total", dimensions: [("agent", agent)], factory: factory).increment()
    }

    /// One recommendation served inside live experiment `experiment` by `arm` (`outcome`: ok,
    /// or error when it failed or degraded): the experiment agent's constraint checks read these.
    func experiment(_ experiment: String, arm: String, outcome: String, duration: Duration) {
        let dimensions = [("experiment", experiment), ("arm", arm)]
        Counter(label: "agentic_gateway_experiment_requests_total", dimensions: dimensions + [("outcome", outcome)], factory: factory).increment()
        Timer(label: "agentic_gateway_experiment_duration_seconds", dimensions: dimensions, factory: factory).recordNanoseconds(duration.nanoseconds)
    }

    /// The epoch now serving.
    func epoch(_ epoch: Int) {
        Gauge(label: "agentic_gateway_epoch", factory: factory).record(epoch)
    }

    /// An announced topology that was not applied (invalid, unreadable or not newer).
    func epochRejected() {
        Counter(label: "agentic_gateway_epoch_rejections_total", factory: factory).increment()
    }

    /// Prometheus text exposition of everything above.
    func exposition() -> [UInt8] { registry.emitToBuffer() }
}

/// One agent and outcome's call metrics.
struct AgentCallMetrics: Sendable {
    let calls: Metrics.Counter
    let errors: Metrics.Counter?
    let duration: Metrics.Timer
}

/// Metrics objects by key, made on first use. The registry hands out the same underlying
/// metric for the same label and dimensions, so a cached object counts exactly as a new one would.
final class MetricsCache<Value: Sendable>: Sendable {
    private let values = Mutex<[String: Value]>([:])

    func get(_ key: String, make: () -> Value) -> Value {
        values.withLock { values in
            if let value = values[key] { return value }
            let value = make()
            values[key] = value
            return value
        }
    }
}

extension Duration {
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
