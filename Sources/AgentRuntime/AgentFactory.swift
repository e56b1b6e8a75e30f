public import Topology

/// Makes agents by kind: the one place a new kind is plugged in.
///
/// The kinds themselves live in the `Agents` module (`AgentKinds`), which fills a factory;
/// the runtime only makes what it is given. The factory carries the matching catalogue, so
/// the topology a host loads is validated against exactly the kinds it can make.
public struct AgentFactory: Sendable {
    /// Makes one agent from its context.
    public typealias Maker = @Sendable (AgentContext) throws -> any Agent

    /// The kinds this factory can make, for validating topologies.
    public private(set) var catalogue: KindCatalogue
    private var makers: [String: Maker]

    /// An empty factory over `catalogue` (kinds without a maker cannot be made).
    public init(catalogue: KindCatalogue = KindCatalogue([])) {
        self.catalogue = catalogue
        self.makers = [:]
    }

    /// Registers `kind`, replacing a kind of the same name.
    public mutating func register(_ kind: KindDescriptor, make: @escaping Maker) {
        catalogue.register(kind)
        makers[kind.name] = make
    }

    /// Registers a maker for a kind the catalogue already has.
    public mutating func register(kind name: String, make: @escaping Maker) {
        makers[name] = make
    }

    /// The kinds that have a maker.
    public var kinds: [String] { makers.keys.sorted() }

    /// An agent for `context`.
    /// - Throws: ``AgentRuntimeError/Code/unknownKind`` when no maker is registered.
    public func make(_ context: AgentContext) throws -> any Agent {
        guard let maker = makers[context.kind.name] else {
            throw AgentRuntimeError(.unknownKind, "no agent implementation for kind \(context.kind.name)")
        }
        return try maker(context)
    }
}
