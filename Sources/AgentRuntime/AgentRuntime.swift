/// # AgentRuntime
///
/// What an agent is, and the process that hosts one.
///
/// - ``Agent``: the contract. An agent is an `actor` that decides on a request (state → action),
///   may take feedback, declares its decision space and its inner reward, and exposes its
///   parameters for reading and (validated) writing.
/// - ``AgentFactory``: kind name → agent. The built-in data-free kinds (`router`,
///   `recall.static`, `fusion`, `rank.passthrough`, `rerank.mmr`) are registered here; later
///   issues register the data-backed kinds the same way.
/// - ``AgentHost``: one agent per OS process. It serves decisions concurrently on a req/rep
///   socket, answers control requests, hears topology epochs, publishes heartbeats, and on
///   SIGTERM (or its parent's death) drains and stops.
/// - ``FeedbackReplay``: what an agent that learns from feedback asks its host for at start,
///   the stores' feedback since its training data, so a restart does not make it forget.
/// - ``AgentRuntimeError``: the module's one error type.
public enum AgentRuntimeModule {}
