/// # Benchmarks
///
/// What `agentic bench …` measures, as code the command line only configures and prints:
/// ``TransportBenchmark`` (Swift over NNG against raw C), ``MeshBenchmark`` (the mesh
/// against the same agents in one process), ``FeedbackBenchmark`` (feedback ingestion, nothing
/// lost), ``SwapsBenchmark`` (p99 during hot swaps against steady p99), ``StartupBenchmark``
/// (agents from artifacts against fitting at start) and ``LearningBenchmark`` (the trainer's
/// loop against the same stream without it). Each runs its baseline in the same invocation:
/// this machine is shared and noisy, so only ratios taken side by side mean anything.
///
/// Also the pieces they share with the command line: ``ChildProcess``, ``Executables``,
/// ``TemporaryDirectory``, ``FreePort``, and the peer protocols (``EnvelopeEcho``,
/// ``PubSubCount``) the helper processes speak.

/// Why a benchmark could not run or finish.
public struct BenchmarkError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Figures are reported to the thousandth.
enum Rounding {
    static func round(_ value: Double) -> Double { (value * 1000).rounded() / 1000 }
}

/// The middle value (the upper one of an even count); `empty` when there is none.
func median(_ values: [Double], empty: Double = 0) -> Double {
    let sorted = values.sorted()
    return sorted.isEmpty ? empty : sorted[sorted.count / 2]
}

extension Duration {
    var seconds: Double {
        let (s, atto) = components
        return Double(s) + Double(atto) / 1e18
    }
}
