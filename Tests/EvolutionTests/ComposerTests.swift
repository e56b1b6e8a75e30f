import AgenticTesting
import Foundation
import Testing
import Topology

@testable import Evolution

@Suite(.computeBound) struct ComposerTests {
    let composer = Composer()

    @Test(arguments: ["movielens.yaml", "minimal.yaml", "weak.yaml"])
    func randomEditsAlwaysProduceValidTopologies(file: String) throws {
        let start = try Fixtures.topology(file)
        var generator = SeededGenerator(seed: 11)
        var applied = 0
        var operations: Set<Edit.Operation> = []
        // 40 walks of 25 edits: every edit the composer draws must apply and validate.
        for _ in 0..<40 {
            var spec = start
            for _ in 0..<25 {
                let edit = try #require(composer.randomEdit(for: spec, using: &generator))
                do {
                    spec = try composer.apply(edit, to: spec)
                } catch {
                    Issue.record("\(file): \(edit) did not apply: \(error)")
                    break
                }
                applied += 1
                operations.insert(edit.op)
                guard case .success = TopologyValidator.validate(spec) else {
                    Issue.record("\(file): \(edit) gave an invalid topology")
                    break
                }
                #expect(spec.graph.reachable(from: spec.gateway.entry).contains(spec.gateway.exit))
            }
        }
        #expect(applied == 1000)
        // The walks exercise the structural edits, not only parameter changes.
        for op in [Edit.Operation.addRoute, .dropRoute, .insertRanker, .removeRanker, .setFusionMethod, .setReplicas] {
            #expect(operations.contains(op), "\(file): never drew \(op)")
        }
    }

    @Test func addRouteDrawsKindsByWeight() throws {
        let spec = try Fixtures.topology("weak.yaml")
        let weighted = Composer(configuration: .init(
            routeKinds: ["recall.ease", "recall.rp3beta", "recall.als"], routeKindWeights: ["recall.ease": 1, "recall.rp3beta": 0, "recall.als": 0],
            operationWeights: [.addRoute: 1]))
        var generator = SeededGenerator(seed: 3)
        var added = 0
        for _ in 0..<200 {
            let edit = try #require(weighted.randomEdit(for: spec, using: &generator))
            guard edit.op == .addRoute else { continue }
            added += 1
            #expect(edit.kind == "recall.ease")
        }
        #expect(added > 0)
    }

    @Test func addingARouteWiresRouterFusionAndWeight() throws {
        let spec = try Fixtures.topology("weak.yaml")
        let out = try composer.apply(Edit(.addRoute, kind: "recall.ease", value: 0.8), to: spec)
        let ease = try #require(out.agent(named: "ease"))
        #expect(ease.kind == "recall.ease")
        #expect(out.edges.contains(Edge(from: "router", to: "ease")))
        #expect(out.edges.contains(Edge(from: "ease", to: "fusion")))
        #expect(out.agent(named: "fusion")?.parameters["weight.ease"] == 0.8)
        #expect(out.agent(named: "fusion")?.version != spec.agent(named: "fusion")?.version)
        #expect(ease.decisionSpace["lambda"] != nil)
        // A second route of the same kind gets a fresh name.
        let twice = try composer.apply(Edit(.addRoute, kind: "recall.ease"), to: out)
        #expect(twice.agent(named: "ease-2") != nil)
    }

    @Test func droppingARouteRemovesItsEdgesAndWeight() throws {
        let spec = try Fixtures.topology("movielens.yaml")
        let out = try composer.apply(Edit(.dropRoute, agent: "content"), to: spec)
        #expect(out.agent(named: "content") == nil)
        #expect(!out.edges.contains { $0.from == "content" || $0.to == "content" })
        #expect(out.agent(named: "fusion")?.parameters["weight.content"] == nil)
    }

    @Test func rankerAndRerankerComeAndGoKeepingTheExitReachable() throws {
        let weak = try Fixtures.topology("weak.yaml")
        let ranked = try composer.apply(Edit(.insertRanker, kind: "rank.learned"), to: weak)
        let ranker = try #require(ranked.agents.first { $0.kind == "rank.learned" })
        #expect(ranked.edges.contains(Edge(from: "fusion", to: ranker.name)))
        let reranked = try composer.apply(Edit(.insertReranker, kind: "rerank.mmr"), to: ranked)
        let mmr = try #require(reranked.agents.first { $0.kind == "rerank.mmr" })
        #expect(reranked.gateway.exit == mmr.name)
        let back = try composer.apply([Edit(.removeReranker), Edit(.removeRanker)], to: reranked)
        #expect(back.gateway.exit == weak.gateway.exit)
        #expect(Set(back.edges) == Set(weak.edges))
    }

    @Test func badEditsAreRefusedWithAReason() throws {
        let spec = try Fixtures.topology("movielens.yaml")
        let cases: [(Edit, String)] = [
            (Edit(.addRoute, kind: "recall.transformer"), "unknown agent kind"),
            (Edit(.addRoute, kind: "rerank.mmr"), "not a recall route"),
            (Edit(.insertRanker, kind: "rank.learned"), "already has"),
            (Edit(.setParameter, agent: "ease", parameter: "lambda", value: 1e9), "does not validate"),
            (Edit(.setParameter, agent: "ease", parameter: "depth", value: 3), "no parameter"),
            (Edit(.setReplicas, agent: "ease", value: 40), "does not validate"),
            (Edit(.routeSegment, parameter: "k", value: 3), "route_segment"),
            (Edit(.dropRoute, agent: "mmr"), "not a recall route"),
        ]
        for (edit, reason) in cases {
            do {
                _ = try composer.apply(edit, to: spec)
                Issue.record("\(edit) applied")
            } catch {
                #expect(error.code == .invalidEdit)
                #expect(error.message.contains(reason), "\(edit): \(error.message)")
            }
        }
    }

    @Test func routeEdgeSetsAndClearsAnEdgesSegmentsWithoutTouchingAgents() throws {
        // movielens.yaml restricts router -> ease already: start from the edge open to everyone.
        var spec = try Fixtures.topology("movielens.yaml")
        for index in spec.edges.indices where spec.edges[index].from == "router" { spec.edges[index].segments = nil }
        let restricted = try composer.apply(Edit(.routeEdge, from: "router", to: "ease", segments: ["heavy", "light"]), to: spec)
        #expect(restricted.edges.first { $0.from == "router" && $0.to == "ease" }?.segments == ["light", "heavy"])
        #expect(restricted.agents == spec.agents)
        let diff = TopologyDiff(from: spec, to: restricted)
        #expect(diff.edgesChanged.map(\.description) == ["router -> ease: segments (none) -> [light, heavy]"])
        #expect(diff.agentsChanged.isEmpty && diff.edgesAdded.isEmpty && diff.edgesRemoved.isEmpty)
        // No segments, or an empty list, lets every request take the edge again.
        #expect(try composer.apply(Edit(.routeEdge, from: "router", to: "ease"), to: restricted) == spec)
        #expect(try composer.apply(Edit(.routeEdge, from: "router", to: "ease", segments: []), to: restricted) == spec)
        #expect(
            Edit(.routeEdge, from: "router", to: "ease", segments: ["light", "heavy"]).description
                == "route_edge router -> ease for light, heavy")
    }

    @Test func badRouteEdgesAreRefusedWithAReason() throws {
        let spec = try Fixtures.topology("weak.yaml")
        let cases: [(Edit, String)] = [
            (Edit(.routeEdge, to: "itemknn", segments: ["heavy"]), "route_edge needs from"),
            (Edit(.routeEdge, from: "router", to: "fusion", segments: ["heavy"]), "there is no edge router -> fusion"),
            (Edit(.routeEdge, from: "router", to: "itemknn", segments: ["warm"]), "unknown segment 'warm'"),
            (Edit(.routeEdge, from: "fusion", to: "router", segments: ["heavy"]), "there is no edge"),
        ]
        for (edit, reason) in cases {
            do {
                _ = try composer.apply(edit, to: spec)
                Issue.record("\(edit) applied")
            } catch {
                #expect(error.code == .invalidEdit)
                #expect(error.message.contains(reason), "\(edit): \(error.message)")
            }
        }
        // Cold users must keep a way to the exit.
        let both = [
            Edit(.routeEdge, from: "router", to: "itemknn", segments: ["light", "heavy"]),
            Edit(.routeEdge, from: "router", to: "popularity", segments: ["heavy"]),
        ]
        #expect(throws: EvolutionError.self) { try composer.apply(both, to: spec) }
        do {
            _ = try composer.apply(both, to: spec)
        } catch {
            #expect(error.message.contains("for segment 'cold' the exit 'fusion' cannot be reached"), "\(error.message)")
        }
    }

    @Test func routeEdgeProposalsKeepColdUsersOffHistoryRoutesAndCanLiftThat() throws {
        let spec = try Fixtures.topology("weak.yaml")
        #expect(
            composer.edgeRoutings(spec)
                == [Edit(.routeEdge, from: "router", to: "itemknn", segments: ["light", "heavy"])])
        let restricted = try composer.apply(composer.edgeRoutings(spec)[0], to: spec)
        #expect(composer.edgeRoutings(restricted) == [Edit(.routeEdge, from: "router", to: "itemknn")])
        // Counting popularity as history-based, restricting it too would leave cold users nothing:
        // only what applies is proposed.
        var configuration = Composer.Configuration(operationWeights: Self.only(.routeEdge))
        configuration.historyRouteKinds.insert("recall.popularity")
        let greedy = Composer(configuration: configuration)
        #expect(greedy.edgeRoutings(spec).count == 2)
        #expect(greedy.edgeRoutings(restricted) == [Edit(.routeEdge, from: "router", to: "itemknn")])
        // Drawn by randomEdit, and every draw applies.
        var generator = SeededGenerator(seed: 5)
        var drawn = 0
        for _ in 0..<50 {
            let edit = try #require(greedy.randomEdit(for: restricted, using: &generator))
            #expect(edit.op == .routeEdge)
            _ = try greedy.apply(edit, to: restricted)
            drawn += 1
        }
        #expect(drawn == 50)
        // No router, no segment to route by.
        var routerless = spec
        routerless.agents.removeAll { $0.kind == "router" }
        routerless.edges.removeAll { $0.from == "router" }
        routerless.gateway.entry = ["popularity", "itemknn"]
        #expect(composer.edgeRoutings(routerless).isEmpty)
    }

    @Test func droppingARouteIsNotProposedWhenItIsASegmentsOnlyWayOut() throws {
        let spec = try composer.apply(
            Edit(.routeEdge, from: "router", to: "itemknn", segments: ["light", "heavy"]), to: try Fixtures.topology("weak.yaml"))
        let dropsOnly = Composer(configuration: .init(operationWeights: Self.only(.dropRoute)))
        var generator = SeededGenerator(seed: 9)
        for _ in 0..<30 {
            let edit = try #require(dropsOnly.randomEdit(for: spec, using: &generator))
            #expect(edit == Edit(.dropRoute, agent: "itemknn"))
        }
    }

    /// Operation weights that draw `op` and nothing else (a missing operation weighs 1).
    static func only(_ op: Edit.Operation) -> [Edit.Operation: Double] {
        Dictionary(uniqueKeysWithValues: Edit.Operation.allCases.map { ($0, $0 == op ? 1 : 0) })
    }

    @Test func versionsAdvance() {
        #expect(Composer.nextVersion("1") == "2")
        #expect(Composer.nextVersion("1.9") == "1.10")
        #expect(Composer.nextVersion("beta") == "beta.1")
    }
}
