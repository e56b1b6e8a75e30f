import GatewayAPI
import AgentProtocol
import Dispatch
import Logging
import ServiceLifecycle
import Transport

/// The NNG req/rep front: a `.request` envelope whose payload is `{"user", "k"}` gets a
/// `.reply` envelope with the same JSON as `POST /v1/recommend`, or an `.error` envelope
/// holding an `ErrorReply`.
///
/// A payload larger than `maximumPayload` (the HTTP body limit) gets an error reply
/// `body_too_large`, as HTTP's 413. NNG itself refuses messages over ``transportLimit(for:)``
/// before allocating them; it is kept well above the payload limit because NNG 1.5.2 does not
/// free the sender of a refused message: an IPC connection whose message did not fit its
/// socket buffer (about 200 KB here) stayed stuck mid-send, and every later request on it
/// timed out (measured with a C program on NNG alone, and in `theNNGFrontAnswersLikeHTTP`).
struct NNGFront: Service {
    let core: GatewayCore
    let address: String
    let maximumPayload: Int
    let log: Logger

    /// Room for the envelope's fixed header and a trace id around the payload.
    static let envelopeAllowance = 256

    /// The largest message NNG takes at all: 1 MiB, or 4 × the payload limit when larger.
    static func transportLimit(for maximumPayload: Int) -> Int { max(1 << 20, 4 * maximumPayload) + envelopeAllowance }

    func run() async throws {
        let replier: Replier
        do {
            var configuration = Replier.Configuration()
            configuration.socket.maxReceiveSize = Self.transportLimit(for: maximumPayload)
            replier = try Replier(configuration: configuration)
            try replier.listen(address)
        } catch {
            throw GatewayError(.transport, "listening at \(address): \(error)")
        }
        log.info("NNG front listening", metadata: ["address": .string(address)])
        let core = self.core
        let maximumPayload = self.maximumPayload
        try await withGracefulShutdownHandler {
            try await replier.run { message in await Self.answer(message, core: core, maximumPayload: maximumPayload) }
        } onGracefulShutdown: {
            // close() waits out NNG's callbacks: not on a cooperative thread.
            DispatchQueue.global().async { replier.close() }
        }
    }

    static func answer(_ message: Message, core: GatewayCore, maximumPayload: Int) async -> Message? {
        guard let envelope = try? message.envelope() else {
            return reply(.error, id: 0, ErrorReply(code: "malformed_frame", message: "not an agentic envelope"))
        }
        guard envelope.type == .request else {
            return reply(.error, id: envelope.requestID, ErrorReply(code: "unsupported_type", message: "expected a request, got \(envelope.type)"))
        }
        guard envelope.payload.count <= maximumPayload else {
            return reply(
                .error, id: envelope.requestID,
                ErrorReply(code: "body_too_large", message: "the payload is larger than \(maximumPayload) bytes"))
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
