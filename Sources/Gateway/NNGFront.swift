import AgentProtocol
import Dispatch
import Logging
import ServiceLifecycle
import Transport

/// The NNG req/rep front: a `.request` envelope whose payload is `{"user", "k"}` gets a
/// `.reply` envelope with the same JSON as `POST /v1/recommend`, or an `.error` envelope
/// holding an `ErrorReply`.
///
/// A message larger than `maximumPayload` (the HTTP body limit) plus the envelope's header is
/// dropped by NNG before it is allocated, and the connection that sent it closed: the same
/// bound as the HTTP front's 413, where no answer can be sent.
struct NNGFront: Service {
    let core: GatewayCore
    let address: String
    let maximumPayload: Int
    let log: Logger

    /// Room for the envelope's fixed header and a trace id around the payload.
    static let envelopeAllowance = 256

    func run() async throws {
        let replier: Replier
        do {
            var configuration = Replier.Configuration()
            configuration.socket.maxReceiveSize = maximumPayload + Self.envelopeAllowance
            replier = try Replier(configuration: configuration)
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
