import AgenticTesting
import Foundation
import Testing
import Topology

@testable import Evolution

/// `agentic evolve` as a real process, on a small synthetic data set in the MovieLens layout (so it
/// runs in seconds in a debug build): users like one of four genres, items belong to one genre.
@Suite struct EvolveCommandTests {
    static func writeData(in directory: String) throws {
        var generator = SeededGenerator(seed: 42)
        let genres = ["Action", "Comedy", "Drama", "Horror"]
        var items = "item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq\n"
        for item in 1...120 { items += "\(item)\tMovie \(item)\t\(1980 + item % 20)\t\(genres[item % 4])\n" }
        var inter = "user_id:token\titem_id:token\trating:float\ttimestamp:float\n"
        for user in 1...150 {
            let liked = user % 4
            var seen: Set<Int> = []
            let count = 12 + Int(generator.next() % 20)
            while seen.count < count {
                // Mostly the user's genre, popular items (low ids) more often, some noise.
                let inGenre = generator.unit() < 0.85
                let rank = Int(pow(generator.unit(), 2) * 30)
                let item = inGenre ? 1 + (rank * 4 + liked) % 120 : 1 + Int(generator.next() % 120)
                seen.insert(item)
            }
            for (t, item) in seen.sorted().enumerated() {
                inter += "\(user)\t\(item)\t\(3 + Int(generator.next() % 3))\t\(880_000_000 + user * 1000 + t)\n"
            }
        }
        try items.write(toFile: directory + "/ml-100k.item", atomically: true, encoding: .utf8)
        try inter.write(toFile: directory + "/ml-100k.inter", atomically: true, encoding: .utf8)
    }

    @Test(.timeLimit(.minutes(3)))
    func evolveWritesTheBestTopologyTheLineageAndASummary() async throws {
        let directory = try ShortDirectory()
        try Self.writeData(in: directory.path)
        let out = directory.path + "/best.yaml", run = directory.path + "/run"
        let process = try TestProcess.agentic([
            "evolve", Fixtures.root.appendingPathComponent("topology/weak.yaml").path, "--data", directory.path,
            "--rounds", "1", "--trials", "3", "--proposals", "4", "--json", "--out", out, "--run-dir", run, "--seed", "5",
        ], environment: ["AGENTIC_LLM_URL": ""])
        let status = try await process.waitForExit(timeout: .seconds(170))
        #expect(status == 0)
        let text = process.output().joined(separator: "\n")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "\(text)")
        for key in ["start_valid_ndcg@10", "best_valid_ndcg@10", "start_test_ndcg@10", "test_ndcg@10", "evaluations", "journal"] {
            #expect(summary[key] != nil, "missing \(key)")
        }
        let startValid = try #require(summary["start_valid_ndcg@10"] as? Double)
        let bestValid = try #require(summary["best_valid_ndcg@10"] as? Double)
        #expect(bestValid >= startValid)

        let best = try TopologyValidator.load(contentsOf: out)
        #expect(best.epoch == 1)
        #expect(FileManager.default.fileExists(atPath: run + "/best.yaml"))
        let entries = try JSONLinesJournal.read(path: run + "/lineage.jsonl")
        #expect(entries.first?.source == .start)
        #expect(entries.last?.source == .final)
        #expect(entries.contains { $0.source == .tuner })
        #expect(entries.contains { $0.source == .composer })
    }

    @Test func badInputGetsAClearErrorAndExitCode() async throws {
        let missing = try TestProcess.agentic(["evolve", "/nonexistent/topology.yaml", "--rounds", "1"])
        #expect(try await missing.waitForExit() != 0)
        let budget = try TestProcess.agentic(["evolve", "topology/weak.yaml", "--budget", "soon"])
        #expect(try await budget.waitForExit() != 0)
    }
}
