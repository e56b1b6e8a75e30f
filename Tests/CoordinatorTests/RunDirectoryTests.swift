import Coordinator
import Foundation
import Testing

/// The control socket, like every socket of a run, is an ipc:// file in RUN/s: what keeps other
/// users of the machine from sending it commands is that RUN and RUN/s are private (0700).
@Suite("Run directory")
struct RunDirectoryTests {
    static func mode(_ path: String) throws -> Int {
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        return try #require(attributes[.posixPermissions] as? Int) & 0o777
    }

    @Test("the run and socket directories are private, also when they existed open")
    func privateDirectories() throws {
        let base = "/tmp/agt-rd-\(getpid())-\(UInt32.random(in: 0 ... .max))"
        defer { try? FileManager.default.removeItem(atPath: base) }
        let run = "\(base)/r"
        try FileManager.default.createDirectory(atPath: "\(run)/s", withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        #expect(try Self.mode("\(run)/s") == 0o755)
        try RunDirectory.prepare(run)
        #expect(try Self.mode(run) == 0o700)
        #expect(try Self.mode("\(run)/s") == 0o700)

        let fresh = "\(base)/new/r"
        try RunDirectory.prepare(fresh)
        #expect(try Self.mode("\(base)/new") == 0o700)
        #expect(try Self.mode(fresh) == 0o700)
        #expect(try Self.mode("\(fresh)/s") == 0o700)
    }
}
