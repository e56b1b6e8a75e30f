import ArgumentParser
import Coordinator
import Dashboard
import Logging
import ServiceLifecycle

/// `agentic dashboard`: the live page of a cluster already running (`agentic up` serves one itself).
struct DashboardCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dashboard",
        abstract: "Serve the live dashboard of a running cluster.",
        discussion: "Prints `dashboard URL` once it listens; Ctrl-C stops it (the cluster keeps running)."
    )

    @Option(help: "The run directory (default: /tmp/agentic-UID/default).") var runDir: String?
    @Option(help: "Where the page listens, HOST:PORT (port 0 picks a free one).") var listen = "127.0.0.1:0"

    func run() async throws {
        Logs.bootstrap()
        let service = try DashboardLauncher.make(runDirectory: absolute(runDir ?? RunDirectory.defaultPath), listen: listen)
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: [service], gracefulShutdownSignals: [.sigterm, .sigint], logger: Logger(label: "agentic.dashboard")))
        do {
            try await group.run()
        } catch {
            printError("\(error)")
            throw ExitCode(1)
        }
    }
}

/// The dashboard as `up` and `dashboard` start it: prints its URL, warns when it is reachable
/// from other machines.
enum DashboardLauncher {
    static func make(
        runDirectory: String, listen: String, announce: @escaping @Sendable (String) -> Void = { emitLine("dashboard \($0)") }
    ) throws -> Dashboard {
        var configuration = Dashboard.Configuration(runDirectory: runDirectory)
        configuration.listen = listen
        let service: Dashboard
        do {
            service = try Dashboard(configuration: configuration, onListening: announce)
        } catch {
            printError("\(error)")
            throw ExitCode(2)
        }
        if !service.isLoopback {
            printError(
                "warning: the dashboard listens on \(listen): anyone who reaches it sees the topology, its parameters and history")
        }
        return service
    }

    /// Runs `service` beside the cluster until `stop` is called; a dashboard that cannot
    /// listen is reported and the cluster keeps serving.
    static func start(_ service: Dashboard) -> (ServiceGroup, Task<Void, Never>) {
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(services: [service], gracefulShutdownSignals: [], logger: Logger(label: "agentic.dashboard")))
        let task = Task {
            do { try await group.run() } catch { printError("dashboard: \(error)") }
        }
        return (group, task)
    }
}
