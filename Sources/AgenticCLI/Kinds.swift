import AgentRuntime
import RecommenderAgents
import Store

/// The kinds this build runs: AgentRuntime's data-free kinds, the MovieLens kinds over them
/// (data loads only for kinds that need it) and the store, which the runtime does not
/// depend on.
enum Kinds {
    static func factory(topologyPath: String) -> AgentFactory {
        var factory = RecommenderAgents.factory(topologyPath: topologyPath, base: .builtin)
        StoreAgent.register(in: &factory)
        return factory
    }
}
