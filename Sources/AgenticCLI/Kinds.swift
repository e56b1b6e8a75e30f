import AgentRuntime
import Store

/// The kinds this build runs: AgentRuntime's built-in kinds plus those of modules the
/// runtime does not depend on (the store).
enum Kinds {
    static var factory: AgentFactory {
        var factory = AgentFactory.builtin
        StoreAgent.register(in: &factory)
        return factory
    }
}
