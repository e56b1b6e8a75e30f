internal import CNNG
import Dispatch
import Synchronization

/// Which NNG protocol a socket speaks.
public struct SocketProtocol: Hashable, Sendable, CustomStringConvertible {
    private enum Base: Hashable, Sendable { case req, rep, pub, sub }
    private let base: Base
    private init(_ base: Base) { self.base = base }
    public static let req = SocketProtocol(.req)
    public static let rep = SocketProtocol(.rep)
    public static let pub = SocketProtocol(.pub)
    public static let sub = SocketProtocol(.sub)
    public var description: String {
        switch base {
        case .req: "req0"
        case .rep: "rep0"
        case .pub: "pub0"
        case .sub: "sub0"
        }
    }

    fileprivate func open(_ socket: inout nng_socket) -> Int32 {
        switch base {
        case .req: nng_req0_open(&socket)
        case .rep: nng_rep0_open(&socket)
        case .pub: nng_pub0_open(&socket)
        case .sub: nng_sub0_open(&socket)
        }
    }
}

/// Options applied to a socket when it opens. `nil` keeps NNG's default.
public struct SocketConfiguration: Sendable {
    /// How long a blocking send may wait before it fails with `.timedOut`.
    public var sendTimeout: Duration? = nil
    /// How long a receive may wait before it fails with `.timedOut`.
    public var receiveTimeout: Duration? = nil
    /// req only: how long before an unanswered request is sent again (NNG's default is 60 s).
    public var resendTime: Duration? = nil
    /// Messages queued for sending. Pub sockets drop the oldest when this is full, so
    /// the default is large (NNG's own default of 16 loses messages in a burst).
    public var sendBufferSize: Int? = 8192
    /// Messages queued on receipt before NNG pushes back (sub: drops the oldest).
    public var receiveBufferSize: Int? = 8192
    /// The largest message accepted from the network; larger ones are dropped by NNG
    /// before any allocation.
    public var maxReceiveSize: Int? = 16 << 20
    /// Initial and maximum wait between reconnection attempts of a dialer.
    public var reconnectMinimum: Duration? = .milliseconds(10)
    public var reconnectMaximum: Duration? = .milliseconds(500)

    public init() {}
}

/// One NNG socket: open, listen or dial, set options, close.
///
/// Sendable because NNG sockets are thread-safe; `close` is idempotent and may run
/// while operations are pending (they fail with `.closed`).
public final class Socket: Sendable {
    let raw: nng_socket
    public let socketProtocol: SocketProtocol
    private let isClosed = Atomic<Bool>(false)
    private let closeFinished = Atomic<Bool>(false)
    private let pipes = PipeCounter()

    public init(_ socketProtocol: SocketProtocol, configuration: SocketConfiguration = .init()) throws {
        var socket = nng_socket()
        try check(socketProtocol.open(&socket), "opening a \(socketProtocol) socket")
        self.raw = socket
        self.socketProtocol = socketProtocol
        do {
            try apply(configuration)
            // The counter is retained by NNG's callback registration until the socket is closed.
            let context = Unmanaged.passRetained(pipes).toOpaque()
            for event in [NNG_PIPE_EV_ADD_POST, NNG_PIPE_EV_REM_POST] {
                try check(nng_pipe_notify(socket, event, pipeCallback, context), "watching connections")
            }
        } catch {
            nng_close(socket)
            throw error
        }
    }

    deinit {
        close()
        // Only once NNG is done with the socket can no callback touch the counter.
        if closeFinished.load(ordering: .acquiring) { Unmanaged.passUnretained(pipes).release() }
    }

    /// Connections (NNG pipes) currently established: peers that dialled in or that we reached.
    public var pipeCount: Int { pipes.count.load(ordering: .acquiring) }

    private func apply(_ c: SocketConfiguration) throws {
        if let d = c.sendTimeout { try setDuration(NNG_OPT_SENDTIMEO, d) }
        if let d = c.receiveTimeout { try setDuration(NNG_OPT_RECVTIMEO, d) }
        if let d = c.resendTime, socketProtocol == .req { try setDuration(NNG_OPT_REQ_RESENDTIME, d) }
        // rep/req sockets have no receive/send queues of their own to size; pub has no receive side.
        if let n = c.sendBufferSize, socketProtocol == .pub { try setInt(NNG_OPT_SENDBUF, n) }
        if let n = c.receiveBufferSize, socketProtocol == .sub { try setInt(NNG_OPT_RECVBUF, n) }
        if let n = c.maxReceiveSize { try check(nng_socket_set_size(raw, NNG_OPT_RECVMAXSZ, n), "setting \(NNG_OPT_RECVMAXSZ)") }
        if let d = c.reconnectMinimum { try setDuration(NNG_OPT_RECONNMINT, d) }
        if let d = c.reconnectMaximum { try setDuration(NNG_OPT_RECONNMAXT, d) }
    }

    /// Sets a duration option (e.g. `"recv-timeout"`).
    public func setDuration(_ option: String, _ value: Duration) throws {
        try check(nng_socket_set_ms(raw, option, value.nngMilliseconds), "setting \(option)")
    }

    /// Sets an integer option (e.g. `"send-buffer"`).
    public func setInt(_ option: String, _ value: Int) throws {
        try check(nng_socket_set_int(raw, option, Int32(clamping: value)), "setting \(option)")
    }

    /// Accepts connections at `url` (`ipc:///path`, `tcp://127.0.0.1:port`, `tcp://127.0.0.1:0`).
    /// - Returns: the bound address; with port 0 it names the port the system chose.
    @discardableResult
    public func listen(_ url: String) throws -> String {
        var listener = nng_listener()
        try check(nng_listen(raw, url, &listener, 0), "listening at \(url)")
        guard url.hasPrefix("tcp") else { return url }
        var address = nng_sockaddr()
        guard nng_listener_get_addr(listener, NNG_OPT_LOCADDR, &address) == 0,
            address.s_family == UInt16(NNG_AF_INET.rawValue)
        else { return url }
        let port = UInt16(bigEndian: address.s_in.sa_port)
        let host = withUnsafeBytes(of: address.s_in.sa_addr) { $0.map(String.init).joined(separator: ".") }
        return "tcp://\(host):\(port)"
    }

    /// Connects to `url`. A non-blocking dial (the default) succeeds at once and keeps
    /// reconnecting in the background, so peers may start in any order.
    public func dial(_ url: String, blocking: Bool = false) throws {
        let flags: Int32 = blocking ? 0 : Int32(NNG_FLAG_NONBLOCK)
        try check(nng_dial(raw, url, nil, flags), "dialling \(url)")
    }

    /// Closes the socket; pending operations complete with `.closed`. Safe to call twice.
    ///
    /// NNG 1.5.2 (Debian's) can hang in `nng_close` when a pipe is torn down while a task
    /// is being prepared (nanomsg/nng#1543, fixed upstream after 1.5.2). The close runs on
    /// a thread of its own and is waited for at most `closeTimeout`; past that the socket
    /// is abandoned to NNG's reaper rather than hanging the caller.
    public func close() {
        if isClosed.exchange(true, ordering: .acquiringAndReleasing) { return }
        let raw = self.raw
        let done = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            nng_close(raw)
            done.signal()
        }
        if done.wait(timeout: .now() + Self.closeTimeout) == .timedOut {
            Socket.abandoned.add(1, ordering: .relaxed)
        } else {
            closeFinished.store(true, ordering: .releasing)
        }
    }

    /// How long `close` waits for NNG before abandoning the socket.
    static let closeTimeout: DispatchTimeInterval = .seconds(2)
    private static let abandoned = Atomic<Int>(0)
    /// Sockets whose close did not finish within `closeTimeout` (see `close`).
    public static var abandonedCount: Int { abandoned.load(ordering: .relaxed) }

    public var closed: Bool { isClosed.load(ordering: .acquiring) }
}

final class PipeCounter: Sendable {
    let count = Atomic<Int>(0)
}

private let pipeCallback: @convention(c) (nng_pipe, nng_pipe_ev, UnsafeMutableRawPointer?) -> Void = { _, event, context in
    let counter = Unmanaged<PipeCounter>.fromOpaque(context!).takeUnretainedValue()
    counter.count.add(event == NNG_PIPE_EV_ADD_POST ? 1 : -1, ordering: .acquiringAndReleasing)
}
