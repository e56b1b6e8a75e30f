import Foundation
public import Topology

/// One line of the lineage: a proposal, its evaluation and the decision taken.
public struct LineageEntry: Sendable, Equatable, Codable {
    /// What produced the proposal.
    public enum Source: String, Sendable, Codable {
        case start, tuner, composer, architect, offline, objective, final
    }

    /// What was decided.
    public enum Decision: String, Sendable, Codable {
        /// The starting point or a measurement for the record.
        case baseline
        /// A tuner trial (judged by the agent's inner reward).
        case trial
        /// A tuner trial stopped early by the pruner.
        case pruned
        /// Adopted: better outer reward on valid, constraints met.
        case accepted
        /// Evaluated but not better, or a constraint broken.
        case rejected
        /// Refused before evaluation (not well-formed, unknown kind, invalid, constraint, timeout).
        case invalid
    }

    /// Sequence number within the run.
    public var sequence: Int
    public var round: Int
    public var source: Source
    public var decision: Decision
    /// The agent tuned, for tuner entries.
    public var agent: String?
    /// The edits proposed.
    public var edits: [Edit]
    /// The parameters tried, for tuner entries.
    public var parameters: [String: ParameterValue]?
    /// The outer reward on valid, when evaluated.
    public var outerReward: Double?
    /// The agent's inner reward on valid, for tuner entries.
    public var innerReward: Double?
    /// The full valid measurement, when evaluated.
    public var metrics: [String: Double]?
    /// Why it was rejected, or the model's rationale.
    public var reason: String?
    /// The topology's epoch and agent versions after the decision (accepted entries).
    public var epoch: Int?
    public var seconds: Double?

    public init(
        sequence: Int = 0, round: Int, source: Source, decision: Decision, agent: String? = nil, edits: [Edit] = [],
        parameters: [String: ParameterValue]? = nil, outerReward: Double? = nil, innerReward: Double? = nil,
        metrics: [String: Double]? = nil, reason: String? = nil, epoch: Int? = nil, seconds: Double? = nil
    ) {
        self.sequence = sequence
        self.round = round
        self.source = source
        self.decision = decision
        self.agent = agent
        self.edits = edits
        self.parameters = parameters
        self.outerReward = outerReward
        self.innerReward = innerReward
        self.metrics = metrics
        self.reason = reason
        self.epoch = epoch
        self.seconds = seconds
    }

    enum CodingKeys: String, CodingKey {
        case sequence, round, source, decision, agent, edits, parameters, metrics, reason, epoch, seconds
        case outerReward = "outer_reward"
        case innerReward = "inner_reward"
    }
}

/// Where the lineage goes. A JSONL file for now; the store takes this role later.
public protocol LineageJournal: Sendable {
    func record(_ entry: LineageEntry) async throws(EvolutionError)
}

/// Appends each entry as one JSON line to a file (created if missing).
public actor JSONLinesJournal: LineageJournal {
    public let path: String
    private var handle: FileHandle?

    public init(path: String) throws(EvolutionError) {
        self.path = path
        if !FileManager.default.fileExists(atPath: path) {
            guard FileManager.default.createFile(atPath: path, contents: nil) else {
                throw EvolutionError(.io, "cannot create \(path)")
            }
        }
        guard let handle = FileHandle(forWritingAtPath: path) else { throw EvolutionError(.io, "cannot open \(path)") }
        handle.seekToEndOfFile()
        self.handle = handle
    }

    public func record(_ entry: LineageEntry) throws(EvolutionError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        do {
            var data = try encoder.encode(entry)
            data.append(UInt8(ascii: "\n"))
            try handle?.write(contentsOf: data)
        } catch {
            throw EvolutionError(.io, "\(path): \(error)")
        }
    }

    /// Reads every entry of a journal file.
    public static func read(path: String) throws(EvolutionError) -> [LineageEntry] {
        guard let data = FileManager.default.contents(atPath: path) else { throw EvolutionError(.io, "cannot read \(path)") }
        let decoder = JSONDecoder()
        var out: [LineageEntry] = []
        for line in data.split(separator: UInt8(ascii: "\n")) where !line.isEmpty {
            do {
                out.append(try decoder.decode(LineageEntry.self, from: Data(line)))
            } catch {
                throw EvolutionError(.io, "\(path): a line is not a lineage entry: \(error)")
            }
        }
        return out
    }
}

/// Keeps entries in memory (tests, and runs that want no file).
public actor MemoryJournal: LineageJournal {
    public private(set) var entries: [LineageEntry] = []
    public init() {}
    public func record(_ entry: LineageEntry) { entries.append(entry) }
}
