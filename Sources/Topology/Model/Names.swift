// Open sets of names read from the file. They are structs, not public enums, so that adding a
// transport or a role later breaks no one's exhaustive switch.

/// How agents talk to each other: `ipc` (Unix sockets under the private run directory) or `tcp`.
public struct TransportKind: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }

    /// Unix-domain sockets under the private run directory; the default.
    public static let ipc = TransportKind(rawValue: "ipc")
    /// TCP on `host`, from `base_port` (0 lets the system pick free ports).
    public static let tcp = TransportKind(rawValue: "tcp")

    static let known: [TransportKind] = [.ipc, .tcp]
}

/// The job of an agent kind in the request path.
public struct AgentRole: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }

    /// Segments users and picks a pipeline.
    public static let router = AgentRole(rawValue: "router")
    /// Produces candidates.
    public static let recall = AgentRole(rawValue: "recall")
    /// Merges and calibrates candidate lists.
    public static let fusion = AgentRole(rawValue: "fusion")
    /// Orders candidates with a model.
    public static let rank = AgentRole(rawValue: "rank")
    /// Applies diversity and business constraints to the final list.
    public static let rerank = AgentRole(rawValue: "rerank")
    /// Keeps shared state (the knowledge base).
    public static let store = AgentRole(rawValue: "store")
    /// Refits other agents' models from what users did (outside the request path).
    public static let learner = AgentRole(rawValue: "learner")
    /// Anything else.
    public static let other = AgentRole(rawValue: "other")
}

/// The type of a parameter or of a decision-space dimension.
public struct ParameterType: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }

    /// A whole number.
    public static let int = ParameterType(rawValue: "int")
    /// A floating-point number; an int literal is accepted and widened.
    public static let double = ParameterType(rawValue: "double")
    /// `true` or `false`.
    public static let bool = ParameterType(rawValue: "bool")
    /// Free text.
    public static let string = ParameterType(rawValue: "string")
    /// One of a fixed list of strings.
    public static let choice = ParameterType(rawValue: "choice")

    /// The types a decision space may search over.
    static let searchable: [ParameterType] = [.int, .double, .choice]
}

/// When a supervisor restarts an agent (Erlang's restart types).
public struct RestartStrategy: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }

    /// Always restarted.
    public static let permanent = RestartStrategy(rawValue: "permanent")
    /// Restarted only after an abnormal exit.
    public static let transient = RestartStrategy(rawValue: "transient")
    /// Never restarted.
    public static let temporary = RestartStrategy(rawValue: "temporary")

    static let known: [RestartStrategy] = [.permanent, .transient, .temporary]
}
