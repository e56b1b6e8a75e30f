import AgentRuntime
import Artifacts
import Agents
import Coordinator
import Demo
import Foundation
import LoadGenerator
import Synchronization
import Topology

/// `agentic bench swaps`: the cost of hot swaps to the users being served. One run of
/// `agentic up`; its saturation throughput sets the load (a fraction of it, open loop),
/// the p99 of a steady stretch at that load is the baseline, and the p99 while swaps follow
/// one another under the same load is compared with it. Each swap changes one numeric
/// parameter of an agent inside its decision space, through the coordinator as `agentic swap`
/// does.
public struct SwapsBenchmark: Sendable {
    public struct Configuration: Sendable {
        /// nil: topology/movielens.yaml when its kinds can be made here, else topology/minimal.yaml.
        public var topology: String?
        /// How many swaps, one after another.
        public var swaps = 20
        /// The load, as a fraction of the measured saturation throughput.
        public var load = 0.5
        /// Seconds of the saturation measurement.
        public var seconds = 5.0
        /// Requests in flight at saturation.
        public var concurrency = 32
        /// Seconds of load without a swap before each swap (together, the baseline p99).
        public var steadySeconds = 2.0
        /// Leave the models the swaps need to the coordinator's fitting job, during the measurement.
        public var fitDuringSwaps = false
        public init() {}
    }

    public let configuration: Configuration
    let factory: FactoryForTopology

    public init(configuration: Configuration, factory: @escaping FactoryForTopology) {
        self.configuration = configuration
        self.factory = factory
    }

    /// Runs it, saying what it does through `log`.
    public func run(log: @Sendable (String) -> Void) async throws -> Result {        let (swaps, load, seconds, concurrency, steadySeconds, fitDuringSwaps) = (
            configuration.swaps, configuration.load, configuration.seconds, configuration.concurrency,
            configuration.steadySeconds, configuration.fitDuringSwaps)
        let (path, note) = try BenchCluster.pickTopology(
            configuration.topology, factory: self.factory(configuration.topology ?? "topology/movielens.yaml"))
        let factory = self.factory(path)
        let spec = try BenchCluster.load(path, factory: factory)
        let targets = SwapCycle(spec)
        guard !targets.isEmpty else { throw BenchmarkError("\(path): no agent has a numeric decision dimension to swap") }
        log("topology \(path)\(note.map { " (\($0))" } ?? "")")

        let runDirectory = try TemporaryDirectory(prefix: "agt")
        defer { runDirectory.remove() }
        let run = runDirectory.path + "/r"
        log("agentic up in \(run)")
        let (up, endpoint) = try await BenchCluster.up(path, runDirectory: run)
        defer { up.stop() }
        if !fitDuringSwaps {
            let began = ContinuousClock.now
            let fitted = try Self.prefit(targets, swaps: swaps, spec: spec, catalogue: factory.catalogue, path: path, run: run)
            log("fitted \(fitted) models the swaps need into \(run)/artifacts in \(ContinuousClock.now - began)")
        }
        let client = RecommendClient(url: endpoint, connections: max(concurrency, 256))
        let users = (1...943).map(String.init)
        let send: @Sendable (OpenLoop.Call) async -> RequestOutcome = { call in
            await client.recommend(user: users[call.index % users.count], k: 10, deadline: call.deadline)
        }
        let timeout = Duration.seconds(2)

        log("saturation: \(concurrency) in flight for \(seconds) s")
        _ = await BenchCluster.saturate(concurrency: concurrency, seconds: min(1, seconds), timeout: timeout, send: send)
        let saturation = await BenchCluster.saturate(concurrency: concurrency, seconds: seconds, timeout: timeout, send: send)
        let rate = max(1, load * BenchCluster.fullRPS(saturation))
        log(String(format: "load %.1f requests/s; %d swaps, each after %.1f s without one", rate, swaps, steadySeconds))
        // A settling second first: the saturation run leaves queues and connections behind it.
        _ = await BenchCluster.atRate(rate, seconds: 1, timeout: timeout, send: send)
        // Steady stretches and swaps alternate, so the baseline and the swaps see the same
        // background (this machine is shared; a baseline measured once, up front, drifts).
        // While a swap runs, the load goes on in half-second windows whose counts and
        // histograms add up, so its length need not be known in advance.
        let coordinator = CoordinatorClient(runDirectory: run)
        var steady: LoadReport?
        var during: LoadReport?
        var outcomes: [SwapOutcome] = []
        for index in 0..<swaps {
            let calm = await BenchCluster.atRate(rate, seconds: steadySeconds, timeout: timeout, send: send)
            if steady == nil { steady = calm } else { steady?.add(calm) }
            let (agent, parameter, value) = targets.change(index)
            let finished = DoneFlag()
            let swapping = Task { () -> SwapOutcome in
                defer { finished.done.store(true, ordering: .releasing) }
                do {
                    return SwapOutcome(agent: agent, report: try await coordinator.swap(agent: agent, parameters: [parameter: value]), error: nil)
                } catch {
                    return SwapOutcome(agent: agent, report: nil, error: "\(error)")
                }
            }
            var thisSwap: LoadReport?
            repeat {
                let window = await BenchCluster.atRate(rate, seconds: 0.5, timeout: timeout, send: send)
                if thisSwap == nil { thisSwap = window } else { thisSwap?.add(window) }
            } while !finished.done.load(ordering: .acquiring)
            if let thisSwap { if during == nil { during = thisSwap } else { during?.add(thisSwap) } }
            var outcome = await swapping.value
            outcome.p99Milliseconds = thisSwap?.p99 ?? 0
            outcomes.append(outcome)
            log("swap \(index + 1)/\(swaps): \(agent) \(parameter)=\(value): \(outcomes.last?.report?.outcome ?? outcomes.last?.error ?? "?")")
        }
        await client.shutdown()

        return Result(
            topology: path, note: note, rate: rate, saturation: saturation, steady: steady!, during: during!,
            swaps: outcomes, modelsFittedFirst: !fitDuringSwaps)
        }

    /// Fits, before any load, the model each swap will start (with the topology as it will be
    /// at that swap), into the run's artifact directory: the swaps then measure loading them.
    /// - Returns: how many models were fitted (not already there).
    static func prefit(
        _ targets: SwapCycle, swaps: Int, spec: TopologySpec, catalogue: KindCatalogue, path: String, run: String
    ) throws -> Int {
        let data = try DataConfiguration.resolve(topologyPath: path, environment: ProcessInfo.processInfo.environment)
        var current = spec
        var fitted = 0
        for index in 0..<swaps {
            let (agent, parameter, value) = targets.change(index)
            guard let position = current.agents.firstIndex(where: { $0.name == agent }) else { continue }
            current.agents[position].parameters[parameter] = Int(value).map(ParameterValue.int) ?? Double(value).map(ParameterValue.double)
            guard ModelFitting.fittedKinds.contains(current.agents[position].kind) else { continue }
            let report = try ModelFitting.fit(
                agent: agent, spec: current, catalogue: catalogue, data: data,
                artifacts: ArtifactStore(directory: ModelFitting.artifactDirectory(spec: current, runDirectory: run)))
            if report.origin.isFit { fitted += 1 }
        }
        return fitted
    }

    final class DoneFlag: Sendable { let done = Atomic<Bool>(false) }

    struct SwapOutcome: Sendable {
        var agent: String
        var report: SwapReport?
        var error: String?
        /// The p99 of the requests sent while this swap ran.
        var p99Milliseconds = 0.0
        var swapped: Bool { report?.outcome == "swapped" }
    }

    public struct Result: Sendable {
        let topology: String
        let note: String?
        let rate: Double
        let saturation: LoadReport
        let steady: LoadReport
        let during: LoadReport
        let swaps: [SwapOutcome]
        /// Whether the models the swaps start were fitted before the load (`--fit-during-swaps` off).
        let modelsFittedFirst: Bool

        var object: [String: any Sendable] {
            let r = Rounding.round
            let totals = swaps.compactMap { $0.report?.totalMilliseconds }.sorted()
            let gates = swaps.compactMap { $0.report?.gateMilliseconds }.sorted()
            // The swap's own cost: what follows the new processes' start-up and gate.
            let afterGate = swaps.compactMap { $0.report.map { $0.totalMilliseconds - $0.gateMilliseconds } }.sorted()
            func median(_ values: [Double]) -> Double { values.isEmpty ? 0 : values[values.count / 2] }
            var object: [String: any Sendable] = [
                "topology": topology, "models_fitted_first": modelsFittedFirst,
                "saturation_rps": r(BenchCluster.fullRPS(saturation)), "load_rps": r(rate),
                "swaps": swaps.count, "swaps_ok": swaps.count { $0.swapped },
                "swaps_refused": swaps.filter { !$0.swapped }.map { "\($0.agent): \($0.error ?? $0.report?.reason ?? $0.report?.outcome ?? "?")" },
                "steady_sent": steady.sent, "steady_failed": steady.failed, "steady_degraded": steady.degraded,
                "steady_p50_ms": r(steady.p50), "steady_p99_ms": r(steady.p99),
                "swaps_sent": during.sent, "swaps_failed": during.failed, "swaps_degraded": during.degraded,
                "swaps_p50_ms": r(during.p50), "swaps_p99_ms": r(during.p99), "swaps_max_ms": r(during.max),
                "swaps_p99_over_steady_p99": BenchCluster.ratio(during.p99, steady.p99),
                "swap_total_ms_median": r(median(totals)), "swap_total_ms_max": r(totals.last ?? 0),
                "swap_gate_ms_median": r(median(gates)),
                "swap_after_gate_ms_median": r(median(afterGate)), "swap_after_gate_ms_max": r(afterGate.last ?? 0),
                "failures": during.failures.merging(steady.failures, uniquingKeysWith: +),
                "per_swap": swaps.map { swap -> [String: any Sendable] in
                    [
                        "agent": swap.agent, "p99_ms": r(swap.p99Milliseconds),
                        "total_ms": r(swap.report?.totalMilliseconds ?? 0), "gate_ms": r(swap.report?.gateMilliseconds ?? 0),
                    ]
                },
            ]
            if let note { object["topology_note"] = note }
            return object
        }

        /// The figures as one JSON object on one line.
        public func jsonLine() -> String { LoadReport.jsonLine(object) }

        /// The figures for people.
        public func table() -> String {
            let o = object
            func number(_ key: String) -> String { String(format: "%.1f", (o[key] as? Double) ?? 0) }
            return """
                topology \(topology)\(note.map { " (\($0))" } ?? "")
                load \(number("load_rps")) requests/s (saturation \(number("saturation_rps")))
                                 sent   failed  degraded   p50 ms   p99 ms
                steady       \(o["steady_sent"] ?? 0)  \(o["steady_failed"] ?? 0)  \(o["steady_degraded"] ?? 0)  \(number("steady_p50_ms"))  \(number("steady_p99_ms"))
                during swaps \(o["swaps_sent"] ?? 0)  \(o["swaps_failed"] ?? 0)  \(o["swaps_degraded"] ?? 0)  \(number("swaps_p50_ms"))  \(number("swaps_p99_ms"))
                p99 during swaps / steady p99: \(String(format: "%.3f", (o["swaps_p99_over_steady_p99"] as? Double) ?? 0))
                swaps \(o["swaps_ok"] ?? 0)/\(o["swaps"] ?? 0) went through; a swap took \(number("swap_total_ms_median")) ms (median), \(number("swap_total_ms_max")) ms at most; start-up and gate \(number("swap_gate_ms_median")) ms, the rest \(number("swap_after_gate_ms_median")) ms (medians)
                """
        }
    }
}

/// The swaps, in turn over every agent with a numeric decision dimension: each moves its
/// first such parameter between two values inside the range, so consecutive swaps of the
/// same agent always change something.
struct SwapCycle {
    private var targets: [(agent: String, parameter: String, values: (String, String))] = []

    init(_ spec: TopologySpec) {
        for agent in spec.agents.sorted(by: { $0.name < $1.name }) {
            guard
                let (name, dimension) = agent.decisionSpace.sorted(by: { $0.key < $1.key }).first(where: {
                    ($0.value.type == .double || $0.value.type == .int) && $0.value.min != nil && $0.value.max != nil
                        && $0.value.max! > $0.value.min!
                }), let low = dimension.min, let high = dimension.max
            else { continue }
            let values: (Double, Double) = (low + (high - low) / 3, low + 2 * (high - low) / 3)
            if dimension.type == .int {
                let (a, b) = (Int(values.0.rounded()), Int(values.1.rounded()))
                guard a != b else { continue }
                targets.append((agent.name, name, (String(a), String(b))))
            } else {
                targets.append((agent.name, name, (SwapTarget.format(values.0), SwapTarget.format(values.1))))
            }
        }
    }

    var isEmpty: Bool { targets.isEmpty }

    /// The `index`-th swap: the agent, the parameter and its new value.
    func change(_ index: Int) -> (String, String, String) {
        let target = targets[index % targets.count]
        let round = index / targets.count
        return (target.agent, target.parameter, round % 2 == 0 ? target.values.0 : target.values.1)
    }
}
