public import AgentProtocol
import Synchronization
import Transport

/// A fake agent instance in the test process: a replier at the instance's `RunLayout` address
/// that answers decision requests (and batches of them, as a real agent does) the way its
/// `Behaviour` says, and counts them.
public final class FakeAgent: Sendable {
    public enum Behaviour: Sendable {
        /// Answers with these items.
        case items([ScoredItem])
        /// Answers with its inputs merged: scores of the same item summed, best first.
        case merge
        /// Never answers.
        case silent
        /// Answers with an error envelope.
        case error
    }

    public let name: String
    let replier: Replier
    private let served = Atomic<Int>(0)
    private let widestInput = Atomic<Int>(0)

    /// Listens at `name`'s decision address (replica `replica`) in `layout`.
    public init(_ name: String, replica: Int = 0, layout: RunLayout, _ behaviour: Behaviour) throws {
        self.name = name
        // Fakes answer at once: on NNG's thread they do not wait for the test process's
        // busy thread pool (many suites run in parallel on two cores).
        var configuration = Replier.Configuration()
        configuration.runsHandlersOnCallbackThread = true
        replier = try Replier(configuration: configuration)
        try replier.listen(layout.decisionAddress(agent: name, replica: replica))
        try replier.start { [weak self] message in
            guard let self else { return nil }
            return self.answer(message, behaviour)
        }
    }

    /// Decision requests answered so far.
    public var requests: Int { served.load(ordering: .relaxed) }
    /// The most inputs one request carried.
    public var mostInputs: Int { widestInput.load(ordering: .relaxed) }

    private func answer(_ message: Message, _ behaviour: Behaviour) -> Message? {
        guard let envelope = try? message.envelope() else { return nil }
        // A batch is answered as a real agent answers it: each request in turn, replies in order.
        if envelope.type == .batch {
            guard let requests = try? Batch.envelopes(in: envelope.payload) else { return nil }
            var replies: [Envelope] = []
            for request in requests {
                guard let reply = answer(request, behaviour) else { return nil }
                replies.append(reply)
            }
            return try? Message(envelope: Envelope(type: .batch, requestID: envelope.requestID, payload: Batch.payload(replies)))
        }
        return answer(envelope, behaviour).flatMap { try? Message(envelope: $0) }
    }

    private func answer(_ envelope: Envelope, _ behaviour: Behaviour) -> Envelope? {
        guard envelope.type == .request, let request = try? WireCodec.decode(DecisionRequest.self, from: envelope.payload) else {
            let payload = try! WireCodec.encode(ErrorReply(code: "unexpected_type", message: "requests only"))
            return Envelope(type: .error, requestID: envelope.requestID, payload: payload)
        }
        served.add(1, ordering: .relaxed)
        widestInput.max(request.inputs.count, ordering: .relaxed)
        let output: AgentOutput
        switch behaviour {
        case .silent:
            return nil
        case .error:
            let payload = try! WireCodec.encode(ErrorReply(code: "boom", message: "this fake always fails"))
            return Envelope(type: .error, requestID: envelope.requestID, payload: payload)
        case .items(let items):
            output = AgentOutput(agent: name, version: "1", items: items)
        case .merge:
            var scores: [String: Double] = [:]
            for input in request.inputs { for item in input.items { scores[item.item, default: 0] += item.score } }
            let items = scores.map { ScoredItem(item: $0.key, score: $0.value) }.sorted { $0.score > $1.score }
            output = AgentOutput(agent: name, version: "1", items: Array(items.prefix(request.k)))
        }
        let payload = try! WireCodec.encode(output)
        return Envelope(type: .reply, requestID: envelope.requestID, payload: payload)
    }

    /// Stops answering (a dead agent).
    public func close() { replier.close() }
}

