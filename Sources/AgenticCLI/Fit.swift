import ArgumentParser
import Artifacts
import Coordinator
import Foundation
import Synchronization
import Agents
import Topology

/// `agentic fit FILE`: the topology's models into artifacts (the fitting job).
struct Fit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Fit every model agent of a topology into artifacts, outside any serving process.",
        discussion: """
            Each agent that holds a model (the recall routes but popularity, the learned ranker) \
            gets an artifact named by a hash of its kind, algorithm version, fitting parameters \
            and training snapshot, in the topology's `artifacts` directory or RUN/artifacts. \
            An artifact already there is loaded and verified (a bad one is refused, named and \
            refitted). `agentic up` and every swap run this before they start such an agent, so \
            agents load their model instead of fitting it. The data is found as agents find it \
            (AGENTIC_DATA, else data/ml-100k beside the topology).
            """
    )

    @Argument(help: "Topology file.") var file: String
    @Option(help: "Only this agent (repeatable); default: every agent that holds a model.") var agent: [String] = []
    @Option(help: "The run directory (its artifacts/ unless the topology names a directory).") var runDir: String?
    @Option(help: "The artifact directory, over the topology's and the run's.") var artifacts: String?
    @Option(help: "Fits run side by side (default: the cores).") var jobs: Int?
    @Option(help: "Scheduling priority 0 (normal) … 19 (lowest): the coordinator runs fits at 10.") var nice: Int32 = 0
    @Flag(help: "Print the report as JSON.") var json = false

    func validate() throws {
        guard (0...19).contains(nice) else { throw ValidationError("--nice is 0 … 19") }
        if let jobs, jobs < 1 { throw ValidationError("--jobs must be 1 or more") }
    }

    func run() async throws {
        Logs.bootstrap(defaultLevel: .warning)
        if nice > 0 {
            // Linux keeps a nice value per thread and new threads inherit it: set before any start.
            setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, nice)
        }
        let catalogue = Kinds.factory(topologyPath: file).catalogue
        let spec: TopologySpec
        do {
            spec = try TopologyValidator.load(contentsOf: file, catalogue: catalogue)
        } catch {
            (error.issues.isEmpty ? [error.message] : error.issues.map(\.description)).forEach { printError($0) }
            throw ExitCode(1)
        }
        let names = agent.isEmpty ? ModelFitting.modelAgents(in: spec) : agent
        for name in names where spec.agent(named: name) == nil {
            printError("fit: \(file) has no agent named \(name)")
            throw ExitCode(1)
        }
        let directory =
            artifacts.map(absolute)
            ?? ModelFitting.artifactDirectory(spec: spec, runDirectory: absolute(runDir ?? RunDirectory.defaultPath))
        let store = ArtifactStore(directory: directory)
        let started = ContinuousClock.now
        let data: MovieLensData
        let configuration: DataConfiguration
        do {
            configuration = try DataConfiguration.resolve(topologyPath: file, environment: ProcessInfo.processInfo.environment)
            data = try MovieLensData.load(configuration, snapshots: store)
        } catch {
            printError("fit: \(error)")
            throw ExitCode(1)
        }
        let fitted = names.filter { spec.agent(named: $0).map { ModelFitting.fittedKinds.contains($0.kind) } ?? false }
        if !json {
            emitLine("fitting \(fitted.count) model\(fitted.count == 1 ? "" : "s") into \(directory) (training \(data.trainingSnapshot))")
        }
        let progress = Progress(total: fitted.count, quiet: json)
        let (reports, failures) = await ModelFitting.fitAll(
            fitted, spec: spec, catalogue: catalogue, data: configuration, artifacts: store,
            width: jobs ?? ProcessInfo.processInfo.activeProcessorCount, done: progress.done)
        let took = ContinuousClock.now - started
        let seconds = Double(took.components.seconds) + Double(took.components.attoseconds) / 1e18
        if json {
            let agents: [[String: Any]] = reports.map { report in
                var entry: [String: Any] = [
                    "agent": report.agent, "kind": report.kind, "model": report.origin.description,
                    "fitted": report.origin.isFit, "seconds": report.seconds,
                ]
                if let file = report.origin.artifact { entry["artifact"] = file }
                return entry
            }
            let object: [String: Any] = [
                "artifacts": directory, "training_snapshot": data.trainingSnapshot, "agents": agents,
                "failed": failures, "fitted": reports.count { $0.origin.isFit }, "seconds": seconds,
            ]
            let bytes = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
            emitLine(String(decoding: bytes, as: UTF8.self))
        } else {
            emitLine(
                "done in \(String(format: "%.1f", seconds)) s: \(reports.count { $0.origin.isFit }) fitted, "
                    + "\(reports.count { !$0.origin.isFit }) already there, \(failures.count) failed")
        }
        failures.forEach { printError("fit: \($0)") }
        if !failures.isEmpty { throw ExitCode(1) }
    }

    /// One line per agent as its fit ends.
    final class Progress: Sendable {
        private let count = Mutex(0)
        let total: Int
        let quiet: Bool

        init(total: Int, quiet: Bool) {
            self.total = total
            self.quiet = quiet
        }

        func done(_ agent: String, _ result: Result<ModelFitting.Report, any Error>) {
            let n = count.withLock {
                $0 += 1
                return $0
            }
            guard !quiet else { return }
            switch result {
            case .success(let report):
                emitLine("[\(n)/\(total)] \(agent) (\(report.kind)): \(report.origin) in \(String(format: "%.2f", report.seconds)) s")
            case .failure(let error):
                emitLine("[\(n)/\(total)] \(agent): failed: \(error)")
            }
        }
    }
}
