/// Evolution: how an agentic mesh improves itself offline.
///
/// - ``Tuner``: ask/tell black-box search over one agent's decision space (random, then TPE), with
///   median pruning of hopeless trials; judged by the agent's inner reward on valid.
/// - ``Composer``: edits of the graph (routes, fusion, ranker, re-ranker, router thresholds,
///   replicas), each producing a topology that validates; judged by the outer reward.
/// - ``Architect``: asks a chat model (OpenAI-compatible `/v1/chat/completions`) for edits, or, with
///   no endpoint, an ``OfflineProposer``; every answer is data, checked before it is evaluated.
/// - ``Evolver``: alternates individual and compositional rounds, chooses only on valid, and records
///   every proposal, its evaluation and the decision in a ``LineageJournal``.
///
/// Evaluation itself is behind ``TopologyObjective`` so the core is testable without data.
import Foundation
import Topology

/// The single error type of the `Evolution` module.
public struct EvolutionError: Error, Sendable, Equatable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        enum Kind: String, Sendable {
            case invalidSpace, invalidEdit, invalidProposal, evaluation, endpoint, timeout, io
        }
        let kind: Kind
        /// A decision space that cannot be searched (empty range, no values).
        public static let invalidSpace = Code(kind: .invalidSpace)
        /// An edit that does not apply to the topology.
        public static let invalidEdit = Code(kind: .invalidEdit)
        /// A proposal that is not well-formed, names unknown kinds or breaks a constraint.
        public static let invalidProposal = Code(kind: .invalidProposal)
        /// The objective could not evaluate a topology.
        public static let evaluation = Code(kind: .evaluation)
        /// The chat endpoint failed or answered with an HTTP error.
        public static let endpoint = Code(kind: .endpoint)
        /// The chat endpoint did not answer in time.
        public static let timeout = Code(kind: .timeout)
        /// Reading or writing a file failed.
        public static let io = Code(kind: .io)
        public var description: String { kind.rawValue }
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }
}

/// A small seeded generator (SplitMix64) so every search is reproducible from its seed.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed &+ 0x9E37_79B9_7F4A_7C15 }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform double in [0, 1).
    mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }

    /// A standard normal draw (Box–Muller).
    mutating func normal() -> Double {
        let u1 = max(unit(), 1e-12), u2 = unit()
        return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }
}

