import Foundation
import Testing
import Topology

@Suite("Writing, history and diff")
struct TopologyStoreTests {
    @Test("parse(write(spec)) == spec", arguments: ["minimal.yaml", "movielens.yaml"])
    func roundTripExamples(name: String) throws {
        let spec = try TopologyValidator.load(contentsOf: Paths.example(name))
        let again = try TopologyValidator.load(source: spec.renderYAML(), file: name)
        #expect(again == spec)
        #expect(again.renderYAML() == spec.renderYAML())
    }

    @Test("awkward strings survive the round trip")
    func roundTripStrings() throws {
        var spec = sampleSpec()
        spec.agents[1].version = "1"
        spec.agents[2].version = "true"
        spec.agents[3].version = "2.0"
        spec.agents[4].version = "a: b # c, [d] \"quoted\" \\ é\ttab"
        spec.agents[1].parameters["items"] = "007"
        spec.name = "-leading dash"
        spec.rewards.outer = OuterReward(metric: "ndcg@10", latencyBudgetMilliseconds: 80, diversityFloor: 1e-5)
        spec.rewards.inner = ["a": "recall@100"]
        spec.gateway.nng = "ipc:///tmp/x y.ipc"
        spec.transport = TransportSpec(kind: .tcp, host: "localhost", basePort: 7000)
        spec.agents[0].restart = RestartPolicy(strategy: .transient, intensity: 2, periodSeconds: 10)
        let written = try TopologyValidator.validate(spec).get()
        let again = try TopologyValidator.load(source: written.renderYAML(), file: "x.yaml")
        #expect(again == written)
        #expect(again.agents[1].version == "1")
        #expect(again.agents[1].parameters["items"] == "007")
    }

    @Test("writes are atomic, keep every epoch, and refuse a stale epoch")
    func writeAndHistory() throws {
        let directory = try Paths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/live.yaml"
        // A hand-written file with a comment: it is archived verbatim on the first rewrite.
        let handWritten = "# mine\n" + sampleSpec().renderYAML()
        try handWritten.write(toFile: path, atomically: false, encoding: .utf8)
        let store = TopologyStore(path: path)
        #expect(store.historyDirectory == directory + "/history/live")

        var next = try store.load()
        next.epoch = 2
        next.agents[4].parameters["k"] = 20
        try store.write(next)
        #expect(try store.history() == [1, 2])
        #expect(try String(contentsOfFile: store.historyPath(epoch: 1), encoding: .utf8) == handWritten)
        #expect(try store.load() == next)

        #expect(throws: TopologyError(.staleEpoch, "")) { try store.write(next) }

        let third = try store.update { spec in
            spec.agents.removeAll { $0.name == "b" }
            spec.edges.removeAll { $0.from == "b" || $0.to == "b" }
            spec.agents[2].parameters["weight.b"] = nil
        }
        #expect(third.epoch == 3)
        #expect(try store.history() == [1, 2, 3])
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.contains(".tmp-") }
        #expect(leftovers.isEmpty)

        let rolledBack = try store.rollback(to: 1)
        #expect(rolledBack.epoch == 4)
        #expect(TopologyDiff(from: sampleSpec(), to: rolledBack).isEmpty)
    }

    @Test("an invalid spec is never written")
    func invalidNotWritten() throws {
        let directory = try Paths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var spec = sampleSpec()
        spec.agents[0].kind = "nope"
        let store = TopologyStore(path: directory + "/t.yaml", configuration: .init(historyDirectory: directory + "/h"))
        #expect(throws: TopologyError(.invalid, "")) { try store.write(spec) }
        #expect(!FileManager.default.fileExists(atPath: directory + "/t.yaml"))
        #expect(try store.history() == [])
    }

    @Test("a diff lists agents, parameters, edges and gateway changes")
    func diff() throws {
        let old = sampleSpec()
        var new = old
        new.epoch = 2
        new.agents.removeAll { $0.name == "a" }
        new.agents.append(AgentSpec(name: "c", kind: "recall.popularity"))
        new.agents[1].parameters["lambda"] = 500.0
        new.agents[1].version = "2"
        new.edges.removeAll { $0.from == "a" || $0.to == "a" }
        new.edges += [Edge(from: "router", to: "c"), Edge(from: "c", to: "fusion")]
        new.gateway.deadlineMilliseconds = 300
        let diff = TopologyDiff(from: old, to: new)
        #expect(diff.agentsAdded == ["c"])
        #expect(diff.agentsRemoved == ["a"])
        #expect(diff.agentsChanged.map(\.name) == ["b"])
        #expect(diff.agentsChanged[0].changes.map(\.field) == ["version", "parameters.lambda"])
        #expect(diff.edgesAdded == [Edge(from: "router", to: "c"), Edge(from: "c", to: "fusion")])
        #expect(diff.edgesRemoved.count == 2)
        #expect(diff.gatewayChanges == [.init(field: "deadline_ms", old: "200", new: "300")])
        #expect(
            diff.description == """
                topology epoch 1 -> 2
                + agent c
                - agent a
                ~ agent b: version 1 -> 2; parameters.lambda 300.0 -> 500.0
                + edge router -> c
                + edge c -> fusion
                - edge router -> a
                - edge a -> fusion
                ~ gateway.deadline_ms 200 -> 300
                """)
        let json = try JSONEncoder().encode(diff)
        #expect(try JSONDecoder().decode(TopologyDiff.self, from: json) == diff)
    }

    @Test("a spec survives JSON too")
    func json() throws {
        let spec = try TopologyValidator.validate(sampleSpec()).get()
        let data = try JSONEncoder().encode(spec)
        #expect(try JSONDecoder().decode(TopologySpec.self, from: data) == spec)
        let catalogue = try JSONDecoder().decode(KindCatalogue.self, from: JSONEncoder().encode(KindCatalogue.builtin))
        #expect(catalogue == .builtin)
    }
}
