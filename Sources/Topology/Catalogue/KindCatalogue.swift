/// The agent kinds a topology may use, with their parameters: what validation checks a file against,
/// and what the architect shows a model when it asks for a new topology.
public struct KindCatalogue: Sendable, Equatable, Codable {
    /// Kinds by name.
    public private(set) var kinds: [String: KindDescriptor]

    /// A catalogue of `kinds`; a later kind with the same name replaces an earlier one.
    public init(_ kinds: [KindDescriptor]) {
        var byName: [String: KindDescriptor] = [:]
        for kind in kinds { byName[kind.name] = kind }
        self.kinds = byName
    }

    /// The kind named `name`.
    public subscript(name: String) -> KindDescriptor? { kinds[name] }

    /// The kind names, sorted.
    public var names: [String] { kinds.keys.sorted() }

    /// Adds `kind`, replacing any kind of the same name.
    public mutating func register(_ kind: KindDescriptor) {
        kinds[kind.name] = kind
    }
}

/// One agent kind: its role and its parameters.
public struct KindDescriptor: Sendable, Equatable, Codable {
    /// The kind's name, e.g. `recall.ease`.
    public var name: String
    /// Where it sits in the request path.
    public var role: AgentRole
    /// One line for humans and for the architect's prompt.
    public var description: String
    /// Its parameters. A name ending in `.*` matches any name with that prefix (e.g. `weight.*`).
    public var parameters: [ParameterSpec]

    public init(name: String, role: AgentRole, description: String, parameters: [ParameterSpec] = []) {
        self.name = name
        self.role = role
        self.description = description
        self.parameters = parameters
    }

    /// The spec that governs the parameter `name`: an exact match first, then the longest wildcard prefix.
    public func parameter(named name: String) -> ParameterSpec? {
        if let exact = parameters.first(where: { $0.name == name && !$0.isWildcard }) { return exact }
        return
            parameters
            .filter { $0.isWildcard && name.hasPrefix($0.wildcardPrefix) && name.count > $0.wildcardPrefix.count }
            .max { $0.wildcardPrefix.count < $1.wildcardPrefix.count }
    }

    /// `parameters` with the kind's defaults filled in for those not given.
    public func resolvedParameters(_ parameters: [String: ParameterValue]) -> [String: ParameterValue] {
        var resolved = parameters
        for spec in self.parameters where !spec.isWildcard {
            if resolved[spec.name] == nil, let value = spec.defaultValue { resolved[spec.name] = value }
        }
        return resolved
    }
}

/// One parameter of a kind: its type, default and allowed range.
public struct ParameterSpec: Sendable, Equatable, Codable {
    /// The name; `prefix.*` declares a family of parameters (`weight.*` for `weight.<route>`).
    public var name: String
    /// The value type.
    public var type: ParameterType
    /// The value used when the file gives none.
    public var defaultValue: ParameterValue?
    /// The least allowed value (numbers).
    public var min: Double?
    /// The greatest allowed value (numbers).
    public var max: Double?
    /// The allowed values (`choice`).
    public var values: [String]?
    /// For a wildcard: the part after the prefix must name an agent that feeds this one.
    public var suffixNamesPredecessor: Bool
    /// One line for humans.
    public var description: String

    enum CodingKeys: String, CodingKey {
        case name, type, min, max, values, description
        case defaultValue = "default"
        case suffixNamesPredecessor = "suffix_names_predecessor"
    }

    public init(
        name: String,
        type: ParameterType,
        defaultValue: ParameterValue? = nil,
        min: Double? = nil,
        max: Double? = nil,
        values: [String]? = nil,
        suffixNamesPredecessor: Bool = false,
        description: String = ""
    ) {
        self.name = name
        self.type = type
        self.defaultValue = defaultValue
        self.min = min
        self.max = max
        self.values = values
        self.suffixNamesPredecessor = suffixNamesPredecessor
        self.description = description
    }

    /// An integer parameter in `range`.
    public static func int(
        _ name: String, _ range: ClosedRange<Int>, default value: Int, _ description: String = ""
    ) -> ParameterSpec {
        ParameterSpec(
            name: name, type: .int, defaultValue: .int(value), min: Double(range.lowerBound),
            max: Double(range.upperBound), description: description)
    }

    /// A floating-point parameter in `range`.
    public static func double(
        _ name: String, _ range: ClosedRange<Double>, default value: Double, _ description: String = ""
    ) -> ParameterSpec {
        ParameterSpec(
            name: name, type: .double, defaultValue: .double(value), min: range.lowerBound, max: range.upperBound,
            description: description)
    }

    /// A choice among `values`.
    public static func choice(
        _ name: String, _ values: [String], default value: String, _ description: String = ""
    ) -> ParameterSpec {
        ParameterSpec(name: name, type: .choice, defaultValue: .string(value), values: values, description: description)
    }

    /// A free-text parameter.
    public static func string(_ name: String, default value: String, _ description: String = "") -> ParameterSpec {
        ParameterSpec(name: name, type: .string, defaultValue: .string(value), description: description)
    }

    /// A boolean parameter.
    public static func bool(_ name: String, default value: Bool, _ description: String = "") -> ParameterSpec {
        ParameterSpec(name: name, type: .bool, defaultValue: .bool(value), description: description)
    }

    var isWildcard: Bool { name.hasSuffix(".*") }
    var wildcardPrefix: String { String(name.dropLast()) }
}
