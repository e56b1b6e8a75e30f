import Foundation
public import Transport

/// The protocols the far ends of the transport benchmark speak (`agentic peer …`, and the C
/// baseline's subscriber and publisher).
/// Answers an envelope with a reply carrying the same id and payload, and anything that
/// does not decode with an error envelope saying why.
public enum EnvelopeEcho {
    public static func answer(_ request: Message) -> Message? {
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

public enum PubSubCount {
    /// The publishing half of the protocol the C baseline speaks: hellos until `go`
    /// returns, `count` data messages, then end markers until `stop` returns (at most 10 s).
    public static func publish(
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

    public struct Result: Sendable { public var received = 0, seconds = 0.0, rate = 0.0 }

    public static func count(_ messages: AsyncStream<Message>, onHello: () -> Void) async throws -> Result {
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
        throw BenchmarkError("the subscription ended before the end marker")
    }
}

/// Stdin for the helper processes: their parent talks to them (and stops them) through it.
public enum StandardInput {
    /// Lines of stdin, read on a thread of their own.
    public static func lines() -> AsyncStream<String> {
        let (stream, continuation) = AsyncStream.makeStream(of: String.self)
        Thread.detachNewThread {
            while let line = readLine() { continuation.yield(line) }
            continuation.finish()
        }
        return stream
    }

    /// Returns when stdin reaches end of file: the parent closed it or died.
    public static func waitForEnd() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            Thread.detachNewThread {
                while let _ = readLine() {}
                continuation.resume()
            }
        }
    }
}
