import AgenticTesting
import Foundation
import Testing

/// The repository's topology directory.
let topologyDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("topology").path

/// `agentic load` and `agentic bench mesh` as users run them, against real processes.
@Suite("Load commands", .serialized, .timeLimit(.minutes(3)))
struct CommandTests {
    @Test("agentic load against a real agentic up of minimal.yaml: every request answered")
    func loadAgainstMesh() async throws {
        let directory = try ShortDirectory()
        let cluster = try await TestCluster(topology: "\(topologyDirectory)/minimal.yaml")
        defer { cluster.up.stop() }
        let gateway = cluster.baseURL
        let split = try directory.write("t.tsv", "user\titem\trating\ttimestamp\n1\t1\t5\t1\n2\t1\t5\t1\n3\t1\t5\t1\n")
        let load = try TestProcess.agentic([
            "load", "--url", gateway, "--rate", "50", "--duration", "2", "--users", split, "--json", "--timeout", "5",
        ])
        let json = try await load.waitForLine(timeout: .seconds(60)) { $0.hasPrefix("{") }
        #expect(try await load.waitForExit() == 0)
        let report = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        for key in ["sent", "ok", "failed", "degraded", "p50_ms", "p90_ms", "p99_ms", "p999_ms", "max_ms", "rps"] {
            #expect(report[key] != nil, "missing \(key)")
        }
        let sent = report["sent"] as? Int
        #expect(sent == 100)
        #expect(report["failed"] as? Int == 0)
        #expect(report["ok"] as? Int == sent)
    }

    @Test("agentic load with a refused connection reports failures and exits")
    func loadRefused() async throws {
        let load = try TestProcess.agentic(["load", "--url", "http://127.0.0.1:1", "--rate", "20", "--duration", "0.5", "--json"])
        let json = try await load.waitForLine(timeout: .seconds(30)) { $0.hasPrefix("{") }
        #expect(try await load.waitForExit() == 0)
        let report = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        #expect(report["sent"] as? Int == 10)
        #expect(report["failed"] as? Int == 10)
    }

    @Test("agentic load refuses a bad URL with a clear error")
    func loadBadURL() async throws {
        let load = try TestProcess.agentic(["load", "--url", "nonsense", "--rate", "20", "--duration", "1"])
        #expect(try await load.waitForExit() == 2)
    }

    @Test("agentic bench mesh --json has the keys")
    func benchMesh() async throws {
        let bench = try TestProcess.agentic([
            "bench", "mesh", "--json", "--topology", "\(topologyDirectory)/minimal.yaml",
            "--seconds", "0.5", "--rate", "50", "--rate-seconds", "0.5", "--concurrency", "4", "--rounds", "2",
        ])
        let json = try await bench.waitForLine(timeout: .seconds(120)) { $0.hasPrefix("{") }
        #expect(try await bench.waitForExit() == 0)
        let result = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        for key in ["mesh_over_inprocess_rps", "mesh_p99_ms_at_rate", "mesh_rps", "inprocess_rps", "inprocess_p99_ms_at_rate", "mesh_p50_ms_at_rate"] {
            #expect(result[key] != nil, "missing \(key)")
        }
        #expect((result["mesh_rps"] as? Double ?? 0) > 0)
        #expect((result["inprocess_rps"] as? Double ?? 0) > 0)
        #expect(result["mesh_failed"] as? Int == 0)
        // Two alternating rounds, each with its own ratio.
        #expect(result["rounds"] as? Int == 2)
        #expect((result["mesh_rps_rounds"] as? [Double])?.count == 2)
        #expect((result["mesh_over_inprocess_rps_rounds"] as? [Double])?.count == 2)
    }

    @Test("agentic bench swaps --json: swaps under load, every request answered, the p99 ratio reported")
    func benchSwaps() async throws {
        let bench = try TestProcess.agentic([
            "bench", "swaps", "--json", "--topology", "\(topologyDirectory)/minimal.yaml", "--swaps", "3",
            "--seconds", "0.5", "--steady-seconds", "1", "--concurrency", "4",
        ])
        let json = try await bench.waitForLine(timeout: .seconds(180)) { $0.hasPrefix("{") }
        #expect(try await bench.waitForExit() == 0)
        let result = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        for key in ["swaps_p99_over_steady_p99", "steady_p99_ms", "swaps_p99_ms", "load_rps", "saturation_rps", "swap_total_ms_median"] {
            #expect(result[key] != nil, "missing \(key)")
        }
        #expect(result["swaps"] as? Int == 3)
        #expect(result["swaps_ok"] as? Int == 3, "\(result["swaps_refused"] ?? "")")
        #expect(result["steady_failed"] as? Int == 0)
        #expect(result["swaps_failed"] as? Int == 0, "\(result["failures"] ?? "")")
        #expect((result["swaps_sent"] as? Int ?? 0) > 0)
    }
}
