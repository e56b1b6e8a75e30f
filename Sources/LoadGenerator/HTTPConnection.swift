#if canImport(Glibc)
import Glibc
#endif

/// A minimal HTTP/1.1 keep-alive client over a blocking socket: enough for a load generator
/// that must cost less than the server it measures. One thread at a time uses a connection
/// (it holds a receive buffer): that is the rule behind `@unchecked Sendable`, which lets an
/// idle connection be kept in a lock until its worker takes it again.
public final class HTTPConnection: @unchecked Sendable {
    private let descriptor: Int32
    private var buffer: [UInt8] = []
    private var chunk = [UInt8](repeating: 0, count: 16 * 1024)

    /// Connects to 127.0.0.1:`port`; `timeout` bounds each receive (0: none).
    public init(port: Int, timeout: Duration = .seconds(15)) throws(LoadError) {
        descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw LoadError(.connection, "socket: \(String(cString: strerror(errno)))") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else {
            close(descriptor)
            throw LoadError(.connection, "connect: \(String(cString: strerror(errno)))")
        }
        var on: Int32 = 1
        setsockopt(descriptor, Int32(IPPROTO_TCP), TCP_NODELAY, &on, socklen_t(MemoryLayout<Int32>.size))
        let microseconds = max(0, timeout.components.seconds * 1_000_000 + timeout.components.attoseconds / 1_000_000_000_000)
        var receiveTimeout = timeval(tv_sec: Int(microseconds / 1_000_000), tv_usec: Int(microseconds % 1_000_000))
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &receiveTimeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(descriptor) }

    /// POSTs `body` as JSON; returns the status and the response body. Parsed on bytes, with
    /// one receive buffer for the connection's life: the load generator shares the two cores
    /// with what it measures, so its own cost per request counts against the figure.
    public func post(_ path: String, body: [UInt8]) throws(LoadError) -> (Int, [UInt8]) {
        var request = Array("POST \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: \(body.count)\r\n\r\n".utf8)
        request.append(contentsOf: body)
        var sent = 0
        while sent < request.count {
            let n = request[sent...].withUnsafeBytes { send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw LoadError(.connection, "send: \(String(cString: strerror(errno)))") }
            sent += n
        }
        var scanned = 0
        var headerEnd = 0
        while true {
            if let end = Self.headerEnd(in: buffer, from: scanned) {
                headerEnd = end
                break
            }
            scanned = max(0, buffer.count - 3)
            try receive()
        }
        // "HTTP/1.1 200 OK": the status is the three digits after the first space.
        guard headerEnd >= 12, buffer[8] == UInt8(ascii: " ") else { throw LoadError(.connection, "malformed response") }
        var status = 0
        for byte in buffer[9..<12] {
            guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { throw LoadError(.connection, "malformed response") }
            status = status * 10 + Int(byte - UInt8(ascii: "0"))
        }
        let length = Self.contentLength(in: buffer[..<headerEnd]) ?? 0
        while buffer.count < headerEnd + length { try receive() }
        let responseBody = Array(buffer[headerEnd..<(headerEnd + length)])
        buffer.removeFirst(headerEnd + length)
        return (status, responseBody)
    }

    /// Whether `needle` occurs in `bytes`.
    public static func find(_ needle: [UInt8], in bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBufferPointer { find(needle, in: $0) }
    }

    /// Whether `needle` occurs in `bytes`.
    static func find(_ needle: [UInt8], in bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard !needle.isEmpty, bytes.count >= needle.count else { return needle.isEmpty }
        for start in 0...(bytes.count - needle.count) where bytes[start] == needle[0] {
            if bytes[start..<(start + needle.count)].elementsEqual(needle) { return true }
        }
        return false
    }

    /// The index just past the first blank line (`\r\n\r\n`) at or after `start`.
    static func headerEnd(in bytes: [UInt8], from start: Int) -> Int? {
        guard bytes.count >= 4 else { return nil }
        var index = start
        while index + 3 < bytes.count {
            if bytes[index] == 13, bytes[index + 1] == 10, bytes[index + 2] == 13, bytes[index + 3] == 10 { return index + 4 }
            index += 1
        }
        return nil
    }

    /// The value of the `Content-Length` header (any case) in a response head.
    static func contentLength(in head: ArraySlice<UInt8>) -> Int? {
        let name = Array("content-length:".utf8)
        var lineStart = head.startIndex
        while lineStart < head.endIndex {
            let lineEnd = head[lineStart...].firstIndex(of: 13) ?? head.endIndex
            let line = head[lineStart..<lineEnd]
            if line.count > name.count, zip(line, name).allSatisfy({ ($0 | 0x20) == $1 || $0 == $1 }) {
                var value = 0
                var digits = 0
                for byte in line.dropFirst(name.count) where byte != UInt8(ascii: " ") {
                    guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
                    value = value * 10 + Int(byte - UInt8(ascii: "0"))
                    digits += 1
                }
                return digits > 0 ? value : nil
            }
            lineStart = lineEnd + 2
        }
        return nil
    }

    private func receive() throws(LoadError) {
        let n = chunk.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
        guard n > 0 else {
            let timedOut = n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)
            throw LoadError(.connection, n == 0 ? "connection closed" : timedOut ? "timed out" : "recv: \(String(cString: strerror(errno)))")
        }
        buffer.append(contentsOf: chunk[..<n])
    }
}
