public import Topology

/// Which held-out part a topology is measured on. Evolution chooses on `valid` only; `test` is
/// measured for the report, never to choose.
public enum Stage: String, Sendable, Codable {
    case valid, test
}

/// What one evaluation of a topology measured.
public struct TopologyMeasurement: Sendable, Equatable, Codable {
    /// System metrics by name, e.g. `ndcg@10`, `coverage@10`, `ild@10`, `latency_ms` (when measured).
    public var metrics: [String: Double]
    /// Each agent's inner reward on the same stage, by agent name.
    public var innerRewards: [String: Double]
    /// Wall seconds the evaluation took.
    public var seconds: Double

    public init(metrics: [String: Double], innerRewards: [String: Double] = [:], seconds: Double = 0) {
        self.metrics = metrics
        self.innerRewards = innerRewards
        self.seconds = seconds
    }

    enum CodingKeys: String, CodingKey {
        case metrics
        case innerRewards = "inner_rewards"
        case seconds
    }
}

/// Evaluates a topology exactly as specified. The evolution core sees data only through this, so it
/// can be tested on known functions; the CLI adapts the offline evaluator to it.
public protocol TopologyObjective: Sendable {
    /// Measures `spec` on `stage` (fitted on train for `valid`, on train + valid for `test`).
    /// `fraction` < 1 asks for a cheaper measurement on that share of the users (for pruning);
    /// an objective may ignore it.
    func evaluate(_ spec: TopologySpec, stage: Stage, fraction: Double) async throws(EvolutionError) -> TopologyMeasurement

    /// `spec` with every agent tuned within its decision space on valid by the objective's own
    /// search (e.g. the evaluator's grid), or nil when it has none. A proposal like any other.
    func tuned(_ spec: TopologySpec) async throws(EvolutionError) -> TopologySpec?
}

extension TopologyObjective {
    public func tuned(_ spec: TopologySpec) async throws(EvolutionError) -> TopologySpec? { nil }
}

/// The outer reward of a topology: its metric, if every constraint of `rewards.outer` holds.
public struct OuterJudge: Sendable {
    /// The verdict on one measurement.
    public struct Verdict: Sendable, Equatable, Codable {
        /// The outer metric's value (also when infeasible, for the record).
        public var reward: Double
        /// Every constraint holds.
        public var feasible: Bool
        /// The constraints broken, as sentences.
        public var violations: [String]
    }

    public let outer: OuterReward
    public let latency: LatencyModel
    /// Metric floors measured in the same run (see ``Evolver/Configuration/reference``).
    public var floors: [String: Double]
    /// The metrics a reference topology sets floors for.
    public static let referenceMetrics = ["ild@10", "coverage@10"]

    public init(outer: OuterReward, latency: LatencyModel = LatencyModel(), floors: [String: Double] = [:]) {
        self.outer = outer
        self.latency = latency
        self.floors = floors
    }

    /// The verdict on `measurement` of `spec`. Latency is the measured `latency_ms` when the
    /// objective gives one, else the latency model's estimate of the critical path.
    public func judge(_ measurement: TopologyMeasurement, of spec: TopologySpec) -> Verdict {
        let reward = measurement.metrics[outer.metric] ?? -1
        var violations = staticViolations(spec)
        if let floor = outer.diversityFloor {
            let ild = measurement.metrics["ild@10"] ?? 0
            if ild < floor { violations.append("ild@10 \(format(ild)) is below the diversity floor \(format(floor))") }
        }
        for (metric, floor) in floors.sorted(by: { $0.key < $1.key }) {
            let value = measurement.metrics[metric] ?? 0
            if value < floor { violations.append("\(metric) \(format(value)) is below the reference's \(format(floor))") }
        }
        if let measured = measurement.metrics["latency_ms"], let budget = outer.latencyBudgetMilliseconds,
            measured > Double(budget)
        {
            violations.append("measured latency \(format(measured)) ms exceeds the budget \(budget) ms")
        }
        return Verdict(reward: reward, feasible: violations.isEmpty, violations: violations)
    }

    /// The constraints that can be judged before evaluating: the estimated latency against the budget.
    public func staticViolations(_ spec: TopologySpec) -> [String] {
        guard let budget = outer.latencyBudgetMilliseconds else { return [] }
        let estimate = latency.estimate(spec)
        return estimate > Double(budget)
            ? ["estimated latency \(format(estimate)) ms exceeds the budget \(budget) ms"] : []
    }

    private func format(_ x: Double) -> String { "\((x * 1000).rounded() / 1000)" }
}

/// A static estimate of a request's latency: the most expensive path from the entry to the exit,
/// each agent costing its kind's nominal milliseconds (fan-outs run in parallel, as in the gateway).
/// Offline there is no traffic to time, so this is what the latency budget is checked against until
/// the live experiments measure it.
public struct LatencyModel: Sendable {
    /// Milliseconds per kind; a kind not listed costs `defaultMilliseconds`.
    public var milliseconds: [String: Double]
    public var defaultMilliseconds: Double

    public init(
        milliseconds: [String: Double] = [
            "router": 0.5, "recall.popularity": 1, "recall.static": 0.5, "recall.itemknn": 3, "recall.rp3beta": 3,
            "recall.ease": 4, "recall.als": 2, "recall.content": 3, "fusion": 2, "rank.learned": 6,
            "rank.passthrough": 0.5, "rerank.mmr": 2, "store": 0,
        ],
        defaultMilliseconds: Double = 5
    ) {
        self.milliseconds = milliseconds
        self.defaultMilliseconds = defaultMilliseconds
    }

    /// The estimated latency of `spec` in milliseconds.
    public func estimate(_ spec: TopologySpec) -> Double {
        let graph = spec.graph
        guard let order = graph.topologicalOrder() else { return .infinity }
        let reachable = graph.reachable(from: spec.gateway.entry)
        var finish: [String: Double] = [:]
        for name in order where reachable.contains(name) {
            let cost = spec.agent(named: name).map { milliseconds[$0.kind] ?? defaultMilliseconds } ?? 0
            let start = graph.predecessors(of: name).compactMap { finish[$0] }.max() ?? 0
            finish[name] = start + cost
        }
        return finish[spec.gateway.exit] ?? finish.values.max() ?? 0
    }
}
