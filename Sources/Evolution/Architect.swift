import Foundation
public import Topology

/// What a proposer answers: edits to the current topology and why.
public struct Proposal: Sendable, Equatable, Codable {
    public var rationale: String?
    public var edits: [Edit]

    public init(rationale: String? = nil, edits: [Edit]) {
        self.rationale = rationale
        self.edits = edits
    }
}

/// What the architect is shown.
public struct ArchitectContext: Sendable {
    /// The topology to improve.
    public var current: TopologySpec
    /// Its outer reward on valid.
    public var currentReward: Double?
    /// The latest rejections, as reasons.
    public var failures: [String]
    /// The latest decisions (accepted and rejected proposals with their rewards).
    public var history: [LineageEntry]
    /// Past good topologies, best first (what the offline proposer recombines).
    public var elite: [TopologySpec]

    public init(
        current: TopologySpec, currentReward: Double? = nil, failures: [String] = [], history: [LineageEntry] = [],
        elite: [TopologySpec] = []
    ) {
        self.current = current
        self.currentReward = currentReward
        self.failures = failures
        self.history = history
        self.elite = elite
    }
}

/// Something that proposes edits: a chat model or the offline proposer.
public protocol Proposer: Sendable {
    /// A short name for the lineage (`chat`, `offline`).
    var name: String { get }
    /// A proposal for `context`. The answer is data; the ``Architect`` checks it.
    func propose(_ context: ArchitectContext) async throws(EvolutionError) -> Proposal
}

/// Structural proposals, checked before anything is evaluated: parsed, validated against the
/// catalogue and the constraints, and rejected with a reason when invalid. Nothing it returns runs.
public struct Architect: Sendable {
    /// The architect's verdict on one proposal.
    public enum Outcome: Sendable {
        /// A valid topology to evaluate.
        case candidate(TopologySpec, Proposal)
        /// Refused, with the reason and the proposal when there was one.
        case rejected(reason: String, proposal: Proposal?)
    }

    public let proposer: any Proposer
    public let composer: Composer
    /// The most edits one proposal may carry.
    public let maxEdits: Int

    public init(proposer: any Proposer, composer: Composer = Composer(), maxEdits: Int = 4) {
        self.proposer = proposer
        self.composer = composer
        self.maxEdits = maxEdits
    }

    /// Asks the proposer and checks its answer.
    public func propose(_ context: ArchitectContext) async -> Outcome {
        let proposal: Proposal
        do {
            proposal = try await proposer.propose(context)
        } catch {
            return .rejected(reason: "\(error.code): \(error.message)", proposal: nil)
        }
        return check(proposal, against: context.current)
    }

    /// Checks `proposal` against `current`: well-formed, known kinds, applies and validates, meets
    /// the constraints that can be judged before evaluation, and changes something.
    public func check(_ proposal: Proposal, against current: TopologySpec) -> Outcome {
        guard !proposal.edits.isEmpty else { return .rejected(reason: "the proposal has no edits", proposal: proposal) }
        guard proposal.edits.count <= maxEdits else {
            return .rejected(reason: "\(proposal.edits.count) edits, more than \(maxEdits)", proposal: proposal)
        }
        for edit in proposal.edits {
            if let kind = edit.kind, composer.catalogue[kind] == nil {
                return .rejected(reason: "unknown agent kind '\(kind)' (the catalogue has \(composer.catalogue.names.joined(separator: ", ")))", proposal: proposal)
            }
        }
        let spec: TopologySpec
        do {
            spec = try composer.apply(proposal.edits, to: current)
        } catch {
            return .rejected(reason: "invalid edit: \(error.message)", proposal: proposal)
        }
        let violations = OuterJudge(outer: spec.rewards.outer).staticViolations(spec)
        guard violations.isEmpty else {
            return .rejected(reason: "constraint violation: \(violations.joined(separator: "; "))", proposal: proposal)
        }
        guard spec != current else { return .rejected(reason: "the proposal changes nothing", proposal: proposal) }
        return .candidate(spec, proposal)
    }

    /// Decodes a model's answer (a JSON object, possibly inside a code fence) into a proposal.
    /// - Throws: ``EvolutionError/Code/invalidProposal`` saying what is wrong.
    public static func parse(_ text: String) throws(EvolutionError) -> Proposal {
        var body = text.trimmingCharacters(in: .whitespacesAndNewlines)
        // Small models sometimes wrap JSON in prose or a fence; take the outermost object.
        if let open = body.firstIndex(of: "{"), let close = body.lastIndex(of: "}"), open < close {
            body = String(body[open...close])
        }
        guard let data = body.data(using: .utf8), (try? JSONSerialization.jsonObject(with: data)) is [String: Any] else {
            throw EvolutionError(.invalidProposal, "the answer is not a JSON object: \(String(text.prefix(120)))")
        }
        do {
            return try JSONDecoder().decode(Proposal.self, from: data)
        } catch let DecodingError.dataCorrupted(context) {
            throw EvolutionError(.invalidProposal, "malformed proposal: \(context.debugDescription)")
        } catch let DecodingError.keyNotFound(key, context) {
            throw EvolutionError(.invalidProposal, "missing '\(key.stringValue)' at \(path(context.codingPath))")
        } catch let DecodingError.typeMismatch(_, context) {
            throw EvolutionError(.invalidProposal, "wrong type at \(path(context.codingPath)): \(context.debugDescription)")
        } catch let DecodingError.valueNotFound(_, context) {
            throw EvolutionError(.invalidProposal, "null at \(path(context.codingPath))")
        } catch {
            throw EvolutionError(.invalidProposal, "malformed proposal: \(error)")
        }
    }

    private static func path(_ keys: [any CodingKey]) -> String {
        keys.isEmpty ? "the top" : keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
    }

    /// The JSON schema of a proposal, sent with every request so a model answers in shape.
    public static func proposalSchema(catalogue: KindCatalogue, maxEdits: Int) -> [String: Any] {
        [
            "type": "object",
            "properties": [
                "rationale": ["type": "string"],
                "edits": [
                    "type": "array", "minItems": 1, "maxItems": maxEdits,
                    "items": [
                        "type": "object",
                        "properties": [
                            "op": ["type": "string", "enum": Edit.Operation.allCases.map(\.rawValue)],
                            "agent": ["type": "string"],
                            "kind": ["type": "string", "enum": catalogue.names],
                            "parameter": ["type": "string"],
                            "value": ["anyOf": [["type": "number"], ["type": "string"]]],
                            "from": ["type": "string"],
                            "to": ["type": "string"],
                            "segments": ["type": "array", "items": ["type": "string", "enum": KindCatalogue.routerSegments]],
                        ],
                        "required": ["op"],
                    ],
                ],
            ],
            "required": ["rationale", "edits"],
        ]
    }

    /// The system and user messages describing `context`: the topology, the catalogue with its
    /// decision spaces, the constraints, recent failures and the experiment history.
    public static func messages(_ context: ArchitectContext, catalogue: KindCatalogue, maxEdits: Int) -> [[String: String]] {
        let system = """
            You design recommender pipelines. You answer with one JSON object {"rationale": string, "edits": [...]} \
            of at most \(maxEdits) edits to the current topology. Each edit has "op" and, as needed, "agent", "kind", \
            "parameter", "value", "from", "to", "segments". Operations: add_route (kind: a recall kind; value: fusion \
            weight), drop_route (agent), set_fusion_method (value: zscore|rank|weighted), set_weight (agent: a route; \
            value), insert_ranker (kind), remove_ranker, insert_reranker (kind), remove_reranker, set_parameter (agent, \
            parameter, value), route_segment (parameter: cold_max_history|light_max_history; value), route_edge (from, \
            to: an existing edge; segments: the router segments whose requests take it, from \
            \(KindCatalogue.routerSegments.joined(separator: "|")), empty for every request), set_replicas (agent; value). \
            The router puts each user in a segment by history length; an edge listing segments is taken only by those \
            users' requests, and an agent no taken edge reaches does not run. Every segment needs a path to the exit. \
            Use only kinds and parameters from the catalogue, within their ranges.
            """
        var user = "Current topology (outer reward \(context.currentReward.map { String($0) } ?? "unknown") on valid):\n"
        for agent in context.current.agents {
            let parameters = agent.parameters.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", ")
            user += "- \(agent.name) (\(agent.kind)) \(parameters)\n"
        }
        user += "Edges: " + context.current.edges.map(\.description).joined(separator: ", ") + "\n"
        user += "Exit: \(context.current.gateway.exit)\n"
        let outer = context.current.rewards.outer
        user += "Outer reward: maximise \(outer.metric)"
        if let budget = outer.latencyBudgetMilliseconds { user += ", latency budget \(budget) ms" }
        if let floor = outer.diversityFloor { user += ", diversity floor ild@10 >= \(floor)" }
        user += "\nCatalogue:\n"
        for name in catalogue.names {
            guard let kind = catalogue[name] else { continue }
            let parameters = kind.parameters.map { p in
                switch p.type {
                case .choice: "\(p.name) in {\((p.values ?? []).joined(separator: ","))}"
                case .int, .double: "\(p.name) \(p.type) \(p.min.map { String($0) } ?? "")..\(p.max.map { String($0) } ?? "")"
                default: "\(p.name) \(p.type)"
                }
            }.joined(separator: "; ")
            user += "- \(name) [\(kind.role)]: \(kind.description) \(parameters)\n"
        }
        if !context.failures.isEmpty {
            user += "Recent failures:\n" + context.failures.suffix(5).map { "- \($0)\n" }.joined()
        }
        let decided = context.history.filter { $0.decision == .accepted || $0.decision == .rejected }.suffix(8)
        if !decided.isEmpty {
            user += "History:\n"
            for entry in decided {
                user += "- \(entry.decision.rawValue) \(entry.edits.map(\.description).joined(separator: "; ")) reward \(entry.outerReward.map { String($0) } ?? "-")\n"
            }
        }
        user += "Propose edits that raise the outer reward."
        return [["role": "system", "content": system], ["role": "user", "content": user]]
    }
}
