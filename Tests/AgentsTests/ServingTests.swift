import AgentProtocol
import AgentRuntime
import AgenticTesting
import Dataset
import Foundation
import Gateway
import Agents
import Testing
import Topology

/// The MovieLens mesh as users run it: `agentic up topology/movielens-small.yaml` on the
/// fixture data, recommendations and feedback through the HTTP gateway, and the agents
/// learning from that feedback without a restart.
@Suite("MovieLens mesh through the gateway", .serialized, .timeLimit(.minutes(3)))
struct ServingTests {
    struct Answer: Sendable {
        var status: Int
        var items: [String]
        var scores: [Double] = []
        var degraded: [String]
        var error: String?
    }

    final class Mesh: Sendable {
        let directory: ShortDirectory
        let data: String
        let cluster: TestCluster
        var runDirectory: String { cluster.runDirectory }
        var up: TestProcess { cluster.up }
        var gateway: String { cluster.baseURL }

        init() async throws {
            directory = try ShortDirectory()
            data = try Fixture.write(to: directory.path + "/ml")
            cluster = try await TestCluster(
                topology: "\(topologyDirectory)/movielens-small.yaml", in: directory, environment: ["AGENTIC_DATA": data])
            #expect(cluster.ready.hasSuffix(" 0 failed"), "\(cluster.ready)")
        }

        func post(_ path: String, _ body: String) async -> (Int, [String: Any]) {
            await HTTP.postJSON(gateway + path, body)
        }

        func recommend(_ user: String, k: Int = 10) async -> Answer {
            let (status, body) = await post("/v1/recommend", #"{"user": "\#(user)", "k": \#(k)}"#)
            let list = body["items"] as? [[String: Any]] ?? []
            return Answer(
                status: status, items: list.compactMap { $0["item"] as? String }, scores: list.compactMap { $0["score"] as? Double },
                degraded: body["degraded"] as? [String] ?? [],
                error: (body["error"] as? [String: Any])?["message"] as? String)
        }

        func click(_ user: String, _ item: String) async -> Int {
            await post("/v1/feedback", #"{"user": "\#(user)", "item": "\#(item)", "event": "click"}"#).0
        }

        func down() async throws {
            let process = try TestProcess.agentic(["down", "--run-dir", runDirectory])
            #expect(try await process.waitForExit(timeout: .seconds(40)) == 0)
            #expect(try await up.waitForExit() == 0)
        }

    }

    /// The items a fixture user has in P1 train + valid (what the agents fitted on).
    static func seen(_ user: Int) -> Set<String> {
        let split = P1Split.split(
            Fixture.interactions.map { Interaction(user: $0.0, item: $0.1, rating: Double($0.2), timestamp: $0.3) })
        return Set((split.train + split.valid).filter { $0.user == user }.map { String($0.item) })
    }

    @Test("known user, unknown user, and feedback that changes the next answer without a restart")
    func serveAndLearn() async throws {
        let mesh = try await Mesh()

        // A known user: ten items, none of them already seen, nothing degraded.
        let known = await mesh.recommend("3")
        #expect(known.status == 200)
        #expect(known.items.count == 10)
        #expect(known.degraded.isEmpty, "\(known.degraded)")
        let seen = Self.seen(3)
        #expect(seen.count > 5)
        #expect(known.items.allSatisfy { !seen.contains($0) }, "seen items in \(known.items)")

        // An unknown user: cold-start recommendations, never an error.
        let cold = await mesh.recommend("someone-new")
        #expect(cold.status == 200)
        #expect(cold.items.count == 10)
        #expect(cold.degraded.isEmpty, "\(cold.degraded)")

        // Feedback: the known user clicks the top item; it leaves the next answer (every
        // agent heard the click), and the list is recomputed from the longer history.
        let top = try #require(known.items.first)
        #expect(await mesh.click("3", top) == 202)
        try await waitUntil("the clicked item leaves user 3's list", timeout: .seconds(60)) {
            let later = await mesh.recommend("3")
            return later.status == 200 && later.items.count == 10 && !later.items.contains(top)
        }

        // An item nobody has seen, clicked by many new users, becomes recommendable.
        for user in 0..<80 { #expect(await mesh.click("fan-\(user)", "9999") == 202) }
        try await waitUntil("item 9999 reaches a cold user's list", timeout: .seconds(60)) {
            await mesh.recommend("someone-else").items.contains("9999")
        }
        // The new user who clicked it is not offered it again, and now gets a kNN-based list.
        let fan = await mesh.recommend("fan-0")
        #expect(fan.status == 200 && fan.items.count == 10)
        #expect(!fan.items.contains("9999"))

        try await mesh.down()
    }

    @Test("the mesh answers what the same agents called in one process answer")
    func meshMatchesInProcess() async throws {
        let mesh = try await Mesh()
        // The agents `agentic bench mesh` compares the mesh with: same factory, same data,
        // called by the gateway's own graph walk without sockets.
        let path = "\(topologyDirectory)/movielens-small.yaml"
        let factory = AgentKinds.factory(topologyPath: path, data: DataConfiguration(directory: mesh.data))
        let spec = try TopologyValidator.load(contentsOf: path, catalogue: factory.catalogue)
        var agents: [String: any Agent] = [:]
        for agent in spec.agents {
            agents[agent.name] = try factory.make(AgentContext(spec: spec, agent: agent.name, replica: 0, catalogue: factory.catalogue))
        }
        let local = agents
        let graph = try InProcessGraph(spec: spec) { name, request in try? await local[name]?.decide(request) }
        for user in ["1", "3", "7", "12", "someone-new"] {
            let inProcess = await graph.recommend(user: user, k: 10)
            let answer = await mesh.recommend(user)
            #expect(answer.status == 200 && answer.degraded.isEmpty && inProcess.degraded.isEmpty, "\(user): \(answer)")
            #expect(answer.items.count == 10)
            #expect(answer.items == inProcess.items.map(\.item), "user \(user)")
            #expect(answer.scores.count == inProcess.items.count)
            for (remote, here) in zip(answer.scores, inProcess.items.map(\.score)) {
                #expect(abs(remote - here) <= 1e-9 * max(1, abs(here)), "user \(user)")
            }
        }
        // Many at once: requests queue behind each other at every agent and travel in batches.
        let users = (0..<24).map { String($0 % 12 + 1) }
        let answers = await withTaskGroup(of: (String, Answer).self) { group in
            for user in users { group.addTask { (user, await mesh.recommend(user)) } }
            return await group.reduce(into: [(String, Answer)]()) { $0.append($1) }
        }
        #expect(answers.count == users.count)
        for (user, answer) in answers {
            let inProcess = await graph.recommend(user: user, k: 10)
            #expect(answer.status == 200 && answer.degraded.isEmpty, "\(user): \(answer)")
            #expect(answer.items == inProcess.items.map(\.item), "user \(user)")
        }
        try await mesh.down()
    }

    @Test("an agent whose data is missing exits with status 1 (after printing why), not by a crash")
    func missingData() async throws {
        let directory = try ShortDirectory()
        let runDirectory = "\(directory.path)/r"
        let agent = try TestProcess.agentic(
            [
                "agent", "--run-dir", runDirectory, "--topology", "\(topologyDirectory)/movielens-small.yaml",
                "--agent", "itemknn",
            ], environment: ["AGENTIC_DATA": directory.path + "/none"])
        #expect(try await agent.waitForExit(timeout: .seconds(30)) == 1)
    }
}
