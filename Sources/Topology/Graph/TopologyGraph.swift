/// The agents and edges of a topology as a directed graph.
///
/// Names that edges mention but no agent declares are still nodes, so the helpers work on
/// specs that have not validated yet. Every edge counts, whatever its segments; the helpers
/// that take a segment follow only the edges its requests take.
public struct TopologyGraph: Sendable, Equatable {
    /// Every node: declared agents in file order, then names only edges mention.
    public let nodes: [String]
    /// The entry agents of the gateway.
    public let entry: [String]
    private let successorMap: [String: [String]]
    private let predecessorMap: [String: [String]]
    /// The segments of the edges that have some, by `from` then `to`.
    private let segmentMap: [String: [String: [String]]]

    /// The graph of `spec`.
    public init(_ spec: TopologySpec) {
        var nodes: [String] = []
        var seen = Set<String>()
        for agent in spec.agents where seen.insert(agent.name).inserted { nodes.append(agent.name) }
        var successors: [String: [String]] = [:]
        var predecessors: [String: [String]] = [:]
        var segments: [String: [String: [String]]] = [:]
        for edge in spec.edges {
            for name in [edge.from, edge.to] where seen.insert(name).inserted { nodes.append(name) }
            // A repeated edge (which validation rejects) is the first one, segments included.
            if !(successors[edge.from] ?? []).contains(edge.to) {
                successors[edge.from, default: []].append(edge.to)
                predecessors[edge.to, default: []].append(edge.from)
                if let restriction = edge.segments { segments[edge.from, default: [:]][edge.to] = restriction }
            }
        }
        self.nodes = nodes
        self.entry = spec.gateway.entry
        self.successorMap = successors
        self.predecessorMap = predecessors
        self.segmentMap = segments
    }

    /// The agents `name` feeds, in edge order.
    public func successors(of name: String) -> [String] { successorMap[name] ?? [] }

    /// The agents that feed `name`, in edge order.
    public func predecessors(of name: String) -> [String] { predecessorMap[name] ?? [] }

    /// Every agent reachable from `start` (including the starts themselves).
    public func reachable(from start: [String]) -> Set<String> {
        var seen = Set<String>()
        var stack = start
        while let name = stack.popLast() {
            guard seen.insert(name).inserted else { continue }
            stack.append(contentsOf: successors(of: name))
        }
        return seen
    }

    /// Every agent reachable from the gateway's entry.
    public var reachableFromEntry: Set<String> { reachable(from: entry) }

    /// The segments whose requests take the edge `from` → `to`; `nil` when it is taken by every
    /// request (or there is no such edge).
    public func segments(from: String, to: String) -> [String]? { segmentMap[from]?[to] }

    /// Every agent reachable from `start` over the edges a request of `segment` takes: those
    /// without segments and those that list it.
    public func reachable(from start: [String], segment: String) -> Set<String> {
        var seen = Set<String>()
        var stack = start
        while let name = stack.popLast() {
            guard seen.insert(name).inserted else { continue }
            for next in successors(of: name) where segments(from: name, to: next)?.contains(segment) ?? true {
                stack.append(next)
            }
        }
        return seen
    }

    /// A topological order (every agent after those that feed it, ties in file order), or `nil` if
    /// the edges have a cycle.
    public func topologicalOrder() -> [String]? {
        var indegree: [String: Int] = [:]
        for name in nodes { indegree[name] = predecessors(of: name).count }
        var ready = nodes.filter { indegree[$0] == 0 }
        var order: [String] = []
        var position = 0
        while position < ready.count {
            let name = ready[position]
            position += 1
            order.append(name)
            for next in successors(of: name) {
                indegree[next]! -= 1
                if indegree[next] == 0 { ready.append(next) }
            }
        }
        return order.count == nodes.count ? order : nil
    }

    /// One cycle per strongly connected component that has one, each as the path of agents around
    /// it starting from its earliest agent in file order (the first name is not repeated at the end).
    public func cycles() -> [[String]] {
        let index = Dictionary(uniqueKeysWithValues: nodes.enumerated().map { ($1, $0) })
        var result: [[String]] = []
        for component in stronglyConnectedComponents() {
            let members = Set(component)
            let start = component.min { index[$0]! < index[$1]! }!
            if component.count == 1 && !successors(of: start).contains(start) { continue }
            // Walk inside the component breadth-first back to the start: the shortest cycle through it.
            var parent: [String: String] = [:]
            var queue = [start]
            var position = 0
            var closing: String?
            search: while position < queue.count {
                let name = queue[position]
                position += 1
                for next in successors(of: name) where members.contains(next) {
                    if next == start {
                        closing = name
                        break search
                    }
                    if parent[next] == nil {
                        parent[next] = name
                        queue.append(next)
                    }
                }
            }
            var path: [String] = []
            var cursor = closing
            while let name = cursor, name != start {
                path.append(name)
                cursor = parent[name]
            }
            result.append([start] + path.reversed())
        }
        return result.sorted { index[$0[0]]! < index[$1[0]]! }
    }

    /// Tarjan's algorithm, iterative so a long chain cannot overflow the stack.
    private func stronglyConnectedComponents() -> [[String]] {
        var index: [String: Int] = [:]
        var lowlink: [String: Int] = [:]
        var onStack = Set<String>()
        var stack: [String] = []
        var components: [[String]] = []
        var counter = 0
        for root in nodes where index[root] == nil {
            var work: [(name: String, next: Int)] = [(root, 0)]
            index[root] = counter
            lowlink[root] = counter
            counter += 1
            stack.append(root)
            onStack.insert(root)
            while !work.isEmpty {
                let (name, next) = work[work.count - 1]
                let successors = successors(of: name)
                if next < successors.count {
                    work[work.count - 1].next += 1
                    let child = successors[next]
                    if index[child] == nil {
                        index[child] = counter
                        lowlink[child] = counter
                        counter += 1
                        stack.append(child)
                        onStack.insert(child)
                        work.append((child, 0))
                    } else if onStack.contains(child) {
                        lowlink[name] = min(lowlink[name]!, index[child]!)
                    }
                    continue
                }
                work.removeLast()
                if let parent = work.last?.name { lowlink[parent] = min(lowlink[parent]!, lowlink[name]!) }
                if lowlink[name] == index[name] {
                    var component: [String] = []
                    while let member = stack.popLast() {
                        onStack.remove(member)
                        component.append(member)
                        if member == name { break }
                    }
                    components.append(component)
                }
            }
        }
        return components
    }
}
