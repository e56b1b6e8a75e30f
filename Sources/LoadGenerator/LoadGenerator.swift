/// # LoadGenerator
///
/// Open-loop load against a gateway's `POST /v1/recommend`: requests go out on a fixed
/// schedule whether or not earlier ones returned, each timed from when it was due, into an
/// HdrHistogram. ``OpenLoop`` is the schedule and the bookkeeping (any transport);
/// ``LoadGenerator`` puts HTTP under it (AsyncHTTPClient).
///
/// ```swift
/// var configuration = try LoadGenerator.Configuration(url: "http://127.0.0.1:8080", rate: 200, duration: .seconds(10))
/// configuration.users = try LoadGenerator.users(fromTSV: "p1_test.tsv")
/// let report = try await LoadGenerator(configuration: configuration).run()
/// print(report.text)
/// ```
import AgentProtocol
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Synchronization

public struct LoadGenerator: Sendable {
    public struct Configuration: Sendable {
        /// The recommend endpoint (a bare `http://HOST:PORT` gets `/v1/recommend`).
        public var url: String
        public var schedule: Schedule
        /// Users to ask for, in order, cycling.
        public var users: [String] = (1...943).map(String.init)
        /// Items per recommendation.
        public var k: Int = 10
        /// How long one request may take, from its due time.
        public var timeout: Duration = .seconds(2)
        /// How long after the last due time requests in flight are waited for.
        public var grace: Duration = .seconds(2)
        /// Connections the client may open: enough that the client never holds requests back.
        public var connections: Int = 256

        /// - Throws: ``LoadError/Code/invalidArgument`` for a URL that is not http(s)://HOST[:PORT][/PATH],
        ///   or a rate or duration that is not positive.
        public init(url: String, rate: Double, duration: Duration) throws(LoadError) {
            self.url = try Self.endpoint(url)
            self.schedule = try Schedule(rate: rate, duration: duration)
        }

        static func endpoint(_ text: String) throws(LoadError) -> String {
            guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased(),
                scheme == "http" || scheme == "https", let host = components.host, !host.isEmpty
            else { throw LoadError(.invalidArgument, "\(text) is not an http:// URL with a host") }
            if let port = components.port, !(1...65535).contains(port) {
                throw LoadError(.invalidArgument, "port \(port) is out of range")
            }
            if components.path.isEmpty || components.path == "/" {
                var withPath = components
                withPath.path = "/v1/recommend"
                return withPath.string ?? text
            }
            return text
        }
    }

    public let configuration: Configuration

    public init(configuration: Configuration) { self.configuration = configuration }

    /// Runs the schedule against the gateway. Connection errors, error statuses and timeouts
    /// are counted as failed (by reason), never thrown.
    /// - Parameter onResult: called as each request completes.
    public func run(onResult: @escaping @Sendable (RequestResult) -> Void = { _ in }) async -> LoadReport {
        let client = RecommendClient(url: configuration.url, connections: configuration.connections, connectTimeout: configuration.timeout)
        let users = configuration.users.isEmpty ? ["1"] : configuration.users
        let k = configuration.k
        var loop = OpenLoop.Configuration(schedule: configuration.schedule)
        loop.timeout = configuration.timeout
        loop.grace = configuration.grace
        let report = await OpenLoop(configuration: loop).run(onResult: onResult) { call in
            await client.recommend(user: users[call.index % users.count], k: k, deadline: call.deadline)
        }
        await client.shutdown()
        return report
    }

    /// A short reason for a connection error ("connection refused", not the whole chain).
    static func describe(_ error: any Error) -> String {
        let text = "\(error)"
        for known in ["Connection refused", "connection refused", "Connection reset", "No route to host", "Host is unreachable", "nodename nor servname", "Name or service not known"] where text.contains(known) {
            return known.lowercased()
        }
        if let ioError = error as? IOError { return "socket error \(ioError.errnoCode)" }
        return String(text.prefix(120))
    }

    /// The users of a split file (TSV with a header naming a `user` column, one interaction a
    /// line), each once, in the order they first appear.
    /// - Throws: ``LoadError/Code/invalidUsers`` for a file that cannot be read, has no
    ///   `user` column or no rows.
    public static func users(fromTSV path: String) throws(LoadError) -> [String] {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw LoadError(.invalidUsers, "cannot read \(path): \(error.localizedDescription)")
        }
        var lines = text.split(whereSeparator: \.isNewline).makeIterator()
        guard let header = lines.next() else { throw LoadError(.invalidUsers, "\(path) is empty") }
        let columns = header.split(separator: "\t", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        guard let column = columns.firstIndex(of: "user") else {
            throw LoadError(.invalidUsers, "\(path) has no user column in its header")
        }
        var users: [String] = []
        var seen = Set<String>()
        while let line = lines.next() {
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
            guard column < fields.count else { continue }
            let user = fields[column].trimmingCharacters(in: .whitespaces)
            if !user.isEmpty, seen.insert(user).inserted { users.append(user) }
        }
        guard !users.isEmpty else { throw LoadError(.invalidUsers, "\(path) holds no users") }
        return users
    }
}

/// `POST /v1/recommend` over blocking HTTP/1.1 keep-alive connections, one per worker of
/// ``ClosedLoop/runOnThreads(send:)``, parsed on bytes: a saturation load generator that
/// costs a fraction of ``RecommendClient`` per request (with AsyncHTTPClient the generator
/// took 0.27–0.49 ms of CPU per request, on the same two cores as what it measured). Never
/// throws: every problem is a ``RequestOutcome/failed(reason:)``; a connection that failed or
/// timed out is dropped (a late answer would be read as the next one's) and made again.
public final class BlockingRecommendClient: Sendable {
    private let port: Int
    private let path: String
    private let connections: Mutex<[Int: HTTPConnection]>

    /// - Parameter url: the recommend endpoint on 127.0.0.1 (see ``LoadGenerator/Configuration/url``).
    /// - Throws: ``LoadError/Code/invalidArgument`` for a URL that is not http://127.0.0.1:PORT/….
    public init(url: String) throws(LoadError) {
        guard let components = URLComponents(string: url), components.scheme == "http",
            ["127.0.0.1", "localhost"].contains(components.host ?? ""), let port = components.port
        else { throw LoadError(.invalidArgument, "the blocking client speaks to http://127.0.0.1:PORT only") }
        self.port = port
        path = components.path.isEmpty ? "/v1/recommend" : components.path
        connections = Mutex([:])
    }

    /// Asks for `k` items for `user` on `worker`'s connection, giving up after `timeout`.
    public func recommend(worker: Int, user: String, k: Int, timeout: Duration) -> RequestOutcome {
        let body = RecommendAnswer.request(user: user, k: k)
        // Each worker owns its connection: taken out while in use, put back when healthy.
        let taken = connections.withLock { $0.removeValue(forKey: worker) }
        do throws(LoadError) {
            let connection: HTTPConnection
            if let taken { connection = taken } else { connection = try HTTPConnection(port: port, timeout: timeout) }
            let (status, answer) = try connection.post(path, body: body)
            connections.withLock { $0[worker] = connection }
            guard status == 200 else { return .failed(reason: "HTTP \(status)") }
            return answer.withUnsafeBufferPointer(RecommendAnswer.outcome)
        } catch {
            return .failed(reason: error.message)
        }
    }

    /// Closes every connection.
    public func shutdown() { connections.withLock { $0.removeAll() } }
}

/// What both recommend clients send and how they read the answer. The load generator shares
/// the machine with what it measures: the usual answer (an object with nothing degraded) is
/// recognised on its bytes, anything else goes through `JSONDecoder`.
enum RecommendAnswer {
    static func request(user: String, k: Int) -> [UInt8] {
        var body: [UInt8] = Array(#"{"user":"#.utf8)
        JSONText.append(string: user, to: &body)
        body.append(contentsOf: #","k":\#(k)}"#.utf8)
        return body
    }

    static func outcome(_ bytes: UnsafeBufferPointer<UInt8>) -> RequestOutcome {
        if bytes.first == UInt8(ascii: "{"), bytes.last == UInt8(ascii: "}"), HTTPConnection.find(nothingDegraded, in: bytes) {
            return .ok(degraded: [])
        }
        guard let answer = try? JSONDecoder().decode(Body.self, from: Data(buffer: bytes)) else {
            return .failed(reason: "unreadable answer")
        }
        return .ok(degraded: answer.degraded ?? [])
    }

    private static let nothingDegraded = Array(#""degraded":[]"#.utf8)

    private struct Body: Decodable {
        var degraded: [String]?
    }
}

/// `POST /v1/recommend` over HTTP/1.1 with a pool of keep-alive connections. Never throws:
/// every problem is a ``RequestOutcome/failed(reason:)``.
public final class RecommendClient: Sendable {
    private let client: HTTPClient
    private let url: String

    /// - Parameters:
    ///   - url: the recommend endpoint (see ``LoadGenerator/Configuration/url``).
    ///   - connections: how many connections the pool may open.
    public init(url: String, connections: Int = 256, connectTimeout: Duration = .seconds(2)) {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool = .init(idleTimeout: .seconds(30), concurrentHTTP1ConnectionsPerHostSoftLimit: max(1, connections))
        configuration.timeout = .init(connect: .nanoseconds(Int64(connectTimeout.seconds * 1e9)))
        configuration.redirectConfiguration = .disallow
        configuration.httpVersion = .http1Only
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        self.url = url
    }

    /// Asks for `k` items for `user`, giving up at `deadline`.
    public func recommend(user: String, k: Int, deadline: ContinuousClock.Instant) async -> RequestOutcome {
        let body = RecommendAnswer.request(user: user, k: k)
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: body))
        let left = ContinuousClock.now.duration(to: deadline)
        guard left > .zero else { return .failed(reason: "timed out") }
        do {
            let response = try await client.execute(request, deadline: .now() + .nanoseconds(Int64(left.seconds * 1e9)))
            let bytes = try await response.body.collect(upTo: 4 << 20)
            guard response.status == .ok else { return .failed(reason: "HTTP \(response.status.code)") }
            return bytes.withUnsafeReadableBytes { RecommendAnswer.outcome($0.bindMemory(to: UInt8.self)) }
        } catch let error as HTTPClientError {
            switch error {
            case .deadlineExceeded, .readTimeout, .connectTimeout, .writeTimeout: return .failed(reason: "timed out")
            case .cancelled: return .failed(reason: "cancelled")
            default: return .failed(reason: LoadGenerator.describe(error))
            }
        } catch {
            return .failed(reason: LoadGenerator.describe(error))
        }
    }

    /// Closes the connections; call once, after the last request.
    public func shutdown() async { try? await client.shutdown() }

}
