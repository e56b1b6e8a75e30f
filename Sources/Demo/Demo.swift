/// # Demo
///
/// What `agentic demo` runs once a cluster serves: the held-out users of split P1 replayed
/// through the HTTP gateway at a steady (open-loop) rate, their held-out interactions sent
/// back as clicks, online hit rate and NDCG@10 per topology epoch, latency percentiles, a
/// timed list of scenario steps (hot swaps and evolution plug in there), a status line, and
/// the pictures and report of the run.
///
/// - ``HeldOutUsers`` loads who to replay and what each one clicks.
/// - ``DemoDriver`` runs the replay and the ``DemoScenario`` against a gateway.
/// - ``DemoPlan`` is the scenario `agentic demo` runs: the offline search in the background,
///   a hot swap, a cluster check and one live experiment of evolution.
/// - ``DemoReport`` is the result; ``ReportWriter`` writes `report.json`, `report.html`,
///   `topology-<epoch>.svg` and `evolution.svg`.
import Foundation

/// The one error type of the demo: a code, a message, where it was made.
public struct DemoError: Error, CustomStringConvertible, Equatable {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }
        public var description: String { name }
        /// No held-out data could be read.
        public static let noData = Code("no_data")
        /// The gateway did not answer as expected.
        public static let gateway = Code("gateway")
        /// A file of the report could not be written.
        public static let write = Code("write")
        /// A scenario step failed.
        public static let step = Code("step")
        /// The offline search (`agentic evolve`) gave no summary.
        public static let search = Code("search")
    }

    public let code: Code
    public let message: String
    public let file: String
    public let line: Int

    public init(_ code: Code, _ message: String, file: String = #fileID, line: Int = #line) {
        self.code = code
        self.message = message
        self.file = file
        self.line = line
    }

    public var description: String { message }

    public static func == (lhs: DemoError, rhs: DemoError) -> Bool { lhs.code == rhs.code }
}
