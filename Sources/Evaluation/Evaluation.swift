/// Evaluation: the offline protocol of agentic (P1 on MovieLens-100K, or any split
/// given as files). Tunes every component on valid, refits on train + valid, reports
/// on test — overall, per router segment and per single route — and writes the
/// recommendations file that `score.py` cross-checks.
///
/// Entry point: ``OfflineEvaluation/run(configuration:)``.
import Dataset
import Foundation
public import Recommender

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
        /// Fitting a model failed.
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
    /// Per router segment (cold / light / heavy) of the full pipeline.
    public var segments: [String: MetricSet]
    /// Each recall route alone (top-20 of its own scores).
    public var routes: [String: MetricSet]
}

/// Everything one run measured, with the settings it chose.
public struct EvaluationReport: Sendable, Codable {
    public var split: String
    public var users: Int
    public var items: Int
    /// Chosen settings per component, by parameter name.
    public var tuned: [String: [String: Double]]
    /// Ranker weights on standardised features, by feature name.
    public var rankerWeights: [String: Double]
    public var valid: StageReport
    public var test: StageReport
    /// Wall seconds per phase and in total.
    public var seconds: [String: Double]
    public var recommendationsFile: String?
}

/// The offline protocol as one call.
public enum OfflineEvaluation {
    public enum SplitSource: Sendable, Equatable {
        /// The P1 hash split computed from `ml-100k.inter`.
        case p1
        /// A split given as three files (`user item rating timestamp`).
        case files(train: String, valid: String, test: String)
    }

    public struct Configuration: Sendable {
        /// Folder with `ml-100k.inter` and `ml-100k.item` (`.user` optional).
        public var dataDirectory: String
        public var split: SplitSource = .p1
        /// Where to write the test recommendations (`user item rank`, top-20); nil: don't.
        public var recommendationsPath: String?
        /// Length of each recommendation list.
        public var listLength: Int = 20
        /// The re-ranker's diversity λ and popularity penalty are chosen as the most
        /// accurate pair on valid whose valid ILD@10 and Coverage@10 reach these floors
        /// (the most accurate overall if none does). A nil coverage floor means "the
        /// valid Coverage@10 of the best single route", so the pipeline never narrows
        /// the catalogue relative to its strongest component; on a topology
        /// (`run(topology:configuration:)`) it is also raised to clear the EASE peer's
        /// (``TopologyEvaluator/Configuration/diversityReference``), and the closest
        /// setting to the floors wins when none clears them. A value here replaces both.
        public var minimumValidILD: Double = 0.81
        public var minimumValidCoverage: Double? = nil
        public var router: Router.Configuration = .init()
        /// The learned ranker is used only if its cross-validated valid NDCG@10 beats
        /// fusion alone by this much (the protocol's paired standard error is ≈ 0.003).
        public var rankerMargin: Double = 0.002
        /// Candidates per user from the head of the fused list (what the ranker reorders).
        public var candidates: Int = 100
        /// Extra candidates from each route's own head.
        public var routeCandidates: Int = 0
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

    public static func run(configuration: Configuration) throws(EvaluationError) -> EvaluationReport {
        try Runner(configuration: configuration).run()
    }
}
