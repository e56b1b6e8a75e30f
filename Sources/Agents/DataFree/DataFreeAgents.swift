public import AgentProtocol
public import AgentRuntime
import Foundation

/// `router`: segments the user by history length and passes the request on.
///
/// With no data set nobody's history is known, so every user is `cold`; a later issue gives
/// it a history source (the knowledge base) through `historyCount`.
public actor RouterAgent: Agent {
    public nonisolated let context: AgentContext
    public var parameterSet: ParameterSet {
        // Values are checked against the kind on every write, so the rule binds.
        didSet { if let bound = try? SegmentRule(parameterSet) { rule = bound } }
    }
    private var rule: SegmentRule
    private let historyCount: @Sendable (String) async -> Int?

    /// - Parameter historyCount: how many interactions a user has, when known.
    /// - Throws: ``AgentRuntimeError/Code/invalidParameter`` when the kind lacks a threshold.
    public init(_ context: AgentContext, historyCount: @escaping @Sendable (String) async -> Int? = { _ in nil })
        throws(AgentRuntimeError)
    {
        self.context = context
        let parameters = ParameterSet(context)
        self.parameterSet = parameters
        self.rule = try SegmentRule(parameters)
        self.historyCount = historyCount
    }

    public func decide(_ request: DecisionRequest) async throws -> DecisionResponse {
        let count = await historyCount(request.user)
        return AgentOutput(
            agent: context.name, version: context.version,
            items: Merge.firstSeen(request.inputs), segment: segment(historyCount: count))
    }

    /// The segment of a user with `historyCount` interactions: see ``SegmentRule``.
    public func segment(historyCount: Int?) -> String {
        rule.segment(historyCount: historyCount)
    }
}

/// `recall.static`: a fixed item list, scored by position (the first item scores 1).
public actor StaticRecallAgent: Agent {
    public nonisolated let context: AgentContext
    public var parameterSet: ParameterSet

    /// The list used when the `items` parameter is empty: items 1…100.
    public static let builtinItems = (1...100).map(String.init)

    public init(_ context: AgentContext) {
        self.context = context
        self.parameterSet = ParameterSet(context)
    }

    public func decide(_ request: DecisionRequest) async throws -> DecisionResponse {
        AgentOutput(agent: context.name, version: context.version, items: try items())
    }

    /// The scored list: `items` (deduplicated, in order), scored `1 - i/n`, the first `k`.
    /// - Throws: ``AgentRuntimeError/Code/invalidParameter`` when the kind lacks `items` or `k`.
    public func items() throws(AgentRuntimeError) -> [ScoredItem] {
        var ids = try parameterSet.requiredString("items").split(separator: ",")
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }
        if ids.isEmpty { ids = Self.builtinItems }
        var seen = Set<String>()
        ids = ids.filter { seen.insert($0).inserted }
        let n = Double(ids.count)
        let k = max(0, try parameterSet.requiredInt("k"))
        return ids.prefix(k).enumerated().map { ScoredItem(item: $1, score: 1 - Double($0) / n) }
    }
}

/// `rank.passthrough`: keeps the order it is given and truncates to `k`.
public actor PassthroughRankAgent: Agent {
    public nonisolated let context: AgentContext
    public var parameterSet: ParameterSet

    public init(_ context: AgentContext) {
        self.context = context
        self.parameterSet = ParameterSet(context)
    }

    public func decide(_ request: DecisionRequest) async throws -> DecisionResponse {
        let k = max(0, try parameterSet.requiredInt("k"))
        return AgentOutput(
            agent: context.name, version: context.version,
            items: Merge.withoutSources(Merge.firstSeen(request.inputs).prefix(k)))
    }
}

/// `rerank.mmr` without item features: removes duplicates and truncates to
/// `min(k, request.k)`. The MovieLens issue adds genre diversity (`lambda`, `genre_cap`).
public actor MMRRerankAgent: Agent {
    public nonisolated let context: AgentContext
    public var parameterSet: ParameterSet

    public init(_ context: AgentContext) {
        self.context = context
        self.parameterSet = ParameterSet(context)
    }

    public func decide(_ request: DecisionRequest) async throws -> DecisionResponse {
        var k = max(0, try parameterSet.requiredInt("k"))
        if request.k > 0 { k = min(k, request.k) }
        return AgentOutput(
            agent: context.name, version: context.version,
            items: Merge.withoutSources(Merge.firstSeen(request.inputs).prefix(k)))
    }
}

enum Merge {
    /// Every input's items in input order, each item once (its first occurrence).
    static func firstSeen(_ inputs: [AgentOutput]) -> [ScoredItem] {
        var seen = Set<String>()
        return inputs.flatMap(\.items).filter { seen.insert($0.item).inserted }
    }

    /// The items without fusion's per-route `sources`: those are ranker features, and a
    /// last stage should answer `{item, score}` only.
    static func withoutSources(_ items: some Sequence<ScoredItem>) -> [ScoredItem] {
        items.map { ScoredItem(item: $0.item, score: $0.score) }
    }
}
