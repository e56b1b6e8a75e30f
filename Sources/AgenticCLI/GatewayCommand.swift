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
        // First thing: a gateway must not outlive the coordinator that started it.
        let parent = ParentWatch.arm()
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
        // Each task says whether it was the service group finishing: only that ends the wait.
        try await withThrowingTaskGroup(of: Bool.self) { tasks in
            tasks.addTask {
                try await group.run()
                return true
            }
            tasks.addTask {
                guard await parent.waitForDeath() else { return false }
                log.notice("parent process gone: shutting down")
                await group.triggerGracefulShutdown()
                return false
            }
            while let groupFinished = try await tasks.next(), !groupFinished {}
            tasks.cancelAll()
        }
    }
}

/// Notices the death of the parent process two ways: a changed parent pid, and EOF on
/// stdin when stdin is a pipe from the parent. Not the kernel's parent-death signal: it
/// fires when the parent *thread* that spawned us exits, and the coordinator spawns from
/// Swift's pool threads, which come and go while the coordinator lives.
private struct ParentWatch: Sendable {
    let parent: pid_t
    let stdinClosed: AsyncStream<Void>?

    static func arm() -> ParentWatch {
        let parent = getppid()
        var status = stat()
        var stdinClosed: AsyncStream<Void>?
        if fstat(0, &status) == 0, (status.st_mode & S_IFMT) == S_IFIFO {
            let (stream, continuation) = AsyncStream.makeStream(of: Void.self)
            stdinClosed = stream
            // A blocking read, so on its own thread rather than a cooperative one.
            Thread.detachNewThread {
                var buffer = [UInt8](repeating: 0, count: 256)
                while true {
                    let count = read(0, &buffer, buffer.count)
                    if count == 0 || (count < 0 && errno != EINTR) { break }
                }
                continuation.yield()
                continuation.finish()
            }
        }
        return ParentWatch(parent: parent, stdinClosed: stdinClosed)
    }

    /// Returns true when the parent is gone, false when cancelled.
    func waitForDeath() async -> Bool {
        if getppid() != parent { return true }
        return await withTaskGroup(of: Bool.self) { group in
            if let stdinClosed {
                group.addTask {
                    for await _ in stdinClosed { return true }
                    return !Task.isCancelled
                }
            }
            group.addTask {
                while !Task.isCancelled {
                    if getppid() != parent { return true }
                    do { try await Task.sleep(for: .milliseconds(250)) } catch { return false }
                }
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
    }
}

/// A `StreamLogHandler` that renders its metadata only when it logs. `StreamLogHandler` renders
/// it on every change, and Hummingbird sets a request id on each request's logger: the gateway
/// paid for that rendering on every request, though it logs nothing for most of them.
struct LazyMetadataLogHandler: LogHandler {
    private var base: StreamLogHandler
    var metadata: Logger.Metadata = [:]

    init(_ base: StreamLogHandler) { self.base = base }

    var metadataProvider: Logger.MetadataProvider? {
        get { base.metadataProvider }
        set { base.metadataProvider = newValue }
    }

    var logLevel: Logger.Level {
        get { base.logLevel }
        set { base.logLevel = newValue }
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var handler = base
        handler.metadata = metadata
        handler.log(event: event)
    }
}
