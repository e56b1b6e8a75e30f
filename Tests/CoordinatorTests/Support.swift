import AgenticTesting
import Foundation

/// The repository's topology directory.
let topologyDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("topology").path
