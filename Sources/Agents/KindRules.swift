public import AgentProtocol
public import AgentRuntime

/// The `router` kind's rule: `cold` up to `cold_max_history` interactions (or when the count
/// is unknown), `light` up to `light_max_history`, `heavy` beyond.
///
/// One rule for the data-free router here and the MovieLens router that counts real
/// histories, so the two can never segment the same count differently.
public struct SegmentRule: Sendable, Equatable {
    /// Users with at most this many interactions are cold.
    public var coldMaximum: Int
    /// Users with at most this many (and more than `coldMaximum`) are light; more is heavy.
    public var lightMaximum: Int

    public init(coldMaximum: Int, lightMaximum: Int) {
        self.coldMaximum = coldMaximum
        self.lightMaximum = lightMaximum
    }

    /// The rule a `router` agent's parameters say.
    /// - Throws: ``AgentRuntimeError/Code/invalidParameter`` when the kind lacks a threshold.
    public init(_ parameters: ParameterSet) throws(AgentRuntimeError) {
        self.init(
            coldMaximum: try parameters.requiredInt("cold_max_history"),
            lightMaximum: try parameters.requiredInt("light_max_history"))
    }

    /// The segment of a user with `count` interactions (nil: unknown).
    public func segment(historyCount count: Int?) -> String {
        guard let count, count > coldMaximum else { return "cold" }
        return count <= lightMaximum ? "light" : "heavy"
    }
}

/// The `fusion` kind's rule: how each route's list is calibrated (`method`) and weighted
/// (`weight.<route>`, the kind's default for a route the topology does not weigh).
///
/// When every input that arrived with items weighs 0, those inputs weigh 1 each instead: a
/// route weighted 0 still answers (popularity for a cold user, say), and an all-zero sum
/// would order its items by id. Shared by both fusion agents, so the rule cannot drift.
public struct FusionRule: Sendable, Equatable {
    /// `zscore`, `rank` or `weighted` (see `FusionCore.normalised`).
    public var method: String
    /// The weights the topology gives, by route.
    public var weights: [String: Double]
    /// The weight of a route the topology does not name.
    public var defaultWeight: Double

    public init(method: String, weights: [String: Double] = [:], defaultWeight: Double = 1) {
        self.method = method
        self.weights = weights
        self.defaultWeight = defaultWeight
    }

    /// The rule a `fusion` agent's parameters say.
    /// - Throws: ``AgentRuntimeError/Code/invalidParameter`` when the kind lacks `method` or a
    ///   default for `weight.*`.
    public init(_ parameters: ParameterSet) throws(AgentRuntimeError) {
        let family = parameters.family("weight")
        guard let defaultWeight = family.defaultValue?.number else {
            throw AgentRuntimeError(.invalidParameter, "fusion needs a default for weight.*")
        }
        var weights: [String: Double] = [:]
        for (route, value) in family.values {
            guard let weight = value.number else {
                throw AgentRuntimeError(.invalidParameter, "weight.\(route): \(value) is not a number")
            }
            weights[route] = weight
        }
        self.init(method: try parameters.requiredString("method"), weights: weights, defaultWeight: defaultWeight)
    }

    /// The weight of the route `route`.
    public func weight(of route: String) -> Double { weights[route] ?? defaultWeight }

    /// Each input's weight, in input order, with the all-zero fallback applied.
    public func weights(for inputs: [AgentOutput]) -> [Double] {
        var result = inputs.map { weight(of: $0.agent) }
        let anyWeighed = inputs.indices.contains { !inputs[$0].items.isEmpty && result[$0] != 0 }
        if !anyWeighed {
            for index in inputs.indices where !inputs[index].items.isEmpty { result[index] = 1 }
        }
        return result
    }
}
