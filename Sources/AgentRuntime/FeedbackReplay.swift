import AgentProtocol
import Foundation
import Transport

/// What an agent asks of its host at start (``Agent/feedbackReplay``): every feedback event the
/// topology's stores committed after store sequence ``after``, handed to ``Agent/feedback(_:)``
/// in `seq` order before the agent serves, as the `feedback` topic carried it.
///
/// The host subscribes to the stores' `feedback` topic first and replays second, so an event
/// committed during the replay arrives twice (once in a page, once live, in commit order after
/// the replay): an agent that asks for a replay must take an event again without harm (for
/// `LiveData`, applying an interaction again leaves the view as it was).
///
/// A store that does not answer (down, or too slow: ``AgentHost/Configuration/ReplayConfiguration``
/// bounds each page's tries) costs a warning, and the agent serves without the rest of that
/// store's feedback, as it did before replays existed: a store outage should not also take
/// down every agent that learns from it (a start that failed would be restarted, crash-loop
/// and be marked failed), and while the store is down no new feedback is stored anyway.
public struct FeedbackReplay: Sendable, Equatable {
    /// The store sequence (`seq`) the agent's starting state already includes: 0 when it was
    /// built from training data that holds no stored feedback; N for a snapshot that holds the
    /// store's feedback up to `seq` N. With several store instances, each is read after it.
    public var after: Int64

    /// - Parameter after: negative is taken as 0 (every stored event).
    public init(after: Int64 = 0) {
        self.after = max(0, after)
    }
}

/// Reads one store instance's feedback log page by page (`feedback_after`) and hands each event
/// on, asking again for a page that does not come back, up to a bound.
struct FeedbackReplayer: Sendable {
    /// One page: the store's answer to `feedback_after` from `after`, at most `limit` events,
    /// within `timeout`.
    /// - Throws: ``AgentRuntimeError/Code/badRequest`` when asking again cannot help (the
    ///   store refused the request or its answer is unreadable); any other error is retried.
    typealias Fetch = @Sendable (_ after: Int64, _ limit: Int, _ timeout: Duration) async throws -> StoreReply

    /// What a replay did.
    struct Outcome: Sendable, Equatable {
        /// Events handed on.
        var events = 0
        /// Pages read.
        var pages = 0
        /// The last `seq` read (the `after` it started from when nothing was read).
        var cursor: Int64
        /// Why it stopped before the end of the log; nil when it read to the end.
        var failure: String?
    }

    let configuration: AgentHost.Configuration.ReplayConfiguration
    /// Waits between tries of a page (injected so tests do not wait).
    var pause: @Sendable (Duration) async -> Void = { try? await Task.sleep(for: $0) }

    init(configuration: AgentHost.Configuration.ReplayConfiguration) {
        self.configuration = configuration
    }

    /// Reads the log after `after` to its end, handing each event's payload (the event exactly
    /// as the store publishes it on topic `feedback`) to `deliver` in `seq` order.
    func replay(after: Int64, fetch: Fetch, deliver: @Sendable ([UInt8]) async -> Void) async -> Outcome {
        var outcome = Outcome(cursor: after)
        let attempts = max(1, configuration.attempts)
        let limit = min(max(1, configuration.pageLimit), StoreRequest.feedbackPageLimit)
        while true {
            var answer: StoreReply?
            var problem = ""
            for attempt in 1...attempts {
                do {
                    answer = try await fetch(outcome.cursor, limit, configuration.attemptTimeout)
                    break
                } catch let error as AgentRuntimeError where error.code == .badRequest {
                    outcome.failure = error.message
                    return outcome
                } catch {
                    problem = "\(error)"
                    if attempt < attempts { await pause(configuration.retryPause * attempt) }
                }
            }
            guard let answer else {
                outcome.failure = "no answer after \(attempts) tries (\(problem))"
                return outcome
            }
            guard let events = answer.feedback, let cursor = answer.cursor else {
                // A store from before `feedback_after` answers an empty reply.
                outcome.failure = "the store's answer is not a page of feedback"
                return outcome
            }
            for stored in events {
                // The publisher's own encoding (`GroupCommitter.publish`): the agent cannot tell
                // a replayed event from a live one.
                guard let payload = try? WireCodec.encode(stored.event) else { continue }
                await deliver(payload)
            }
            outcome.events += events.count
            outcome.pages += 1
            guard answer.hasMore == true else {
                outcome.cursor = max(outcome.cursor, cursor)
                return outcome
            }
            // A cursor that does not move would ask for the same page forever.
            guard cursor > outcome.cursor else {
                outcome.failure = "the store's cursor did not advance past \(outcome.cursor)"
                return outcome
            }
            outcome.cursor = cursor
        }
    }

    /// The fetch of a page over `requester` (dialled to one store instance).
    static func fetch(over requester: Requester) -> Fetch {
        { after, limit, timeout in
            let request = StoreRequest(operation: .feedbackAfter, after: after, limit: limit)
            let message = try Message(
                envelope: Envelope(
                    type: .request, requestID: UInt64.random(in: 1 ... .max), payload: WireCodec.encode(request)))
            let reply = try await requester.request(message, timeout: timeout).envelope()
            switch reply.type {
            case .reply:
                do {
                    return try WireCodec.decode(StoreReply.self, from: reply.payload)
                } catch {
                    throw AgentRuntimeError(.badRequest, "the store's answer is unreadable: \(error)")
                }
            case .error:
                let problem = try? WireCodec.decode(ErrorReply.self, from: reply.payload)
                // A bad request stays bad (an older store without `feedback_after`, say); a busy
                // or failing database may recover within the tries.
                if problem?.code == StoreErrorCode.badRequest {
                    throw AgentRuntimeError(.badRequest, "the store refused feedback_after: \(problem?.message ?? "")")
                }
                throw AgentRuntimeError(.unavailable, "the store answered \(problem?.code ?? "an unreadable error")")
            default:
                throw AgentRuntimeError(.badRequest, "the store answered a \(reply.type) envelope")
            }
        }
    }
}
