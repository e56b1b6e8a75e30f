public import AgentProtocol
public import AgentRuntime
import Foundation
public import Topology

/// `test.probe`: a test-only kind, in the catalogue only when `AGENTIC_TEST_KINDS=1`.
///
/// It answers like `recall.static`, after `delay_ms` (so tests can hold requests in flight),
/// and with `crash_on_start: true` its process exits with status 70 as soon as it is made
/// (so tests can watch a crash loop escalate); `fail_decisions` and `wrong_answers` make it
/// fail a swap's serving-path gate. Never available to a normal topology.
public actor ProbeAgent: Agent {
    public nonisolated let context: AgentContext
    public var parameterSet: ParameterSet

    /// The kind's catalogue entry.
    public static let kind = KindDescriptor(
        name: "test.probe", role: .recall,
        description: "Test only: a static list after a delay; can crash on start.",
        parameters: [
            .bool("crash_on_start", default: false, "Exit with status 70 right after start."),
            .int("delay_ms", 0...60_000, default: 0, "Milliseconds each decision takes."),
            .int("k", 1...1000, default: 10, "Items returned."),
            .bool("fail_decisions", default: false, "Answer every decision with an error."),
            .bool("wrong_answers", default: false, "Answer with one item repeated (a wrong answer)."),
        ])

    public init(_ context: AgentContext) {
        self.context = context
        self.parameterSet = ParameterSet(context)
        if parameterSet.bool("crash_on_start") == true {
            FileHandle.standardError.write(Data("test.probe \(context.name): crash_on_start\n".utf8))
            exit(70)
        }
    }

    public func decide(_ request: DecisionRequest) async throws -> DecisionResponse {
        let delay = parameterSet.int("delay_ms") ?? 0
        if delay > 0 { try await Task.sleep(for: .milliseconds(delay)) }
        if parameterSet.bool("fail_decisions") == true {
            throw AgentRuntimeError(.unavailable, "test.probe \(context.name): fail_decisions")
        }
        let k = parameterSet.int("k") ?? 10
        if parameterSet.bool("wrong_answers") == true {
            return AgentOutput(
                agent: context.name, version: context.version,
                items: (0..<k).map { ScoredItem(item: "1", score: 1 - Double($0) / Double(k)) })
        }
        return AgentOutput(
            agent: context.name, version: context.version,
            items: (0..<k).map { ScoredItem(item: String($0 + 1), score: 1 - Double($0) / Double(k)) })
    }
}
