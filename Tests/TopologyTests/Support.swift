import Foundation
import Topology

enum Paths {
    static let tests = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    static let fixtures = tests.appendingPathComponent("Fixtures")
    static let examples = tests.deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent(
        "topology")

    static func fixture(_ name: String) -> String { fixtures.appendingPathComponent(name).path }
    static func example(_ name: String) -> String { examples.appendingPathComponent(name).path }

    /// A fresh directory under the system's temporary directory.
    static func temporaryDirectory() throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("topology-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url.path
    }
}

/// Validation issues of a file given by its source, as `LINE:FIELD:code` strings.
func issues(of source: String, file: String = "test.yaml") -> [ValidationIssue] {
    switch TopologyValidator.validate(source: source, file: file) {
    case .success: []
    case .failure(let error): error.issues
    }
}

func fixtureIssues(_ name: String) throws -> [ValidationIssue] {
    let path = Paths.fixture(name)
    let source = try String(contentsOfFile: path, encoding: .utf8)
    return issues(of: source, file: name)
}

/// A small valid spec built in code.
func sampleSpec() -> TopologySpec {
    TopologySpec(
        epoch: 1, name: "sample",
        agents: [
            AgentSpec(name: "router", kind: "router"),
            AgentSpec(name: "a", kind: "recall.static", replicas: 2, parameters: ["k": 20, "items": "1,2,3"]),
            AgentSpec(
                name: "b", kind: "recall.ease", parameters: ["lambda": 300.0],
                decisionSpace: ["lambda": .double(10...1000, log: true)]),
            AgentSpec(
                name: "fusion", kind: "fusion", parameters: ["method": "weighted", "weight.a": 0.5, "weight.b": 1.5]),
            AgentSpec(name: "rank", kind: "rank.passthrough", parameters: ["k": 10]),
        ],
        edges: [
            Edge(from: "router", to: "a"), Edge(from: "router", to: "b"), Edge(from: "a", to: "fusion"),
            Edge(from: "b", to: "fusion"), Edge(from: "fusion", to: "rank"),
        ],
        gateway: GatewaySpec(entry: ["router"], exit: "rank"))
}
