import AgentRuntime
import Agents
import Benchmarks
import Coordinator
import Foundation
import Store

/// The kinds this build runs: the data-free kinds, the MovieLens kinds over them (data loads
/// only for kinds that need it), the trainer and the store.
enum Kinds {
    /// - Parameter runDirectory: the run agents serve in (their models load from its artifact
    ///   directory); nil for commands that only read the catalogue or fit in memory.
    static func factory(topologyPath: String, runDirectory: String? = nil) -> AgentFactory {
        // The test kind `test.probe` exists only for the suites, which set this on `agentic up`
        // (children inherit it).
        let testKinds = ProcessInfo.processInfo.environment["AGENTIC_TEST_KINDS"] == "1"
        var factory = AgentKinds.factory(
            topologyPath: topologyPath, base: AgentKinds.dataFree(includingTestKinds: testKinds), runDirectory: runDirectory)
        StoreAgent.register(in: &factory, dataDirectory: ProcessInfo.processInfo.environment[DataConfiguration.directoryVariable])
        TrainerAgent.register(in: &factory)
        return factory
    }

    /// A coordinator configuration for a topology file, as `up`, `demo` and the benchmarks
    /// start clusters.
    ///
    /// Agents read the run's own copy of the topology (`RUN/topology.yaml`), far from the
    /// repository, so the data directory is resolved here, next to the user's file, and
    /// handed down through the environment the agents inherit.
    static func coordinatorConfiguration(runDirectory: String, topologyPath: String) -> Coordinator.Configuration {
        var configuration = Coordinator.Configuration(
            runDirectory: runDirectory, topologyPath: topologyPath,
            executable: Executables.directory.appendingPathComponent("agentic").path,
            factory: factory(topologyPath: topologyPath))
        // Data-backed agents load MovieLens and fit (EASE, ALS, the ranker) before they answer.
        configuration.readinessTimeout = .seconds(120)
        configuration.fittedKinds = ModelFitting.fittedKinds
        let environment = ProcessInfo.processInfo.environment
        if environment[DataConfiguration.directoryVariable] == nil,
           let data = try? DataConfiguration.resolve(topologyPath: topologyPath, environment: environment),
           FileManager.default.fileExists(atPath: data.directory)
        {
            setenv(DataConfiguration.directoryVariable, data.directory, 1)
        }
        return configuration
    }
}
