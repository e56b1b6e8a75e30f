public import AgentProtocol
import Foundation
public import Topology

/// An agent: a Swift actor that decides on a request, may learn from feedback, declares what
/// a tuner may change about it (its decision space) and how it is judged (its inner reward).
///
/// Conformers store their ``parameters`` in a ``ParameterSet`` and read their knobs from it,
/// so every parameter write is validated against the kind's catalogue entry in one place.
public protocol Agent: Actor {
    /// Who the agent is: name, version, kind, wiring and declared decision space.
    nonisolated var context: AgentContext { get }

    /// The agent's current parameters. Written only through ``setParameters(_:)``.
    var parameterSet: ParameterSet { get set }

    /// Answers one decision. Must be idempotent: NNG may deliver the same request twice.
    /// - Throws: any error; the host answers the caller with an `ErrorReply`.
    func decide(_ request: DecisionRequest) async throws -> DecisionResponse

    /// Takes an outcome the agent caused (a click, a rating). The payload is the stored
    /// feedback event as it travels on the `feedback` topic. Data-free agents ignore it.
    func feedback(_ payload: [UInt8]) async

    /// The stored feedback to hand to ``feedback(_:)`` at start, before the agent serves: the
    /// events the store committed after the sequence the agent's starting state already holds.
    /// Nil (the default): none, for agents that learn nothing from feedback.
    ///
    /// An agent that learns from feedback forgets it when its process dies: without a replay a
    /// restarted instance answers from its training data alone, differently from before. Read
    /// on the agent's actor, once, rather than a `nonisolated` constant: the sequence belongs to
    /// the state the agent was built from (its training snapshot), which the agent holds.
    var feedbackReplay: FeedbackReplay? { get }
}

extension Agent {
    /// Answers `request` unless `deadline` (ms since the Unix epoch, 0: none) has passed by the
    /// time the agent gets to it (requests queue on the actor); nil when it had.
    public func decide(_ request: DecisionRequest, unlessPast deadline: UInt64) async throws -> DecisionResponse? {
        if AgentHost.isPast(deadline) { return nil }
        return try await decide(request)
    }

    /// The ranges a tuner may search, from the topology's `decision_space`.
    public nonisolated var decisionSpace: [String: DecisionDimension] { context.decisionSpace }

    /// The inner reward metric, from the topology (`inner_reward` or `rewards.inner`).
    public nonisolated var innerRewardMetric: String? { context.innerRewardMetric }

    /// The current parameter values.
    public var parameters: [String: ParameterValue] { parameterSet.values }

    /// Validates and applies new values given as text; all or nothing.
    /// - Throws: ``AgentRuntimeError/Code/invalidParameter`` naming the first bad parameter.
    public func setParameters(_ changes: [String: String]) throws(AgentRuntimeError) {
        try parameterSet.apply(changes)
    }

    public func feedback(_ payload: [UInt8]) async {}

    public var feedbackReplay: FeedbackReplay? { nil }
}

/// Everything an agent knows about its place in the topology when it is made.
public struct AgentContext: Sendable {
    /// The agent's name in the topology.
    public var name: String
    /// Which replica this instance is (from 0).
    public var replica: Int
    /// The agent's version.
    public var version: String
    /// The kind's catalogue entry.
    public var kind: KindDescriptor
    /// The parameters from the topology, with the kind's defaults filled in.
    public var parameters: [String: ParameterValue]
    /// The declared decision space; the kind's catalogue ranges when the topology declares none.
    public var decisionSpace: [String: DecisionDimension]
    /// The inner reward metric, if the topology names one.
    public var innerRewardMetric: String?
    /// The agents that feed this one.
    public var predecessors: [String]

    public init(
        name: String, replica: Int = 0, version: String = "1", kind: KindDescriptor,
        parameters: [String: ParameterValue] = [:], decisionSpace: [String: DecisionDimension] = [:],
        innerRewardMetric: String? = nil, predecessors: [String] = []
    ) {
        self.name = name
        self.replica = replica
        self.version = version
        self.kind = kind
        self.parameters = kind.resolvedParameters(parameters)
        self.decisionSpace = decisionSpace.isEmpty ? Self.catalogueSpace(kind) : decisionSpace
        self.innerRewardMetric = innerRewardMetric
        self.predecessors = predecessors
    }

    /// The space a tuner may search when the topology declares none: every int, double or
    /// choice parameter of the kind over its catalogue range (wildcards excluded, since their
    /// names depend on the wiring).
    static func catalogueSpace(_ kind: KindDescriptor) -> [String: DecisionDimension] {
        var space: [String: DecisionDimension] = [:]
        for parameter in kind.parameters where !parameter.name.hasSuffix(".*") {
            switch parameter.type {
            case .int, .double:
                guard let min = parameter.min, let max = parameter.max else { continue }
                space[parameter.name] = DecisionDimension(type: parameter.type, min: min, max: max)
            case .choice:
                guard let values = parameter.values else { continue }
                space[parameter.name] = .choice(values)
            default:
                continue
            }
        }
        return space
    }

    /// The context of `agent`'s instance `replica` in `spec`.
    /// - Throws: ``AgentRuntimeError/Code/unknownAgent`` or ``AgentRuntimeError/Code/unknownKind``.
    public init(spec: TopologySpec, agent: String, replica: Int, catalogue: KindCatalogue) throws(AgentRuntimeError) {
        guard let agentSpec = spec.agent(named: agent) else {
            throw AgentRuntimeError(.unknownAgent, "the topology has no agent named \(agent)")
        }
        guard (0..<agentSpec.replicas).contains(replica) else {
            throw AgentRuntimeError(
                .unknownAgent, "\(agent) has \(agentSpec.replicas) replicas; there is no replica \(replica)")
        }
        guard let kind = catalogue[agentSpec.kind] else {
            throw AgentRuntimeError(.unknownKind, "\(agent): kind \(agentSpec.kind) is not in the catalogue")
        }
        self.init(
            name: agent, replica: replica, version: agentSpec.version, kind: kind,
            parameters: agentSpec.parameters, decisionSpace: agentSpec.decisionSpace,
            innerRewardMetric: spec.innerReward(of: agent), predecessors: spec.graph.predecessors(of: agent))
    }
}

/// An agent's parameter values, checked against its kind on every write.
public struct ParameterSet: Sendable, Equatable {
    /// The current values (every non-wildcard parameter of the kind has one).
    public private(set) var values: [String: ParameterValue]
    private let kind: KindDescriptor
    private let predecessors: [String]

    /// The parameters of `context`.
    public init(_ context: AgentContext) {
        values = context.parameters
        kind = context.kind
        predecessors = context.predecessors
    }

    public subscript(name: String) -> ParameterValue? { values[name] }

    /// The parameter as an integer (ints, or doubles with no fraction).
    public func int(_ name: String) -> Int? {
        guard let number = values[name]?.number, number.rounded() == number, abs(number) < 1e15 else { return nil }
        return Int(number)
    }

    /// The parameter as a number.
    public func double(_ name: String) -> Double? { values[name]?.number }

    /// The parameter as text.
    public func string(_ name: String) -> String? { values[name]?.string }

    /// The parameter as a boolean.
    public func bool(_ name: String) -> Bool? { values[name]?.bool }

    /// The parameter as an integer, which the kind must declare (with a default).
    /// - Throws: ``AgentRuntimeError/Code/invalidParameter`` when it has no integer value.
    public func requiredInt(_ name: String) throws(AgentRuntimeError) -> Int {
        guard let value = int(name) else { throw missing(name, "an integer") }
        return value
    }

    /// The parameter as a number, which the kind must declare (with a default).
    /// - Throws: ``AgentRuntimeError/Code/invalidParameter`` when it has no numeric value.
    public func requiredDouble(_ name: String) throws(AgentRuntimeError) -> Double {
        guard let value = double(name) else { throw missing(name, "a number") }
        return value
    }

    /// The parameter as text, which the kind must declare (with a default).
    /// - Throws: ``AgentRuntimeError/Code/invalidParameter`` when it has no text value.
    public func requiredString(_ name: String) throws(AgentRuntimeError) -> String {
        guard let value = string(name) else { throw missing(name, "text") }
        return value
    }

    /// The parameter as a boolean, which the kind must declare (with a default).
    /// - Throws: ``AgentRuntimeError/Code/invalidParameter`` when it has no boolean value.
    public func requiredBool(_ name: String) throws(AgentRuntimeError) -> Bool {
        guard let value = bool(name) else { throw missing(name, "true or false") }
        return value
    }

    /// The values of the wildcard family `prefix.*` by the part after `prefix.`, and the
    /// default the kind declares for the family (wildcards have no resolved values, so a
    /// member the topology does not set takes this).
    public func family(_ prefix: String) -> (values: [String: ParameterValue], defaultValue: ParameterValue?) {
        let head = prefix + "."
        var members: [String: ParameterValue] = [:]
        for (name, value) in values where name.hasPrefix(head) && name.count > head.count {
            members[String(name.dropFirst(head.count))] = value
        }
        return (members, kind.parameters.first { $0.name == head + "*" }?.defaultValue)
    }

    private func missing(_ name: String, _ type: String) -> AgentRuntimeError {
        // Values are resolved from the kind's defaults, so only a catalogue that lacks the
        // parameter (or a kind made from another catalogue) gets here.
        let got = values[name].map { "\($0)" } ?? "nothing"
        return AgentRuntimeError(.invalidParameter, "\(kind.name) needs \(name) as \(type); got \(got)")
    }

    /// Parses every change, then applies them all, or none when one is bad.
    /// - Throws: ``AgentRuntimeError/Code/invalidParameter``.
    public mutating func apply(_ changes: [String: String]) throws(AgentRuntimeError) {
        var parsed: [String: ParameterValue] = [:]
        for (name, text) in changes.sorted(by: { $0.key < $1.key }) {
            parsed[name] = try parse(name, text)
        }
        values.merge(parsed) { _, new in new }
    }

    /// The value of `text` for the parameter `name`, checked against the kind.
    func parse(_ name: String, _ text: String) throws(AgentRuntimeError) -> ParameterValue {
        guard let spec = kind.parameter(named: name) else {
            throw AgentRuntimeError(.invalidParameter, "\(kind.name) has no parameter \(name)")
        }
        if spec.suffixNamesPredecessor, spec.name.hasSuffix(".*") {
            let suffix = String(name.dropFirst(spec.name.count - 1))
            guard predecessors.contains(suffix) else {
                throw AgentRuntimeError(.invalidParameter, "\(name): \(suffix) does not feed this agent")
            }
        }
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let value: ParameterValue
        switch spec.type {
        case .int:
            guard let number = Int(trimmed) else {
                throw AgentRuntimeError(.invalidParameter, "\(name): \(text) is not an integer")
            }
            value = .int(number)
        case .double:
            guard let number = Double(trimmed), number.isFinite else {
                throw AgentRuntimeError(.invalidParameter, "\(name): \(text) is not a finite number")
            }
            value = .double(number)
        case .bool:
            guard let flag = Bool(trimmed) else {
                throw AgentRuntimeError(.invalidParameter, "\(name): \(text) is not true or false")
            }
            value = .bool(flag)
        case .choice:
            guard spec.values?.contains(trimmed) ?? false else {
                throw AgentRuntimeError(
                    .invalidParameter, "\(name): \(text) is not one of \((spec.values ?? []).joined(separator: ", "))")
            }
            value = .string(trimmed)
        default:
            value = .string(text)
        }
        if let number = value.number {
            if let min = spec.min, number < min {
                throw AgentRuntimeError(.invalidParameter, "\(name): \(text) is below \(min)")
            }
            if let max = spec.max, number > max {
                throw AgentRuntimeError(.invalidParameter, "\(name): \(text) is above \(max)")
            }
        }
        return value
    }
}
