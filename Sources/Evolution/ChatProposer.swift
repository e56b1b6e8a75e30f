import AsyncHTTPClient
import Foundation
import NIOCore
import NIOFoundationCompat
public import Topology

/// Asks an OpenAI-compatible chat endpoint (`POST {base}/v1/chat/completions`: Ollama, llama.cpp,
/// vLLM or a hosted service) for a proposal, sending the proposal's JSON schema in
/// `response_format` with every request. The answer's text is parsed; checking it is the
/// ``Architect``'s job.
public struct ChatProposer: Proposer {
    /// Where and how to ask.
    public struct Configuration: Sendable {
        /// The server's base URL, e.g. `http://127.0.0.1:8080` (a trailing `/v1` is accepted).
        public var baseURL: String
        /// The model name sent in the request.
        public var model: String
        /// A bearer token, if the endpoint needs one.
        public var apiKey: String?
        /// How long one request may take.
        public var timeout: Duration
        public var temperature: Double
        public var maxTokens: Int
        /// The catalogue the schema and prompt show.
        public var catalogue: KindCatalogue
        public var maxEdits: Int

        public init(
            baseURL: String, model: String, apiKey: String? = nil, timeout: Duration = .seconds(30),
            temperature: Double = 0.7, maxTokens: Int = 400, catalogue: KindCatalogue = .builtin, maxEdits: Int = 4
        ) {
            self.baseURL = baseURL
            self.model = model
            self.apiKey = apiKey
            self.timeout = timeout
            self.temperature = temperature
            self.maxTokens = maxTokens
            self.catalogue = catalogue
            self.maxEdits = maxEdits
        }

        /// The configuration from `AGENTIC_LLM_URL`, `AGENTIC_LLM_MODEL` and `AGENTIC_LLM_KEY`, or nil
        /// when no URL is set (then the offline proposer takes over).
        public static func fromEnvironment(_ environment: [String: String]? = nil) -> Configuration? {
            let environment = environment ?? ProcessInfo.processInfo.environment
            guard let url = environment["AGENTIC_LLM_URL"], !url.isEmpty else { return nil }
            return Configuration(
                baseURL: url, model: environment["AGENTIC_LLM_MODEL"] ?? "default",
                apiKey: environment["AGENTIC_LLM_KEY"].flatMap { $0.isEmpty ? nil : $0 })
        }

        /// The full endpoint URL.
        public var endpoint: String {
            var base = baseURL
            while base.hasSuffix("/") { base.removeLast() }
            if base.hasSuffix("/v1") { base.removeLast(3) }
            return base + "/v1/chat/completions"
        }
    }

    public let configuration: Configuration
    public var name: String { "chat" }

    public init(configuration: Configuration) {
        self.configuration = configuration
    }

    /// The request body for `context`.
    func requestBody(_ context: ArchitectContext) throws(EvolutionError) -> Data {
        let body: [String: Any] = [
            "model": configuration.model,
            "messages": Architect.messages(context, catalogue: configuration.catalogue, maxEdits: configuration.maxEdits),
            "response_format": [
                "type": "json_object",
                "schema": Architect.proposalSchema(catalogue: configuration.catalogue, maxEdits: configuration.maxEdits),
            ],
            "temperature": configuration.temperature,
            "max_tokens": configuration.maxTokens,
        ]
        do {
            return try JSONSerialization.data(withJSONObject: body, options: [.sortedKeys])
        } catch {
            throw EvolutionError(.invalidProposal, "cannot encode the request: \(error)")
        }
    }

    public func propose(_ context: ArchitectContext) async throws(EvolutionError) -> Proposal {
        let text = try await complete(try requestBody(context))
        return try Architect.parse(text)
    }

    /// Sends `body` and returns the first choice's message content.
    func complete(_ body: Data) async throws(EvolutionError) -> String {
        var request = HTTPClientRequest(url: configuration.endpoint)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        if let key = configuration.apiKey { request.headers.add(name: "Authorization", value: "Bearer \(key)") }
        request.body = .bytes(ByteBuffer(data: body))
        let timeout = TimeAmount.nanoseconds(
            configuration.timeout.components.seconds * 1_000_000_000 + configuration.timeout.components.attoseconds / 1_000_000_000)
        let status: UInt
        let bytes: ByteBuffer
        do {
            let response = try await HTTPClient.shared.execute(request, timeout: timeout)
            status = response.status.code
            bytes = try await response.body.collect(upTo: 4 << 20)
        } catch let error as HTTPClientError {
            if [HTTPClientError.deadlineExceeded, .readTimeout, .connectTimeout].contains(error) {
                throw EvolutionError(.timeout, "no answer from \(configuration.endpoint) within \(configuration.timeout)")
            }
            throw EvolutionError(.endpoint, "\(configuration.endpoint): \(error)")
        } catch {
            throw EvolutionError(.endpoint, "\(configuration.endpoint): \(error)")
        }
        let data = Data(buffer: bytes)
        guard (200..<300).contains(status) else {
            throw EvolutionError(.endpoint, "\(configuration.endpoint) answered HTTP \(status): \(String(decoding: data.prefix(200), as: UTF8.self))")
        }
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
            let choices = object["choices"] as? [[String: Any]], let message = choices.first?["message"] as? [String: Any],
            let content = message["content"] as? String
        else {
            throw EvolutionError(.invalidProposal, "the endpoint's answer has no choices[0].message.content")
        }
        return content
    }
}
