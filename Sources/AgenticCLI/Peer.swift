import ArgumentParser
import Benchmarks
import Foundation
import Transport

/// Helper processes for benchmarks and tests: the far end of a socket, in another process.
struct Peer: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the far end of a transport test or benchmark (used by `agentic bench` and the tests).",
        shouldDisplay: false,
        subcommands: [PeerServe.self, PeerSubscribe.self, PeerPublish.self]
    )
}

struct PeerServe: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "serve", abstract: "A replier: echo, or envelope-aware.")

    enum Mode: String, ExpressibleByArgument { case echo, envelope }

    @Argument(help: "Address to listen at.") var url: String
    @Option(help: "Requests served at once.") var contexts = 64
    @Option(help: "echo: reply with the request's bytes; envelope: decode, reply or answer with an error envelope.")
    var mode = Mode.echo
    @Option(help: "Milliseconds each request takes.") var delayMs = 0

    func run() async throws {
        var configuration = Replier.Configuration()
        configuration.concurrency = contexts
        // Echo and envelope checks answer at once: no reason to leave NNG's thread.
        configuration.runsHandlersOnCallbackThread = true
        let replier = try Replier(configuration: configuration)
        let bound = try replier.listen(url)
        let delay = Duration.milliseconds(delayMs)
        let mode = self.mode
        try replier.start { request in
            if delay > .zero { try? await Task.sleep(for: delay) }
            switch mode {
            case .echo:
                return request
            case .envelope:
                return EnvelopeEcho.answer(request)
            }
        }
        emitLine("ready \(bound)")
        await StandardInput.waitForEnd()
        replier.close()
    }
}

struct PeerSubscribe: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "subscribe",
        abstract: "Count 'd' messages between a 'h' hello and an 'e' end, as the C baseline does."
    )

    @Argument(help: "Address to dial.") var url: String
    @Option(help: "Give up after this many milliseconds.") var timeoutMs = 60_000

    func run() async throws {
        let subscriber = try Subscriber()
        try subscriber.subscribe([])
        try subscriber.dial(url)
        // Closing ends the message stream, which turns into an error below.
        let watchdog = Task { [timeoutMs] in
            try await Task.sleep(for: .milliseconds(timeoutMs))
            subscriber.close()
        }
        defer { watchdog.cancel() }
        // The counting loop resumes on the NNG thread that delivered the message (no hop).
        let result = try await withTaskExecutorPreference(CallbackExecutor.shared) {
            try await PubSubCount.count(subscriber.messages) { emitLine("ready") }
        }
        subscriber.close()
        emitLine(#"{"received": \#(result.received), "seconds": \#(result.seconds), "rate": \#(result.rate)}"#)
    }
}

struct PeerPublish: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "publish",
        abstract: "Publish 'h' hellos until a line on stdin, COUNT 'd' messages, then 'e' ends until the next line."
    )

    @Argument(help: "Address to listen at.") var url: String
    @Option(help: "Message size in bytes.") var size = 256
    @Option(help: "Data messages to send.") var count = 100_000
    @Option(help: "Publish this text as the messages' body instead (for interop tests).") var text: String?

    func run() async throws {
        let publisher = try Publisher()
        try publisher.listen(url)
        emitLine("ready")
        let lines = StandardInput.lines()
        let (size, text) = (self.size, self.text)
        try await PubSubCount.publish(
            publisher, count: count,
            body: { kind in text.map { Array($0.utf8) } ?? [UInt8](repeating: kind, count: size) },
            go: { for await _ in lines { return } },
            stop: { for await _ in lines { return } }
        )
        publisher.close()
    }
}
