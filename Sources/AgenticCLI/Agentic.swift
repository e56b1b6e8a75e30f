/// # agentic
///
/// The command line of agentic: validate, the cluster (up, status, down; swap later), benchmarks,
/// evaluation and the demo as they land.
import ArgumentParser

@main
struct Agentic: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agentic",
        abstract: "An agentic recommender system: agents in their own processes, talking over NNG.",
        subcommands: [Validate.self, Fit.self, Eval.self, Evolve.self, Up.self, Status.self, DashboardCommand.self, Down.self, Report.self, Load.self, Swap.self, Apply.self, History.self, DiffCommand.self, Rollback.self, ExperimentCommand.self, Bench.self, Peer.self, AgentCommand.self, GatewayCommand.self, DemoCommand.self]
    )
}

struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure agentic against a baseline run in the same invocation.",
        subcommands: [BenchTransport.self, BenchFeedback.self, BenchMesh.self, BenchFlood.self, BenchSwaps.self, BenchStartup.self, BenchLearning.self]
    )
}
