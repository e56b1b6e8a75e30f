import Foundation
import Synchronization

/// One child process of the coordinator, with a stdin pipe it holds for the child's lifetime:
/// when the coordinator dies, even by SIGKILL, the pipe's write end closes and the child sees
/// end of file (AgentHost watches for it).
///
/// `@unchecked Sendable` rule: the `Process` is configured and launched in `init` only;
/// afterwards it is only read (`processIdentifier`, `isRunning`), which Foundation allows
/// from any thread, and signalled through `kill(2)`.
final class Child: @unchecked Sendable {
    private let process = Process()
    private let input = Pipe()
    /// Lines the child writes to stdout, when `capturesOutput` (else its stdout is our stderr).
    let lines: AsyncStream<String>
    let pid: Int32

    private static func currentEnvironment() -> [String: String] {
        var environment: [String: String] = [:]
        var entry = environ
        while let pointer = entry.pointee {
            let text = String(cString: pointer)
            if let equals = text.firstIndex(of: "=") {
                environment[String(text[..<equals])] = String(text[text.index(after: equals)...])
            }
            entry += 1
        }
        return environment
    }

    /// Launches `executable` with `arguments`.
    /// - Parameter onExit: called once on exit with the status and whether a signal ended it.
    init(
        executable: String, arguments: [String], capturesOutput: Bool = false,
        onExit: @escaping @Sendable (_ status: Int32, _ signalled: Bool) -> Void
    ) throws(CoordinatorError) {
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        // One process per agent on few cores: OpenBLAS's worker threads spin in sched_yield
        // between calls, and a profile of the MovieLens mesh at 45 requests/s showed the
        // spinning threads of two agents (ALS, content) taking half of the cluster's CPU.
        // The live environment, not ProcessInfo's copy: `up` and the demo setenv AGENTIC_DATA
        // after start-up, and ProcessInfo keeps what it first read.
        var environment = Self.currentEnvironment()
        if environment["OPENBLAS_NUM_THREADS"] == nil { environment["OPENBLAS_NUM_THREADS"] = "1" }
        process.environment = environment
        process.standardInput = input
        process.standardError = FileHandle.standardError
        let (stream, continuation) = AsyncStream.makeStream(of: String.self)
        lines = stream
        let output = Pipe()
        if capturesOutput {
            process.standardOutput = output
        } else {
            // Our stdout carries the lines `up` prints for people and tests; children's chatter goes to stderr.
            process.standardOutput = FileHandle.standardError
            continuation.finish()
        }
        process.terminationHandler = { process in
            onExit(process.terminationStatus, process.terminationReason == .uncaughtSignal)
        }
        do {
            try process.run()
        } catch {
            throw CoordinatorError(.spawn, "cannot start \(executable) \(arguments.joined(separator: " ")): \(error)")
        }
        pid = process.processIdentifier
        // The read end of stdin belongs to the child now; closing ours keeps no stray reader.
        try? input.fileHandleForReading.close()
        if capturesOutput {
            try? output.fileHandleForWriting.close()
            let reader = output.fileHandleForReading
            // A thread of its own: blocking reads must not hold one of Swift's few pool threads.
            Thread.detachNewThread {
                var buffer = Data()
                while case let chunk = reader.availableData, !chunk.isEmpty {
                    buffer.append(chunk)
                    while let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                        continuation.yield(String(decoding: buffer[buffer.startIndex..<newline], as: UTF8.self))
                        buffer.removeSubrange(buffer.startIndex...newline)
                    }
                }
                continuation.finish()
            }
        }
    }

    var isRunning: Bool { process.isRunning }

    /// Sends `signal` (e.g. SIGTERM) to the child.
    func signal(_ signal: Int32) {
        if process.isRunning { kill(pid, signal) }
    }

    /// Closes the child's stdin: it sees end of file, as if we had died.
    func closeInput() {
        try? input.fileHandleForWriting.close()
    }
}
