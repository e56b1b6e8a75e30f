import Foundation
import Synchronization
import Transport

/// A private temporary directory (mode 0700), removed by `remove()`.
struct TemporaryDirectory: Sendable {
    let path: String

    init(prefix: String) throws {
        var template = Array("\(NSTemporaryDirectory())/\(prefix).XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw CLIError("cannot create a temporary directory: \(String(cString: strerror(errno)))") }
        path = String(cString: made)
    }

    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

enum FreePort {
    /// A TCP port on 127.0.0.1 that was free a moment ago (the system's choice for port 0).
    static func find() throws -> Int {
        let socket = try Socket(.rep)
        defer { socket.close() }
        let bound = try socket.listen("tcp://127.0.0.1:0")
        guard let port = bound.split(separator: ":").last.flatMap({ Int($0) }), port > 0 else {
            throw CLIError("could not read the port of \(bound)")
        }
        return port
    }
}

/// Writes one line to stdout at once: parents wait on these lines, so no buffering.
func emitLine(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

/// A one-way switch shared between tasks.
final class AtomicFlag: Sendable {
    private let value = Atomic<Bool>(false)
    func set() { value.store(true, ordering: .releasing) }
    var isSet: Bool { value.load(ordering: .acquiring) }
}
