public import AgentProtocol
import Foundation
public import Topology

/// The gateway's graph execution with the agents called directly instead of over sockets:
/// the in-process baseline `agentic bench mesh` measures the mesh against. Same walk as the
/// gateway (``GraphExecutor``): every agent once, as soon as all that feed it answered, the
/// exit's list (else the deepest non-empty one) as the answer.
public struct InProcessGraph: Sendable {
    /// Asks one agent (by name) for a decision; nil when it failed.
    public typealias Ask = @Sendable (_ agent: String, _ request: DecisionRequest) async -> AgentOutput?

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
        let id = RequestIDs.text(RequestIDs.make())
        let epoch = spec.epoch
        let ask = self.ask
        let result = await GraphExecutor.walk(shape) { (name, inputs: [AgentOutput]) in
            await ask(name, DecisionRequest(requestID: id, user: user, k: k, epoch: epoch, inputs: inputs))
        }
        return (GraphExecutor.served(result.answer?.items ?? [], k: k), result.degraded)
    }
}

/// Who feeds whom among the agents reachable from the entry, in topological order.
struct GraphShape: Sendable {
    let order: [String]
    let predecessors: [String: [String]]
    let successors: [String: [String]]
    let exit: String

    init(order: [String], predecessors: [String: [String]], successors: [String: [String]], exit: String) {
        self.order = order
        self.predecessors = predecessors
        self.successors = successors
        self.exit = exit
    }

    init(_ spec: TopologySpec) throws(GatewayError) {
        let graph = spec.graph
        guard let fullOrder = graph.topologicalOrder() else { throw GatewayError(.invalidTopology, "the graph has a cycle") }
        let reachable = graph.reachableFromEntry
        guard reachable.contains(spec.gateway.exit) else {
            throw GatewayError(.invalidTopology, "the exit \(spec.gateway.exit) is not reachable from the entry")
        }
        order = fullOrder.filter { reachable.contains($0) }
        var predecessors: [String: [String]] = [:]
        var successors: [String: [String]] = [:]
        for name in order {
            predecessors[name] = graph.predecessors(of: name).filter { reachable.contains($0) }
            successors[name] = graph.successors(of: name).filter { reachable.contains($0) }
        }
        self.predecessors = predecessors
        self.successors = successors
        exit = spec.gateway.exit
    }
}
