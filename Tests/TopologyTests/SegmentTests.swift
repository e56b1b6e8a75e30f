import Foundation
import Testing
import Topology

/// A router feeding two routes into fusion, the second taken by light and heavy users only.
/// Line 14 is the restricted edge; `edge` replaces it.
private func routed(edge: String = "{ from: router, to: warm, segments: [heavy, light] }", routerKind: String = "router")
    -> String
{
    """
    epoch: 0
    name: routed
    agents:
      - name: router
        kind: \(routerKind)
      - name: everyone
        kind: recall.static
      - name: warm
        kind: recall.static
      - name: fusion
        kind: fusion
    edges:
      - { from: router, to: everyone }
      - \(edge)
      - { from: everyone, to: fusion }
      - { from: warm, to: fusion }
    gateway:
      entry: router
      exit: fusion

    """
}

private func lineFieldCode(_ issues: [ValidationIssue]) -> [String] {
    issues.map { "\($0.line):\($0.field):\($0.code)" }
}

@Suite("Edges restricted to router segments")
struct SegmentTests {
    @Test("an edge's segments parse, in the catalogue's order, and the graph follows them per segment")
    func parses() throws {
        let spec = try TopologyValidator.load(source: routed(), file: "test.yaml")
        #expect(spec.edges[0].segments == nil)
        #expect(spec.edges[1].segments == ["light", "heavy"])
        #expect(spec.edges[1].description == "router -> warm [light, heavy]")
        let graph = spec.graph
        #expect(graph.successors(of: "router") == ["everyone", "warm"])
        #expect(graph.segments(from: "router", to: "warm") == ["light", "heavy"])
        #expect(graph.segments(from: "router", to: "everyone") == nil)
        #expect(graph.reachable(from: ["router"], segment: "cold") == ["router", "everyone", "fusion"])
        #expect(graph.reachable(from: ["router"], segment: "light") == ["router", "everyone", "warm", "fusion"])
        #expect(KindCatalogue.routerSegments == ["cold", "light", "heavy"])
    }

    @Test("the writer round-trips segments")
    func roundTrip() throws {
        let spec = try TopologyValidator.load(source: routed(), file: "test.yaml")
        let yaml = spec.renderYAML()
        #expect(yaml.contains("  - { from: router, to: warm, segments: [light, heavy] }\n"))
        #expect(yaml.contains("  - { from: router, to: everyone }\n"))
        #expect(try TopologyValidator.load(source: yaml, file: "written.yaml") == spec)
        let json = try JSONEncoder().encode(spec)
        #expect(try JSONDecoder().decode(TopologySpec.self, from: json) == spec)
    }

    @Test("an empty list is an error at its line and field")
    func emptyList() {
        let found = issues(of: routed(edge: "{ from: router, to: warm, segments: [] }"))
        #expect(lineFieldCode(found) == ["14:edges[1].segments:invalidValue"])
        #expect(found.first?.description.hasPrefix("test.yaml:14:") == true)
        #expect(found.first?.message.contains("at least one of cold, light, heavy") == true)
    }

    @Test("an unknown segment is named, with a hint")
    func unknownSegment() {
        let found = issues(of: routed(edge: "{ from: router, to: warm, segments: [light, hevy] }"))
        #expect(lineFieldCode(found) == ["14:edges[1].segments[1]:invalidValue"])
        #expect(
            found.first?.message == "unknown segment 'hevy' (did you mean 'heavy'?); a router answers cold, light, heavy")
    }

    @Test("a segment listed twice is an error")
    func duplicateSegment() {
        let found = issues(of: routed(edge: "{ from: router, to: warm, segments: [light, light] }"))
        #expect(lineFieldCode(found) == ["14:edges[1].segments[1]:invalidValue"])
        #expect(found.first?.message == "segment 'light' is listed twice")
    }

    @Test("segments must be a list")
    func notAList() {
        let found = issues(of: routed(edge: "{ from: router, to: warm, segments: light }"))
        #expect(lineFieldCode(found) == ["14:edges[1].segments:wrongType"])
    }

    @Test("a segment whose users cannot reach the exit is an error at the edge that closes the path")
    func exitUnreachableForASegment() throws {
        let source = routed().replacingOccurrences(
            of: "  - { from: router, to: everyone }", with: "  - { from: router, to: everyone, segments: [heavy] }")
        let found = issues(of: source)
        #expect(lineFieldCode(found) == ["13:edges[0].segments:unreachable"])
        let issue = try #require(found.first)
        let line = source.split(separator: "\n")[12]
        let column = line.distance(from: line.startIndex, to: try #require(line.firstIndex(of: "["))) + 1
        #expect(issue.column == column)
        #expect(
            issue.description
                == "test.yaml:13:\(column): edges[0].segments: for segment 'cold' the exit 'fusion' cannot be reached from the entry over the edges it takes (not taken: router -> everyone [heavy], router -> warm [light, heavy]), so its users would get nothing"
        )
    }

    @Test("segments need a router upstream")
    func needsARouter() {
        let found = issues(of: routed(routerKind: "recall.static"))
        #expect(lineFieldCode(found) == ["14:edges[1].segments:invalidValue"])
        #expect(found.first?.message == "segments need a router upstream: the topology has no router to choose a segment")

        let beside = routed().replacingOccurrences(
            of: "  - { from: warm, to: fusion }", with: "  - { from: warm, to: fusion }\n  - { from: side, to: fusion, segments: [heavy] }"
        ).replacingOccurrences(of: "  - name: fusion", with: "  - name: side\n    kind: recall.static\n  - name: fusion")
            .replacingOccurrences(of: "  entry: router", with: "  entry: [router, side]")
        let fromSide = issues(of: beside)
        #expect(fromSide.map(\.field) == ["edges[4].segments"])
        #expect(fromSide.first?.message.contains("'side' is neither a router nor fed by one") == true)
    }

    @Test("two edges between the same agents are a duplicate whatever their segments")
    func duplicateEdge() {
        let source = routed().replacingOccurrences(
            of: "  - { from: warm, to: fusion }", with: "  - { from: warm, to: fusion }\n  - { from: router, to: warm }")
        #expect(lineFieldCode(issues(of: source)) == ["17:edges[4]:invalidValue"])
    }

    @Test("a spec built in code is checked too: an empty list has no line")
    func inMemory() throws {
        var spec = sampleSpec()
        spec.edges[1].segments = []
        let error = try #require(TopologyValidator.validate(spec).failureValue)
        #expect(error.issues.map { "\($0.line):\($0.field):\($0.code)" } == ["0:edges[1].segments:invalidValue"])
        spec.edges[1].segments = ["heavy", "light"]
        #expect(try TopologyValidator.validate(spec).get().edges[1].segments == ["light", "heavy"])
    }

    @Test("a diff reports a change of an edge's segments as a change, not a new edge")
    func diff() throws {
        let old = try TopologyValidator.validate(sampleSpec()).get()
        var new = old
        new.epoch = 2
        new.edges[1].segments = ["light", "heavy"]
        let diff = TopologyDiff(from: old, to: new)
        #expect(!diff.isEmpty)
        #expect(diff.edgesAdded.isEmpty && diff.edgesRemoved.isEmpty)
        #expect(
            diff.edgesChanged == [
                .init(from: "router", to: "b", segments: .init(field: "segments", old: nil, new: "[light, heavy]"))
            ])
        #expect(diff.description == "topology epoch 1 -> 2\n~ edge router -> b: segments (none) -> [light, heavy]")
        let back = TopologyDiff(from: new, to: old)
        #expect(back.description == "topology epoch 2 -> 1\n~ edge router -> b: segments [light, heavy] -> (none)")

        let json = try JSONEncoder().encode(diff)
        #expect(try JSONDecoder().decode(TopologyDiff.self, from: json) == diff)
        // A diff from a build before segments has no edgesChanged.
        var object = try #require(try JSONSerialization.jsonObject(with: json) as? [String: Any])
        object["edgesChanged"] = nil
        let older = try JSONDecoder().decode(TopologyDiff.self, from: JSONSerialization.data(withJSONObject: object))
        #expect(older.edgesChanged.isEmpty)
        #expect(older.toEpoch == 2)
    }
}
