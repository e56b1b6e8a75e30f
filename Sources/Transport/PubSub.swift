internal import CNNG
import Synchronization

/// The sending side of pub/sub. Publishing never blocks: when a subscriber's queue is
/// full NNG drops the oldest message, so nothing that must not be lost goes only here.
public final class Publisher: Sendable {
    public let socket: Socket

    public init(configuration: SocketConfiguration = .init()) throws {
        socket = try Socket(.pub, configuration: configuration)
    }

    deinit { socket.close() }

    @discardableResult
    public func listen(_ url: String) throws -> String { try socket.listen(url) }
    public func dial(_ url: String) throws { try socket.dial(url) }

    /// Queues `message` for every subscriber whose topic prefix matches its body.
    /// - Throws: `.closed` after `close()`.
    public func publish(_ message: Message) throws {
        let body = try message.take()
        let rv = nng_sendmsg(socket.raw, body, Int32(NNG_FLAG_NONBLOCK))
        if rv != 0 {
            nng_msg_free(body)
            // A full queue is not an error for pub: NNG already dropped the oldest.
            if UInt32(bitPattern: rv) == NNG_EAGAIN.rawValue { return }
            throw TransportError(nng: rv, "publishing")
        }
    }

    public func close() { socket.close() }
}

/// The receiving side of pub/sub: messages whose body starts with a subscribed topic,
/// as an `AsyncSequence`.
public final class Subscriber: Sendable {
    public struct Configuration: Sendable {
        public var socket = SocketConfiguration()
        /// Received messages kept while the consumer is slow; past it the oldest are
        /// dropped, as NNG itself does.
        public var bufferLimit: Int = 8192
        public init() {}
    }

    public let socket: Socket
    /// Every received message, in order. Finishes when the subscriber closes.
    public let messages: AsyncStream<Message>
    private let receiver: SubscriptionReceiver

    public init(configuration: Configuration = .init()) throws {
        socket = try Socket(.sub, configuration: configuration.socket)
        let (stream, continuation) = AsyncStream.makeStream(of: Message.self, bufferingPolicy: .bufferingNewest(configuration.bufferLimit))
        messages = stream
        do {
            receiver = try SubscriptionReceiver(socket: socket.raw, sink: continuation)
        } catch {
            socket.close()
            throw error
        }
        receiver.receive()
    }

    deinit { close() }

    @discardableResult
    public func listen(_ url: String) throws -> String { try socket.listen(url) }
    public func dial(_ url: String) throws { try socket.dial(url) }

    /// Receives messages whose body starts with `topic` (empty: everything).
    public func subscribe(_ topic: some Collection<UInt8>) throws {
        let bytes = Array(topic)
        try bytes.withUnsafeBytes { buffer in
            try check(nng_socket_set(socket.raw, NNG_OPT_SUB_SUBSCRIBE, buffer.baseAddress, buffer.count), "subscribing")
        }
    }

    /// Receives messages of one topic (its name followed by a 0 byte, see `Message(topic:envelope:)`).
    public func subscribe(topic: String) throws { try subscribe(Array(topic.utf8) + [0]) }

    public func close() {
        receiver.stop()
        socket.close()
    }
}

/// The one receive loop of a subscriber, re-armed from NNG's callback.
/// `@unchecked Sendable` rule as for `RequestSlot`: only the callback touches the aio after start.
final class SubscriptionReceiver: @unchecked Sendable {
    private let socket: nng_socket
    private var aio: OpaquePointer?
    private let sink: AsyncStream<Message>.Continuation

    init(socket: nng_socket, sink: AsyncStream<Message>.Continuation) throws {
        self.socket = socket
        self.sink = sink
        try check(nng_aio_alloc(&aio, subscriptionCallback, Unmanaged.passUnretained(self).toOpaque()), "allocating an aio")
    }

    deinit {
        if let aio { nng_aio_free(aio) }
        sink.finish()
    }

    func receive() { nng_recv_aio(socket, aio) }

    func stop() {
        if let aio { nng_aio_stop(aio) }
        sink.finish()
    }

    fileprivate func completed() {
        let rv = nng_aio_result(aio)
        if rv == 0 {
            sink.yield(Message(taking: nng_aio_get_msg(aio)!))
            receive()
            return
        }
        let code = UInt32(bitPattern: rv)
        if code == NNG_ECLOSED.rawValue || code == NNG_ECANCELED.rawValue {
            sink.finish()
        } else {
            receive()
        }
    }
}

private let subscriptionCallback: @convention(c) (UnsafeMutableRawPointer?) -> Void = { argument in
    CallbackThread.run { Unmanaged<SubscriptionReceiver>.fromOpaque(argument!).takeUnretainedValue().completed() }
}
