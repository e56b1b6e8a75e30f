public import AgentProtocol
public import AgentRuntime
import Foundation
import Logging
import Store

/// The `store` kind: the knowledge store as an agent process. It takes no part in the
/// recommendation graph (a decision gets an empty list, which is how the coordinator sees it
/// serving); its work is a `StoreServer` at `RunLayout.storeAddress(agent:replica:)`,
/// publishing committed feedback at `RunLayout.storeEvents(…)`.
///
/// Parameters: `path` (the database; default `store.sqlite` in the run directory) and
/// `seed` (a MovieLens directory loaded once at start).
public actor StoreAgent: AgentService {
    public nonisolated let context: AgentContext
    public var parameterSet: ParameterSet
    private let dataDirectory: String?
    private var server: StoreServer?
    private let log: Logger

    /// - Parameter dataDirectory: the data directory `up` resolved for the MovieLens agents,
    ///   tried for a relative `seed` that does not exist from here.
    public init(_ context: AgentContext, dataDirectory: String? = nil) {
        self.context = context
        self.parameterSet = ParameterSet(context)
        self.dataDirectory = dataDirectory
        var log = Logger(label: "agentic.store")
        log[metadataKey: "agent"] = "\(context.name)"
        log[metadataKey: "replica"] = "\(context.replica)"
        self.log = log
    }

    /// Registers the `store` kind's maker in `factory`.
    public static func register(in factory: inout AgentFactory, dataDirectory: String?) {
        factory.register(kind: "store") { StoreAgent($0, dataDirectory: dataDirectory) }
    }

    public func decide(_ request: DecisionRequest) async throws -> DecisionResponse {
        AgentOutput(agent: context.name, version: context.version, items: [])
    }

    /// The database file this agent uses in `layout`'s run.
    public func databasePath(in layout: RunLayout) -> String {
        KnowledgeStore.databasePath(configured: parameterSet.string("path"), runDirectory: layout.runDirectory)
    }

    public func start(layout: RunLayout) async throws {
        let path = databasePath(in: layout)
        let store = try KnowledgeStore(path: path)
        if var seed = parameterSet.string("seed"), !seed.isEmpty {
            // A relative seed is relative to where `up` ran; `up` also names the data folder it
            // resolved for the MovieLens agents, which is the better guess from anywhere else.
            if !seed.hasPrefix("/"), !FileManager.default.fileExists(atPath: seed), let dataDirectory, !dataDirectory.isEmpty {
                seed = dataDirectory
            }
            let started = ContinuousClock.now
            do {
                let added = try store.seed(movieLens: seed)
                log.info("seeded", metadata: ["interactions": "\(added)", "took": "\(ContinuousClock.now - started)"])
            } catch {
                // Loud but not fatal: a store that does not start would lose every feedback event.
                log.error("not seeded", metadata: ["seed": "\(seed)", "error": "\(error)"])
            }
        }
        server = try StoreServer(
            store: store, replyAddress: layout.storeAddress(agent: context.name, replica: context.replica),
            eventsAddress: layout.storeEvents(agent: context.name, replica: context.replica), log: log)
        log.info("store open", metadata: ["path": "\(path)"])
    }

    public func shutdown() async {
        await server?.close()
        server = nil
    }
}
