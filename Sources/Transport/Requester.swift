internal import CNNG
import Synchronization

/// The client side of req/rep: many requests in flight on one socket, each on its own
/// NNG context, each an `async` call.
public final class Requester: Sendable {
    public struct Configuration: Sendable {
        /// Socket options; `resendTime` matters here: NNG re-sends an unanswered request
        /// after it, so handlers must be idempotent.
        public var socket = SocketConfiguration()
        /// Deadline of a request when the call names none.
        public var defaultTimeout: Duration = .seconds(5)
        public init() {}
    }

    public let socket: Socket
    private let configuration: Configuration
    private let pool = Mutex(SlotPool())

    public init(configuration: Configuration = .init()) throws {
        self.configuration = configuration
        self.socket = try Socket(.req, configuration: configuration.socket)
    }

    deinit { close() }

    /// Connects to a replier (non-blocking: the request waits for the connection).
    public func dial(_ url: String) throws { try socket.dial(url) }

    /// Sends `message` and waits for the reply.
    /// - Parameter timeout: the whole round trip's deadline (including waiting for a
    ///   connection and NNG's resends).
    /// - Throws: `.timedOut` past the deadline, `.closed` once the requester is closed,
    ///   `.cancelled` when the calling task is cancelled.
    public func request(_ message: Message, timeout: Duration? = nil) async throws -> Message {
        let slot = try acquire()
        defer { release(slot) }
        return try await slot.roundTrip(message, timeout: (timeout ?? configuration.defaultTimeout).nngMilliseconds)
    }

    /// Closes the requester: requests in flight fail with `.closed`, new ones at once.
    /// Blocks until NNG has finished every callback, so call it from a task, never from
    /// inside NNG.
    public func close() {
        let slots = pool.withLock { pool -> [RequestSlot] in
            pool.closed = true
            pool.idle.removeAll()
            defer { pool.all.removeAll() }
            return pool.all
        }
        // Stop every aio before closing the socket: NNG 1.5's nng_close can wait forever
        // on context operations still pending. Stopping fails them with NNG_ECANCELED,
        // which the slot reports as `.closed`.
        for slot in slots { slot.stop() }
        socket.close()
    }

    private func acquire() throws -> RequestSlot {
        let reused = try pool.withLock { pool -> RequestSlot? in
            if pool.closed { throw TransportError(.closed, "the requester is closed") }
            return pool.idle.popLast()
        }
        if let reused { return reused }
        let slot = try RequestSlot(socket: socket.raw)
        let accepted = pool.withLock { pool -> Bool in
            if pool.closed { return false }
            pool.all.append(slot)
            return true
        }
        guard accepted else {
            slot.stop()
            throw TransportError(.closed, "the requester is closed")
        }
        return slot
    }

    private func release(_ slot: RequestSlot) {
        // A slot that comes back after close was stopped by `close` and is dropped.
        pool.withLock { pool in
            if !pool.closed { pool.idle.append(slot) }
        }
    }

    private struct SlotPool: ~Copyable {
        var idle: [RequestSlot] = []
        var all: [RequestSlot] = []
        var closed = false
    }
}

/// One NNG context and its aio: one request at a time.
///
/// `@unchecked Sendable` rule: the mutable fields are touched by the task that holds the
/// slot before it starts an NNG operation, and by NNG's callback after it; NNG orders the
/// two. The callback reaches the slot unretained; the owner keeps it alive until
/// `nng_aio_stop` has waited out every callback, so the last release never happens on an
/// NNG thread (the shutdown deadlock of NNG-NOTES.md).
final class RequestSlot: @unchecked Sendable {
    private enum Phase { case idle, sending, receiving }
    private var context = nng_ctx()
    private var aio: OpaquePointer?
    private var phase = Phase.idle
    private var deadline: nng_time = 0
    private var timeout: nng_duration = 0
    private var continuation: UnsafeContinuation<Message, any Error>?

    init(socket: nng_socket) throws {
        try check(nng_ctx_open(&context, socket), "opening a request context")
        let rv = nng_aio_alloc(&aio, requestSlotCallback, Unmanaged.passUnretained(self).toOpaque())
        if rv != 0 {
            nng_ctx_close(context)
            throw TransportError(nng: rv, "allocating an aio")
        }
    }

    deinit {
        // nng_aio_free waits for a running callback; we are never on an NNG thread here
        // because callbacks hold no strong reference to the slot.
        if let aio { nng_aio_free(aio) }
        nng_ctx_close(context)
    }

    private let stopped = Atomic<Bool>(false)

    /// Stops the aio for good: the operation in flight and later ones fail with `.closed`.
    func stop() {
        stopped.store(true, ordering: .releasing)
        if let aio { nng_aio_stop(aio) }
    }

    // Cancellation. `nng_aio_cancel` is lost when no operation is in flight: before the
    // send starts, or between the send's completion and the receive it chains. So the
    // cancelled request's token is recorded, and every operation start checks it under the
    // same lock that `cancel` holds while it records and cancels. The lock is never taken
    // on a path that NNG may call back into synchronously.
    private let cancelGate = Mutex<UInt64>(0)
    private let activeToken = Atomic<UInt64>(0)
    private var lastToken: UInt64 = 0

    /// Cancels request `token` if it is still in flight; its callback reports `.cancelled`.
    func cancel(_ token: UInt64) {
        cancelGate.withLock { cancelled in
            cancelled = token
            if activeToken.load(ordering: .acquiring) == token, let aio { nng_aio_cancel(aio) }
        }
    }

    /// Starts an operation unless the current request was cancelled; false if it was.
    private func start(_ operation: () -> Void) -> Bool {
        cancelGate.withLock { cancelled in
            if cancelled == activeToken.load(ordering: .acquiring) { return false }
            operation()
            return true
        }
    }

    func roundTrip(_ message: Message, timeout: nng_duration) async throws -> Message {
        let body = try message.take()
        let aio = self.aio!
        lastToken &+= 1
        let token = lastToken
        activeToken.store(token, ordering: .releasing)
        return try await withTaskCancellationHandler {
            try await withUnsafeThrowingContinuation { continuation in
                self.continuation = continuation
                self.phase = .sending
                // One deadline for the whole round trip: the send may wait for a connection.
                self.timeout = timeout
                self.deadline = nng_clock() &+ nng_time(max(timeout, 0))
                let started = start {
                    nng_aio_set_timeout(aio, timeout)
                    nng_aio_set_msg(aio, body)
                    nng_ctx_send(self.context, aio)
                }
                if !started {
                    nng_msg_free(body)
                    finish(.failure(TransportError(.cancelled, "the request was cancelled")))
                }
            }
        } onCancel: {
            self.cancel(token)
        }
    }

    /// Runs on an NNG thread. Chains the receive straight after the send, so one request
    /// costs one hop back into Swift; resuming the continuation is the last thing it does.
    fileprivate func completed() {
        let aio = self.aio!
        let rv = nng_aio_result(aio)
        switch phase {
        case .sending:
            if rv != 0 {
                if let unsent = nng_aio_get_msg(aio) { nng_msg_free(unsent) }
                finish(.failure(TransportError(nng: rv, "sending a request")))
                return
            }
            phase = .receiving
            let started = start {
                nng_aio_set_timeout(aio, remaining())
                nng_ctx_recv(context, aio)
            }
            if !started { finish(.failure(TransportError(.cancelled, "the request was cancelled"))) }
        case .receiving:
            if rv != 0 {
                finish(.failure(TransportError(nng: rv, "waiting for a reply")))
                return
            }
            finish(.success(Message(taking: nng_aio_get_msg(aio)!)))
        case .idle:
            // A stopped aio whose owner gave up; nothing waits.
            break
        }
    }

    private func remaining() -> nng_duration {
        guard timeout > 0 else { return timeout }
        let now = nng_clock()
        return now >= deadline ? 1 : nng_duration(clamping: deadline - now)
    }

    private func finish(_ result: Result<Message, any Error>) {
        var result = result
        if case .failure(let error as TransportError) = result, error.code == .cancelled, stopped.load(ordering: .acquiring) {
            result = .failure(TransportError(.closed, "the requester was closed", nngErrorCode: error.nngErrorCode))
        }
        phase = .idle
        activeToken.store(0, ordering: .releasing)
        let continuation = self.continuation
        self.continuation = nil
        continuation?.resume(with: result)
    }
}

private let requestSlotCallback: @convention(c) (UnsafeMutableRawPointer?) -> Void = { argument in
    CallbackThread.run { Unmanaged<RequestSlot>.fromOpaque(argument!).takeUnretainedValue().completed() }
}
