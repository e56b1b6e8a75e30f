import Foundation
import Hummingbird
import Logging
import NIOCore
import Synchronization
import Testing
import Topology

@testable import Evolution

/// A local stand-in for a chat endpoint: answers every `/v1/chat/completions` with what the test
/// scripts, after an optional delay, and keeps the request bodies it saw.
final class ChatStub: Sendable {
    let bodies = Mutex<[String]>([])
    private let answer: @Sendable (String) -> (status: Int, content: String, delay: Duration)

    init(answer: @escaping @Sendable (String) -> (status: Int, content: String, delay: Duration)) {
        self.answer = answer
    }

    /// Runs the stub while `body` runs, with the stub's base URL.
    func serve<T: Sendable>(_ body: @Sendable (String) async throws -> T) async throws -> T {
        let router = Router()
        let stub = self
        router.post("/v1/chat/completions") { request, _ -> Response in
            let bytes = try await request.body.collect(upTo: 1 << 20)
            let text = String(buffer: bytes)
            stub.bodies.withLock { $0.append(text) }
            let (status, content, delay) = stub.answer(text)
            if delay > .zero { try await Task.sleep(for: delay) }
            let reply: [String: Any] = ["id": "stub", "object": "chat.completion",
                                        "choices": [["index": 0, "message": ["role": "assistant", "content": content]]]]
            let data = try JSONSerialization.data(withJSONObject: reply)
            return Response(
                status: HTTPResponse.Status(code: status), headers: [.contentType: "application/json"],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
        }
        let (urls, continuation) = AsyncStream<String>.makeStream()
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0), serverName: nil),
            onServerRunning: { channel in continuation.yield("http://127.0.0.1:\(channel.localAddress?.port ?? 0)") },
            logger: {
                // Cancelling the server at the end of a test is expected; keep its shutdown quiet.
                var log = Logger(label: "chat-stub")
                log.logLevel = .critical
                return log
            }())
        let server = Task { try await app.runService() }
        defer { server.cancel() }
        var iterator = urls.makeAsyncIterator()
        guard let url = await iterator.next() else { throw EvolutionError(.endpoint, "the stub did not start") }
        return try await body(url)
    }
}

private func proposal(_ edits: [[String: Any]], rationale: String = "stub") -> String {
    let data = try! JSONSerialization.data(withJSONObject: ["rationale": rationale, "edits": edits])
    return String(decoding: data, as: UTF8.self)
}

@Suite struct ArchitectTests {
    func architect(_ url: String, timeout: Duration = .seconds(5)) -> Architect {
        Architect(proposer: ChatProposer(configuration: .init(baseURL: url, model: "stub", apiKey: "k", timeout: timeout)))
    }

    func outcome(content: String, status: Int = 200, delay: Duration = .zero, timeout: Duration = .seconds(5),
                 spec: TopologySpec? = nil) async throws -> (Architect.Outcome, [String]) {
        let stub = ChatStub { _ in (status, content, delay) }
        let current = try spec ?? Fixtures.topology("weak.yaml")
        let result = try await stub.serve { url in
            await architect(url, timeout: timeout).propose(ArchitectContext(current: current, currentReward: 0.1))
        }
        return (result, stub.bodies.withLock { $0 })
    }

    @Test func aValidProposalBecomesACandidateAndTheRequestCarriesTheSchema() async throws {
        let (result, bodies) = try await outcome(content: proposal([
            ["op": "add_route", "kind": "recall.ease", "value": 1.0],
            ["op": "set_parameter", "agent": "itemknn", "parameter": "neighbours", "value": 200],
        ]))
        guard case .candidate(let spec, let p) = result else { Issue.record("rejected: \(result)"); return }
        #expect(p.edits.count == 2)
        #expect(spec.agent(named: "ease") != nil)
        #expect(spec.agent(named: "itemknn")?.parameters["neighbours"] == 200)
        let body = try #require(bodies.first)
        let request = try #require(try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any])
        #expect(request["model"] as? String == "stub")
        let format = try #require(request["response_format"] as? [String: Any])
        #expect(format["type"] as? String == "json_object")
        let schema = try #require(format["schema"] as? [String: Any])
        #expect((schema["required"] as? [String])?.contains("edits") == true)
        let messages = try #require(request["messages"] as? [[String: String]])
        #expect(messages.last?["content"]?.contains("recall.ease") == true)  // the catalogue is shown
        #expect(messages.last?["content"]?.contains("itemknn") == true)  // so is the current topology
    }

    @Test func aRouteEdgeProposalRestrictsTheEdgeAndThePromptExplainsIt() async throws {
        let (result, bodies) = try await outcome(content: proposal([
            ["op": "route_edge", "from": "router", "to": "itemknn", "segments": ["light", "heavy"]]
        ]))
        guard case .candidate(let spec, _) = result else { Issue.record("rejected: \(result)"); return }
        #expect(spec.edges.first { $0.to == "itemknn" }?.segments == ["light", "heavy"])
        let body = try #require(bodies.first)
        let request = try #require(try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any])
        let system = try #require((request["messages"] as? [[String: String]])?.first?["content"])
        #expect(system.contains("route_edge (from, to"))
        let format = try #require(request["response_format"] as? [String: Any])
        let items = (((format["schema"] as? [String: Any])?["properties"] as? [String: Any])?["edits"] as? [String: Any])?["items"]
        let properties = try #require((items as? [String: Any])?["properties"] as? [String: Any])
        #expect(properties["segments"] != nil && properties["from"] != nil && properties["to"] != nil)

        // A restriction that leaves cold users nothing is refused with the validator's reason.
        let (refused, _) = try await outcome(content: proposal([
            ["op": "route_edge", "from": "router", "to": "itemknn", "segments": ["heavy"]],
            ["op": "route_edge", "from": "router", "to": "popularity", "segments": ["light", "heavy"]],
        ]))
        guard case .rejected(let reason, _) = refused else { Issue.record("accepted"); return }
        #expect(reason.contains("for segment 'cold'"), "\(reason)")
    }

    @Test func garbageIsRejected() async throws {
        let (result, _) = try await outcome(content: "Sure! I think you should add more routes.")
        guard case .rejected(let reason, _) = result else { Issue.record("accepted garbage"); return }
        #expect(reason.contains("not a JSON object"), "\(reason)")
    }

    @Test func aMalformedProposalIsRejected() async throws {
        let (result, _) = try await outcome(content: #"{"rationale": "x", "edits": [{"op": "teleport"}]}"#)
        guard case .rejected(let reason, _) = result else { Issue.record("accepted"); return }
        #expect(reason.contains("invalidProposal"), "\(reason)")
    }

    @Test func aHallucinatedKindIsRejected() async throws {
        let (result, _) = try await outcome(content: proposal([["op": "add_route", "kind": "recall.transformer4rec"]]))
        guard case .rejected(let reason, _) = result else { Issue.record("accepted"); return }
        #expect(reason.contains("unknown agent kind 'recall.transformer4rec'"), "\(reason)")
    }

    @Test func anOutOfRangeValueIsRejected() async throws {
        let (result, _) = try await outcome(content: proposal([
            ["op": "set_parameter", "agent": "itemknn", "parameter": "neighbours", "value": 99999]
        ]))
        guard case .rejected(let reason, _) = result else { Issue.record("accepted"); return }
        #expect(reason.contains("invalid edit"), "\(reason)")
    }

    @Test func aConstraintViolationIsRejected() async throws {
        // A tight latency budget: a learned ranker on the path breaks it.
        var spec = try Fixtures.topology("weak.yaml")
        spec.rewards.outer.latencyBudgetMilliseconds = 8
        let (result, _) = try await outcome(
            content: proposal([["op": "insert_ranker", "kind": "rank.learned"]]), spec: spec)
        guard case .rejected(let reason, _) = result else { Issue.record("accepted"); return }
        #expect(reason.contains("constraint violation"), "\(reason)")
        #expect(reason.contains("latency"), "\(reason)")
    }

    @Test func aTimeoutIsRejected() async throws {
        let (result, _) = try await outcome(
            content: proposal([["op": "remove_ranker"]]), delay: .seconds(3), timeout: .milliseconds(300))
        guard case .rejected(let reason, _) = result else { Issue.record("accepted"); return }
        #expect(reason.contains("timeout"), "\(reason)")
    }

    @Test func anHTTPErrorIsRejected() async throws {
        let (result, _) = try await outcome(content: "overloaded", status: 503)
        guard case .rejected(let reason, _) = result else { Issue.record("accepted"); return }
        #expect(reason.contains("503"), "\(reason)")
    }

    @Test func anUnreachableEndpointIsRejected() async throws {
        let result = await architect("http://127.0.0.1:1", timeout: .seconds(2))
            .propose(ArchitectContext(current: try Fixtures.topology("weak.yaml")))
        guard case .rejected(let reason, _) = result else { Issue.record("accepted"); return }
        #expect(reason.contains("endpoint") || reason.contains("timeout"), "\(reason)")
    }

    @Test func fencedJSONIsStillParsed() throws {
        let p = try Architect.parse("```json\n{\"rationale\": \"r\", \"edits\": [{\"op\": \"remove_ranker\"}]}\n```")
        #expect(p.edits == [Edit(.removeRanker)])
    }

    @Test func theOfflineProposerAlwaysProposesValidTopologies() async throws {
        let composer = Composer()
        let architect = Architect(proposer: OfflineProposer(composer: composer, seed: 3), composer: composer)
        let weak = try Fixtures.topology("weak.yaml"), hand = try Fixtures.topology("movielens.yaml")
        var candidates = 0
        for round in 0..<40 {
            let current = round % 2 == 0 ? weak : hand
            let outcome = await architect.propose(ArchitectContext(current: current, elite: [hand, weak]))
            if case .candidate(let spec, _) = outcome {
                candidates += 1
                guard case .success = TopologyValidator.validate(spec) else { Issue.record("invalid"); continue }
            }
        }
        #expect(candidates >= 30)
    }

    @Test func theEnvironmentConfiguresTheEndpoint() {
        #expect(ChatProposer.Configuration.fromEnvironment([:]) == nil)
        let c = ChatProposer.Configuration.fromEnvironment([
            "AGENTIC_LLM_URL": "http://127.0.0.1:8080/v1/", "AGENTIC_LLM_MODEL": "m", "AGENTIC_LLM_KEY": "s",
        ])
        #expect(c?.endpoint == "http://127.0.0.1:8080/v1/chat/completions")
        #expect(c?.model == "m")
        #expect(c?.apiKey == "s")
    }
}
