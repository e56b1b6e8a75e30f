public import AgentRuntime

/// The agents that keep a ``LiveData`` view ask their host to replay the store's feedback into
/// it at start (see `FeedbackReplay`): a restarted instance then holds every click and rating it
/// had learned, and answers as it did before its process died. Their views start from training
/// data, so the replay starts after what that data already holds (``LiveData/feedbackThrough``).
///
/// Applying an event that the view already holds changes nothing (``LiveData/apply(_:)``), which
/// the replay relies on: an event committed while it runs arrives in a page and live.
extension RecallAgent {
    public var feedbackReplay: FeedbackReplay? { FeedbackReplay(after: live.feedbackThrough) }
}

extension LearnedRankAgent {
    public var feedbackReplay: FeedbackReplay? { FeedbackReplay(after: live.feedbackThrough) }
}

extension HistoryRouterAgent {
    public var feedbackReplay: FeedbackReplay? { FeedbackReplay(after: live.feedbackThrough) }
}

extension GenreMMRAgent {
    public var feedbackReplay: FeedbackReplay? { FeedbackReplay(after: live.feedbackThrough) }
}
