import AgentProtocol
import AgentRuntime
import ArgumentParser
import Benchmarks
import Coordinator
import Demo
import Foundation
import Agents
import Store
import Topology

/// `agentic demo`: the whole system at work in one command. Brings a topology up as a live
/// cluster, replays the held-out users of P1 through the gateway with their clicks, runs the
/// scenario (swaps, experiments) meanwhile, and ends with a report and pictures.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Run the cluster, replay held-out users through the gateway, and report online reward per epoch.",
        discussion: """
            Writes report.json, report.html, evolution.svg and topology-<epoch>.svg into the run \
            directory. Ctrl-C stops everything cleanly and still reports what ran.
            """
    )

    @Option(help: "The topology file (default: topology/movielens.yaml).") var topology: String?
    @Option(help: "Seconds of replay.") var duration: Double = 150
    @Option(help: "Recommendation requests per second (open loop).") var rate: Double = 10
    @Option(help: "The run directory (default: a new /tmp/agentic-UID/demo-TIME).") var runDir: String?
    @Option(help: "Folder with ml-100k.inter (split P1 is computed from it).") var data = "data/ml-100k"
    @Option(help: "A test split file used when --data has no MovieLens (default: ../shared/eval/p1_test.tsv).")
    var testSplit: String?
    @Flag(help: "Print the report as JSON on stdout (progress goes to stderr).") var json = false
    @Option(help: "Where the live dashboard listens while the demo runs, HOST:PORT (port 0 picks a free one).")
    var dashboard = "127.0.0.1:0"
    @Flag(help: "Do not serve the live dashboard.") var noDashboard = false

    static let defaultTopology = "topology/movielens.yaml"
    static let fallbackTopology = "topology/minimal.yaml"

    func validate() throws {
        guard duration > 0, duration.isFinite else {
            throw ValidationError("--duration must be a positive number of seconds")
        }
        guard rate > 0, rate <= 10_000, rate.isFinite else { throw ValidationError("--rate must be in (0, 10000]") }
    }

    func run() async throws {
        // The status line owns the terminal: only warnings and errors from us and the children,
        // unless AGENTIC_LOG_LEVEL says otherwise.
        setenv("AGENTIC_LOG_LEVEL", "warning", 0)
        Logs.bootstrap()
        let status = StatusLine(fileDescriptor: json ? STDERR_FILENO : STDOUT_FILENO)
        let users: HeldOutUsers
        do {
            users = try HeldOutUsers.load(
                dataDirectory: absolute(data), testFiles: [testSplit ?? "../shared/eval/p1_test.tsv"].map(absolute))
        } catch {
            printError("agentic demo: \(error)")
            throw ExitCode(1)
        }
        let runDirectory = absolute(runDir ?? Self.newRunDirectory())
        let (coordinator, topologyPath) = try makeCoordinator(runDirectory: runDirectory, status: status)
        if let running = try? await CoordinatorClient(runDirectory: runDirectory).status(timeout: .seconds(1)) {
            printError(
                "a cluster is already running in \(runDirectory) (coordinator pid \(running.coordinatorPID)); stop it with `agentic down`"
            )
            throw ExitCode(1)
        }
        do {
            try RunDirectory.prepare(runDirectory)
        } catch {
            printError("\(error)")
            throw ExitCode(1)
        }

        let page =
            noDashboard
            ? nil
            : DashboardLauncher.start(
                try DashboardLauncher.make(runDirectory: runDirectory, listen: dashboard) { url in
                    status.message("live dashboard: \(url)")
                })
        let stop = DemoStop()
        // Set once the cluster serves: the signal handler then lets the replay drain instead.
        let ready = AtomicFlag()
        let signals = Task {
            for await _ in ProcessEvents.signals([SIGINT, SIGTERM]) {
                stop.stop()
                // Before the cluster serves there is nothing to drain: stop starting it.
                if !ready.isSet { await coordinator.shutdown() }
            }
        }
        defer { signals.cancel() }
        let (readiness, readyContinuation) = AsyncStream.makeStream(of: Coordinator.Readiness.self)
        let cluster = Task {
            defer { readyContinuation.finish() }
            try await coordinator.run { readiness in
                ready.set()
                readyContinuation.yield(readiness)
            }
        }
        status.message("starting \(topologyPath) in \(runDirectory)")
        var served: Coordinator.Readiness?
        for await value in readiness {
            served = value
            break
        }
        guard let served, let gateway = served.gatewayURL, !stop.isStopped else {
            await coordinator.shutdown()
            let failure: String? = await {
                do {
                    try await cluster.value
                    return nil
                } catch { return "\(error)" }
            }()
            if stop.isStopped {
                printError("agentic demo: interrupted before the cluster served; nothing was measured")
                throw ExitCode(130)
            }
            printError("agentic demo: the cluster did not start" + (failure.map { ": \($0)" } ?? " a gateway"))
            throw ExitCode(1)
        }
        status.message(
            "ready \(served.serving) instances serving, \(served.failed) failed; gateway \(gateway); replaying \(users.users.count) held-out users for \(Int(duration)) s at \(rate) req/s"
        )

        var configuration = DemoDriver.Configuration(
            gateway: gateway, topology: topologyPath, runDirectory: runDirectory)
        configuration.duration = .seconds(duration)
        configuration.rate = rate
        let planned = duration
        // The plan picks its swap from the topology the cluster serves.
        let catalogue = Kinds.factory(topologyPath: topologyPath).catalogue
        let plan = DemoPlan.Settings(
            duration: .seconds(duration),
            start: try? TopologyValidator.load(contentsOf: topologyPath, catalogue: catalogue),
            runDirectory: runDirectory, data: absolute(data), rate: rate, catalogue: catalogue)
        let search = BackgroundSearch(launch: Self.offlineSearch)
        var result = await DemoDriver(configuration: configuration).run(
            users: users, scenario: DemoPlan.scenario(plan, coordinator: coordinator, search: search), stop: stop
        ) { progress in
            status.show(progress, planned: planned)
        }
        // The offline search outlives the scenario when the run ends before the evolve step.
        await search.stop()
        status.finish()
        status.message(stop.isStopped ? "interrupted: stopping the cluster" : "replay done: stopping the cluster")
        await coordinator.shutdown()
        do {
            try await cluster.value
        } catch {
            printError("agentic demo: \(error)")
        }
        if let (group, task) = page {
            await group.triggerGracefulShutdown()
            await task.value
        }
        result.report.store = Self.storeRewards(runDirectory: runDirectory)
        let report: DemoReport
        do {
            report = try ReportWriter.write(result, into: runDirectory)
        } catch {
            printError("agentic demo: \(error)")
            throw ExitCode(1)
        }
        if json {
            print(ReportWriter.json(report), terminator: "")
        } else {
            print(report.text)
        }
    }

    /// The coordinator for the topology; the default MovieLens mesh falls back to the data-free
    /// minimal one when this build cannot run its kinds yet.
    private func makeCoordinator(runDirectory: String, status: StatusLine) throws -> (Coordinator, String) {
        var candidates = [absolute(topology ?? Self.defaultTopology)]
        if topology == nil {
            // The MovieLens mesh needs the data set; without it the data-free mesh still shows
            // the cluster, the swaps and the report.
            let environment = ProcessInfo.processInfo.environment
            let data = try? DataConfiguration.resolve(topologyPath: candidates[0], environment: environment)
            if let data, FileManager.default.fileExists(atPath: data.directory + "/ml-100k.inter") {
                candidates.append(absolute(Self.fallbackTopology))
            } else {
                status.message("no MovieLens data (run deploy/fetch-data.sh); running \(Self.fallbackTopology) instead")
                candidates = [absolute(Self.fallbackTopology)]
            }
        }
        for (index, path) in candidates.enumerated() {
            // Built as `agentic up` builds it.
            let configuration = Kinds.coordinatorConfiguration(runDirectory: runDirectory, topologyPath: path)
            do {
                return (try Coordinator(configuration: configuration), path)
            } catch let error as CoordinatorError where error.code == .invalidTopology && index + 1 < candidates.count {
                status.message("\(error.message); running \(Self.fallbackTopology) instead")
            } catch let error as TopologyError {
                (error.issues.isEmpty ? [error.message] : error.issues.map(\.description)).forEach(printError)
                throw ExitCode(1)
            } catch {
                printError("agentic demo: \(error)")
                throw ExitCode(1)
            }
        }
        throw ExitCode(1)
    }

    /// What `agentic report` shows per agent version, read from the run's store once the
    /// cluster is down (nil when the topology has no store or it cannot be read).
    static func storeRewards(runDirectory: String) -> [AgentReward]? {
        let path = runDirectory + "/" + KnowledgeStore.defaultFileName
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        return try? KnowledgeStore(path: path, create: false).report().agents
    }

    /// `agentic` with `arguments` as a child process (the plan's offline search), its stdout
    /// lines when it ends.
    @Sendable static func offlineSearch(_ arguments: [String]) async throws -> [String] {
        let agentic = try Executables.sibling("agentic")
        // The live cluster comes first: on a small machine the search's fitting would slow the
        // replay's answers and the swaps' gates (in a debug build, by seconds). SCHED_IDLE,
        // set before exec, holds for every thread; a nice value would not (Dispatch sets its
        // workers' nice values by QoS).
        let chrt = "/usr/bin/chrt"
        let child =
            FileManager.default.isExecutableFile(atPath: chrt)
            ? try ChildProcess(executable: URL(fileURLWithPath: chrt), arguments: ["--idle", "0", agentic.path] + arguments)
            : try ChildProcess(executable: agentic, arguments: arguments)
        let output: [String] = await withTaskCancellationHandler {
            var lines: [String] = []
            for await line in child.lines { lines.append(line) }
            return lines
        } onCancel: {
            // `agentic evolve` does not read stdin: no polite stop to wait for. Waiting here
            // would block a pool thread and stall the demo's replay for seconds.
            child.terminate()
        }
        child.stop()
        return output
    }

    static func newRunDirectory() -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd-HHmmss"
        return "/tmp/agentic-\(getuid())/demo-\(formatter.string(from: Date()))"
    }
}
