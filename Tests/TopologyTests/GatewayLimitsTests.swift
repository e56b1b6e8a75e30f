import Testing
import Topology

/// The gateway's limits in the topology: read, checked against their ranges, written back,
/// and seen by the diff a swap refuses to apply live.
@Suite("Gateway limits")
struct GatewayLimitsTests {
    static func source(_ limits: String) -> String {
        """
        epoch: 1
        name: limits
        agents:
          - name: router
            kind: router
        edges: []
        gateway:
          listen: [ "http://127.0.0.1:0" ]
          entry: router
          exit: router
        \(limits)
        """
    }

    @Test("limits are read and survive a rewrite; absent ones stay nil (the gateway's defaults)")
    func roundTrip() throws {
        let spec = try TopologyValidator.load(
            source: Self.source("  max_in_flight: 8\n  max_queued: 100\n  max_wait_ms: 40\n  max_body_bytes: 4096"), file: "limits.yaml")
        #expect(spec.gateway.maximumInFlight == 8)
        #expect(spec.gateway.maximumQueued == 100)
        #expect(spec.gateway.maximumBodyBytes == 4096)
        #expect(spec.gateway.maximumWaitMilliseconds == 40)
        let again = try TopologyValidator.load(source: spec.renderYAML(), file: "again.yaml")
        #expect(again.gateway == spec.gateway)
        let plain = try TopologyValidator.load(source: Self.source(""), file: "plain.yaml")
        #expect(plain.gateway.maximumInFlight == nil && plain.gateway.maximumQueued == nil && plain.gateway.maximumBodyBytes == nil
            && plain.gateway.maximumWaitMilliseconds == nil)
        #expect(!plain.renderYAML().contains("max_"))
    }

    @Test("out-of-range limits are errors at their field")
    func ranges() {
        let found = issues(of: Self.source("  max_in_flight: -1\n  max_queued: 99999999\n  max_wait_ms: -5\n  max_body_bytes: 10"))
        #expect(Set(found.map(\.field)) == ["gateway.max_in_flight", "gateway.max_queued", "gateway.max_wait_ms", "gateway.max_body_bytes"])
        #expect(found.allSatisfy { $0.code == .outOfRange })
        #expect(issues(of: Self.source("  max_queued: many")).map(\.code) == [.wrongType])
    }

    @Test("a changed limit shows in the diff")
    func diff() throws {
        let before = try TopologyValidator.load(source: Self.source(""), file: "a.yaml")
        var after = before
        after.gateway.maximumQueued = 10
        #expect(TopologyDiff(from: before, to: after).gatewayChanges.map(\.field) == ["max_queued"])
    }
}
