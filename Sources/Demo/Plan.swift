public import Coordinator
import Evolution
import Experiments
import Foundation
public import Topology

/// The demo's steps, in time order: the offline search started in the background, a hot swap,
/// the supervisor's view of the mesh, and one experiment of live evolution (a candidate from the
/// offline search canaried on half the users, promoted, rolled back or stopped on their clicks).
/// Steps run one after another; each returns its decision.
public enum DemoPlan {
    public struct Settings: Sendable {
        /// How long the replay runs.
        var duration: Duration
        /// The topology the cluster started with (what the swap step picks its target from).
        var start: TopologySpec?
        /// The run directory (the evolution step writes into `evolve/` there).
        var runDirectory: String
        /// The MovieLens folder the offline evaluation reads.
        var data: String
        /// Recommendation requests per second (what a live experiment's size is planned on).
        var rate: Double
        /// The kinds this build runs (what the offline search's topologies are read with).
        var catalogue: KindCatalogue

        public init(
            duration: Duration, start: TopologySpec?, runDirectory: String, data: String, rate: Double,
            catalogue: KindCatalogue
        ) {
            self.duration = duration
            self.start = start
            self.runDirectory = runDirectory
            self.data = data
            self.rate = rate
            self.catalogue = catalogue
        }
    }

    public static func scenario(_ settings: Settings, coordinator: Coordinator, search: BackgroundSearch) -> DemoScenario {
        let seconds = settings.duration.seconds
        var steps: [DemoStep] = []
        // First, so the offline search has the most time: in a debug build evaluating the
        // start topology alone takes tens of seconds.
        steps.append(offlineSearch(at: .zero, settings: settings, search: search))
        if let start = settings.start, let target = SwapTarget(start) {
            steps.append(swap(target, at: .seconds(seconds * 0.12), coordinator: coordinator))
        }
        steps.append(clusterCheck(at: .seconds(seconds * 0.2), coordinator: coordinator))
        steps.append(evolve(at: .seconds(seconds * 0.25), settings: settings, coordinator: coordinator, search: search))
        return DemoScenario(steps: steps)
    }

    /// When the offline search must have ended, as a share of the replay: the rest is for the
    /// live experiment and its decision.
    static let searchShare = 0.4

    /// Starts `agentic evolve` from the served topology in the background; the evolve step
    /// collects it. Its budget is the time until the evolve step must decide on a candidate.
    static func offlineSearch(at: Duration, settings: Settings, search: BackgroundSearch) -> DemoStep {
        DemoStep(at: at, name: "offline search") { context in
            let (current, epoch) = try await context.topology()
            let directory = settings.runDirectory + "/evolve"
            let budget = max(3, settings.duration.seconds * searchShare - (await context.elapsed()).seconds - 1)
            try await search.begin(from: current, directory: directory, data: settings.data, budgetSeconds: budget)
            return "agentic evolve started from epoch \(epoch) with a \(Int(budget)) s budget (in \(directory))"
        }
    }

    /// Mid-run: the supervisor's view of the mesh (instances serving, restarts, the epoch).
    static func clusterCheck(at: Duration, coordinator: Coordinator) -> DemoStep {
        DemoStep(at: at, name: "cluster check") { context in
            let status = await coordinator.status()
            let serving = status.agents.count { $0.state == .serving }
            let restarts = status.agents.reduce(0) { $0 + $1.restarts }
            let served = status.agents.reduce(0) { $0 + $1.served }
            let online = await context.online(epoch: status.epoch)
            return "\(serving)/\(status.agents.count) instances serving, \(restarts) restarts, \(served) decisions, "
                + "coordinator epoch \(status.epoch)"
                + (online.map { String(format: ", online NDCG@10 %.4f so far", $0.ndcgAt10) } ?? "")
        }
    }

    /// A hot swap of one parameter inside its decision space: new processes start beside the
    /// old ones, pass the gate, and the gateway switches to the next epoch without a failed
    /// request. Named `swap …`, so the demo test requires the epoch change.
    static func swap(_ target: SwapTarget, at: Duration, coordinator: Coordinator) -> DemoStep {
        DemoStep(at: at, name: "swap \(target.agent) \(target.parameter) \(target.from) → \(target.to)") { context in
            let before = await context.latestEpoch()
            let report = try await coordinator.swap(
                agent: target.agent, changes: [target.parameter: target.to],
                reason: "demo: hot swap of \(target.agent) \(target.parameter)")
            _ = try? await context.snapshotTopology()
            var online: DemoReport.EpochSummary?
            if let before { online = await context.online(epoch: before) }
            return "epoch \(report.previousEpoch) → \(report.epoch): \(report.changes.joined(separator: "; ")); "
                + String(format: "gate %.0f ms, total %.0f ms", report.gateMilliseconds, report.totalMilliseconds)
                + (report.gatewayConfirmed ? ", gateway confirmed" : ", gateway not confirmed")
                + (online.map { String(format: "; epoch %d served %d answers at NDCG@10 %.4f", $0.epoch, $0.requests, $0.ndcgAt10) } ?? "")
        }
    }

    /// One experiment of live evolution. `agentic evolve` (a child process, so its fitting does
    /// not starve the replay's tasks) searches from the served topology for a short budget and
    /// judges on valid only; a candidate (its winner, else its best distinct topology, else a
    /// one-parameter variation) then goes live as a canary beside the serving topology through
    /// ``LiveExperiment``, the same loop as `agentic experiment start`: half the users, per-arm
    /// clicks from the store, a sequential test that promotes, rolls back or stops. Without a
    /// `store` agent there are no per-arm rewards: the candidate is applied as a new epoch and
    /// the two epochs' online NDCG@10 are compared instead. Offline rewards go into `evolution.svg`.
    static func evolve(at: Duration, settings: Settings, coordinator: Coordinator, search: BackgroundSearch) -> DemoStep {
        let total = settings.duration.seconds
        return DemoStep(at: at, name: "evolve") { context in
            let (current, incumbent) = try await context.topology()
            let directory = settings.runDirectory + "/evolve"
            // The search must end in time for the live trial: past that, it is stopped.
            let (found, failure) = await search.result(
                waiting: .seconds(max(0, total * searchShare - (await context.elapsed()).seconds)))
            let searched = await search.start ?? current
            let candidate = EvolutionCandidate.choose(
                current: current, searched: searched, offline: found, directory: directory, catalogue: settings.catalogue)
            if let start = found?.startValid ?? candidate?.startValid, let metric = found?.metric ?? candidate?.metric {
                await context.recordOffline(epoch: searched.epoch, metric: "valid \(metric)", value: start)
            }
            let budget = await search.budgetSeconds
            let search =
                found.map {
                    String(
                        format: "offline: %@ valid %.4f → %.4f in %.0f s (%d evaluations)", $0.metric, $0.startValid,
                        $0.bestValid, $0.seconds, $0.evaluations)
                }
                ?? "the offline search (agentic evolve, \(Int(budget)) s budget) "
                + (failure.map { "failed: \($0)" } ?? "did not finish by \(Int(total * searchShare)) s: stopped")
            guard var candidate else {
                return "\(search); no candidate: nothing distinct was evaluated and no decision space to vary"
            }
            candidate.spec.epoch = current.epoch
            let head = "\(search); candidate: \(candidate.origin) [\(candidate.changes(from: current))]"
            guard current.agents.contains(where: { $0.kind == "store" }) else {
                return "\(head); \(current.name) has no store agent, so a live experiment has no per-arm rewards: "
                    + (try await compareEpochs(
                        candidate, incumbent: incumbent, total: total, context: context, coordinator: coordinator))
            }
            return "\(head); "
                + (try await experiment(
                    candidate, current: current, incumbent: incumbent, directory: directory, search: search,
                    settings: settings, context: context))
        }
    }

    /// The candidate as a canary on half the users until the sequential test decides, the
    /// budget of lists is served or the time that leaves room before the replay ends is spent.
    static func experiment(
        _ candidate: EvolutionCandidate, current: TopologySpec, incumbent: Int, directory: String, search: String,
        settings: Settings, context: DemoContext
    ) async throws -> String {
        let total = settings.duration.seconds
        // After the decision the gateway lets the candidate's requests finish (a deadline and an
        // announcement) and a promotion starts and gates the candidate's processes again: that
        // must fit before the replay ends, or the report would not see the new epoch.
        let reserve = Double(current.gateway.deadlineMilliseconds) / 1000 + 4 + total * 0.05
        let window = total - (await context.elapsed()).seconds - reserve
        guard window >= 3 else { return "too late for a live experiment (\(Int(window)) s left): not run" }
        let share = 0.5
        // Sized to what the replay can serve in the window: a few lists per arm per decision,
        // and a budget the window can reach (else only the clock would ever stop it).
        let perArm = settings.rate * window * share
        let minimum = max(10, min(30, Int(perArm / 3)))
        let budget = max(2 * minimum, Int(settings.rate * window * 0.9))
        let file = directory + "/candidate.yaml"
        let text = candidate.spec.renderYAML()
        try text.write(toFile: file, atomically: true, encoding: .utf8)
        let outcome = try await LiveExperiment(
            runDirectory: settings.runDirectory, database: nil,
            policy: ExperimentPolicy(test: SequentialTest(minimumPerArm: minimum, budget: budget)), share: share,
            maximumDuration: .seconds(window)
        ).run(
            candidate: text, file: file, proposal: "demo evolve: \(candidate.origin) [\(candidate.changes(from: current))]",
            offlineResults: search)
        // A picture of the epoch the decision made, unless the replay is over (no answer would
        // name it, and the report draws the epochs answers named).
        if (await context.elapsed()).seconds < total { _ = try? await context.snapshotTopology() }
        if outcome.decision == "promote", let valid = candidate.valid, let metric = candidate.metric {
            await context.recordOffline(epoch: outcome.epoch, metric: "valid \(metric)", value: valid)
        }
        // Control first, as people read a comparison.
        let arms = outcome.arms.sorted { ($0.arm == "control" ? 0 : 1, $0.arm) < ($1.arm == "control" ? 0 : 1, $1.arm) }
            .map { DemoReport.Experiment.Arm(arm: $0.arm, lists: $0.lists, clicked: $0.clicked) }
        let record = DemoReport.Experiment(
            id: outcome.experiment, step: "evolve", candidate: "\(candidate.origin) [\(candidate.changes(from: current))]",
            decision: outcome.decision, reason: outcome.reason, arms: arms, epoch: outcome.epoch, seconds: outcome.seconds)
        await context.recordExperiment(record)
        return "experiment \(outcome.experiment) (share \(share), ≥ \(minimum) lists per arm, budget \(budget) lists, "
            + String(format: "at most %.0f s): ", window) + "\(record.armsText): \(outcome.decision): \(outcome.reason); "
            + "epoch \(outcome.epoch) serves (was \(incumbent))"
    }

    /// Without a store: the candidate goes live through `Coordinator.apply`, serves the replay,
    /// and is kept when its online NDCG@10 is at least the incumbent epoch's, else rolled back
    /// (as a new epoch).
    static func compareEpochs(
        _ candidate: EvolutionCandidate, incumbent: Int, total: Double, context: DemoContext, coordinator: Coordinator
    ) async throws -> String {
        // The live trial needs time to serve and, if it loses, to roll back before the end.
        guard (await context.elapsed()).seconds < total * 0.7 else {
            return "the candidate came too late to try live: not applied"
        }
        let applied = try await coordinator.apply(candidate.spec, reason: "demo: evolution candidate (\(candidate.origin))")
        if let valid = candidate.valid, let metric = candidate.metric {
            await context.recordOffline(epoch: applied.epoch, metric: "valid \(metric)", value: valid)
        }
        _ = try? await context.snapshotTopology()
        // Serve the candidate until it has answered as many requests as the incumbent did
        // (at least 30), or until the decision must be made to leave time for a rollback.
        let needed = max(30, await context.online(epoch: incumbent)?.requests ?? 0)
        while (await context.online(epoch: applied.epoch)?.requests ?? 0) < needed,
            (await context.elapsed()).seconds < total * 0.88
        {
            try await Task.sleep(for: .milliseconds(250))
        }
        guard let old = await context.online(epoch: incumbent), let new = await context.online(epoch: applied.epoch)
        else {
            let back = try await coordinator.rollback(to: incumbent, reason: "demo: candidate served no answers")
            return "candidate epoch \(applied.epoch) served no answers: rolled back (epoch \(back.epoch))"
        }
        let comparison = String(
            format: "epoch %d online NDCG@10 %.4f over %d answers vs %.4f over %d for epoch %d", applied.epoch,
            new.ndcgAt10, new.requests, old.ndcgAt10, old.requests, incumbent)
        if new.ndcgAt10 >= old.ndcgAt10 { return "\(comparison): kept" }
        let back = try await coordinator.rollback(to: incumbent, reason: "demo: candidate lost online")
        return "\(comparison): rolled back to epoch \(incumbent)'s topology as epoch \(back.epoch)"
    }
}

/// What the evolution step puts to the live test, and where it came from.
struct EvolutionCandidate: Sendable {
    var spec: TopologySpec
    /// In words, with the offline numbers when there are some.
    var origin: String
    /// The outer metric and the start's and the candidate's valid rewards, when measured.
    var metric: String?
    var startValid: Double?
    var valid: Double?

    func changes(from current: TopologySpec) -> String {
        TopologyDiff(from: current, to: spec).description.split(separator: "\n").dropFirst().joined(separator: "; ")
    }

    /// The offline search's best topology when it beat the start on valid; else the best-scoring
    /// distinct topology its lineage evaluated (a stopped search leaves its journal too); else a
    /// one-parameter variation inside a decision space. Nil when none of them differs from `current`.
    static func choose(
        current: TopologySpec, searched: TopologySpec, offline: OfflineSearch.Result?, directory: String,
        catalogue: KindCatalogue
    ) -> EvolutionCandidate? {
        let metric = current.rewards.outer.metric
        if let offline, offline.bestValid > offline.startValid,
            let found = try? TopologyValidator.load(contentsOf: directory + "/best.yaml", catalogue: catalogue),
            case let best = rebase(found, from: searched, onto: current), !TopologyDiff(from: current, to: best).isEmpty
        {
            return EvolutionCandidate(
                spec: best,
                origin: String(
                    format: "the offline search's best (valid %@ %.4f, start %.4f)", offline.metric, offline.bestValid,
                    offline.startValid),
                metric: offline.metric, startValid: offline.startValid, valid: offline.bestValid)
        }
        let lineage = Lineage.read(directory + "/lineage.jsonl", start: searched, catalogue: catalogue)
        let startValid = offline?.startValid ?? lineage.startValid
        let distinct = lineage.evaluated.map { (spec: rebase($0.spec, from: searched, onto: current), valid: $0.valid) }
            .filter { !TopologyDiff(from: current, to: $0.spec).isEmpty }
        if let (spec, valid) = distinct.max(by: { $0.valid < $1.valid }) {
            return EvolutionCandidate(
                spec: spec,
                origin: String(format: "the offline search's best distinct topology (valid %@ %.4f", metric, valid)
                    + (startValid.map { String(format: ", start %.4f; nothing beat it)", $0) } ?? ")"),
                metric: metric, startValid: startValid, valid: valid)
        }
        guard let target = SwapTarget(current), let index = current.agents.firstIndex(where: { $0.name == target.agent })
        else { return nil }
        var spec = current
        spec.agents[index].parameters[target.parameter] =
            Int(target.to).map(ParameterValue.int) ?? Double(target.to).map(ParameterValue.double) ?? .string(target.to)
        return EvolutionCandidate(
            spec: spec,
            origin: "a one-parameter variation inside \(target.agent)'s decision space (the offline search evaluated "
                + "nothing distinct\(startValid.map { String(format: "; start valid %@ %.4f", metric, $0) } ?? ""))",
            metric: metric, startValid: startValid, valid: nil)
    }

    /// What the search changed from `searched` (agents, edges, gateway), carried over to
    /// `current`: the scenario's hot swap may have changed the served topology meanwhile, and
    /// the candidate must differ from what serves only by what the search found.
    static func rebase(_ found: TopologySpec, from searched: TopologySpec, onto current: TopologySpec) -> TopologySpec {
        func same(_ a: AgentSpec?, _ b: AgentSpec?) -> Bool {
            var a = a, b = b
            a?.version = ""
            b?.version = ""
            return a == b
        }
        var spec = current
        for agent in found.agents where !same(agent, searched.agent(named: agent.name)) {
            if let index = spec.agents.firstIndex(where: { $0.name == agent.name }) {
                spec.agents[index] = agent
                spec.agents[index].version = current.agents[index].version
            } else {
                spec.agents.append(agent)
            }
        }
        let removed = Set(searched.agents.map(\.name)).subtracting(found.agents.map(\.name))
        spec.agents.removeAll { removed.contains($0.name) }
        if found.edges != searched.edges { spec.edges = found.edges }
        if found.gateway != searched.gateway { spec.gateway = found.gateway }
        return spec
    }

    /// The topologies an `agentic evolve` journal evaluated on valid, rebuilt from the start by
    /// replaying its accepted edits (a proposal's edits apply to the topology current then).
    enum Lineage {
        static func read(_ path: String, start: TopologySpec, catalogue: KindCatalogue)
            -> (startValid: Double?, evaluated: [(spec: TopologySpec, valid: Double)])
        {
            guard let data = FileManager.default.contents(atPath: path) else { return (nil, []) }
            let composer = Composer(configuration: .init(catalogue: catalogue))
            let decoder = JSONDecoder()
            var current = start
            var startValid: Double?
            var evaluated: [(spec: TopologySpec, valid: Double)] = []
            // A search stopped mid-write leaves a partial last line: skipped, like any bad one.
            for line in data.split(separator: UInt8(ascii: "\n")) {
                guard let entry = try? decoder.decode(LineageEntry.self, from: Data(line)) else { continue }
                if entry.source == .start { startValid = entry.outerReward }
                guard [.trial, .accepted, .rejected].contains(entry.decision), let valid = entry.outerReward else { continue }
                var edits = entry.edits
                if edits.isEmpty, let agent = entry.agent, let parameters = entry.parameters {
                    edits = parameters.sorted { $0.key < $1.key }.map {
                        Edit(.setParameter, agent: agent, parameter: $0.key, value: $0.value)
                    }
                }
                guard !edits.isEmpty, let spec = try? composer.apply(edits, to: current) else { continue }
                if entry.decision == .accepted { current = spec }
                evaluated.append((spec, valid))
            }
            return (startValid, evaluated)
        }
    }
}

/// Which parameter the swap step changes: the exit agent's first numeric decision dimension
/// (MMR's `lambda` in the MovieLens meshes), else the first agent that has one; the new value
/// moves a tenth of the range (and back down at the top of it).
public struct SwapTarget: Sendable {
    var agent: String
    var parameter: String
    var from: String
    var to: String

    init?(_ spec: TopologySpec) {
        let agents = spec.agents.filter { $0.name == spec.gateway.exit } + spec.agents.filter { $0.name != spec.gateway.exit }
        for agent in agents {
            for (name, dimension) in agent.decisionSpace.sorted(by: { $0.key < $1.key }) {
                guard dimension.type == .double || dimension.type == .int, let low = dimension.min,
                    let high = dimension.max, high > low
                else { continue }
                let value = agent.parameters[name]?.number ?? (low + high) / 2
                let step = (high - low) / 10
                var next = value + step <= high ? value + step : value - step
                next = Swift.min(high, Swift.max(low, next))
                if dimension.type == .int {
                    let whole = Int(next.rounded())
                    guard Double(whole) != value else { continue }
                    (self.from, self.to) = (String(Int(value)), String(whole))
                } else {
                    (self.from, self.to) = (Self.format(value), Self.format(next))
                }
                (self.agent, self.parameter) = (agent.name, name)
                return
            }
        }
        return nil
    }

    public static func format(_ value: Double) -> String {
        var text = String(format: "%.3f", value)
        while text.hasSuffix("0"), !text.hasSuffix(".0") { text.removeLast() }
        return text
    }
}

/// The demo's offline search, running from the first step until the evolve step collects it
/// (or the demo ends: ``stop()`` then ends the child process).
public actor BackgroundSearch {
    /// The topology it searches from.
    private(set) var start: TopologySpec?
    private(set) var budgetSeconds = 0.0
    private var task: Task<OfflineSearch.Result, any Error>?
    private let launch: OfflineSearch.Launch

    /// - Parameter launch: runs `agentic` (the executable owns its child processes).
    public init(launch: @escaping OfflineSearch.Launch) { self.launch = launch }

    /// Writes `spec` as `start.yaml` into `directory` and starts `agentic evolve` on it.
    func begin(from spec: TopologySpec, directory: String, data: String, budgetSeconds: Double) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let file = directory + "/start.yaml"
        try spec.renderYAML().write(toFile: file, atomically: true, encoding: .utf8)
        start = spec
        self.budgetSeconds = budgetSeconds
        task = Task { [launch] in
            try await OfflineSearch.run(
                startFile: file, directory: directory, data: data, budgetSeconds: budgetSeconds, launch: launch)
        }
    }

    /// Its summary, waiting at most `waiting`; past that the child is stopped (its lineage
    /// journal stays). Without a summary, why: it did not finish in time, failed, or never started.
    func result(waiting: Duration) async -> (summary: OfflineSearch.Result?, failure: String?) {
        guard let task else { return (nil, "it never started") }
        let timer = Task {
            try await Task.sleep(for: waiting)
            task.cancel()
        }
        defer { timer.cancel() }
        do {
            return (try await task.value, nil)
        } catch {
            return (nil, task.isCancelled ? nil : "\(error)")
        }
    }

    /// Ends the child if it still runs (an interrupted or short demo).
    public func stop() async {
        task?.cancel()
        _ = try? await task?.value
    }
}

/// `agentic evolve` run as a child process on a topology file, reading its JSON summary.
public enum OfflineSearch {
    /// Runs `agentic` with these arguments and returns its stdout lines; cancelling the task
    /// ends the child without waiting for it.
    public typealias Launch = @Sendable (_ arguments: [String]) async throws -> [String]

    struct Result {
        var metric: String
        var startValid: Double
        var bestValid: Double
        var evaluations: Int
        var seconds: Double
    }

    static func arguments(startFile: String, directory: String, data: String, budgetSeconds: Double) -> [String] {
        [
            // The budget alone bounds it: rounds alternate until then, as in `agentic evolve --budget`.
            "evolve", startFile, "--budget", "\(Int(budgetSeconds.rounded()))s", "--no-test", "--json",
            "--run-dir", directory, "--data", data,
        ]
    }

    static func run(
        startFile: String, directory: String, data: String, budgetSeconds: Double, launch: Launch
    ) async throws -> Result {
        let output = try await launch(
            arguments(startFile: startFile, directory: directory, data: data, budgetSeconds: budgetSeconds))
        return try summary(output, directory: directory)
    }

    /// The summary `agentic evolve --json` printed.
    static func summary(_ output: [String], directory: String) throws(DemoError) -> Result {
        guard let object = try? JSONSerialization.jsonObject(with: Data(output.joined(separator: "\n").utf8)) as? [String: Any],
            let startKey = object.keys.first(where: { $0.hasPrefix("start_valid_") }),
            let start = (object[startKey] as? NSNumber)?.doubleValue
        else {
            throw DemoError(.search, "agentic evolve gave no summary (see \(directory)/lineage.jsonl)")
        }
        let metric = String(startKey.dropFirst("start_valid_".count))
        return Result(
            metric: metric, startValid: start,
            bestValid: (object["best_valid_\(metric)"] as? NSNumber)?.doubleValue ?? start,
            evaluations: (object["evaluations"] as? NSNumber)?.intValue ?? 0,
            seconds: (object["seconds"] as? NSNumber)?.doubleValue ?? 0)
    }
}
