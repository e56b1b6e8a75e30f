import AgentProtocol
import Dispatch
import Logging
import ServiceLifecycle
import Transport

/// The NNG req/rep front: a `.request` envelope whose payload is `{"user", "k"}` gets a
/// `.reply` envelope with the same JSON as `POST /v1/recommend`, or an `.error` envelope
/// holding an `ErrorReply`.
struct NNGFront: Service {
    let core: GatewayCore
    let address: String
    let log: Logger

    func run() async throws {
        let replier: Replier
        do {
            replier = try Replier()
            try replier.listen(address)
        } catch {
            throw GatewayError(.transport, "listening at \(address): \(error)")
        }
        log.info("NNG front listening", metadata: ["address": .string(address)])
        let core = self.core
        try await withGracefulShutdownHandler {
            try await replier.run { message in await Self.answer(message, core: core) }
        } onGracefulShutdown: {
            // close() waits out NNG's callbacks: not on a cooperative thread.
            DispatchQueue.global().async { replier.close() }
        }
    }

    static func answer(_ message: Message, core: GatewayCore) async -> Message? {
        guard let envelope = try? message.envelope() else {
            return reply(.error, id: 0, ErrorReply(code: "malformed_frame", message: "not an agentic envelope"))
        }
        guard envelope.type == .request else {
            return reply(.error, id: envelope.requestID, ErrorReply(code: "unsupported_type", message: "expected a request, got \(envelope.type)"))
        }
        do {
            let (user, k) = try Validation.recommendation(from: envelope.payload)
            return reply(.reply, id: envelope.requestID, try await core.recommend(user: user, k: k))
        } catch {
            return reply(.error, id: envelope.requestID, ErrorReply(code: error.code, message: error.message))
        }
    }

    private static func reply(_ type: MessageType, id: UInt64, _ value: some Encodable) -> Message? {
        guard let payload = try? WireCodec.encode(value) else { return nil }
        return try? Message(envelope: Envelope(type: type, requestID: id, payload: payload))
    }
}

/// Follows the coordinator's epoch announcements and switches the gateway's topology.
struct EpochWatcher: Service {
    let core: GatewayCore
    let layout: RunLayout
    let log: Logger

    func run() async throws {
        let subscriber: Subscriber
        do {
            subscriber = try Subscriber()
            try subscriber.subscribe(topic: Topics.epoch)
            try subscriber.dial(layout.coordinatorEvents)
        } catch {
            throw GatewayError(.transport, "subscribing to \(layout.coordinatorEvents): \(error)")
        }
        let core = self.core
        let log = self.log
        await withGracefulShutdownHandler {
            for await message in subscriber.messages {
                guard let (_, envelope) = try? message.topicEnvelope(),
                    let announcement = try? WireCodec.decode(EpochAnnouncement.self, from: envelope.payload)
                else {
                    log.warning("ignoring a malformed epoch announcement")
                    continue
                }
                await core.apply(announcement)
            }
        } onGracefulShutdown: {
            DispatchQueue.global().async { subscriber.close() }
        }
    }
}
