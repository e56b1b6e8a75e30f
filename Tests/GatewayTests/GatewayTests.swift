import AgenticTesting
import AgentProtocol
import Foundation
import Synchronization
import Testing
import Transport

private final class Received: Sendable {
    let event = Mutex<FeedbackEvent?>(nil)
}

private func items(_ pairs: [(String, Double)]) -> [ScoredItem] { pairs.map { ScoredItem(item: $0.0, score: $0.1) } }

/// The real `agentic gateway` process in front of fake agents in the test process.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct GatewayProcessTests {
    @Test func recommendRunsTheGraphAndMergesTheFanOut() async throws {
        let run = try TestRun()
        defer { run.stop() }
        try run.fake("router", .items([]))
        try run.fake("a", .items(items([("1", 0.9), ("2", 0.8)])))
        try run.fake("b", .items(items([("3", 0.95), ("1", 0.05)])))
        let fusion = try run.fake("fusion", .merge)
        try run.fake("rank", .merge)
        let topology = try run.write("t1.yaml", topologyYAML(
            epoch: 1,
            agents: [.init(name: "router", kind: "router"), .init(name: "a", kind: "recall.static"), .init(name: "b", kind: "recall.static"),
                     .init(name: "fusion", kind: "fusion"), .init(name: "rank", kind: "rank.passthrough")],
            edges: [("router", "a"), ("router", "b"), ("a", "fusion"), ("b", "fusion"), ("fusion", "rank")],
            entry: "router", exit: "rank"))
        try await run.startGateway(topology: topology)

        let answer = try await run.recommend(k: 2)
        #expect(answer.itemIDs == ["1", "3"])
        #expect(abs((answer.items.first?.score ?? 0) - 0.95) < 1e-9)
        #expect(answer.degraded.isEmpty)
        #expect(answer.epoch == 1)
        #expect(answer.request_id.count == 16)
        #expect(fusion.mostInputs == 2)

        let health = try await run.http("GET", "/healthz")
        #expect(health.status == 200)
        #expect(try health.json()["epoch"] as? Int == 1)
        let topologyJSON = try await run.http("GET", "/v1/topology")
        #expect(topologyJSON.status == 200)
        #expect(((try topologyJSON.json()["topology"] as? [String: Any])?["agents"] as? [Any])?.count == 5)
        let metrics = try await run.http("GET", "/metrics")
        let text = String(decoding: metrics.body, as: UTF8.self)
        #expect(metrics.status == 200)
        #expect(text.contains(#"agentic_gateway_agent_calls_total{agent="fusion",outcome="ok"} 1"#))
        #expect(text.contains(#"agentic_gateway_requests_total{route="/v1/recommend",status="200"} 1"#))
        #expect(text.contains("agentic_gateway_agent_call_duration_seconds_bucket"))
        #expect(text.contains("agentic_gateway_request_duration_seconds_bucket"))

        // SIGTERM is a graceful shutdown.
        run.gateway?.signal(SIGTERM)
        #expect(try await run.gateway?.waitForExit() == 0)
    }

    @Test func aLateOrFailingAgentIsSkippedAndNamed() async throws {
        let run = try TestRun()
        defer { run.stop() }
        try run.fake("router", .items([]))
        try run.fake("good", .items(items([("7", 1)])))
        try run.fake("late", .silent)
        try run.fake("broken", .error)
        try run.fake("fusion", .merge)
        let topology = try run.write("t.yaml", topologyYAML(
            epoch: 1,
            agents: [.init(name: "router", kind: "router"), .init(name: "good", kind: "recall.static"), .init(name: "late", kind: "recall.static"),
                     .init(name: "broken", kind: "recall.static"), .init(name: "fusion", kind: "fusion")],
            edges: [("router", "good"), ("router", "late"), ("router", "broken"), ("good", "fusion"), ("late", "fusion"), ("broken", "fusion")],
            entry: "router", exit: "fusion", deadlineMilliseconds: 2000))
        try await run.startGateway(topology: topology)

        let answer = try await run.recommend()
        #expect(answer.itemIDs == ["7"])
        #expect(answer.degraded == ["late", "broken"])
        let text = String(decoding: try await run.http("GET", "/metrics").body, as: UTF8.self)
        #expect(text.contains(#"agentic_gateway_degraded_total{agent="late"} 1"#))
        #expect(text.contains(#"agentic_gateway_agent_errors_total{agent="broken",outcome="error"} 1"#))
    }

    @Test func aFailedExitFallsBackToTheLastListThatArrived() async throws {
        let run = try TestRun()
        defer { run.stop() }
        try run.fake("router", .items([]))
        try run.fake("a", .items(items([("4", 0.5), ("5", 0.4)])))
        try run.fake("rank", .error)
        let topology = try run.write("t.yaml", topologyYAML(
            epoch: 1,
            agents: [.init(name: "router", kind: "router"), .init(name: "a", kind: "recall.static"), .init(name: "rank", kind: "rank.passthrough")],
            edges: [("router", "a"), ("a", "rank")], entry: "router", exit: "rank"))
        try await run.startGateway(topology: topology)

        let answer = try await run.recommend()
        #expect(answer.itemIDs == ["4", "5"])
        #expect(answer.degraded == ["rank"])
    }

    @Test func aDeadReplicaIsRetriedOnItsSiblingWithoutLosingARequest() async throws {
        let run = try TestRun()
        defer { run.stop() }
        try run.fake("router", .items([]))
        let first = try run.fake("a", replica: 0, .items(items([("1", 1)])))
        let second = try run.fake("a", replica: 1, .items(items([("1", 1)])))
        let topology = try run.write("t.yaml", topologyYAML(
            epoch: 1,
            agents: [.init(name: "router", kind: "router"), .init(name: "a", kind: "recall.static", replicas: 2)],
            edges: [("router", "a")], entry: "router", exit: "a", deadlineMilliseconds: 1000))
        try await run.startGateway(topology: topology)

        // 100 requests, 10 in flight at a time; the second replica dies after 20.
        var failures = 0
        for batch in 0..<10 {
            if batch == 2 { second.close() }
            failures += try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<10 {
                    group.addTask {
                        let answer = try await run.recommend()
                        return answer.degraded.isEmpty && answer.itemIDs == ["1"] ? 0 : 1
                    }
                }
                return try await group.reduce(0, +)
            }
        }
        #expect(failures == 0)
        #expect(second.requests > 0)
        #expect(first.requests > second.requests)
    }

    @Test func feedbackIsPublishedAndSaysItIsNotStored() async throws {
        let run = try TestRun()
        defer { run.stop() }
        try run.fake("router", .items([]))
        let topology = try run.write("t.yaml", topologyYAML(
            epoch: 1, agents: [.init(name: "router", kind: "router")], edges: [], entry: "router", exit: "router"))
        try await run.startGateway(topology: topology)
        let subscriber = try Subscriber()
        defer { subscriber.close() }
        try subscriber.subscribe(topic: Topics.feedback)
        try subscriber.dial(run.layout.gatewayEvents)

        let received = Received()
        let consumer = Task {
            for await message in subscriber.messages {
                if let (_, envelope) = try? message.topicEnvelope(),
                    let event = try? WireCodec.decode(FeedbackEvent.self, from: envelope.payload) {
                    received.event.withLock { $0 = event }
                    return
                }
            }
        }
        defer { consumer.cancel() }
        // Pub/sub drops what is sent before the subscriber is connected: send until one arrives.
        try await waitUntil("feedback to arrive on the subscriber") {
            let result = try await run.post("/v1/feedback", #"{"user": "u9", "item": "42", "event": "rating", "value": 4.5, "request_id": "abc"}"#)
            #expect(result.status == 202)
            #expect(try result.json()["accepted"] as? Bool == true)
            #expect(try result.json()["stored"] as? Bool == false)
            return received.event.withLock { $0 != nil }
        }
        let event = received.event.withLock { $0 }
        #expect(event?.user == "u9")
        #expect(event?.item == "42")
        #expect(event?.value == 4.5)
        #expect(event?.requestID == "abc")
    }

    @Test func anEpochAnnouncementSwitchesTopologyAndABadFileIsIgnored() async throws {
        let run = try TestRun()
        defer { run.stop() }
        try run.fake("router", .items([]))
        try run.fake("a", .items(items([("a1", 1)])))
        try run.fake("b", .items(items([("b1", 1)])))
        let agents: [TestAgent] = [.init(name: "router", kind: "router"), .init(name: "a", kind: "recall.static"), .init(name: "b", kind: "recall.static")]
        let first = try run.write("t1.yaml", topologyYAML(epoch: 1, agents: agents, edges: [("router", "a")], entry: "router", exit: "a"))
        let coordinator = try Publisher()
        defer { coordinator.close() }
        try coordinator.listen(run.layout.coordinatorEvents)
        try await run.startGateway(topology: first)
        #expect(try await run.recommend().itemIDs == ["a1"])

        func announce(_ epoch: Int, _ path: String) throws {
            let payload = try WireCodec.encode(EpochAnnouncement(epoch: epoch, topologyPath: path))
            try coordinator.publish(Message(topic: Topics.epoch, envelope: Envelope(type: .epoch, requestID: UInt64(epoch), payload: payload)))
        }
        let second = try run.write("t2.yaml", topologyYAML(epoch: 2, agents: agents, edges: [("router", "b")], entry: "router", exit: "b"))
        try await waitUntil("epoch 2 to serve") {
            try announce(2, second)
            return try await run.recommend().epoch == 2
        }
        #expect(try await run.recommend().itemIDs == ["b1"])

        let bad = try run.write("t3.yaml", topologyYAML(epoch: 3, agents: agents, edges: [("router", "missing")], entry: "router", exit: "b"))
        try await waitUntil("the bad file to be rejected") {
            try announce(3, bad)
            let metrics = String(decoding: try await run.http("GET", "/metrics").body, as: UTF8.self)
            return metrics.contains("agentic_gateway_epoch_rejections_total")
        }
        let answer = try await run.recommend()
        #expect(answer.epoch == 2)
        #expect(answer.itemIDs == ["b1"])
    }

    @Test func theNNGFrontAnswersLikeHTTP() async throws {
        let run = try TestRun()
        defer { run.stop() }
        try run.fake("router", .items(items([("9", 2), ("8", 1)])))
        let topology = try run.write("t.yaml", topologyYAML(
            epoch: 5, agents: [.init(name: "router", kind: "router")], edges: [], entry: "router", exit: "router", nng: "ipc://gw.sock"))
        try await run.startGateway(topology: topology)
        let requester = try Requester()
        defer { requester.close() }
        try requester.dial("ipc://\(run.directory)/gw.sock")

        let request = Envelope(type: .request, requestID: 77, payload: Array(#"{"user": "u", "k": 1}"#.utf8))
        let reply = try await requester.request(Message(envelope: request), timeout: .seconds(10)).envelope()
        #expect(reply.type == .reply)
        #expect(reply.requestID == 77)
        let answer = try JSONDecoder().decode(Recommended.self, from: Data(reply.payload))
        #expect(answer.itemIDs == ["9"])
        #expect(answer.epoch == 5)

        let wrongType = Envelope(type: .control, requestID: 79)
        #expect(try await requester.request(Message(envelope: wrongType), timeout: .seconds(10)).envelope().type == .error)

        let bad = Envelope(type: .request, requestID: 78, payload: Array(#"{"k": 1}"#.utf8))
        let error = try await requester.request(Message(envelope: bad), timeout: .seconds(10)).envelope()
        #expect(error.type == .error)
        #expect(try WireCodec.decode(ErrorReply.self, from: error.payload).code == "missing_field")

        // Over the HTTP body limit (64 KiB): refused with the same code as HTTP's 413, and the
        // connection goes on serving (NNG's own limit, far above, wedged it: see NNGFront).
        let huge = Envelope(type: .request, requestID: 80, payload: Array(#"{"user": "\#(String(repeating: "x", count: 200_000))"}"#.utf8))
        let refused = try await requester.request(Message(envelope: huge), timeout: .seconds(10)).envelope()
        #expect(refused.type == .error && refused.requestID == 80)
        #expect(try WireCodec.decode(ErrorReply.self, from: refused.payload).code == "body_too_large")
        let again = try await requester.request(Message(envelope: request), timeout: .seconds(10)).envelope()
        #expect(again.type == .reply)
    }

    @Test func theGatewayProcessTakesItsAPIKeysFromAFile() async throws {
        let run = try TestRun()
        defer { run.stop() }
        try run.fake("router", .items([]))
        let topology = try run.write("t.yaml", topologyYAML(
            epoch: 1, agents: [.init(name: "router", kind: "router")], edges: [], entry: "router", exit: "router"))
        let keys = try run.write("keys", "# the test's key\nk-123\n")
        try await run.startGateway(topology: topology, environment: ["AGENTIC_API_KEYS_FILE": keys])
        let click = #"{"user": "u1", "item": "7", "event": "click"}"#
        let refused = try await run.post("/v1/feedback", click)
        #expect(refused.status == 401)
        #expect(try refused.errorCode() == "unauthorized")
        let answer = try await HTTP.request(
            "POST", run.baseURL + "/v1/feedback", body: Data(click.utf8), contentType: "application/json",
            headers: ["Authorization": "Bearer k-123"])
        #expect(answer.status == 202)
    }

    @Test func theGatewayProcessShedsPastItsQueueWith503() async throws {
        let run = try TestRun()
        defer { run.stop() }
        let agent = try run.fake("only", .silent)
        let topology = try run.write("t.yaml", topologyYAML(
            epoch: 1, agents: [.init(name: "only", kind: "recall.static")], edges: [], entry: "only", exit: "only",
            deadlineMilliseconds: 2_000) + "  max_in_flight: 1\n  max_queued: 1\n  max_wait_ms: 0\n")
        // No wait bound: the one waiting waits out the first one's deadline (with the default,
        // half a second, it would be shed when its turn came; AdmissionGateTests cover that).
        try await run.startGateway(topology: topology)
        let first = Task { try await run.post("/v1/recommend", #"{"user": "u1"}"#) }
        try await waitUntil("the first request is inside") { agent.requests >= 1 }
        async let second = run.post("/v1/recommend", #"{"user": "u2"}"#)
        async let third = run.post("/v1/recommend", #"{"user": "u3"}"#)
        let statuses = try await [second.status, third.status].sorted()
        #expect(statuses == [200, 503], "one waits (answered, degraded, at its deadline), one is shed")
        #expect(try await first.value.status == 200)
        let metrics = try await run.http("GET", "/metrics")
        #expect(String(decoding: metrics.body, as: UTF8.self).contains("agentic_gateway_shed_total 1"))
    }

    @Test func theGatewayProcessShedsARequestThatWaitedPastMaxWait() async throws {
        let run = try TestRun()
        defer { run.stop() }
        let agent = try run.fake("only", .silent)
        let topology = try run.write("t.yaml", topologyYAML(
            epoch: 1, agents: [.init(name: "only", kind: "recall.static")], edges: [], entry: "only", exit: "only",
            deadlineMilliseconds: 1_500) + "  max_in_flight: 1\n  max_queued: 10\n  max_wait_ms: 100\n")
        try await run.startGateway(topology: topology)
        let first = Task { try await run.post("/v1/recommend", #"{"user": "u1"}"#) }
        try await waitUntil("the first request is inside") { agent.requests >= 1 }
        // Room in the queue, but the place frees only at the first one's deadline: far past 100 ms.
        let second = try await run.post("/v1/recommend", #"{"user": "u2"}"#)
        #expect(second.status == 503)
        #expect(String(decoding: second.body, as: UTF8.self).contains(#""code":"overloaded""#))
        #expect(try await first.value.status == 200)
        #expect(agent.requests == 1, "the shed request never reached the agent")
        let metrics = try await run.http("GET", "/metrics")
        #expect(String(decoding: metrics.body, as: UTF8.self).contains("agentic_gateway_shed_total 1"))
    }

    @Test func theGatewayExitsWhenItsParentsPipeCloses() async throws {
        let run = try TestRun()
        defer { run.stop() }
        try run.fake("router", .items([]))
        let topology = try run.write("t.yaml", topologyYAML(
            epoch: 1, agents: [.init(name: "router", kind: "router")], edges: [], entry: "router", exit: "router"))
        try await run.startGateway(topology: topology)
        run.gateway?.closeInput()
        #expect(try await run.gateway?.waitForExit() == 0)
        #expect(run.gateway?.output().count == 1)
    }

    @Test func anInvalidTopologyFailsAtStartWithoutListening() async throws {
        let run = try TestRun()
        defer { run.stop() }
        let topology = try run.write("t.yaml", "epoch: 1\nname: broken\nagents: []\n")
        let process = try TestProcess.agentic(["gateway", "--run-dir", run.directory, "--topology", topology])
        #expect(try await process.waitForExit() == 1)
        #expect(process.output().isEmpty)
    }
}
