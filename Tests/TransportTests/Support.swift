import AgenticTesting
import Foundation
import Synchronization

/// A private directory for socket files, removed when dropped.
final class TestDirectory: Sendable {
    let path: String
    init() throws {
        var template = Array("\(NSTemporaryDirectory())/agentic-test.XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw TestFailure("mkdtemp failed") }
        path = String(cString: made)
    }
    func url(_ name: String) -> String { "ipc://\(path)/\(name).sock" }
    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// Counts concurrent entries and remembers the peak.
final class ConcurrencyGauge: Sendable {
    private let state = Mutex((current: 0, peak: 0))
    func enter() { state.withLock { $0.current += 1; $0.peak = max($0.peak, $0.current) } }
    func leave() { state.withLock { $0.current -= 1 } }
    var peak: Int { state.withLock { $0.peak } }
}
