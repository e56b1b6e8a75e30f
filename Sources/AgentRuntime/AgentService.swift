public import AgentProtocol

/// An agent that serves more than decisions (the store: its own req/rep socket and
/// publisher). Its host starts it before the decision socket listens, so a decision answered
/// means the service is up too, and shuts it down after the drain.
public protocol AgentService: Agent {
    /// Opens the service's sockets and resources in the run `layout`.
    /// - Throws: any error; the host does not serve and ``AgentHost/run()`` throws it.
    func start(layout: RunLayout) async throws
    /// Finishes the work in flight and closes what ``start(layout:)`` opened.
    func shutdown() async
}
