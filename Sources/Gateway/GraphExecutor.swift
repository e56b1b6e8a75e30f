import AgentProtocol
import Foundation
import Logging
import Transport

/// What one execution of the graph produced.
struct Recommendation: Sendable {
    var items: [ScoredItem]
    var epoch: Int
    /// Agents that failed or were late, in topological order.
    var degraded: [String]
    /// What each agent that answered produced, by its position in the plan's order (for the
    /// served-list attribution).
    var outputs: [EncodedOutput?] = []
}

/// What the walk needs to know of an agent's output: the gateway keeps outputs in their
/// binary form (``EncodedOutput``), the in-process baseline as they are (`AgentOutput`).
protocol WalkOutput: Sendable {
    var itemCount: Int { get }
    /// A router's choice of segment.
    var segment: String? { get }
}

extension AgentOutput: WalkOutput {
    var itemCount: Int { items.count }
}

extension EncodedOutput: WalkOutput {}

/// What one walk of the graph did.
struct WalkResult<Output: WalkOutput>: Sendable {
    /// Each agent's output by its position in the shape's order; nil where it failed or was skipped.
    var outputs: [Output?]
    /// Agents that failed, in topological order.
    var degraded: [String]
    /// Agents not called because no edge into them was taken, in topological order.
    var skipped: [String]
    /// The request's segment: the first one an output carried.
    var segment: String?
    /// The exit's output, else the deepest one with items.
    var answer: Output?
}

/// Runs one request through one epoch's graph: every agent the request's segment routes to
/// once, as soon as all that feed it have answered, given up or been skipped, each on the
/// first replica that answers in time.
struct GraphExecutor: Sendable {
    let metrics: GatewayMetrics
    let log: Logger
    /// How long a failed replica is tried after its siblings.
    let suspension: Duration
    /// No attempt is made with less time than this left.
    let minimumAttempt: Duration

    func execute(_ plan: EpochPlan, requestID: UInt64, user: String, k: Int, deadline: ContinuousClock.Instant) async -> Recommendation {
        let idText = RequestIDs.text(requestID)
        // Each agent's reply resumes the walk on the NNG thread that received it (and the next
        // hops start from there) instead of hopping to Swift's pool: thread switches were the
        // largest cost of a request in `perf`.
        let result = await withTaskExecutorPreference(CallbackExecutor.shared) {
            await Self.walk(plan.shape) { (name, inputs: [EncodedOutput]) in
                // The predecessors' lists go into the request as the agents encoded them.
                let payload = WireCodec.encodeRequest(requestID: idText, user: user, k: k, epoch: plan.epoch, inputs: inputs)
                return await call(
                    plan.routes[name], payload: payload, requestID: idText, envelopeID: requestID,
                    depth: plan.depth[name] ?? 1, deadline: deadline)
            }
        }
        for agent in result.degraded { metrics.degraded(agent: agent) }
        // Checked when it arrived, so decoding cannot fail.
        let answer = (try? result.answer?.decoded())?.items ?? []
        return Recommendation(items: Self.served(answer, k: k), epoch: plan.epoch, degraded: result.degraded, outputs: result.outputs)
    }

    /// The walk itself, with how one agent is asked (given the outputs that arrived over the
    /// edges taken into it) left to the caller: over its sockets for the gateway, directly for
    /// the in-process baseline (``InProcessGraph``).
    ///
    /// The request's segment is the first one an output carries (the router's). An edge with
    /// segments is taken only by requests of one of them; while no segment is known (the router
    /// failed, or there is none) every edge is taken: running everything beats running nothing.
    /// An agent runs when an edge taken into it comes from an agent that ran (answered or
    /// failed); the entry agents always run. Any other agent is skipped: not asked, not
    /// degraded, and the edges out of it are not taken either.
    static func walk<Output: WalkOutput>(
        _ shape: GraphShape, ask: @escaping @Sendable (String, [Output]) async -> Output?
    ) async -> WalkResult<Output> {
        let count = shape.order.count
        var outputs = [Output?](repeating: nil, count: count)
        var ran = [Bool](repeating: false, count: count)
        var waiting = shape.predecessorCounts
        var segment: String?
        var taken = SegmentMask.every
        var failed = 0
        var skipped = 0

        await withTaskGroup(of: (Int, Output?).self) { group in
            // Called once everything feeding `index` has resolved.
            func start(_ index: Int) {
                let edges = shape.incoming[index]
                if shape.isEntry[index] || edges.contains(where: { ran[$0.from] && $0.segments.overlaps(taken) }) {
                    ran[index] = true
                    // Degrade around a failed predecessor: the agent gets the inputs that did arrive.
                    let inputs = edges.compactMap { $0.segments.overlaps(taken) ? outputs[$0.from] : nil }
                    let name = shape.order[index]
                    group.addTask { (index, await ask(name, inputs)) }
                } else {
                    skipped += 1
                    resolved(index)
                }
            }
            func resolved(_ index: Int) {
                for next in shape.successors[index] {
                    waiting[next] -= 1
                    if waiting[next] == 0 { start(next) }
                }
            }
            for index in 0..<count where waiting[index] == 0 { start(index) }
            for await (index, output) in group {
                if let output {
                    outputs[index] = output
                    if segment == nil, let chosen = output.segment {
                        segment = chosen
                        taken = SegmentMask(request: chosen)
                    }
                } else {
                    failed += 1
                }
                resolved(index)
            }
        }

        // Only a request that lost or skipped an agent pays for the lists.
        let degraded = failed == 0 ? [] : (0..<count).filter { ran[$0] && outputs[$0] == nil }.map { shape.order[$0] }
        let skippedNames = skipped == 0 ? [] : (0..<count).filter { !ran[$0] }.map { shape.order[$0] }
        // The exit's list, else the deepest agent that answered with something.
        let answer = outputs[shape.exit] ?? outputs.reversed().lazy.compactMap { $0 }.first { $0.itemCount > 0 }
        return WalkResult(outputs: outputs, degraded: degraded, skipped: skippedNames, segment: segment, answer: answer)
    }

    /// The answer's first `k` items with a finite score.
    static func served(_ items: [ScoredItem], k: Int) -> [ScoredItem] {
        Array(items.filter { $0.score.isFinite }.prefix(k))
    }

    /// Asks one agent, trying each replica at most once, within its share of the deadline.
    /// Returns nil when every attempt failed or time ran out.
    private func call(
        _ route: AgentRoute?, payload: [UInt8], requestID: String, envelopeID: UInt64, depth: Int, deadline: ContinuousClock.Instant
    ) async -> EncodedOutput? {
        guard let route else { return nil }
        // Built only when something is logged: copying metadata on every call showed in profiles.
        func log() -> Logger {
            var log = self.log
            log[metadataKey: "request_id"] = .string(requestID)
            log[metadataKey: "agent"] = .string(route.agent)
            return log
        }
        let clock = ContinuousClock()
        // This agent's share: the rest of the deadline split over the chain still to run.
        let agentDeadline = clock.now + (deadline - clock.now) / max(1, depth)
        let candidates = route.attemptOrder()
        for (index, instance) in candidates.enumerated() {
            if Task.isCancelled { return nil }
            let left = agentDeadline - clock.now
            guard left >= minimumAttempt else {
                log().warning("no time left for the agent")
                return nil
            }
            if index > 0 { metrics.retried(agent: route.agent) }
            // Keep time for the replicas still untried: a dead one costs its whole attempt.
            let attemptsLeft = candidates.count - index
            let timeout = attemptsLeft > 1 ? max(minimumAttempt, left / attemptsLeft) : left
            let started = clock.now
            let outcome = await attempt(instance, payload: payload, envelopeID: envelopeID, timeout: timeout)
            metrics.agentCall(agent: route.agent, outcome: outcome.label, duration: clock.now - started)
            switch outcome {
            case .answered(let output):
                return output
            case .failed(_, let reason):
                instance.suspend(for: suspension)
                log().notice("agent attempt failed", metadata: ["address": .string(instance.address), "reason": .string(reason), "attempt": "\(index + 1)"])
            }
        }
        return nil
    }

    private enum Outcome {
        case answered(EncodedOutput)
        case failed(label: String, reason: String)

        var label: String {
            switch self {
            case .answered: "ok"
            case .failed(let label, _): label
            }
        }
    }

    private func attempt(_ instance: AgentInstance, payload: [UInt8], envelopeID: UInt64, timeout: Duration) async -> Outcome {
        let wallDeadline = UInt64(max(0, (Date().timeIntervalSince1970 + timeout.seconds) * 1000))
        let envelope: Envelope
        do {
            let request = Envelope(type: .request, requestID: envelopeID, deadline: wallDeadline, payload: payload)
            envelope = try await instance.exchange(request, timeout: timeout)
        } catch let error as TransportError where error.code != .malformedFrame {
            switch error.code {
            case .timedOut: return .failed(label: "timeout", reason: "timed out after \(timeout)")
            case .closed: return .failed(label: "closed", reason: "requester closed")
            case .cancelled: return .failed(label: "cancelled", reason: "cancelled")
            default: return .failed(label: "error", reason: "\(error.code)")
            }
        } catch {
            return .failed(label: "error", reason: "malformed reply")
        }
        do {
            switch envelope.type {
            case .reply:
                return .answered(try EncodedOutput(payload: envelope.payload))
            case .error:
                let problem = try? WireCodec.decode(ErrorReply.self, from: envelope.payload)
                return .failed(label: "error", reason: "agent error \(problem?.code ?? "unreadable")")
            default:
                return .failed(label: "error", reason: "unexpected \(envelope.type) reply")
            }
        } catch {
            return .failed(label: "error", reason: "malformed reply")
        }
    }
}

extension Duration {
    var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}

/// Request ids: a random 64-bit number in the envelope, its hex form everywhere else.
enum RequestIDs {
    static func make() -> UInt64 { UInt64.random(in: 1 ... .max) }
    static func text(_ id: UInt64) -> String {
        let hex = String(id, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}
