import AgentProtocol
import Agents
import Synchronization
import Testing
import Topology

@testable import AgentRuntime

/// The host's replay of stored feedback at start, against a fake store: paging by cursor, the
/// payloads an agent gets, and the bounds on a store that does not answer.
@Suite("Feedback replay")
struct FeedbackReplayTests {
    /// A store's feedback log, answering `feedback_after` pages; it fails the calls it is told to.
    final class FakeStore: Sendable {
        let log: [StoredFeedback]
        /// Per call (from 0): the error to throw instead of answering.
        let failures: @Sendable (Int) -> (any Error)?
        let calls = Mutex<[Int64]>([])

        init(events: Int, firstSeq: Int64 = 10, failures: @escaping @Sendable (Int) -> (any Error)? = { _ in nil }) {
            // Gaps in seq, as seed rows between feedback rows leave.
            log = (0..<events).map { index in
                let kind = index % 2 == 0 ? "click" : "rating"
                let requestID: String? = index % 3 == 0 ? "r\(index)" : nil
                let event = FeedbackEvent(
                    user: "u\(index % 4)", item: "i\(index)", event: kind, value: Double(index % 5), requestID: requestID,
                    receivedAt: UInt64(1_700_000_000_000 + index), eventID: "e\(index)")
                return StoredFeedback(seq: firstSeq + Int64(index) * 3, event: event)
            }
            self.failures = failures
        }

        var fetch: FeedbackReplayer.Fetch {
            { after, limit, _ in
                let call = self.calls.withLock { calls in
                    calls.append(after)
                    return calls.count - 1
                }
                if let error = self.failures(call) { throw error }
                let rest = self.log.filter { $0.seq > after }
                let page = Array(rest.prefix(limit))
                return StoreReply(feedback: page, cursor: page.last?.seq ?? after, hasMore: rest.count > limit)
            }
        }
    }

    /// What an agent was handed.
    final class Delivered: Sendable {
        let payloads = Mutex<[[UInt8]]>([])
        var deliver: @Sendable ([UInt8]) async -> Void { { payload in self.payloads.withLock { $0.append(payload) } } }
        var count: Int { payloads.withLock { $0.count } }
    }

    static func replayer(pageLimit: Int = 3, attempts: Int = 3) -> FeedbackReplayer {
        var configuration = AgentHost.Configuration.ReplayConfiguration()
        configuration.pageLimit = pageLimit
        configuration.attempts = attempts
        var replayer = FeedbackReplayer(configuration: configuration)
        replayer.pause = { _ in }
        return replayer
    }

    struct Unreachable: Error {}

    @Test("pages through the log from the agent's sequence to its end, handing on each event as the feedback topic carries it")
    func pagesToTheEnd() async throws {
        let store = FakeStore(events: 8)
        let delivered = Delivered()
        let outcome = await Self.replayer().replay(after: 0, fetch: store.fetch, deliver: delivered.deliver)
        #expect(outcome == .init(events: 8, pages: 3, cursor: store.log[7].seq, failure: nil))
        // The publisher's bytes (`WireCodec.encode`, the hand-written JSON), in seq order.
        let published = try store.log.map { try WireCodec.encode($0.event) }
        #expect(delivered.payloads.withLock { $0 } == published)
        #expect(store.calls.withLock { $0 } == [0, store.log[2].seq, store.log[5].seq])

        // From a snapshot's sequence: only what came after it.
        let later = Delivered()
        let from = await Self.replayer().replay(after: store.log[5].seq, fetch: store.fetch, deliver: later.deliver)
        #expect(from.events == 2 && from.failure == nil)
        #expect(later.payloads.withLock { $0 } == Array(published.suffix(2)))

        // An empty log: one page, nothing handed on.
        let none = await Self.replayer().replay(after: 0, fetch: FakeStore(events: 0).fetch, deliver: Delivered().deliver)
        #expect(none == .init(events: 0, pages: 1, cursor: 0, failure: nil))
    }

    @Test("a page that does not come back is asked for again; a store that never answers is given up after the tries, keeping what came")
    func boundedRetries() async throws {
        // The second page fails twice, then answers.
        let flaky = FakeStore(events: 7) { call in call == 1 || call == 2 ? Unreachable() : nil }
        let delivered = Delivered()
        let outcome = await Self.replayer().replay(after: 0, fetch: flaky.fetch, deliver: delivered.deliver)
        #expect(outcome.failure == nil)
        #expect(outcome.events == 7 && delivered.count == 7)

        // Down after the first page: three tries of the second, then it stops.
        let down = FakeStore(events: 7) { call in call >= 1 ? Unreachable() : nil }
        let partial = Delivered()
        let stopped = await Self.replayer().replay(after: 0, fetch: down.fetch, deliver: partial.deliver)
        #expect(stopped.events == 3 && partial.count == 3)
        #expect(stopped.cursor == down.log[2].seq)
        #expect(stopped.failure?.contains("3 tries") == true)
        #expect(down.calls.withLock { $0.count } == 4)
    }

    @Test("a refusal is not asked again; an answer that is no page or a cursor that does not move ends the replay")
    func refusalsAndBadAnswers() async throws {
        let refusing = FakeStore(events: 3) { _ in AgentRuntimeError(.badRequest, "unknown operation feedback_after") }
        let refused = await Self.replayer().replay(after: 0, fetch: refusing.fetch, deliver: Delivered().deliver)
        #expect(refused.failure?.contains("unknown operation") == true)
        #expect(refusing.calls.withLock { $0.count } == 1)

        let older: FeedbackReplayer.Fetch = { _, _, _ in StoreReply() }
        let notAPage = await Self.replayer().replay(after: 0, fetch: older, deliver: Delivered().deliver)
        #expect(notAPage.failure != nil && notAPage.events == 0)

        let stuck: FeedbackReplayer.Fetch = { after, _, _ in StoreReply(feedback: [], cursor: after, hasMore: true) }
        let loop = await Self.replayer().replay(after: 5, fetch: stuck, deliver: Delivered().deliver)
        #expect(loop.failure?.contains("did not advance") == true)
        #expect(loop.pages == 1)
    }

    @Test("agents ask for no replay unless they say so; a negative sequence is taken as 0")
    func defaults() async throws {
        let factory = AgentKinds.dataFree(includingTestKinds: false)
        let kind = try #require(factory.catalogue["fusion"])
        let agent = try factory.make(AgentContext(name: "fusion", kind: kind))
        #expect(await agent.feedbackReplay == nil)
        #expect(FeedbackReplay(after: -4).after == 0)
        #expect(FeedbackReplay().after == 0)
    }
}
