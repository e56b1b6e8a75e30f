import AgenticTesting
import Foundation
import Synchronization
import Testing
@testable import Transport

@Suite("Request/reply in one process", .timeLimit(.minutes(1)))
struct ReqRepTests {
    static let transports = ["ipc", "tcp", "inproc"]

    private func address(_ transport: String, _ directory: TestDirectory) -> String {
        switch transport {
        case "ipc": directory.url("rep")
        case "tcp": "tcp://127.0.0.1:0"
        default: "inproc://agentic-\(UInt64.random(in: 0 ... .max))"
        }
    }

    @Test("a request gets its reply", arguments: transports)
    func roundTrip(transport: String) async throws {
        let directory = try TestDirectory()
        let replier = try Replier()
        defer { replier.close() }
        let bound = try replier.listen(address(transport, directory))
        try replier.start { request in
            guard let envelope = try? request.envelope() else { return nil }
            var reply = envelope
            reply.type = .reply
            reply.payload = envelope.payload.reversed()
            return try? Message(envelope: reply)
        }
        let requester = try Requester()
        defer { requester.close() }
        try requester.dial(bound)
        for id in 1...50 as ClosedRange<UInt64> {
            let payload = Array("request \(id)".utf8)
            // A generous deadline: this checks the answers, and the suites beside it load both cores.
            let reply = try await requester.request(
                Message(envelope: Envelope(type: .request, requestID: id, payload: payload)), timeout: .seconds(30)
            ).envelope()
            #expect(reply.type == .reply)
            #expect(reply.requestID == id)
            #expect(reply.payload == payload.reversed())
        }
    }

    @Test("a replier serves 64 requests at once, and one requester keeps 64 in flight")
    func servesConcurrently() async throws {
        let directory = try TestDirectory()
        var configuration = Replier.Configuration()
        configuration.concurrency = 64
        let replier = try Replier(configuration: configuration)
        defer { replier.close() }
        try replier.listen(directory.url("rep"))
        let gauge = ConcurrencyGauge()
        try replier.start { request in
            gauge.enter()
            defer { gauge.leave() }
            try? await Task.sleep(for: .milliseconds(50))
            return request
        }
        let requester = try Requester()
        defer { requester.close() }
        try requester.dial(directory.url("rep"))
        let replies = try await withThrowingTaskGroup(of: [UInt8].self) { group in
            for i in 0..<64 {
                group.addTask { try await requester.request(Message(bytes: Array("\(i)".utf8)), timeout: .seconds(30)).bytes }
            }
            return try await group.reduce(into: Set<[UInt8]>()) { $0.insert($1) }
        }
        #expect(replies.count == 64)
        // Served one at a time the peak would be 1: every request was inside the handler at once.
        #expect(gauge.peak == 64)
    }

    @Test("a request nobody answers fails with timedOut, distinct from closed")
    func timeoutIsDistinct() async throws {
        let directory = try TestDirectory()
        let replier = try Replier()
        defer { replier.close() }
        try replier.listen(directory.url("rep"))
        try replier.start { _ in nil }
        let requester = try Requester()
        try requester.dial(directory.url("rep"))
        await #expect(throws: TransportError(.timedOut, "")) {
            _ = try await requester.request(Message(bytes: [1]), timeout: .milliseconds(100))
        }
        requester.close()
        let error = await #expect(throws: TransportError.self) {
            _ = try await requester.request(Message(bytes: [1]), timeout: .milliseconds(100))
        }
        #expect(error?.code == .closed)
        #expect(error?.code != .timedOut)
    }

    @Test("a request to an address nobody listens at times out instead of hanging")
    func nobodyListening() async throws {
        let directory = try TestDirectory()
        let requester = try Requester()
        defer { requester.close() }
        try requester.dial(directory.url("nobody"))
        await #expect(throws: TransportError(.timedOut, "")) {
            _ = try await requester.request(Message(bytes: [1]), timeout: .milliseconds(200))
        }
    }

    @Test("closing a requester with 32 requests pending fails them all with closed, without hanging")
    func closeRequesterWithPending() async throws {
        let directory = try TestDirectory()
        let replier = try Replier()
        defer { replier.close() }
        try replier.listen(directory.url("rep"))
        let arrived = ConcurrencyGauge()
        try replier.start { _ in
            arrived.enter()
            try? await Task.sleep(for: .seconds(30))
            return nil
        }
        let requester = try Requester()
        try requester.dial(directory.url("rep"))
        let codes = try await withThrowingTaskGroup(of: TransportError.Code?.self) { group in
            for _ in 0..<32 {
                group.addTask {
                    do {
                        _ = try await requester.request(Message(bytes: [7]), timeout: .seconds(60))
                        return nil
                    } catch let error as TransportError {
                        return error.code
                    }
                }
            }
            // Close only once every request is really pending at the replier.
            try await waitUntil("32 requests pending at the replier") { arrived.peak >= 32 }
            requester.close()
            return try await group.reduce(into: [TransportError.Code?]()) { $0.append($1) }
        }
        #expect(codes.count == 32)
        #expect(codes.allSatisfy { $0 == .closed })
    }

    @Test("closing a replier while handlers run drops their replies and neither hangs nor crashes")
    func closeReplierWithHandlersRunning() async throws {
        let directory = try TestDirectory()
        let replier = try Replier()
        try replier.listen(directory.url("rep"))
        let running = ConcurrencyGauge()
        try replier.start { request in
            running.enter()
            try? await Task.sleep(for: .milliseconds(300))
            return request
        }
        let requester = try Requester()
        defer { requester.close() }
        try requester.dial(directory.url("rep"))
        let pending = Task {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<16 { group.addTask { _ = try? await requester.request(Message(bytes: [1]), timeout: .seconds(2)) } }
                try await group.waitForAll()
            }
        }
        try await waitUntil("16 handlers running") { running.peak >= 16 }
        replier.close()
        try await pending.value
        // The handlers finished after the close; their replies went nowhere, and a closed
        // replier says so instead of serving.
        #expect(replier.socket.closed)
    }

    @Test("with a short resend time NNG repeats an unanswered request, so a dropped one still gets its reply")
    func resendTime() async throws {
        let directory = try TestDirectory()
        let replier = try Replier()
        defer { replier.close() }
        try replier.listen(directory.url("rep"))
        let seen = ConcurrencyGauge()
        try replier.start { request in
            seen.enter()  // counts deliveries: the first is dropped, the resend is answered
            return seen.peak == 1 ? nil : request
        }
        var configuration = Requester.Configuration()
        configuration.socket.resendTime = .milliseconds(100)
        let requester = try Requester(configuration: configuration)
        defer { requester.close() }
        try requester.dial(directory.url("rep"))
        let reply = try await requester.request(Message(bytes: [42]), timeout: .seconds(10))
        #expect(reply.bytes == [42])
        #expect(seen.peak >= 2)
    }

    @Test("cancelling the calling task cancels its request, wherever the request is when it happens")
    func cancellation() async throws {
        let directory = try TestDirectory()
        let replier = try Replier()
        defer { replier.close() }
        try replier.listen(directory.url("rep"))
        try replier.start { _ in nil }
        let requester = try Requester()
        defer { requester.close() }
        try requester.dial(directory.url("rep"))
        // Random delays land the cancel before the send, during it, between send and
        // receive, and while waiting for the reply.
        for round in 0..<40 {
            let task = Task { try await requester.request(Message(bytes: [1]), timeout: .seconds(60)) }
            if round > 0 { try await Task.sleep(for: .microseconds(Int.random(in: 0...(round < 20 ? 300 : 20_000)))) }
            task.cancel()
            let result = await task.result
            guard case .failure(let error as TransportError) = result else {
                Issue.record("round \(round): expected a TransportError, got \(result)")
                continue
            }
            #expect(error.code == .cancelled, "round \(round)")
        }
    }

    @Test("a hot loop under the callback executor gets the same replies")
    func callbackExecutor() async throws {
        let directory = try TestDirectory()
        let replier = try Replier()
        defer { replier.close() }
        try replier.listen(directory.url("rep"))
        try replier.start { $0 }
        let requester = try Requester()
        defer { requester.close() }
        try requester.dial(directory.url("rep"))
        let count = try await withTaskExecutorPreference(CallbackExecutor.shared) {
            var matched = 0
            for i in 0..<200 {
                let body = Array("\(i)".utf8)
                if try await requester.request(Message(bytes: body), timeout: .seconds(30)).bytes == body { matched += 1 }
            }
            return matched
        }
        #expect(count == 200)
    }

    @Test("a message can be sent only once, and listening twice on one address is addressInUse")
    func misuse() throws {
        let directory = try TestDirectory()
        let message = try Message(bytes: [1, 2, 3])
        let publisher = try Publisher()
        defer { publisher.close() }
        try publisher.publish(message)
        #expect(message.count == 0)
        #expect(throws: TransportError(.closed, "")) { try publisher.publish(message) }
        let first = try Replier()
        defer { first.close() }
        try first.listen(directory.url("taken"))
        let second = try Replier()
        defer { second.close() }
        #expect(throws: TransportError(.addressInUse, "")) { try second.listen(directory.url("taken")) }
        #expect(throws: TransportError.self) { try second.listen("bogus://nowhere") }
    }
}

@Suite("Publish/subscribe", .timeLimit(.minutes(1)))
struct PubSubTests {
    @Test("a publisher fans out to several subscribers, each seeing only its topic, in order")
    func fanOutWithTopicFiltering() async throws {
        let directory = try TestDirectory()
        let publisher = try Publisher()
        defer { publisher.close() }
        try publisher.listen(directory.url("pub"))
        let topics = ["epoch", "feedback", "epoch", "feedback2"]
        let subscribers = try topics.map { topic in
            let subscriber = try Subscriber()
            try subscriber.subscribe(topic: topic)
            try subscriber.dial(directory.url("pub"))
            return subscriber
        }
        defer { subscribers.forEach { $0.close() } }

        let expected = Dictionary(grouping: 1...40, by: { topics[$0 % 3] })  // "feedback2" gets nothing
        let results = try await withThrowingTaskGroup(of: (Int, [UInt64]).self) { group in
            for (index, subscriber) in subscribers.enumerated() {
                group.addTask {
                    var ids: [UInt64] = []
                    for await message in subscriber.messages {
                        let (topic, envelope) = try message.topicEnvelope()
                        #expect(topic == topics[index])
                        if envelope.type == .control { break }  // the end marker
                        if envelope.type == .epoch || envelope.type == .feedback { ids.append(envelope.requestID) }
                    }
                    return (index, ids)
                }
            }
            // Pub/sub has no handshake: announce until every subscriber has joined.
            let joined = Task {
                try await waitForJoin(publisher, subscribers: subscribers.count)
            }
            try await joined.value
            for id in 1...40 {
                let topic = topics[id % 3]
                try publisher.publish(Message(topic: topic, envelope: Envelope(type: topic == "epoch" ? .epoch : .feedback, requestID: UInt64(id))))
            }
            for topic in Set(topics) {
                try publisher.publish(Message(topic: topic, envelope: Envelope(type: .control, requestID: 0)))
            }
            return try await group.reduce(into: [Int: [UInt64]]()) { $0[$1.0] = $1.1 }
        }
        for (index, topic) in topics.enumerated() {
            #expect(results[index] == (expected[topic] ?? []).map(UInt64.init), "subscriber \(index) on \(topic)")
        }
    }

    /// Publishes `hello` frames on every topic until `count` subscribers have had time to
    /// connect; NNG reports no subscriptions, so the probe is a separate subscriber.
    private func waitForJoin(_ publisher: Publisher, subscribers count: Int) async throws {
        try await waitUntil("\(count) subscribers connect", timeout: .seconds(10)) { publisher.socket.pipeCount >= count }
    }

    @Test("closing a subscriber ends its message stream")
    func closeEndsStream() async throws {
        let directory = try TestDirectory()
        let subscriber = try Subscriber()
        try subscriber.subscribe([])
        try subscriber.dial(directory.url("nobody"))
        let consumer = Task {
            var count = 0
            for await _ in subscriber.messages { count += 1 }
            return count
        }
        subscriber.close()
        #expect(await consumer.value == 0)
    }
}
