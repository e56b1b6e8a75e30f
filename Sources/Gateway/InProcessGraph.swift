public import AgentProtocol
import Foundation
public import Topology

/// The gateway's graph execution with the agents called directly instead of over sockets:
/// the in-process baseline `agentic bench mesh` measures the mesh against, and what offline
/// evaluation runs a topology with. Same walk as the gateway (``GraphExecutor``): the agents
/// the request's segment routes to, each once, as soon as all that feed it have resolved,
/// the exit's list (else the deepest non-empty one) as the answer.
public struct InProcessGraph: Sendable {
    /// Asks one agent (by name) for a decision; nil when it failed.
    public typealias Ask = @Sendable (_ agent: String, _ request: DecisionRequest) async -> AgentOutput?

    /// Everything one request did: what was served, and what each agent did on the way.
    public struct Trace: Sendable {
        /// The served items: the answer's first `k` with a finite score.
        public var items: [ScoredItem]
        /// Agents that were asked and failed, in topological order.
        public var degraded: [String]
        /// Agents not asked because the request's segment takes no edge into them, in
        /// topological order.
        public var skipped: [String]
        /// The request's segment (the router's answer); nil when no agent answered one.
        public var segment: String?
        /// The output of every agent that answered, by agent name.
        public var outputs: [String: AgentOutput]
    }

    private let spec: TopologySpec
    private let shape: GraphShape
    private let ask: Ask

    /// - Throws: ``GatewayError`` with code `invalidTopology` when the graph cannot run.
    public init(spec: TopologySpec, ask: @escaping Ask) throws(GatewayError) {
        self.spec = spec
        self.shape = try GraphShape(spec)
        self.ask = ask
    }

    /// One recommendation: the items, and the agents that failed (in topological order).
    public func recommend(user: String, k: Int) async -> (items: [ScoredItem], degraded: [String]) {
        let result = await walk(user: user, k: k)
        return (GraphExecutor.served(result.answer?.items ?? [], k: k), result.degraded)
    }

    /// One recommendation with everything offline evaluation needs of it: the served items,
    /// the degraded and skipped agents, the segment and every agent's output.
    public func trace(user: String, k: Int) async -> Trace {
        let result = await walk(user: user, k: k)
        var outputs: [String: AgentOutput] = [:]
        for (index, output) in result.outputs.enumerated() {
            if let output { outputs[shape.order[index]] = output }
        }
        return Trace(
            items: GraphExecutor.served(result.answer?.items ?? [], k: k), degraded: result.degraded,
            skipped: result.skipped, segment: result.segment, outputs: outputs)
    }

    private func walk(user: String, k: Int) async -> WalkResult<AgentOutput> {
        let id = RequestIDs.text(RequestIDs.make())
        let epoch = spec.epoch
        let ask = self.ask
        return await GraphExecutor.walk(shape) { (name, inputs: [AgentOutput]) in
            await ask(name, DecisionRequest(requestID: id, user: user, k: k, epoch: epoch, inputs: inputs))
        }
    }
}

/// A set of router segments as bits, by position in ``KindCatalogue/routerSegments``: which
/// requests take an edge, and which segment a request is.
struct SegmentMask: Sendable, Equatable {
    let bits: UInt8

    /// Every segment: an edge without segments, or a request whose segment is not known.
    static let every = SegmentMask(bits: .max)

    private init(bits: UInt8) { self.bits = bits }

    /// The segments an edge lists; nil is every segment.
    init(edge segments: [String]?) {
        guard let segments else {
            self = .every
            return
        }
        var bits: UInt8 = 0
        for (position, name) in KindCatalogue.routerSegments.enumerated() where segments.contains(name) {
            bits |= 1 << position
        }
        self.bits = bits
    }

    /// The segment a router answered. One no edge can name counts as unknown: every edge is
    /// taken, as when the router failed.
    init(request segment: String) {
        guard let position = KindCatalogue.routerSegments.firstIndex(of: segment) else {
            self = .every
            return
        }
        bits = 1 << position
    }

    func overlaps(_ other: SegmentMask) -> Bool { bits & other.bits != 0 }
}

/// Who feeds whom among the agents reachable from the entry, by position in topological
/// order, and which requests take each edge: built once per epoch, so that a walk needs
/// no dictionary.
struct GraphShape: Sendable {
    /// One edge into an agent.
    struct Incoming: Sendable {
        /// The position of the agent it comes from.
        let from: Int
        /// The segments whose requests take it.
        let segments: SegmentMask
    }

    /// The agents reachable from the entry, each after every agent that feeds it.
    let order: [String]
    /// The edges into each agent (from agents reachable from the entry), in edge order.
    let incoming: [[Incoming]]
    /// The positions each agent feeds.
    let successors: [[Int]]
    /// How many agents feed each one.
    let predecessorCounts: [Int]
    /// Whether each agent is an entry (which always runs).
    let isEntry: [Bool]
    /// The exit's position.
    let exit: Int

    /// - Throws: `GatewayError.invalidTopology` if the graph has a cycle or the exit is not
    ///   reachable from the entry.
    init(_ spec: TopologySpec) throws(GatewayError) {
        let graph = spec.graph
        guard let fullOrder = graph.topologicalOrder() else { throw GatewayError(.invalidTopology, "the graph has a cycle") }
        let reachable = graph.reachableFromEntry
        order = fullOrder.filter { reachable.contains($0) }
        let position = Dictionary(uniqueKeysWithValues: order.enumerated().map { ($1, $0) })
        guard let exit = position[spec.gateway.exit] else {
            throw GatewayError(.invalidTopology, "the exit \(spec.gateway.exit) is not reachable from the entry")
        }
        self.exit = exit
        incoming = order.map { name in
            graph.predecessors(of: name).compactMap { from in
                position[from].map {
                    Incoming(from: $0, segments: SegmentMask(edge: graph.segments(from: from, to: name)))
                }
            }
        }
        successors = order.map { graph.successors(of: $0).compactMap { position[$0] } }
        predecessorCounts = incoming.map(\.count)
        let entry = Set(spec.gateway.entry)
        isEntry = order.map { entry.contains($0) }
    }
}
