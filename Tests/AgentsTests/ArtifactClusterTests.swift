import AgenticTesting
import Foundation
import Synchronization
import Testing

/// Models as artifacts with real processes: `agentic up` fits the models once, outside the
/// agents, and swaps fit only what a changed parameter shapes.
@Suite("Artifacts in a running cluster", .serialized, .timeLimit(.minutes(4)))
struct ArtifactClusterTests {
    /// A file and when it last changed.
    struct Entry: Equatable {
        var name: String
        var modified: Date
    }

    static func listing(_ directory: String) -> [Entry] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.sorted().map { name in
            let attributes = try? FileManager.default.attributesOfItem(atPath: directory + "/" + name)
            return Entry(name: name, modified: attributes?[.modificationDate] as? Date ?? .distantPast)
        }
    }

    /// Requests through the gateway, one after another, until stopped: the failures a user sees.
    final class Load: Sendable {
        final class State: Sendable {
            let counts = Mutex((ok: 0, failed: 0))
            let stopped = Mutex(false)
        }
        private let state = State()
        private let task: Task<Void, Never>

        init(gateway: String) {
            let state = self.state
            task = Task {
                var user = 0
                while !state.stopped.withLock({ $0 }) {
                    user = user % 60 + 1
                    let (status, body) = await HTTP.postJSON(gateway + "/v1/recommend", #"{"user": "\#(user)", "k": 5}"#)
                    let full = status == 200 && (body["items"] as? [Any])?.count == 5
                    state.counts.withLock { full ? ($0.ok += 1) : ($0.failed += 1) }
                }
            }
        }

        var value: (ok: Int, failed: Int) { state.counts.withLock { $0 } }

        func stop() async -> (ok: Int, failed: Int) {
            state.stopped.withLock { $0 = true }
            await task.value
            return value
        }
    }

    @Test("up fits each model once, a re-ranker swap fits nothing, a route swap fits that route alone, no request fails")
    func fitOnceSwapCheaply() async throws {
        let directory = try ShortDirectory()
        let data = try Fixture.write(to: directory.path + "/ml")
        let environment = ["AGENTIC_DATA": data]
        let cluster = try await TestCluster(
            topology: "\(topologyDirectory)/movielens-small.yaml", in: directory, environment: environment)
        defer { Task { await cluster.stop() } }
        #expect(cluster.ready.hasSuffix(" 0 failed"), "\(cluster.ready)")
        let artifacts = cluster.runDirectory + "/artifacts"
        func agentic(_ arguments: [String]) async throws -> (Int32, [String: Any]) {
            let process = try TestProcess.agentic(
                arguments + ["--run-dir", cluster.runDirectory, "--json"], environment: environment)
            let status = try await process.waitForExit(timeout: .seconds(120))
            let text = process.output().drop { !$0.hasPrefix("{") }.joined(separator: "\n")
            return (status, (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:])
        }

        // The start left one artifact per model (and the ranker's own route fits, the data).
        let started = Self.listing(artifacts)
        for kind in ["recall.itemknn-", "recall.content-", "rank.learned-", "data.movielens-"] {
            #expect(started.contains { $0.name.hasPrefix(kind) }, "no \(kind) artifact in \(started.map(\.name))")
        }
        #expect(!started.contains { $0.name.hasSuffix(".tmp") })
        // The fitting job run again finds every model there and sound: nothing to fit.
        let (fitStatus, fit) = try await agentic(["fit", cluster.runDirectory + "/topology.yaml"])
        #expect(fitStatus == 0 && fit["fitted"] as? Int == 0, "\(fit)")
        #expect((fit["agents"] as? [Any])?.count == 3, "\(fit)")

        let load = Load(gateway: cluster.baseURL)
        try await waitUntil("requests flow") { load.value.ok > 10 }
        // MMR's lambda shapes no model: the swap starts a process that loads, and fits nothing.
        let (mmrStatus, mmr) = try await agentic(["swap", "mmr", "--set", "lambda=0.5"])
        #expect(mmrStatus == 0 && mmr["outcome"] as? String == "swapped", "\(mmr)")
        #expect(Self.listing(artifacts) == started, "a re-ranker swap wrote artifacts")
        // itemknn's neighbours shape its model: one new artifact, for itemknn alone.
        let (routeStatus, route) = try await agentic(["swap", "itemknn", "--set", "neighbours=30"])
        #expect(routeStatus == 0 && route["outcome"] as? String == "swapped", "\(route)")
        let after = Self.listing(artifacts)
        let added = after.filter { entry in !started.contains { $0.name == entry.name } }
        #expect(added.count == 1 && added.first?.name.hasPrefix("recall.itemknn-") == true, "added \(added.map(\.name))")
        #expect(started.allSatisfy { after.contains($0) }, "an artifact changed in place")
        try await waitUntil("requests flow after the swaps") { load.value.ok > 20 }
        let counts = await load.stop()
        #expect(counts.failed == 0, "\(counts)")
        await cluster.stop()
    }
}
