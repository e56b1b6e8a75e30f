/// What the test suites share: real child processes (`agentic` itself, `nngcat`) that
/// are always stopped, short private directories for socket files, and condition waits.
/// A library target rather than a test target so every suite can depend on it.
import Foundation
import Synchronization

public struct TestFailure: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// A real child process (our `agentic` executable or a system tool). Its stdin is a pipe
/// it serves until closed, so it also ends when the test runner dies; `stop` escalates
/// to SIGKILL, and it is stopped when dropped: no test leaves a process behind.
public final class TestProcess: @unchecked Sendable {
    private let process = Process()
    private let input = Pipe()
    private let stdout = Pipe()
    private let buffer = OutputBuffer()
    private let stopping = Atomic<Bool>(false)

    /// - Parameter errorFile: where the process's stderr goes (its logs at `warning` and up, its
    ///   error messages), for a test to show when the process fails; nil: discarded.
    public init(_ executable: String, _ arguments: [String], environment: [String: String] = [:], errorFile: String? = nil) throws {
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        // Quiet by default; AGENTIC_TEST_LOGS=1 shows the processes' logs on the test's stderr.
        var merged = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        let showLogs = merged["AGENTIC_TEST_LOGS"] == "1"
        if merged["AGENTIC_LOG_LEVEL"] == nil { merged["AGENTIC_LOG_LEVEL"] = "warning" }
        process.environment = merged
        process.standardInput = input
        process.standardOutput = stdout
        if showLogs {
            process.standardError = FileHandle.standardError
        } else if let errorFile, FileManager.default.createFile(atPath: errorFile, contents: nil),
            let handle = FileHandle(forWritingAtPath: errorFile)
        {
            process.standardError = handle
        } else {
            process.standardError = FileHandle.nullDevice
        }
        try process.run()
        LiveChildren.shared.add(process)
        let reader = stdout.fileHandleForReading
        let captured = self.buffer
        Thread.detachNewThread {
            var buffer = Data()
            while case let chunk = reader.availableData, !chunk.isEmpty {
                buffer.append(chunk)
                while let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                    let line = String(decoding: buffer[buffer.startIndex..<newline], as: UTF8.self)
                    captured.lines.withLock { $0.append(line) }
                    buffer.removeSubrange(buffer.startIndex...newline)
                }
            }
            if !buffer.isEmpty { captured.lines.withLock { $0.append(String(decoding: buffer, as: UTF8.self)) } }
            captured.finished.store(true, ordering: .releasing)
        }
    }

    /// Our `agentic` executable, built next to the test bundle by `swift build --build-tests`.
    public static func agentic(_ arguments: [String], environment: [String: String] = [:], errorFile: String? = nil) throws -> TestProcess {
        let path = URL(fileURLWithPath: try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
            .deletingLastPathComponent().appendingPathComponent("agentic").path
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw TestFailure("\(path) is missing: run `swift build --build-tests` before `swift test --skip-build`")
        }
        return try TestProcess(path, arguments, environment: environment, errorFile: errorFile)
    }

    /// Waits (polling, up to `timeout`) for a line of output that satisfies `match`.
    public func waitForLine(timeout: Duration = .seconds(20), where match: (String) -> Bool = { _ in true }) async throws
        -> String
    {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let line = buffer.lines.withLock({ $0.first(where: match) }) { return line }
            if buffer.finished.load(ordering: .acquiring), !process.isRunning {
                throw TestFailure(
                    "process exited (status \(process.terminationStatus)) before the expected line; output: \(output())"
                )
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw TestFailure("no expected line within \(timeout); output so far: \(output())")
    }

    public func output() -> [String] { buffer.lines.withLock { $0 } }

    /// Waits for the exit, then (up to a second more: a child that inherited the pipe may hold
    /// it open) for the reader to have taken every line, so ``output()`` is complete.
    public func waitForExit(timeout: Duration = .seconds(20)) async throws -> Int32 {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            if ContinuousClock.now > deadline { throw TestFailure("process did not exit within \(timeout)") }
            try await Task.sleep(for: .milliseconds(20))
        }
        let drained = ContinuousClock.now + .seconds(1)
        while !buffer.finished.load(ordering: .acquiring), ContinuousClock.now < drained {
            try await Task.sleep(for: .milliseconds(5))
        }
        return process.terminationStatus
    }

    public var isRunning: Bool { process.isRunning }

    public var pid: Int32 { process.processIdentifier }

    public func writeLine(_ line: String) {
        try? input.fileHandleForWriting.write(contentsOf: Data((line + "\n").utf8))
    }

    /// Sends `signal` to the process.
    public func signal(_ signal: Int32) { kill(process.processIdentifier, signal) }

    /// Closes the process's stdin (our processes take that as their parent's death).
    public func closeInput() { try? input.fileHandleForWriting.close() }

    /// Ends the process without waiting for it: stdin closes at once (our processes take
    /// that as their parent's death), then a thread of its own escalates to SIGTERM and
    /// SIGKILL and reaps it. Waiting here would hold a thread of Swift's small cooperative
    /// pool for seconds (tests stop processes in `defer`); `stopAndWait` waits without that.
    public func stop() {
        try? input.fileHandleForWriting.close()
        guard !stopping.exchange(true, ordering: .acquiringAndReleasing) else { return }
        let process = self.process
        Thread.detachNewThread {
            for (grace, signal) in [(2.0, SIGTERM), (2.0, SIGKILL)] {
                let deadline = Date().addingTimeInterval(grace)
                while process.isRunning && Date() < deadline { usleep(5_000) }
                if !process.isRunning { break }
                kill(process.processIdentifier, signal)
            }
            while process.isRunning { usleep(5_000) }
            LiveChildren.shared.remove(process)
        }
    }

    /// `stop`, then waits until the process has exited.
    public func stopAndWait() async {
        stop()
        while process.isRunning { try? await Task.sleep(for: .milliseconds(50)) }
    }

    deinit { stop() }
}

/// Children still running, killed when the test runner exits so that none outlives it
/// (stopping escalates on a thread of its own, which exit does not wait for).
final class LiveChildren: Sendable {
    static let shared: LiveChildren = {
        let children = LiveChildren()
        atexit { LiveChildren.shared.killAll() }
        return children
    }()

    // Process objects, not pids: a pid is only ours while its Process has not been reaped.
    private struct Children: @unchecked Sendable { var running: [ObjectIdentifier: Process] = [:] }
    private let children = Mutex(Children())

    func add(_ process: Process) { children.withLock { $0.running[ObjectIdentifier(process)] = process } }
    func remove(_ process: Process) { children.withLock { _ = $0.running.removeValue(forKey: ObjectIdentifier(process)) } }

    private func killAll() {
        for process in children.withLock({ Array($0.running.values) }) where process.isRunning {
            kill(process.processIdentifier, SIGKILL)
        }
    }
}

final class OutputBuffer: Sendable {
    let lines = Mutex<[String]>([])
    let finished = Atomic<Bool>(false)
}

/// A short private directory under /tmp (socket paths are limited to 107 bytes), removed when dropped.
public final class ShortDirectory: Sendable {
    public let path: String
    public init() throws {
        var template = Array("/tmp/agt.XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw TestFailure("mkdtemp failed") }
        path = String(cString: made)
    }
    /// Writes `text` to a file in the directory and returns its path.
    public func write(_ name: String, _ text: String) throws -> String {
        let file = "\(path)/\(name)"
        try text.write(toFile: file, atomically: true, encoding: .utf8)
        return file
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// Waits (polling, up to `timeout`) until `condition` holds.
public func waitUntil(_ what: String, timeout: Duration = .seconds(20), _ condition: () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now + timeout
    while try await !condition() {
        guard ContinuousClock.now < deadline else { throw TestFailure("\(what): not within \(timeout)") }
        try await Task.sleep(for: .milliseconds(20))
    }
}

