import Foundation
import Testing
import Topology
import Transport

@testable import Benchmarks

/// The benchmarks' own logic, without running one: which swaps they make, how figures are
/// named and summarised, the peers' counting protocol, the topology they fall back to.
@Suite("Benchmarks")
struct BenchmarksTests {
    static let topology = """
        epoch: 0
        name: swaps
        transport:
          kind: ipc
        agents:
          - name: zeta
            kind: rerank.mmr
            decision_space:
              lambda: { type: double, min: 0.0, max: 0.9 }
          - name: alpha
            kind: recall.static
            parameters: { k: 20 }
            decision_space:
              k: { type: int, min: 10, max: 40 }
          - name: fixed
            kind: rank.passthrough
        edges:
          - { from: alpha, to: fixed }
          - { from: fixed, to: zeta }
        gateway:
          listen: [ "http://127.0.0.1:0" ]
          entry: alpha
          exit: zeta
          deadline_ms: 1000

        """

    @Test("swaps go round the agents with a numeric dimension by name, alternating two values inside the range")
    func swapCycle() throws {
        let spec = try TopologyValidator.load(source: Self.topology, file: "swaps.yaml")
        let cycle = SwapCycle(spec)
        #expect(!cycle.isEmpty)
        let changes = (0..<6).map { cycle.change($0) }
        #expect(changes.map(\.0) == ["alpha", "zeta", "alpha", "zeta", "alpha", "zeta"], "the agent without a dimension is skipped")
        #expect(changes[0].1 == "k" && changes[1].1 == "lambda")
        #expect(changes[0].2 == "20" && changes[2].2 == "30" && changes[4].2 == "20", "consecutive swaps of one agent change it")
        let lambdas = [changes[1].2, changes[3].2].compactMap(Double.init)
        #expect(lambdas.count == 2 && lambdas[0] != lambdas[1] && lambdas.allSatisfy { $0 > 0 && $0 < 0.9 })
    }

    @Test("a topology with nothing to swap gives an empty cycle")
    func nothingToSwap() throws {
        var spec = try TopologyValidator.load(source: Self.topology, file: "swaps.yaml")
        for index in spec.agents.indices { spec.agents[index].decisionSpace = [:] }
        #expect(SwapCycle(spec).isEmpty)
    }

    @Test("transport figures carry their unit in the JSON keys; the ratio is Swift over C")
    func transportFigures() throws {
        let result = TransportBenchmark.Result(figures: [
            .init(key: "p50_ipc_64", c: 10, swift: 15), .init(key: "rps_tcp_8inflight", c: 1000, swift: 800),
        ])
        let object = try JSONSerialization.jsonObject(with: Data(try result.jsonLine().utf8)) as? [String: Double]
        #expect(object?["c_p50_us_ipc_64"] == 10)
        #expect(object?["swift_p50_us_ipc_64"] == 15)
        #expect(object?["swift_over_c_p50_ipc_64"] == 1.5)
        #expect(object?["swift_over_c_rps_tcp_8inflight"] == 0.8)
        #expect(result.table().contains("p50_ipc_64"))
    }

    @Test("medians: the upper middle, or the given value for none")
    func medians() {
        #expect(median([3, 1, 2]) == 2)
        #expect(median([4, 1, 3, 2]) == 3)
        #expect(median([]) == 0)
        #expect(median([], empty: .nan).isNaN)
        #expect(BenchCluster.ratio(1, 3) == 0.333)
        #expect(BenchCluster.ratio(1, 0) == 0)
    }

    @Test("the peers' pub/sub count: data between the first hello and the end marker, hellos announced once")
    func pubSubCount() async throws {
        let (stream, continuation) = AsyncStream.makeStream(of: Message.self)
        for kind in "hhdxddhde" { continuation.yield(try Message(bytes: [kind.asciiValue!, 0, 0])) }
        continuation.finish()
        let hellos = HelloCount()
        let result = try await PubSubCount.count(stream) { hellos.add() }
        #expect(result.received == 4)
        #expect(hellos.value == 1)
        let (ended, finish) = AsyncStream.makeStream(of: Message.self)
        finish.yield(try Message(bytes: Array("hd".utf8)))
        finish.finish()
        await #expect(throws: BenchmarkError.self) { try await PubSubCount.count(ended) {} }
    }

    @Test("an explicit topology must exist; the error names it")
    func missingTopology() {
        #expect(throws: BenchmarkError.self) {
            try BenchCluster.pickTopology("/nonexistent/t.yaml", factory: .init())
        }
    }
}

final class HelloCount: @unchecked Sendable {
    private(set) var value = 0
    func add() { value += 1 }
}
