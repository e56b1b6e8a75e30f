import AgentRuntime
import ArgumentParser
import Foundation
import Gateway
import Logging
import ServiceLifecycle

/// `agentic gateway`: the gateway process, started by `agentic up`. Prints one line,
/// `listening http://HOST:PORT`, once it serves; logs go to stderr.
struct GatewayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gateway",
        abstract: "Serve the HTTP and NNG gateway of a run (started by `agentic up`).",
        shouldDisplay: false
    )

    @Option(help: "The run directory (agents' sockets live under it).") var runDir: String
    @Option(help: "The topology file to serve.") var topology: String
    @Option(help: "HTTP listen address, overriding the topology's (http://HOST:PORT).") var listen: String?

    func run() async throws {
        // First thing: a gateway must not outlive the coordinator that started it. Its stdin is
        // a pipe from the coordinator when the coordinator started it.
        let parent = getppid()
        var status = stat()
        let stdinIsPipe = fstat(0, &status) == 0 && (status.st_mode & S_IFMT) == S_IFIFO
        LoggingSystem.bootstrap { label in
            var handler = LazyMetadataLogHandler(StreamLogHandler.standardError(label: label))
            handler.logLevel = ProcessInfo.processInfo.environment["AGENTIC_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
            return handler
        }
        let log = Logger(label: "agentic.gateway")
        let gateway: Gateway
        do {
            var configuration = Gateway.Configuration(runDirectory: runDir, topologyPath: topology, listen: listen)
            // The door's size, for measuring others (`agentic bench mesh`); 0 opens it.
            if let limit = ProcessInfo.processInfo.environment["AGENTIC_GATEWAY_MAX_IN_FLIGHT"].flatMap(Int.init), limit >= 0 {
                configuration.maximumInFlight = limit
            }
            if let limit = ProcessInfo.processInfo.environment["AGENTIC_GATEWAY_MAX_QUEUED"].flatMap(Int.init), limit >= 0 {
                configuration.maximumQueued = limit
            }
            if let limit = ProcessInfo.processInfo.environment["AGENTIC_GATEWAY_MAX_WAIT_MS"].flatMap(Int.init), limit >= 0 {
                configuration.maximumWait = limit
            }
            configuration.apiKeys = try Self.apiKeys(ProcessInfo.processInfo.environment)
            gateway = try Gateway(
                configuration: configuration,
                logger: log,
                onListening: { url in emitLine("listening \(url)") }
            )
        } catch {
            FileHandle.standardError.write(Data("agentic gateway: \(error)\n".utf8))
            throw ExitCode(1)
        }
        var groupConfiguration = ServiceGroupConfiguration(services: [gateway], gracefulShutdownSignals: [.sigterm, .sigint], logger: log)
        groupConfiguration.maximumGracefulShutdownDuration = .seconds(10)
        let group = ServiceGroup(configuration: groupConfiguration)
        // Not awaited: it returns only when the parent is gone, possibly never.
        Task {
            await ProcessEvents.parentDeath(parent: parent, watchStandardInput: stdinIsPipe)
            log.notice("parent process gone: shutting down")
            await group.triggerGracefulShutdown()
        }
        try await group.run()
    }

    /// The API keys from `AGENTIC_API_KEYS_FILE` (one per line) or `AGENTIC_API_KEYS`
    /// (comma-separated); `AGENTIC_API_KEYS_FOR_READS=1` makes reads need one too.
    static func apiKeys(_ environment: [String: String]) throws -> APIKeys? {
        var keys: [String] = []
        if let file = environment["AGENTIC_API_KEYS_FILE"], !file.isEmpty {
            do {
                keys += APIKeys.parse(try String(contentsOfFile: file, encoding: .utf8))
            } catch {
                throw CLIError("cannot read the API keys file \(file): \(error.localizedDescription)")
            }
        }
        if let list = environment["AGENTIC_API_KEYS"] { keys += APIKeys.parse(list, separator: ",") }
        guard !keys.isEmpty else { return nil }
        return APIKeys(keys, requiredForReads: environment["AGENTIC_API_KEYS_FOR_READS"] == "1")
    }
}
