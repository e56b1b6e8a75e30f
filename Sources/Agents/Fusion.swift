public import AgentProtocol
public import AgentRuntime

/// How fusion combines routes; shared by the fusion agent and the ranker's training, so the
/// ranker learns on exactly the features it is served.
enum FusionCore {
    /// At most this many fused candidates travel on: the ranker reorders at most 200 (its
    /// largest `k`) and MMR looks at the head only, and each item carries its sources.
    static let outputLimit = 300

    /// The fused list of `inputs` under `rule` (its weights, all-zero fallback included).
    static func fuse(_ inputs: [AgentOutput], rule: FusionRule) -> [ScoredItem] {
        fuse(inputs, method: rule.method, weights: rule.weights(for: inputs))
    }

    /// The fused list, best first (ties by item id), each item carrying its per-route
    /// calibrated scores in `sources`; `weights` are the inputs', in order.
    ///
    /// Per candidate one dictionary lookup (id → slot) and flat arrays: a dictionary of
    /// totals plus a dictionary of per-item source dictionaries for ~1,200 candidates was most
    /// of the fusion agent's CPU, and it is the mesh's busiest hop. Only the kept items get a
    /// `sources` dictionary. Totals add up in the same order as a per-id dictionary would, so
    /// the scores and the order are the same to the bit.
    static func fuse(_ inputs: [AgentOutput], method: String, weights: [Double]) -> [ScoredItem] {
        precondition(weights.count == inputs.count, "one weight per input")
        let capacity = inputs.reduce(0) { $0 + $1.items.count }
        var slots: [String: Int] = [:]
        slots.reserveCapacity(capacity)
        var ids: [String] = []
        ids.reserveCapacity(capacity)
        var totals: [Double] = []
        totals.reserveCapacity(capacity)
        // Each candidate's (input, calibrated score) in arrival order: a later score from the
        // same input replaces the earlier one, as assigning into a dictionary would.
        var routeScores: [(slot: Int, input: Int, score: Double)] = []
        routeScores.reserveCapacity(capacity)
        for (inputIndex, input) in inputs.enumerated() where !input.items.isEmpty {
            let w = weights[inputIndex]
            for (item, score) in zip(input.items, normalised(input.items, method: method)) {
                let slot: Int
                if let known = slots[item.item] {
                    slot = known
                } else {
                    slot = ids.count
                    slots[item.item] = slot
                    ids.append(item.item)
                    totals.append(0)
                }
                totals[slot] += w * score
                routeScores.append((slot, inputIndex, score))
            }
        }
        var order = Array(ids.indices)
        order.sort { totals[$0] != totals[$1] ? totals[$0] > totals[$1] : ids[$0] < ids[$1] }
        let kept = order.prefix(outputLimit)
        // Slot → its position in the output, for the kept ones only.
        var position = [Int](repeating: -1, count: ids.count)
        for (index, slot) in kept.enumerated() { position[slot] = index }
        var keptSources = [[String: Double]](repeating: [:], count: kept.count)
        for entry in routeScores where position[entry.slot] >= 0 {
            keptSources[position[entry.slot]][inputs[entry.input].agent] = entry.score
        }
        return kept.enumerated().map { index, slot in
            ScoredItem(item: ids[slot], score: totals[slot], sources: keptSources[index])
        }
    }

    /// One route's scores made comparable: z-scores within the list, reciprocal rank, or raw.
    static func normalised(_ items: [ScoredItem], method: String) -> [Double] {
        switch method {
        case "rank":
            return items.indices.map { 1 / (60 + Double($0 + 1)) }
        case "zscore":
            guard items.count > 1 else { return items.map { _ in 0 } }
            let mean = items.reduce(0) { $0 + $1.score } / Double(items.count)
            let variance = items.reduce(0) { $0 + ($1.score - mean) * ($1.score - mean) } / Double(items.count)
            let deviation = variance.squareRoot()
            return items.map { deviation > 0 ? ($0.score - mean) / deviation : 0 }
        default:
            return items.map(\.score)
        }
    }
}

/// `fusion`: merges its inputs' candidate lists, weighting each route by `weight.<route>`.
///
/// - `weighted`: the sum of weight × score.
/// - `zscore`: scores standardised within each route first, then weighted and summed, so
///   routes on different scales are comparable.
/// - `rank`: weighted reciprocal-rank fusion, `weight / (60 + rank)`: ignores score scales.
///
/// Weights follow ``FusionRule`` (all-zero inputs weigh equally). Each item carries its
/// per-route calibrated scores on in `sources` (the learned ranker's features); at most
/// 300 items travel on (`FusionCore.outputLimit`). Needs no data: the same agent serves the
/// data-free and the MovieLens topologies.
public actor FusionAgent: Agent {
    public nonisolated let context: AgentContext
    public var parameterSet: ParameterSet {
        didSet { if let bound = try? KindBinding.fusion(parameterSet) { rule = bound } }
    }
    private var rule: FusionRule

    public init(_ context: AgentContext) throws(AgentRuntimeError) {
        self.context = context
        let parameters = ParameterSet(context)
        self.parameterSet = parameters
        self.rule = try KindBinding.fusion(parameters)
    }

    public func decide(_ request: DecisionRequest) async throws -> DecisionResponse {
        AgentOutput(agent: context.name, version: context.version, items: fuse(request.inputs))
    }

    public func fuse(_ inputs: [AgentOutput]) -> [ScoredItem] {
        FusionCore.fuse(inputs, rule: rule)
    }
}

