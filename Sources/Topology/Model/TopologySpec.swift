/// A whole topology: the agents, the edges between them, the gateway, the transport and the rewards.
///
/// Build one by parsing a file with ``TopologyValidator`` (which checks it) or in code (then check it
/// with ``TopologyValidator/validate(_:catalogue:)`` before writing it with ``TopologyStore``).
public struct TopologySpec: Sendable, Equatable, Codable {
    /// Bumped by every rewrite; never negative.
    public var epoch: Int
    /// A human name for this topology.
    public var name: String
    /// How agents reach each other.
    public var transport: TransportSpec
    /// The agents, in file order.
    public var agents: [AgentSpec]
    /// Who feeds whom.
    public var edges: [Edge]
    /// Where requests enter and leave.
    public var gateway: GatewaySpec
    /// How agents and the whole system are judged.
    public var rewards: RewardsSpec
    /// Where fitted models are kept (`artifacts:`), relative to the working directory unless
    /// absolute; nil: `artifacts` in the run directory. A shared directory lets runs reuse fits.
    public var artifacts: String?

    public init(
        epoch: Int = 0,
        name: String,
        transport: TransportSpec = TransportSpec(),
        agents: [AgentSpec],
        edges: [Edge],
        gateway: GatewaySpec,
        rewards: RewardsSpec = RewardsSpec(),
        artifacts: String? = nil
    ) {
        self.epoch = epoch
        self.name = name
        self.transport = transport
        self.agents = agents
        self.edges = edges
        self.gateway = gateway
        self.rewards = rewards
        self.artifacts = artifacts
    }

    /// The agent named `name`, if any.
    public func agent(named name: String) -> AgentSpec? {
        agents.first { $0.name == name }
    }

    /// The inner reward metric of `agent`: its own `inner_reward`, else the one in `rewards.inner`.
    public func innerReward(of agent: String) -> String? {
        self.agent(named: agent)?.innerReward ?? rewards.inner[agent]
    }

    /// The graph of agents and edges.
    public var graph: TopologyGraph { TopologyGraph(self) }
}

/// One edge of the graph: `from` feeds `to`, for every request or only for those of some
/// router segments.
public struct Edge: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The upstream agent.
    public var from: String
    /// The downstream agent.
    public var to: String
    /// The router segments (see ``KindCatalogue/routerSegments``) whose requests take this edge;
    /// `nil` for every request.
    public var segments: [String]?

    public init(from: String, to: String, segments: [String]? = nil) {
        self.from = from
        self.to = to
        self.segments = segments
    }

    public var description: String {
        guard let segments else { return "\(from) -> \(to)" }
        return "\(from) -> \(to) [\(segments.joined(separator: ", "))]"
    }
}

/// Transport defaults for the agents' sockets.
public struct TransportSpec: Sendable, Equatable, Codable {
    /// `ipc` (default) or `tcp`.
    public var kind: TransportKind
    /// For `ipc`: the run directory; `nil` lets the coordinator make a private one.
    public var runDirectory: String?
    /// For `tcp`: the host agents listen on.
    public var host: String
    /// For `tcp`: the first port; 0 picks free ports.
    public var basePort: Int
    /// Lets `host` be a non-loopback address.
    public var allowNonLoopback: Bool

    enum CodingKeys: String, CodingKey {
        case kind
        case runDirectory = "run_dir"
        case host
        case basePort = "base_port"
        case allowNonLoopback = "allow_non_loopback"
    }

    public init(
        kind: TransportKind = .ipc,
        runDirectory: String? = nil,
        host: String = "127.0.0.1",
        basePort: Int = 0,
        allowNonLoopback: Bool = false
    ) {
        self.kind = kind
        self.runDirectory = runDirectory
        self.host = host
        self.basePort = basePort
        self.allowNonLoopback = allowNonLoopback
    }
}

/// The gateway: its listen addresses, the entry and exit agents, and the per-request deadline.
public struct GatewaySpec: Sendable, Equatable, Codable {
    /// HTTP listen addresses, e.g. `http://127.0.0.1:0` (port 0 picks a free port).
    public var listen: [String]
    /// An optional NNG front address (`ipc://…` or `tcp://…`).
    public var nng: String?
    /// The agents a request enters at (usually the router).
    public var entry: [String]
    /// The agent whose answer is the response.
    public var exit: String
    /// The deadline of one request, in milliseconds.
    public var deadlineMilliseconds: Int
    /// Lets the gateway listen on a non-loopback address.
    public var allowNonLoopback: Bool
    /// Recommendations walking the graph at once (`max_in_flight`; nil: the gateway's default, 32; 0: no limit).
    public var maximumInFlight: Int?
    /// Recommendations waiting at the door; one more is answered 503 (`max_queued`; nil: 256; 0: no limit).
    public var maximumQueued: Int?
    /// The longest a recommendation waits at the door before it is answered 503
    /// (`max_wait_ms`; nil: a quarter of `deadline_ms`; 0: no limit).
    public var maximumWaitMilliseconds: Int?
    /// The largest request body, HTTP and NNG front alike (`max_body_bytes`; nil: 65,536).
    public var maximumBodyBytes: Int?

    enum CodingKeys: String, CodingKey {
        case listen
        case nng
        case entry
        case exit
        case deadlineMilliseconds = "deadline_ms"
        case allowNonLoopback = "allow_non_loopback"
        case maximumInFlight = "max_in_flight"
        case maximumQueued = "max_queued"
        case maximumWaitMilliseconds = "max_wait_ms"
        case maximumBodyBytes = "max_body_bytes"
    }

    public init(
        listen: [String] = ["http://127.0.0.1:0"],
        nng: String? = nil,
        entry: [String],
        exit: String,
        deadlineMilliseconds: Int = 200,
        allowNonLoopback: Bool = false,
        maximumInFlight: Int? = nil,
        maximumQueued: Int? = nil,
        maximumBodyBytes: Int? = nil,
        maximumWaitMilliseconds: Int? = nil
    ) {
        self.listen = listen
        self.nng = nng
        self.entry = entry
        self.exit = exit
        self.deadlineMilliseconds = deadlineMilliseconds
        self.allowNonLoopback = allowNonLoopback
        self.maximumInFlight = maximumInFlight
        self.maximumQueued = maximumQueued
        self.maximumWaitMilliseconds = maximumWaitMilliseconds
        self.maximumBodyBytes = maximumBodyBytes
    }

    /// The per-request deadline.
    public var deadline: Duration { .milliseconds(deadlineMilliseconds) }
}

/// How agents (inner rewards) and the whole system (outer reward) are judged.
public struct RewardsSpec: Sendable, Equatable, Codable {
    /// Inner reward metric per agent name (an agent's own `inner_reward` wins).
    public var inner: [String: String]
    /// The whole system's metric and constraints.
    public var outer: OuterReward

    public init(inner: [String: String] = [:], outer: OuterReward = OuterReward()) {
        self.inner = inner
        self.outer = outer
    }
}

/// The outer reward: one metric, maximised subject to constraints.
public struct OuterReward: Sendable, Equatable, Codable {
    /// The metric to maximise, e.g. `ndcg@10`.
    public var metric: String
    /// The p95 latency a candidate may not exceed, in milliseconds.
    public var latencyBudgetMilliseconds: Int?
    /// The least intra-list diversity a candidate must keep, in 0…1.
    public var diversityFloor: Double?

    enum CodingKeys: String, CodingKey {
        case metric
        case latencyBudgetMilliseconds = "latency_budget_ms"
        case diversityFloor = "diversity_floor"
    }

    public init(metric: String = "ndcg@10", latencyBudgetMilliseconds: Int? = nil, diversityFloor: Double? = nil) {
        self.metric = metric
        self.latencyBudgetMilliseconds = latencyBudgetMilliseconds
        self.diversityFloor = diversityFloor
    }
}
