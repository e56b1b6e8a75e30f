import Topology

enum TopologyTarget {
    static func run(_ bytes: UnsafeRawBufferPointer) {
        // Yams wants text: invalid UTF-8 becomes replacement characters, as a file read would.
        let source = String(decoding: bytes, as: UTF8.self)
        guard let spec = try? TopologyValidator.load(source: source, file: "fuzz.yaml") else { return }
        // What the coordinator writes at every epoch must load back to the same topology.
        let written = spec.renderYAML()
        let reloaded: TopologySpec
        do {
            reloaded = try TopologyValidator.load(source: written, file: "written.yaml")
        } catch {
            violated("a valid topology is written as one that does not load: \(error)")
        }
        guard reloaded == spec else { violated("a topology does not survive renderYAML → load") }
    }
}
