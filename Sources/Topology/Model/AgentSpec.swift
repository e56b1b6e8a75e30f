/// One agent of the topology: a kind from the catalogue, configured and replicated.
public struct AgentSpec: Sendable, Equatable, Codable {
    /// Unique within the topology; lower-case letters, digits, `_`, `.` and `-`.
    public var name: String
    /// The kind, a key of the ``KindCatalogue``.
    public var kind: String
    /// The agent's version; a hot swap changes it.
    public var version: String
    /// How many processes serve this agent, 1…16.
    public var replicas: Int
    /// Parameter values; parameters not given take the kind's defaults.
    public var parameters: [String: ParameterValue]
    /// The ranges a tuner may search, each within the catalogue's range.
    public var decisionSpace: [String: DecisionDimension]
    /// How the supervisor restarts this agent.
    public var restart: RestartPolicy
    /// The inner reward metric of this agent.
    public var innerReward: String?

    enum CodingKeys: String, CodingKey {
        case name
        case kind
        case version
        case replicas
        case parameters
        case decisionSpace = "decision_space"
        case restart
        case innerReward = "inner_reward"
    }

    public init(
        name: String,
        kind: String,
        version: String = "1",
        replicas: Int = 1,
        parameters: [String: ParameterValue] = [:],
        decisionSpace: [String: DecisionDimension] = [:],
        restart: RestartPolicy = RestartPolicy(),
        innerReward: String? = nil
    ) {
        self.name = name
        self.kind = kind
        self.version = version
        self.replicas = replicas
        self.parameters = parameters
        self.decisionSpace = decisionSpace
        self.restart = restart
        self.innerReward = innerReward
    }
}

/// One searchable dimension of an agent's decision space.
public struct DecisionDimension: Sendable, Equatable, Codable {
    /// `int`, `double` or `choice`.
    public var type: ParameterType
    /// The lower bound (numbers).
    public var min: Double?
    /// The upper bound (numbers).
    public var max: Double?
    /// The allowed values (`choice`).
    public var values: [String]?
    /// Search on a log scale (numbers, `min > 0`).
    public var log: Bool

    public init(type: ParameterType, min: Double? = nil, max: Double? = nil, values: [String]? = nil, log: Bool = false)
    {
        self.type = type
        self.min = min
        self.max = max
        self.values = values
        self.log = log
    }

    /// An integer range.
    public static func int(_ range: ClosedRange<Int>, log: Bool = false) -> DecisionDimension {
        DecisionDimension(type: .int, min: Double(range.lowerBound), max: Double(range.upperBound), log: log)
    }

    /// A floating-point range.
    public static func double(_ range: ClosedRange<Double>, log: Bool = false) -> DecisionDimension {
        DecisionDimension(type: .double, min: range.lowerBound, max: range.upperBound, log: log)
    }

    /// A choice among strings.
    public static func choice(_ values: [String]) -> DecisionDimension {
        DecisionDimension(type: .choice, values: values)
    }

    /// Whether `value` lies inside this dimension (a listed choice, a number within the bounds);
    /// a value of another kind, or a dimension without bounds, is not judged here.
    public func admits(_ value: ParameterValue) -> Bool {
        if type == .choice {
            guard let values, let text = value.string else { return true }
            return values.contains(text)
        }
        guard let number = value.number, let min, let max, min <= max else { return true }
        return number >= min && number <= max
    }
}

/// An Erlang-style restart policy: at most `intensity` restarts in `period_s` seconds, with exponential
/// backoff between them; past that the agent is marked failed and the coordinator is told.
public struct RestartPolicy: Sendable, Equatable, Codable {
    /// `permanent`, `transient` or `temporary`.
    public var strategy: RestartStrategy
    /// The most restarts allowed within `periodSeconds`.
    public var intensity: Int
    /// The window restarts are counted over, in seconds.
    public var periodSeconds: Int
    /// The first backoff, in milliseconds; it doubles after each restart.
    public var backoffMilliseconds: Int
    /// The largest backoff, in milliseconds.
    public var maxBackoffMilliseconds: Int

    enum CodingKeys: String, CodingKey {
        case strategy = "policy"
        case intensity
        case periodSeconds = "period_s"
        case backoffMilliseconds = "backoff_ms"
        case maxBackoffMilliseconds = "max_backoff_ms"
    }

    public init(
        strategy: RestartStrategy = .permanent,
        intensity: Int = 5,
        periodSeconds: Int = 30,
        backoffMilliseconds: Int = 100,
        maxBackoffMilliseconds: Int = 5000
    ) {
        self.strategy = strategy
        self.intensity = intensity
        self.periodSeconds = periodSeconds
        self.backoffMilliseconds = backoffMilliseconds
        self.maxBackoffMilliseconds = maxBackoffMilliseconds
    }

    /// The restart-counting window.
    public var period: Duration { .seconds(periodSeconds) }
    /// The first backoff.
    public var backoff: Duration { .milliseconds(backoffMilliseconds) }
    /// The largest backoff.
    public var maxBackoff: Duration { .milliseconds(maxBackoffMilliseconds) }
}
