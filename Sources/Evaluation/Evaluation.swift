/// Evaluation: the offline protocol of agentic (P1 on MovieLens-100K, or any split given
/// as files) on a topology AS WRITTEN. It makes the very agents the processes host (through
/// `AgentKinds.factory(spec:data:)`, fitted on train to score valid and on
/// train + valid to score test) and walks the graph with the gateway's own walk
/// (`InProcessGraph`), in one process, without sockets: there is no second pipeline, so a
/// figure reported here is what the file serves.
///
/// Entry points: ``TopologyEvaluator`` (evolution calls it many times; fitted models and
/// agents are reused) and ``OfflineEvaluation/run(topology:configuration:)`` (`agentic eval`).
public import Dataset
import Foundation

/// The single error type of the `Evaluation` module.
public struct EvaluationError: Error, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        enum Kind: String, Sendable {
            case data
            case model
            case output
        }
        let kind: Kind
        /// Loading or splitting the data failed.
        public static let data = Code(kind: .data)
        /// Making an agent of the topology failed (an unknown kind, a fit that failed).
        public static let model = Code(kind: .model)
        /// Writing results failed.
        public static let output = Code(kind: .output)
        public var description: String { kind.rawValue }
    }

    public let code: Code
    public let message: String

    public init(code: Code, message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }
}

/// Metrics of one evaluation stage (valid or test).
public struct StageReport: Sendable, Codable {
    public var overall: MetricSet
    /// Per router segment (cold / light / heavy), as the router decided for each user.
    public var segments: [String: MetricSet]
    /// Each recall agent alone (the head of its own list).
    public var routes: [String: MetricSet]
    /// Inner reward per agent (see ``TopologyEvaluation/innerRewards``).
    public var innerRewards: [String: Double]

    enum CodingKeys: String, CodingKey {
        case overall, segments, routes
        case innerRewards = "inner_rewards"
    }
}

/// Everything one run measured, for the file as written.
public struct EvaluationReport: Sendable, Codable {
    /// The topology file evaluated.
    public var topology: String
    public var split: String
    public var users: Int
    public var items: Int
    /// Nil when only test was asked for.
    public var valid: StageReport?
    /// Nil when only valid was asked for (choosing settings must never see test).
    public var test: StageReport?
    /// Wall seconds per phase and in total.
    public var seconds: [String: Double]
    public var recommendationsFile: String?
}

/// The offline protocol as one call.
public enum OfflineEvaluation {
    public struct Configuration: Sendable {
        /// Folder with `ml-100k.inter` and `ml-100k.item` (`.user` optional).
        public var dataDirectory: String
        public var split: SplitSource = .p1
        /// Where to write the test recommendations (`user item rank`); nil: don't.
        public var recommendationsPath: String?
        /// How many items each user is asked for, as `served.py` asks the gateway.
        public var listLength: Int = 20
        /// The stages to run (both by default; valid alone when choosing settings by hand).
        public var stages: Set<EvaluationStage> = Set(EvaluationStage.allCases)
        /// Progress lines go here (e.g. standard error); nil is silent.
        public var log: (@Sendable (String) -> Void)?

        public init(dataDirectory: String, split: SplitSource = .p1, recommendationsPath: String? = nil,
                    log: (@Sendable (String) -> Void)? = nil) {
            self.dataDirectory = dataDirectory
            self.split = split
            self.recommendationsPath = recommendationsPath
            self.log = log
        }
    }
}
