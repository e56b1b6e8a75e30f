import AgenticTesting
import AgentProtocol
import Logging
import Testing
import Topology
import Transport
@testable import Gateway

/// Epoch switching in-process: which requesters live, and when the old ones close.
@Suite(.timeLimit(.minutes(2)))
struct EpochRegistryTests {
    private func spec(epoch: Int, agents: [String], replicas: Int = 1) -> TopologySpec {
        TopologySpec(
            epoch: epoch,
            name: "t",
            agents: agents.map { AgentSpec(name: $0, kind: "recall.static", replicas: replicas) },
            edges: zip(agents, agents.dropFirst()).map { Edge(from: $0, to: $1) },
            gateway: GatewaySpec(entry: [agents[0]], exit: agents[agents.count - 1])
        )
    }

    /// A request on a requester nobody answers: `.timedOut` while open, `.closed` once closed.
    private func isClosed(_ instance: AgentInstance) async -> Bool {
        do {
            _ = try await instance.requester.request(Message(envelope: Envelope(type: .request, requestID: 1)), timeout: .milliseconds(5))
            return false
        } catch let error as TransportError {
            return error.code == .closed
        } catch {
            return false
        }
    }

    @Test func aRemovedAgentsRequesterClosesOnlyAfterItsLastRequestFinishes() async throws {
        let layout = RunLayout(runDirectory: "/tmp/agentic-registry-test")
        let registry = try EpochRegistry(spec: spec(epoch: 1, agents: ["a", "b"]), layout: layout, log: Logger(label: "test"))
        let old = await registry.lease()
        let removed = try #require(old.routes["a"]?.instances.first)
        let kept = try #require(old.routes["b"]?.instances.first)

        try await registry.install(spec(epoch: 2, agents: ["b", "c"], replicas: 2))
        let current = await registry.current
        #expect(current.epoch == 2)
        #expect(current.routes["b"]?.instances.first === kept)
        #expect(current.routes["c"]?.instances.count == 2)
        // The request that leased epoch 1 still runs: its agent stays dialled.
        #expect(await !isClosed(removed))

        await registry.release(old)
        let deadline = ContinuousClock.now + .seconds(10)
        while await !isClosed(removed), ContinuousClock.now < deadline {}
        #expect(await isClosed(removed))
        #expect(await !isClosed(kept))
        await registry.closeAll()
        #expect(await isClosed(kept))
    }

    @Test func aGraphWhoseExitIsUnreachableIsRefusedAndTheOldEpochKeepsServing() async throws {
        let layout = RunLayout(runDirectory: "/tmp/agentic-registry-test")
        let registry = try EpochRegistry(spec: spec(epoch: 1, agents: ["a"]), layout: layout, log: Logger(label: "test"))
        var unreachable = spec(epoch: 2, agents: ["a", "b"])
        unreachable.edges = []
        await #expect(throws: GatewayError(.invalidTopology, "")) { try await registry.install(unreachable) }
        #expect(await registry.current.epoch == 1)
        await registry.closeAll()
    }
}
