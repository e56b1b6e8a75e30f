import GatewayAPI
import AgentProtocol
import Foundation
import Hummingbird
import Topology

/// The HTTP API. Handlers answer or throw an ``APIError``, which is its own response (status
/// and JSON body); ``JSONErrorMiddleware`` gives Hummingbird's errors the same body.
struct HTTPFront: Sendable {
    /// Each route's one method (the router answers any other as an unknown path, so
    /// ``JSONErrorMiddleware`` answers it first: 405 with `Allow`).
    static let methods: [String: HTTPRequest.Method] = [
        "/v1/recommend": .post, "/v1/feedback": .post, "/v1/topology": .get, "/healthz": .get, "/metrics": .get,
    ]

    let core: GatewayCore
    let maximumBodySize: Int

    func register(on router: Router<BasicRequestContext>) {
        router.post("/v1/recommend") { request, _ in try await recommend(request) }
        router.post("/v1/feedback") { request, _ in try await feedback(request) }
        router.get("/v1/topology") { _, _ in await topology() }
        router.get("/healthz") { _, _ in await health() }
        router.get("/metrics") { _, _ in
            Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: core.metrics.exposition()))
            )
        }
    }

    private func recommend(_ request: Request) async throws(APIError) -> Response {
        let body = try await jsonBody(request)
        let (user, k) = try Validation.recommendation(from: body.readableBytesView)
        guard let answer = try await core.recommend(user: user, k: k).json else {
            throw APIError(500, "internal", "the response could not be encoded")
        }
        return Self.json(bytes: answer)
    }

    private func feedback(_ request: Request) async throws(APIError) -> Response {
        let body = try await jsonBody(request)
        let events = try Validation.feedbackEvents(from: body.readableBytesView)
        let ids = events.compactMap(\.eventID)
        guard let store = core.store else {
            // No store in the topology: published on pub/sub only, nothing is durable.
            do {
                for event in events { try core.publish(event) }
            } catch {
                core.log.error("cannot publish feedback", metadata: ["error": "\(error)"])
                return Self.json(bytes: FeedbackAccepted(accepted: false, stored: false).json, status: .serviceUnavailable)
            }
            return Self.json(bytes: FeedbackAccepted(accepted: true, stored: false, eventIDs: ids).json, status: .accepted)
        }
        do {
            // Answered only once the store has committed every event.
            let reply = try await store.append(events)
            return Self.json(bytes: FeedbackAccepted(accepted: true, stored: true, duplicates: reply.duplicates, eventIDs: ids).json)
        } catch {
            core.log.error("feedback not stored", metadata: ["code": "\(error.code)", "events": "\(events.count)"])
            throw error
        }
    }

    private func topology() async -> Response {
        let plan = await core.registry.lease()
        await core.registry.release(plan)
        return Self.json(TopologyResponse(epoch: plan.epoch, topology: plan.spec))
    }

    private func health() async -> Response {
        let plan = await core.registry.lease()
        await core.registry.release(plan)
        return Self.json(Health(status: "ok", epoch: plan.epoch))
    }

    /// The body, after checking its type and size; a body over the limit is never read whole.
    private func jsonBody(_ request: Request) async throws(APIError) -> ByteBuffer {
        if let type = request.headers[.contentType]?.lowercased(), !type.hasPrefix("application/json") {
            throw APIError(415, "unsupported_media_type", "the body must be application/json")
        }
        if let length = request.headers[.contentLength].flatMap(Int.init), length > maximumBodySize {
            throw APIError(413, "body_too_large", "the body is larger than \(maximumBodySize) bytes")
        }
        var request = request
        do {
            return try await request.collectBody(upTo: maximumBodySize)
        } catch let error as HTTPError where error.status == .contentTooLarge {
            throw APIError(413, "body_too_large", "the body is larger than \(maximumBodySize) bytes")
        } catch {
            throw APIError(400, "unreadable_body", "the body could not be read")
        }
    }

    static func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) -> Response {
        guard let bytes = try? JSONEncoder().encode(value) else {
            return APIError(500, "internal", "the response could not be encoded").response
        }
        return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    /// A JSON body already encoded.
    static func json(bytes: [UInt8], status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

}

private struct TopologyResponse: Encodable {
    var epoch: Int
    var topology: TopologySpec
}

private struct Health: Encodable {
    var status: String
    var epoch: Int
}

/// Answers every error with the JSON error body (an ``APIError`` as it is; the router's own,
/// such as an unknown path or a wrong method, as the ``APIError`` they stand for; anything
/// else as a 500 that says nothing of it) and counts every response by route and status.
struct JSONErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    let metrics: GatewayMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let clock = ContinuousClock()
        let started = clock.now
        let response: Response
        do {
            if let allowed = HTTPFront.methods[request.uri.path], request.method != allowed {
                throw APIError(405, "method_not_allowed", "\(request.uri.path) takes \(allowed.rawValue) only")
                    .withHeader(.allow, allowed.rawValue)
            }
            response = try await next(request, context)
        } catch let error as APIError {
            response = error.response
        } catch let error as any HTTPResponseError {
            response = APIError(error).response
        } catch {
            response = APIError(500, "internal", "internal error").response
        }
        metrics.request(route: Self.route(request.uri.path), status: response.status.code, duration: clock.now - started)
        return response
    }

    /// Bounded label values: unknown paths share one.
    private static func route(_ path: String) -> String {
        HTTPFront.methods[path] == nil ? "other" : path
    }
}
