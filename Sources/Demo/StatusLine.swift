import Foundation
import Synchronization

/// The progress of a run: one line rewritten in place on a terminal, or a plain line every
/// few seconds when the output is a file or a pipe (logs stay readable).
public final class StatusLine: Sendable {
    private let handle: FileHandle
    private let terminal: Bool
    private let plainInterval: Double
    private let state = Mutex<(lastPlain: Double, drawn: Bool)>((-Double.infinity, false))

    /// - Parameters:
    ///   - fileDescriptor: where to write (stdout, or stderr when stdout carries JSON).
    ///   - plainInterval: seconds between plain lines when not on a terminal.
    public init(fileDescriptor: Int32, plainInterval: Double = 5) {
        handle = FileHandle(fileDescriptor: fileDescriptor, closeOnDealloc: false)
        terminal = isatty(fileDescriptor) == 1
        self.plainInterval = plainInterval
    }

    public static func text(_ p: DemoProgress, planned: Double) -> String {
        let epoch = p.epoch.map(String.init) ?? "-"
        return "[\(String(format: "%5.1f", p.elapsedSeconds))/\(String(format: "%.0f", planned)) s] epoch \(epoch)"
            + String(format: " | %5.1f req/s | p99 %6.1f ms", p.requestsPerSecond, p.p99Milliseconds)
            + String(format: " | hit rate %.3f | NDCG@10 %.3f", p.hitRate, p.ndcg)
            + " | ok \(p.ok) failed \(p.failed) | step: \(p.step)"
    }

    public func show(_ progress: DemoProgress, planned: Double) {
        let line = Self.text(progress, planned: planned)
        if terminal {
            // Carriage return and "erase line": the same line is redrawn each time.
            write("\r\u{1B}[2K" + line)
            state.withLock { $0.drawn = true }
        } else {
            let due = state.withLock { state -> Bool in
                guard progress.elapsedSeconds - state.lastPlain >= plainInterval else { return false }
                state.lastPlain = progress.elapsedSeconds
                return true
            }
            if due { write(line + "\n") }
        }
    }

    /// Ends the line in place so what follows starts on a fresh line.
    public func finish() {
        if state.withLock({ $0.drawn }) { write("\n") }
        state.withLock { $0.drawn = false }
    }

    /// A plain message line (cleared status line first on a terminal).
    public func message(_ text: String) {
        write((terminal && state.withLock { $0.drawn } ? "\r\u{1B}[2K" : "") + text + "\n")
        state.withLock { $0.drawn = false }
    }

    private func write(_ text: String) { try? handle.write(contentsOf: Data(text.utf8)) }
}
