import AgentProtocol
import AgentRuntime
public import Dataset
import Dispatch
import Foundation
import Gateway
import Recommender
import Agents
public import Topology

/// Which side of the protocol an evaluation runs on.
public enum EvaluationStage: String, Sendable, Codable, CaseIterable {
    /// Agents fitted on train, scored against valid.
    case valid
    /// Agents fitted on train + valid (as `agentic up` serves), scored against test.
    case test

    var training: DataConfiguration.Training { self == .valid ? .p1Train : .p1TrainValid }
}

/// What one topology scored on one stage.
public struct TopologyEvaluation: Sendable, Codable {
    public var stage: EvaluationStage
    /// The whole pipeline: the lists the exit served (`ndcg@10`, `recall@20`, `coverage@10`, …).
    public var overall: MetricSet
    /// The pipeline per router segment, as the router decided for each user.
    public var segments: [String: MetricSet]
    /// Each recall agent alone (the head of its own list), by agent name.
    public var routes: [String: MetricSet]
    /// Inner reward per agent name: a recall agent the Recall@k of its k candidates; fusion and
    /// a ranker the NDCG@10 of their order; a re-ranker the ILD@10 it gained per NDCG@10 it
    /// lost against its input; the router the outer NDCG@10.
    public var innerRewards: [String: Double]
    /// The router's reward per segment: the outer NDCG@10 of the segment's users.
    public var segmentRewards: [String: Double]
    /// Agents that failed on some request, with how many requests.
    public var degraded: [String: Int]
    /// Wall seconds this evaluation took.
    public var seconds: Double
    /// The served list per user index, as item indices (not encoded).
    public var recommendations: [Int: [Int]] = [:]

    enum CodingKeys: String, CodingKey {
        case stage, overall, segments, routes, innerRewards = "inner_rewards", segmentRewards = "segment_rewards"
        case degraded, seconds
    }
}

/// Evaluates topologies offline by running them: the agents `agentic up` would start, made in
/// this process by the same factory, asked through the gateway's own graph walk for every
/// held-out user, exactly as `served.py` asks a live gateway (`k` = the list length).
///
/// Agents are kept between evaluations (keyed by everything that shapes them), and recall
/// models are cached by the agents' own fit cache, so an evolution step that changes only
/// fusion weights or MMR settings refits nothing.
///
///     let evaluator = try TopologyEvaluator(configuration: .init(dataDirectory: "data/ml-100k"))
///     let report = try await evaluator.evaluate(spec, on: .test)
public actor TopologyEvaluator {
    public struct Configuration: Sendable {
        /// Folder with `ml-100k.inter` and `ml-100k.item` (`.user` optional).
        public var dataDirectory: String
        public var split: SplitSource = .p1
        /// Items asked for per user (`served.py` asks 20).
        public var listLength: Int = 20
        /// Requests walked at once.
        public var concurrentRequests: Int = 8
        /// Agents kept for reuse across evaluations.
        public var cachedAgents: Int = 96
        /// Progress lines go here; nil is silent.
        public var log: (@Sendable (String) -> Void)?

        public init(dataDirectory: String, split: SplitSource = .p1, log: (@Sendable (String) -> Void)? = nil) {
            self.dataDirectory = dataDirectory
            self.split = split
            self.log = log
        }
    }

    public let configuration: Configuration
    private var agents: [String: (agent: any Agent, used: Int)] = [:]
    private var clock = 0
    /// Agents made so far (cache misses), for tests and callers that budget work.
    public private(set) var agentsMade = 0

    /// Checks that the data can be loaded for both stages.
    /// - Throws: ``EvaluationError/Code/data`` naming what is missing.
    public init(configuration: Configuration) throws(EvaluationError) {
        self.configuration = configuration
        // The agents run side by side on every core; one BLAS thread each, as agents are served.
        limitLinearAlgebraThreads(to: 1)
        for stage in EvaluationStage.allCases { _ = try Self.data(configuration, stage) }
    }

    static func dataConfiguration(_ configuration: Configuration, _ stage: EvaluationStage) -> DataConfiguration {
        DataConfiguration(directory: configuration.dataDirectory, training: stage.training, split: configuration.split)
    }

    static func data(_ configuration: Configuration, _ stage: EvaluationStage) throws(EvaluationError) -> MovieLensData {
        do {
            return try MovieLensData.load(dataConfiguration(configuration, stage))
        } catch {
            throw EvaluationError(code: .data, message: error.description)
        }
    }

    /// The data of `stage`: what the agents are fitted on and what is held out.
    func data(_ stage: EvaluationStage) throws(EvaluationError) -> MovieLensData {
        try Self.data(configuration, stage)
    }

    // MARK: Evaluation as written

    /// Runs `topology` as written for every user with held-out items on `stage`.
    /// - Throws: ``EvaluationError/Code/model`` when an agent cannot be made (unknown kind,
    ///   failed fit) or the graph cannot run.
    public func evaluate(_ topology: TopologySpec, on stage: EvaluationStage) async throws(EvaluationError) -> TopologyEvaluation {
        let started = ContinuousClock.now
        let data = try data(stage)
        let agents = try await self.agents(for: topology, stage: stage)
        let graph: InProcessGraph
        do {
            graph = try InProcessGraph(spec: topology) { name, request in
                guard let agent = agents[name] else { return nil }
                return try? await agent.decide(request)
            }
        } catch {
            throw EvaluationError(code: .model, message: "\(error)")
        }

        let truth = data.heldOut, known = data.training
        let users = (0..<truth.rowCount).filter { truth.rowLength($0) > 0 }
        let k = configuration.listLength
        var served: [Int: [Int]] = [:]
        var degraded: [String: Int] = [:]
        var collected: [Int: InProcessGraph.Trace] = [:]
        await withTaskGroup(of: (Int, InProcessGraph.Trace).self) { group in
            var next = 0
            func launch() {
                let u = users[next]
                next += 1
                let id = String(data.index.userIDs[u])
                group.addTask { (u, await graph.trace(user: id, k: k)) }
            }
            while next < users.count && next < max(1, configuration.concurrentRequests) { launch() }
            for await (u, trace) in group {
                served[u] = Self.indices(trace.items, data)
                for agent in trace.degraded { degraded[agent, default: 0] += 1 }
                collected[u] = trace
                if next < users.count { launch() }
            }
        }

        let genres = Reranker.genreBits(data.index.items.map(\.genres))
        func metrics(_ lists: [Int: [Int]], users members: Set<Int>? = nil) -> MetricSet {
            Metrics.compute(recommendations: lists, truth: truth, known: known, itemGenres: genres,
                            catalogueSize: data.index.itemCount, users: members)
        }
        let overall = metrics(served)
        let traces = collected

        // Segments as the router decided them for each user.
        var members: [String: Set<Int>] = [:]
        for (u, trace) in traces { if let segment = trace.segment { members[segment, default: []].insert(u) } }
        var segments: [String: MetricSet] = [:], segmentRewards: [String: Double] = [:]
        for (segment, group) in members {
            segments[segment] = metrics(served, users: group)
            segmentRewards[segment] = segments[segment]!.ndcg10
        }

        // Each agent's own list per user, from the walk; a recall agent the walk skipped for a
        // user (segment routing) is asked directly, so its figures cover every user.
        func lists(of name: String, askingWhenMissing agent: (any Agent)?) async -> [Int: [Int]] {
            var out: [Int: [Int]] = [:]
            for u in users {
                if let output = traces[u]?.outputs[name] {
                    out[u] = Self.indices(output.items, data)
                } else if let agent {
                    let id = String(data.index.userIDs[u])
                    let request = DecisionRequest(requestID: "eval", user: id, k: k, epoch: topology.epoch, inputs: [])
                    if let output = try? await agent.decide(request) { out[u] = Self.indices(output.items, data) }
                }
            }
            return out
        }
        var routes: [String: MetricSet] = [:], rewards: [String: Double] = [:]
        let graphShape = topology.graph
        for spec in topology.agents where agents[spec.name] != nil {
            let kind = spec.kind
            if kind.hasPrefix("recall.") {
                let own = await lists(of: spec.name, askingWhenMissing: agents[spec.name])
                routes[spec.name] = metrics(own.mapValues { Array($0.prefix(k)) })
                rewards[spec.name] = Self.recall(own, truth: truth, users: users)
            } else if kind == "router" {
                rewards[spec.name] = overall.ndcg10
            } else if kind.hasPrefix("rerank.") {
                let own = await lists(of: spec.name, askingWhenMissing: nil)
                var before: [Int: [Int]] = [:]
                for predecessor in graphShape.predecessors(of: spec.name) {
                    for (u, list) in await lists(of: predecessor, askingWhenMissing: nil) where before[u] == nil {
                        before[u] = Array(list.prefix(k))
                    }
                }
                let after = metrics(own), input = metrics(before)
                rewards[spec.name] = (after.ild10 - input.ild10) / max(input.ndcg10 - after.ndcg10, 0.001)
            } else {
                rewards[spec.name] = Metrics.ndcg10(recommendations: await lists(of: spec.name, askingWhenMissing: nil), truth: truth)
            }
        }
        let elapsed = ContinuousClock.now - started
        return TopologyEvaluation(
            stage: stage, overall: overall, segments: segments, routes: routes, innerRewards: rewards,
            segmentRewards: segmentRewards, degraded: degraded,
            seconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18,
            recommendations: served)
    }

    /// Writes `evaluation`'s lists as `user item rank` (raw ids), the input of `score.py`.
    public func writeRecommendations(_ evaluation: TopologyEvaluation, to path: String) throws(EvaluationError) {
        let index = try data(evaluation.stage).index
        var text = "user\titem\trank\n"
        for u in evaluation.recommendations.keys.sorted() {
            for (r, i) in (evaluation.recommendations[u] ?? []).enumerated() {
                text += "\(index.userIDs[u])\t\(index.itemIDs[i])\t\(r + 1)\n"
            }
        }
        do {
            try text.write(toFile: path, atomically: true, encoding: .utf8)
        } catch {
            throw EvaluationError(code: .output, message: "cannot write \(path): \(error.localizedDescription)")
        }
    }

    // MARK: Agents

    /// The topology's agents on the path of a request (the store and anything unreachable
    /// from the entry do not answer requests), made as `agentic agent` makes them, or reused.
    func agents(for topology: TopologySpec, stage: EvaluationStage) async throws(EvaluationError) -> [String: any Agent] {
        let factory = AgentKinds.factory(spec: topology, data: Self.dataConfiguration(configuration, stage))
        let reachable = topology.graph.reachableFromEntry
        var made: [String: any Agent] = [:]
        var missing: [(name: String, key: String, context: AgentContext)] = []
        for spec in topology.agents where reachable.contains(spec.name) {
            let context: AgentContext
            do {
                context = try AgentContext(spec: topology, agent: spec.name, replica: 0, catalogue: factory.catalogue)
            } catch {
                throw EvaluationError(code: .model, message: error.description)
            }
            let key = Self.key(spec.name, in: topology, stage: stage)
            clock += 1
            if let cached = agents[key] {
                agents[key]!.used = clock
                made[spec.name] = cached.agent
            } else {
                missing.append((spec.name, key, context))
            }
        }
        // Makers fit models: on threads of their own, side by side (a fit has serial stretches
        // between its BLAS calls, so two keep both cores busy), never on Swift's small pool.
        let contexts = missing.map(\.context)
        let results: [Result<any Agent, EvaluationError>] = await Self.offPool {
            let slots = ResultSlots(count: contexts.count)
            DispatchQueue.concurrentPerform(iterations: contexts.count) { i in
                do {
                    slots.set(i, .success(try factory.make(contexts[i])))
                } catch {
                    slots.set(i, .failure(EvaluationError(code: .model, message: "\(contexts[i].name): \(error)")))
                }
            }
            return slots.values
        }
        for (entry, result) in zip(missing, results) {
            let agent = try result.get()
            agentsMade += 1
            made[entry.name] = agent
            agents[entry.key] = (agent, clock)
        }
        while agents.count > max(configuration.cachedAgents, made.count),
            let oldest = agents.min(by: { $0.value.used < $1.value.used })?.key
        {
            agents[oldest] = nil
        }
        return made
    }

    /// Everything that shapes agent `name` when it is made from `topology`: its own spec and
    /// wiring, and for kinds that read the topology beyond themselves (the learned ranker
    /// fits its upstream routes and fusion) every agent upstream of it. Not the version: only the
    /// label on its answers, which no figure reads, and evolution bumps it on every adoption,
    /// which would retrain the ranker for nothing.
    static func key(_ name: String, in topology: TopologySpec, stage: EvaluationStage) -> String {
        let graph = topology.graph
        func describe(_ agent: String) -> String {
            guard let spec = topology.agent(named: agent) else { return agent }
            let parameters = spec.parameters.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
            return "\(agent):\(spec.kind):\(parameters):\(graph.predecessors(of: agent))"
        }
        var key = "\(stage.rawValue)|\(describe(name))"
        if topology.agent(named: name)?.kind == "rank.learned" {
            var upstream = Set<String>(), stack = graph.predecessors(of: name)
            while let next = stack.popLast() {
                if upstream.insert(next).inserted { stack.append(contentsOf: graph.predecessors(of: next)) }
            }
            key += "|" + upstream.sorted().map(describe).joined(separator: "|")
        }
        return key
    }

    // MARK: Helpers

    static func indices(_ items: [ScoredItem], _ data: MovieLensData) -> [Int] {
        items.compactMap { Int($0.item).flatMap(data.index.itemIndex(of:)) }
    }

    /// Mean over `users` of the share of their held-out items in their list.
    static func recall(_ lists: [Int: [Int]], truth: InteractionMatrix, users: [Int]) -> Double {
        guard !users.isEmpty else { return 0 }
        var total = 0.0
        for u in users {
            let hits = (lists[u] ?? []).filter { truth.contains(row: u, column: $0) }.count
            total += Double(hits) / Double(truth.rowLength(u))
        }
        return total / Double(users.count)
    }

    /// Runs `body` on a Dispatch thread and waits for it without holding a pool thread.
    static func offPool<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(returning: body()) }
        }
    }
}

/// Results written by index from concurrent iterations.
private final class ResultSlots: @unchecked Sendable {
    private let lock = NSLock()
    private var slots: [Result<any Agent, EvaluationError>?]

    init(count: Int) { slots = Array(repeating: nil, count: count) }

    func set(_ index: Int, _ value: Result<any Agent, EvaluationError>) { lock.withLock { slots[index] = value } }

    var values: [Result<any Agent, EvaluationError>] { lock.withLock { slots.map { $0! } } }
}

extension OfflineEvaluation {
    /// The offline protocol on a topology file as written (what `agentic eval FILE` runs): valid
    /// with the agents fitted on train, test with them fitted on train + valid, as it serves.
    public static func run(topology: TopologySpec, file: String, configuration: Configuration)
        async throws(EvaluationError) -> EvaluationReport
    {
        let clock = ContinuousClock()
        let start = clock.now
        var seconds: [String: Double] = [:]
        func lap(_ name: String, since: ContinuousClock.Instant) {
            let d = since.duration(to: clock.now)
            seconds[name] = Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
        }
        var settings = TopologyEvaluator.Configuration(
            dataDirectory: configuration.dataDirectory, split: configuration.split, log: configuration.log)
        settings.listLength = configuration.listLength
        let evaluator = try TopologyEvaluator(configuration: settings)
        lap("load", since: start)
        var phase = clock.now
        var valid: TopologyEvaluation?, test: TopologyEvaluation?
        if configuration.stages.contains(.valid) {
            valid = try await evaluator.evaluate(topology, on: .valid)
            lap("valid", since: phase)
        }
        phase = clock.now
        if configuration.stages.contains(.test) {
            test = try await evaluator.evaluate(topology, on: .test)
            lap("test", since: phase)
        }
        // The served lists of the last stage run: test's, as `served.py` pulls them from a cluster.
        if let path = configuration.recommendationsPath, let lists = test ?? valid {
            try await evaluator.writeRecommendations(lists, to: path)
        }
        lap("total", since: start)
        let data = try await evaluator.data(.test)
        func stage(_ e: TopologyEvaluation) -> StageReport {
            StageReport(overall: e.overall, segments: e.segments, routes: e.routes, innerRewards: e.innerRewards)
        }
        return EvaluationReport(
            topology: file, split: configuration.split.name, users: data.index.userCount, items: data.index.itemCount,
            valid: valid.map(stage), test: test.map(stage), seconds: seconds, recommendationsFile: configuration.recommendationsPath)
    }
}
