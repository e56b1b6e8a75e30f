public import Foundation
import Synchronization
import Transport

/// A child process whose stdout is read line by line and whose stdin can be written;
/// it is terminated when stopped or dropped, so a failed benchmark leaves nothing behind.
public final class ChildProcess: Sendable {
    private let process: Process
    private let input: Pipe
    public let lines: AsyncStream<String>
    public let name: String

    public init(executable: URL, arguments: [String]) throws {
        name = executable.lastPathComponent
        process = Process()
        process.executableURL = executable
        process.arguments = arguments
        input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = FileHandle.standardError
        let (stream, continuation) = AsyncStream.makeStream(of: String.self)
        lines = stream
        try process.run()
        // A thread of its own: blocking reads must not hold one of Swift's few pool threads.
        let reader = output.fileHandleForReading
        Thread.detachNewThread {
            var buffer: [UInt8] = []
            while true {
                let chunk = reader.availableData
                if chunk.isEmpty { break }
                for byte in chunk {
                    if byte == UInt8(ascii: "\n") {
                        continuation.yield(String(decoding: buffer, as: UTF8.self))
                        buffer.removeAll(keepingCapacity: true)
                    } else {
                        buffer.append(byte)
                    }
                }
            }
            continuation.finish()
        }
    }

    deinit { stop() }

    /// The next line of output, or an error if the process ends or `timeout` passes first.
    public func nextLine(timeout: Duration = .seconds(60)) async throws -> String {
        try await withThrowingTaskGroup(of: String?.self) { group in
            group.addTask { [lines] in
                for await line in lines { return line }
                return nil
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                return nil
            }
            defer { group.cancelAll() }
            guard let line = try await group.next() ?? nil else {
                throw BenchmarkError("\(name) ended or said nothing within \(timeout)")
            }
            return line
        }
    }

    public func writeLine(_ line: String) {
        try? input.fileHandleForWriting.write(contentsOf: Data((line + "\n").utf8))
    }

    /// Sends SIGTERM and returns: unlike `stop()`, which waits, it never holds one of Swift's
    /// few pool threads (the demo's replay runs on them).
    public func terminate() {
        if process.isRunning { kill(process.processIdentifier, SIGTERM) }
    }

    /// Closes stdin (the children serve until it closes), then terminates if needed.
    public func stop() {
        try? input.fileHandleForWriting.close()
        // Ask politely (stdin closed), then SIGTERM, then SIGKILL: never wait forever.
        for (grace, signal) in [(2.0, SIGTERM), (2.0, SIGKILL), (5.0, 0)] {
            let deadline = Date().addingTimeInterval(grace)
            while process.isRunning && Date() < deadline { usleep(2_000) }
            guard process.isRunning, signal != 0 else { return }
            kill(process.processIdentifier, signal)
        }
    }
}

public enum Executables {
    /// The directory holding this executable, where SwiftPM also puts its siblings.
    public static var directory: URL {
        let path = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: path).deletingLastPathComponent()
    }

    public static func sibling(_ name: String) throws -> URL {
        let url = directory.appendingPathComponent(name)
        guard FileManager.default.isExecutableFile(atPath: url.path) else {
            throw BenchmarkError("\(name) is not next to agentic at \(directory.path); build the package with `swift build`")
        }
        return url
    }
}

/// A private temporary directory (mode 0700), removed by `remove()`.
public struct TemporaryDirectory: Sendable {
    public let path: String

    public init(prefix: String) throws {
        var template = Array("\(NSTemporaryDirectory())/\(prefix).XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw BenchmarkError("cannot create a temporary directory: \(String(cString: strerror(errno)))") }
        path = String(cString: made)
    }

    public func remove() { try? FileManager.default.removeItem(atPath: path) }
}

public enum FreePort {
    /// A TCP port on 127.0.0.1 that was free a moment ago (the system's choice for port 0).
    public static func find() throws -> Int {
        let socket = try Socket(.rep)
        defer { socket.close() }
        let bound = try socket.listen("tcp://127.0.0.1:0")
        guard let port = bound.split(separator: ":").last.flatMap({ Int($0) }), port > 0 else {
            throw BenchmarkError("could not read the port of \(bound)")
        }
        return port
    }
}

/// A one-way switch shared between tasks.
public final class AtomicFlag: Sendable {
    public init() {}
    private let value = Atomic<Bool>(false)
    public func set() { value.store(true, ordering: .releasing) }
    public var isSet: Bool { value.load(ordering: .acquiring) }
}
