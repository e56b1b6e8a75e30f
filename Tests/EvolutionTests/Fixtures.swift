import Foundation
import Topology

/// The repository's topology files, read in place.
enum Fixtures {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    static func topology(_ name: String) throws -> TopologySpec {
        try TopologyValidator.load(contentsOf: root.appendingPathComponent("topology/\(name)").path)
    }
}
