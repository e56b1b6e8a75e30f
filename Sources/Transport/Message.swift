internal import CNNG

/// A message body allocated by NNG. Sending hands the body to NNG without copying it,
/// and a received body is read in place.
///
/// Ownership rule (why this is `@unchecked Sendable`): a `Message` belongs to one task at
/// a time. Sending it transfers the body to NNG; the `Message` is empty afterwards.
public final class Message: @unchecked Sendable {
    private var handle: OpaquePointer?

    /// An empty message with room for `capacity` bytes before it reallocates.
    public init(capacity: Int = 0) throws {
        var msg: OpaquePointer?
        try check(nng_msg_alloc(&msg, 0), "allocating a message")
        if capacity > 0 {
            let rv = nng_msg_reserve(msg, capacity)
            if rv != 0 {
                nng_msg_free(msg)
                throw TransportError(nng: rv, "reserving \(capacity) bytes")
            }
        }
        handle = msg
    }

    /// A message whose body is a copy of `bytes` (one copy, straight into NNG's buffer).
    public convenience init(bytes: some Collection<UInt8>) throws {
        try self.init(capacity: bytes.count)
        let copied: Bool? = try bytes.withContiguousStorageIfAvailable {
            try append(UnsafeRawBufferPointer($0))
            return true
        }
        if copied == nil { try Array(bytes).withUnsafeBytes { try append($0) } }
    }

    /// Takes ownership of a body NNG handed over.
    init(taking handle: OpaquePointer) {
        self.handle = handle
    }

    deinit {
        if let handle { nng_msg_free(handle) }
    }

    /// The body's length in bytes (0 once the message has been sent).
    public var count: Int {
        guard let handle else { return 0 }
        return nng_msg_len(handle)
    }

    /// Reads the body in place.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        guard let handle, nng_msg_len(handle) > 0 else { return try body(UnsafeRawBufferPointer(start: nil, count: 0)) }
        return try body(UnsafeRawBufferPointer(start: nng_msg_body(handle), count: nng_msg_len(handle)))
    }

    /// A copy of the body.
    public var bytes: [UInt8] { withUnsafeBytes { Array($0) } }

    /// Appends `bytes` to the body.
    public func append(_ bytes: UnsafeRawBufferPointer) throws {
        guard let handle else { throw TransportError(.closed, "appending to a message that was already sent") }
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return }
        try check(nng_msg_append(handle, base, bytes.count), "appending \(bytes.count) bytes")
    }

    /// Grows the body by `count` bytes and lets `body` write them in place.
    public func appendUninitialized(count: Int, _ body: (UnsafeMutableRawBufferPointer) throws -> Void) throws {
        guard let handle else { throw TransportError(.closed, "appending to a message that was already sent") }
        let start = nng_msg_len(handle)
        try check(nng_msg_realloc(handle, start + count), "growing a message by \(count) bytes")
        let base = nng_msg_body(handle)!.advanced(by: start)
        try body(UnsafeMutableRawBufferPointer(start: base, count: count))
    }

    /// Hands the body to NNG; the message is empty afterwards.
    func take() throws -> OpaquePointer {
        guard let handle else { throw TransportError(.closed, "a message can be sent only once") }
        self.handle = nil
        return handle
    }
}
