import AgentProtocol
import AgentRuntime
import ArgumentParser
import Coordinator
import Experiments
import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import Topology

/// `agentic up FILE`: validate, start every instance and the gateway, supervise in the foreground.
struct Up: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Start a cluster from a topology file and supervise it in the foreground.",
        discussion: """
            Prints `ready N instances serving, F failed`, then `gateway URL` when a gateway \
            started, then `up RUN_DIR`; `dashboard URL` (the live page) comes once it listens, \
            usually first. Ctrl-C (or `agentic down`) stops everything gracefully.
            """
    )

    @Argument(help: "The topology file (YAML).") var file: String
    @Option(help: "The run directory (default: /tmp/agentic-UID/default).") var runDir: String?
    @Flag(help: "Do not start the gateway, even when this build has one.") var noGateway = false
    @Flag(help: "Keep evolving live: offline candidates run as experiments on live traffic (see `agentic experiment`).")
    var evolve = false
    @Option(help: "Stop the cluster when this process is no longer our parent.") var parentPid: Int32?
    @Flag(help: "With --parent-pid: also stop it when stdin reaches end of file (the parent died).") var watchStdin = false
    @Option(help: "Where the live dashboard listens, HOST:PORT (port 0 picks a free one); printed as `dashboard URL`.")
    var dashboard = "127.0.0.1:0"
    @Flag(help: "Do not serve the live dashboard.") var noDashboard = false

    func run() async throws {
        Logs.bootstrap()
        let runDirectory = absolute(runDir ?? RunDirectory.defaultPath)
        let topology = absolute(file)
        var configuration = Kinds.coordinatorConfiguration(runDirectory: runDirectory, topologyPath: topology)
        configuration.startsGateway = !noGateway
        let coordinator: Coordinator
        do {
            coordinator = try Coordinator(configuration: configuration)
        } catch let error as TopologyError {
            (error.issues.isEmpty ? [error.message] : error.issues.map(\.description)).forEach(printError)
            throw ExitCode(1)
        } catch {
            printError("\(error)")
            throw ExitCode(1)
        }
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
        let signals = Task {
            for await _ in ProcessEvents.signals([SIGINT, SIGTERM]) { await coordinator.shutdown() }
        }
        defer { signals.cancel() }
        // Started before the cluster: the page shows it coming up.
        let page = noDashboard ? nil : DashboardLauncher.start(try DashboardLauncher.make(runDirectory: runDirectory, listen: dashboard))
        // A benchmark that starts `up` and is killed itself must not leave a cluster running.
        if let parentPid {
            Task {
                await ProcessEvents.parentDeath(parent: parentPid, watchStandardInput: watchStdin)
                printError("parent \(parentPid) is gone: stopping the cluster")
                await coordinator.shutdown()
            }
        }
        let evolution = Mutex<Task<Void, Never>?>(nil)
        do {
            try await coordinator.run { readiness in
                emitLine("ready \(readiness.serving) instances serving, \(readiness.failed) failed")
                if let url = readiness.gatewayURL { emitLine("gateway \(url)") }
                emitLine("up \(runDirectory)")
                if evolve {
                    let loop = EvolveLoop(runDirectory: runDirectory, topologyPath: topology)
                    evolution.withLock { $0 = Task { await loop.run(emit: emitLine, warn: printError) } }
                }
            }
            evolution.withLock { $0?.cancel() }
        } catch {
            printError("\(error)")
            await page?.0.triggerGracefulShutdown()
            throw ExitCode(1)
        }
        if let (group, task) = page {
            await group.triggerGracefulShutdown()
            await task.value
        }
    }
}

/// `agentic status`: the live graph of a run.
struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show each agent instance of a running cluster.")

    @Option(help: "The run directory (default: /tmp/agentic-UID/default).") var runDir: String?
    @Flag(help: "Print one JSON object with an `agents` array.") var json = false

    func run() async throws {
        let runDirectory = absolute(runDir ?? RunDirectory.defaultPath)
        let status: ClusterStatus
        do {
            status = try await CoordinatorClient(runDirectory: runDirectory).status()
        } catch {
            printError("\(error)")
            throw ExitCode(1)
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(status), as: UTF8.self))
            return
        }
        print(
            "run \(status.runDirectory)  coordinator pid \(status.coordinatorPID)  epoch \(status.epoch)  \(status.state)"
        )
        if let gateway = status.gateway { print("gateway \(gateway)") }
        let header = ["NAME", "KIND", "VERSION", "PID", "STATE", "UPTIME", "RESTARTS", "SERVED", "P99", "ADDRESS"]
        var rows = [header]
        for agent in status.agents {
            rows.append([
                "\(agent.name)#\(agent.replica)", agent.kind, agent.version, agent.pid == 0 ? "-" : "\(agent.pid)",
                agent.state.rawValue, String(format: "%.0fs", agent.uptimeSeconds), "\(agent.restarts)",
                "\(agent.served)",
                String(format: "%.0fµs", agent.latencyP99Microseconds), agent.address,
            ])
        }
        let widths = header.indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
        for row in rows {
            print(
                row.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(
                    separator: "  "))
        }
    }
}

/// `agentic down`: stop a run gracefully.
struct Down: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Stop a running cluster gracefully (drain, stop, remove sockets).")

    @Option(help: "The run directory (default: /tmp/agentic-UID/default).") var runDir: String?

    func run() async throws {
        let runDirectory = absolute(runDir ?? RunDirectory.defaultPath)
        do {
            let status = try await CoordinatorClient(runDirectory: runDirectory).down()
            print("down \(runDirectory) (\(status.agents.count) instances stopped)")
        } catch let error where error.code == .notRunning && RunDirectory.socketFiles(runDirectory).isEmpty {
            print("no cluster is running in \(runDirectory)")
        } catch {
            printError("\(error)")
            throw ExitCode(1)
        }
    }
}

/// `agentic agent …`: one agent instance, started by the coordinator.
struct AgentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent", abstract: "Host one agent instance (started by `agentic up`).", shouldDisplay: false)

    @Option(help: "The run directory.") var runDir: String
    @Option(help: "The topology file.") var topology: String
    @Option(help: "The agent's name in the topology.") var agent: String
    @Option(help: "The replica (from 0).") var replica = 0
    @Option(help: "Exit when this process is no longer our parent.") var parentPid: Int32?
    @Flag(help: "Exit when stdin reaches end of file (the parent died).") var watchStdin = false
    @Option(help: "Build the agent (load data and models) at this priority, 0 … 19 (a swap's new process).")
    var startNice: Int32?

    func run() async throws {
        Logs.bootstrap()
        var configuration = AgentHost.Configuration(
            runDirectory: runDir, topologyPath: topology, agent: agent, replica: replica,
            factory: Kinds.factory(topologyPath: topology, runDirectory: runDir))
        // The parent may have died before we got here: check once now, then keep watching.
        if let parentPid, getppid() != parentPid {
            printError("agent \(agent).\(replica): parent \(parentPid) is gone")
            throw ExitCode(1)
        }
        configuration.parentPID = parentPid
        configuration.watchStandardInput = watchStdin
        if let nice = startNice ?? ProcessInfo.processInfo.environment["AGENTIC_START_NICE"].flatMap({ Int32($0) }),
            (0...19).contains(nice)
        {
            configuration.startNice = nice
        }
        let host: AgentHost
        do {
            host = try AgentHost(configuration: configuration)
        } catch let error as TopologyError {
            (error.issues.isEmpty ? [error.message] : error.issues.map(\.description)).forEach(printError)
            throw ExitCode(1)
        } catch {
            printError("agent \(agent).\(replica): \(error)")
            throw ExitCode(1)
        }
        // One lifecycle with the gateway: the service group turns SIGTERM and SIGINT into the
        // host's graceful shutdown (its drain).
        var logger = Logger(label: "agentic.agent")
        logger[metadataKey: "agent"] = "\(agent)"
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(services: [host], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do {
            try await group.run()
        } catch {
            printError("agent \(agent).\(replica): \(error)")
            throw ExitCode(1)
        }
    }
}

/// Log lines go to stderr (stdout carries the lines people and tests read); the level comes
/// from `AGENTIC_LOG_LEVEL`, else `defaultLevel` (commands that run agents in process, such as
/// `eval`, default to `warning`: a line per fitted model would bury their report).
enum Logs {
    static func bootstrap(defaultLevel: Logger.Level = .info) {
        let level =
            ProcessInfo.processInfo.environment["AGENTIC_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? defaultLevel
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
    }
}

func printError(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}

func absolute(_ path: String) -> String {
    path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
}
