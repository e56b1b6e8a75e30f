import ArgumentParser
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

/// Answers an envelope with a reply carrying the same id and payload, and anything that
/// does not decode with an error envelope saying why.
enum EnvelopeEcho {
    static func answer(_ request: Message) -> Message? {
        do {
            let envelope = try request.envelope()
            guard envelope.type == .request else {
                return try? Message(envelope: Envelope(type: .error, requestID: envelope.requestID, payload: Array("unexpected message type \(envelope.type)".utf8)))
            }
            var reply = envelope
            reply.type = .reply
            return try Message(envelope: reply)
        } catch {
            return try? Message(envelope: Envelope(type: .error, requestID: 0, payload: Array("\(error)".utf8)))
        }
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

enum PubSubCount {
    /// The publishing half of the protocol the C baseline speaks: hellos until `go`
    /// returns, `count` data messages, then end markers until `stop` returns (at most 10 s).
    static func publish(
        _ publisher: Publisher, count: Int, body: @escaping (UInt8) -> [UInt8],
        go: @escaping @Sendable () async throws -> Void, stop: @escaping @Sendable () async throws -> Void
    ) async throws {
        let bodies = Dictionary(uniqueKeysWithValues: "hde".utf8.map { ($0, body($0)) })
        func send(_ kind: Character) throws { try publisher.publish(Message(bytes: bodies[kind.asciiValue!]!)) }
        let going = AtomicFlag()
        let goWaiter = Task { try? await go(); going.set() }
        defer { goWaiter.cancel() }
        while !going.isSet {
            try send("h")
            try await Task.sleep(for: .milliseconds(5))
        }
        for _ in 0..<count { try send("d") }
        let stopping = AtomicFlag()
        let stopWaiter = Task { try? await stop(); stopping.set() }
        defer { stopWaiter.cancel() }
        let deadline = ContinuousClock.now + .seconds(10)
        while !stopping.isSet && ContinuousClock.now < deadline {
            try send("e")
            try await Task.sleep(for: .milliseconds(1))
        }
    }

    struct Result { var received = 0, seconds = 0.0, rate = 0.0 }

    static func count(_ messages: AsyncStream<Message>, onHello: () -> Void) async throws -> Result {
        var announced = false
        var received = 0
        let clock = ContinuousClock()
        var first = clock.now, last = clock.now
        for await message in messages {
            let kind = message.withUnsafeBytes { $0.first ?? 0 }
            switch kind {
            case UInt8(ascii: "h") where !announced:
                onHello()
                announced = true
            case UInt8(ascii: "d"):
                let now = clock.now
                if received == 0 { first = now }
                last = now
                received += 1
            case UInt8(ascii: "e"):
                let seconds = received > 1 ? (last - first).seconds : 0
                return Result(received: received, seconds: seconds, rate: seconds > 0 ? Double(received - 1) / seconds : 0)
            default:
                break
            }
        }
        throw CLIError("the subscription ended before the end marker")
    }
}

enum StandardInput {
    /// Lines of stdin, read on a thread of their own.
    static func lines() -> AsyncStream<String> {
        let (stream, continuation) = AsyncStream.makeStream(of: String.self)
        Thread.detachNewThread {
            while let line = readLine() { continuation.yield(line) }
            continuation.finish()
        }
        return stream
    }

    /// Returns when stdin reaches end of file: the parent closed it or died.
    static func waitForEnd() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            Thread.detachNewThread {
                while let _ = readLine() {}
                continuation.resume()
            }
        }
    }
}

extension Duration {
    var seconds: Double {
        let (s, atto) = components
        return Double(s) + Double(atto) / 1e18
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
