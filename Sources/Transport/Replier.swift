internal import CNNG
import Synchronization

/// The server side of req/rep: serves many requests at once, one NNG context each.
public final class Replier: Sendable {
    /// Answers one request. Returning `nil` sends no reply (the requester times out or
    /// resends); a handler should reply with an error envelope rather than stay silent.
    public typealias Handler = @Sendable (Message) async -> Message?

    public struct Configuration: Sendable {
        public var socket = SocketConfiguration()
        /// Requests served at once; each waits on its own NNG context.
        public var concurrency: Int = 64
        /// Start each handler on the NNG thread that received its request (through
        /// `CallbackExecutor`) instead of Swift's thread pool. It saves a thread hop per
        /// request, but the handler holds one of NNG's few I/O threads until it first
        /// suspends, so only handlers that answer quickly or hop off at once should use it.
        public var runsHandlersOnCallbackThread = false
        public init() {}
    }

    public let socket: Socket
    private let configuration: Configuration
    private let slots = Mutex<[ReplySlot]>([])
    private let closedSignal = Mutex<ClosedSignal>(ClosedSignal())

    public init(configuration: Configuration = .init()) throws {
        self.configuration = configuration
        self.socket = try Socket(.rep, configuration: configuration.socket)
    }

    deinit { close() }

    @discardableResult
    public func listen(_ url: String) throws -> String { try socket.listen(url) }
    public func dial(_ url: String) throws { try socket.dial(url) }

    /// Starts serving with `handler` on `configuration.concurrency` contexts and returns.
    public func start(_ handler: @escaping Handler) throws {
        var started: [ReplySlot] = []
        do {
            for _ in 0..<max(1, configuration.concurrency) {
                started.append(try ReplySlot(socket: socket.raw, inline: configuration.runsHandlersOnCallbackThread, handler: handler))
            }
        } catch {
            started.forEach { $0.stop() }
            throw error
        }
        slots.withLock { $0.append(contentsOf: started) }
        started.forEach { $0.receive() }
    }

    /// Serves until `close()` is called (or the task is cancelled, which closes).
    public func run(_ handler: @escaping Handler) async throws {
        try start(handler)
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = closedSignal.withLock { signal -> Bool in
                    if signal.closed { return true }
                    signal.waiters.append(continuation)
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            close()
        }
    }

    /// Closes the socket and stops every context. Handlers still running finish, but
    /// their replies are dropped. Blocks until NNG's callbacks are done.
    public func close() {
        let stopped = slots.withLock { slots in
            defer { slots.removeAll() }
            return slots
        }
        // Aios first, socket second: NNG 1.5's nng_close can hang on pending context operations.
        for slot in stopped { slot.stop() }
        socket.close()
        let waiters = closedSignal.withLock { signal in
            signal.closed = true
            defer { signal.waiters.removeAll() }
            return signal.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    private struct ClosedSignal {
        var closed = false
        var waiters: [CheckedContinuation<Void, Never>] = []
    }
}

/// One context of a replier, looping receive → handle → send.
///
/// `@unchecked Sendable` rule: `phase` is written by NNG's callback and by the handler
/// task, never at once: the task runs between the receive's completion and the send it
/// starts. Callbacks reach the slot unretained (see `RequestSlot`); a handler task holds it
/// strongly, so its last release is on a Swift thread.
final class ReplySlot: @unchecked Sendable {
    private enum Phase { case receiving, handling, sending, stopped }
    private var context = nng_ctx()
    private var aio: OpaquePointer?
    private var phase = Phase.receiving
    private let handler: Replier.Handler
    private let executor: (any TaskExecutor)?

    init(socket: nng_socket, inline: Bool, handler: @escaping Replier.Handler) throws {
        self.handler = handler
        self.executor = inline ? CallbackExecutor.shared : nil
        try check(nng_ctx_open(&context, socket), "opening a reply context")
        let rv = nng_aio_alloc(&aio, replySlotCallback, Unmanaged.passUnretained(self).toOpaque())
        if rv != 0 {
            nng_ctx_close(context)
            throw TransportError(nng: rv, "allocating an aio")
        }
    }

    deinit {
        if let aio { nng_aio_free(aio) }
        nng_ctx_close(context)
    }

    func receive() {
        phase = .receiving
        nng_ctx_recv(context, aio)
    }

    func stop() {
        if let aio { nng_aio_stop(aio) }
    }

    fileprivate func completed() {
        let aio = self.aio!
        let rv = nng_aio_result(aio)
        switch phase {
        case .receiving:
            if rv != 0 {
                if isFinal(rv) { phase = .stopped } else { receive() }
                return
            }
            let request = Message(taking: nng_aio_get_msg(aio)!)
            phase = .handling
            // With the callback executor this runs on this NNG thread until the handler
            // first suspends: an echo or an error reply costs no thread hop.
            Task(executorPreference: executor) { [self] in
                let reply = await handler(request)
                respond(reply)
            }
        case .sending:
            if rv != 0 {
                if let unsent = nng_aio_get_msg(aio) { nng_msg_free(unsent) }
                if isFinal(rv) {
                    phase = .stopped
                    return
                }
            }
            receive()
        case .handling, .stopped:
            break
        }
    }

    private func respond(_ reply: Message?) {
        guard let reply, let body = try? reply.take() else {
            receive()
            return
        }
        phase = .sending
        nng_aio_set_msg(aio, body)
        nng_ctx_send(context, aio)
    }

    private func isFinal(_ rv: Int32) -> Bool {
        let code = UInt32(bitPattern: rv)
        return code == NNG_ECLOSED.rawValue || code == NNG_ECANCELED.rawValue
    }
}

private let replySlotCallback: @convention(c) (UnsafeMutableRawPointer?) -> Void = { argument in
    CallbackThread.run { Unmanaged<ReplySlot>.fromOpaque(argument!).takeUnretainedValue().completed() }
}
