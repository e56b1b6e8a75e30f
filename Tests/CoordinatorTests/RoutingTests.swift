import AgenticTesting
import Coordinator
import Foundation
import Testing

/// The router's segment choosing what runs, with real processes: `agentic up` with its
/// gateway, requests over HTTP.
@Suite("Routing by segment through the gateway", .serialized, .timeLimit(.minutes(3)))
struct RoutingTests {
    /// A data-free router (it answers `cold` for every user) feeding two static routes into
    /// fusion, the `warm` one taken by light and heavy users only.
    static let topology = """
        epoch: 0
        name: routed
        transport:
          kind: ipc
        agents:
          - name: router
            kind: router
          - name: everyone
            kind: recall.static
            parameters:
              k: 5
              items: "1,2,3,4,5"
          - name: warm
            kind: recall.static
            parameters:
              k: 5
              items: "91,92,93,94,95"
          - name: fusion
            kind: fusion
        edges:
          - { from: router, to: everyone }
          - { from: router, to: warm, segments: [light, heavy] }
          - { from: everyone, to: fusion }
          - { from: warm, to: fusion }
        gateway:
          listen: [ "http://127.0.0.1:0" ]
          entry: router
          exit: fusion
          deadline_ms: 2000

        """

    @Test("cold users get only the unrestricted route's items, the restricted route is never called, and apply lifts that live")
    func coldUsersSkipTheRestrictedRoute() async throws {
        let directory = try ShortDirectory()
        let cluster = try await TestCluster(topology: try directory.write("t.yaml", Self.topology), in: directory)
        defer { cluster.up.stop() }
        let runDirectory = cluster.runDirectory, gateway = cluster.baseURL

        for user in ["u1", "u2", "u3"] {
            let (status, body) = await HTTP.postJSON(gateway + "/v1/recommend", #"{"user": "\#(user)", "k": 10}"#)
            #expect(status == 200)
            let items = (body["items"] as? [[String: Any]] ?? []).compactMap { $0["item"] as? String }
            #expect(Set(items) == ["1", "2", "3", "4", "5"], "items for \(user): \(items)")
            #expect(body["degraded"] as? [String] == [])
        }

        let metrics = String(decoding: try await HTTP.get(gateway + "/metrics").body, as: UTF8.self)
        #expect(metrics.contains(#"agentic_gateway_agent_calls_total{agent="everyone",outcome="ok"} 3"#))
        #expect(metrics.contains(#"agentic_gateway_agent_calls_total{agent="fusion",outcome="ok"} 3"#))
        #expect(!metrics.contains(#"agent="warm""#), "the skipped route was called: \(metrics)")

        // Lifting the restriction live changes the routing only: no process starts.
        let lifted = try directory.write(
            "lifted.yaml",
            Self.topology.replacingOccurrences(
                of: "{ from: router, to: warm, segments: [light, heavy] }", with: "{ from: router, to: warm }"))
        let apply = try TestProcess.agentic(["apply", lifted, "--json", "--run-dir", runDirectory])
        let reportLine = try await apply.waitForLine(timeout: .seconds(60)) { $0.hasPrefix("{") }
        #expect(try await apply.waitForExit() == 0)
        let report = try JSONDecoder().decode(SwapReport.self, from: Data(reportLine.utf8))
        #expect(report.outcome == "swapped" && report.epoch == 1 && report.started.isEmpty, "\(report)")
        #expect(report.changes == ["~ edge router -> warm: segments [light, heavy] -> (none)"])
        try await waitUntil("the warm route serves cold users") {
            let (_, body) = await HTTP.postJSON(gateway + "/v1/recommend", #"{"user": "u4", "k": 10}"#)
            let items = (body["items"] as? [[String: Any]] ?? []).compactMap { $0["item"] as? String }
            return items.contains("91")
        }

        let down = try TestProcess.agentic(["down", "--run-dir", runDirectory])
        #expect(try await down.waitForExit(timeout: .seconds(40)) == 0)
        #expect(try await cluster.up.waitForExit() == 0)
    }
}
