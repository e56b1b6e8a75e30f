import Coordinator
import Demo
import Foundation
import Topology

/// The demo's steps, in time order: a hot swap, the supervisor's view of the mesh, and one
/// experiment of live evolution (a candidate proposed offline on valid, tried live, kept or
/// rolled back on online reward). Steps run one after another; each returns its decision.
enum DemoPlan {
    struct Settings: Sendable {
        /// How long the replay runs.
        var duration: Duration
        /// The topology the cluster started with (what the swap step picks its target from).
        var start: TopologySpec?
        /// The run directory (the evolution step writes into `evolve/` there).
        var runDirectory: String
        /// The MovieLens folder the offline evaluation reads.
        var data: String
    }

    static func scenario(_ settings: Settings, coordinator: Coordinator) -> DemoScenario {
        let seconds = settings.duration.seconds
        var steps: [DemoStep] = []
        if let start = settings.start, let target = SwapTarget(start) {
            steps.append(swap(target, at: .seconds(seconds * 0.12), coordinator: coordinator))
        }
        steps.append(clusterCheck(at: .seconds(seconds * 0.2), coordinator: coordinator))
        steps.append(evolve(at: .seconds(seconds * 0.25), settings: settings, coordinator: coordinator))
        return DemoScenario(steps: steps)
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
    /// judges on valid only; its best candidate goes live through `Coordinator.apply`, serves
    /// the replay, and is kept when its online NDCG@10 is at least the incumbent epoch's, else
    /// rolled back (as a new epoch). Both offline rewards go into `evolution.svg`.
    static func evolve(at: Duration, settings: Settings, coordinator: Coordinator) -> DemoStep {
        let total = settings.duration.seconds
        return DemoStep(at: at, name: "evolve") { context in
            let (current, incumbent) = try await context.topology()
            let directory = settings.runDirectory + "/evolve"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let startFile = directory + "/start.yaml"
            try current.renderYAML().write(toFile: startFile, atomically: true, encoding: .utf8)
            let budget = max(5, total * 0.2)
            // The search must end in time for the live trial: past that, it is stopped.
            let deadline = total * 0.7 - (await context.elapsed()).seconds
            let found = try await withThrowingTaskGroup(of: OfflineSearch.Result?.self) { group in
                group.addTask {
                    try await OfflineSearch.run(
                        startFile: startFile, directory: directory, data: settings.data, budgetSeconds: budget)
                }
                group.addTask {
                    try await Task.sleep(for: .seconds(max(1, deadline)))
                    return nil
                }
                defer { group.cancelAll() }
                return try await group.next() ?? nil
            }
            guard let offline = found else {
                return "the offline search (agentic evolve, \(Int(budget)) s budget) did not finish by "
                    + "\(Int(total * 0.7)) s into the run: stopped, nothing applied"
            }
            await context.recordOffline(epoch: incumbent, metric: "valid \(offline.metric)", value: offline.startValid)
            let summary = String(
                format: "offline: %@ valid %.4f → %.4f in %.0f s (%d evaluations)", offline.metric, offline.startValid,
                offline.bestValid, offline.seconds, offline.evaluations)
            var candidate = try TopologyValidator.load(
                contentsOf: directory + "/best.yaml", catalogue: Kinds.factory(topologyPath: startFile).catalogue)
            candidate.epoch = current.epoch
            let diff = TopologyDiff(from: current, to: candidate)
            guard !diff.isEmpty, offline.bestValid > offline.startValid else {
                return "\(summary); nothing beat epoch \(incumbent) on valid: kept, nothing applied"
            }
            // The live trial needs time to serve and, if it loses, to roll back before the end.
            guard (await context.elapsed()).seconds < total * 0.7 else {
                return "\(summary); the candidate came too late to try live: not applied"
            }
            let changes = diff.description.split(separator: "\n").dropFirst().joined(separator: "; ")
            let applied = try await coordinator.apply(candidate, reason: "demo: evolution candidate (\(changes))")
            await context.recordOffline(epoch: applied.epoch, metric: "valid \(offline.metric)", value: offline.bestValid)
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
                return "\(summary); candidate epoch \(applied.epoch) served no answers: rolled back (epoch \(back.epoch))"
            }
            let comparison = String(
                format: "online NDCG@10 %.4f over %d answers vs %.4f over %d for epoch %d", new.ndcgAt10, new.requests,
                old.ndcgAt10, old.requests, incumbent)
            let head = "\(summary); candidate epoch \(applied.epoch) [\(changes)]: \(comparison)"
            if new.ndcgAt10 >= old.ndcgAt10 { return "\(head): kept" }
            let back = try await coordinator.rollback(to: incumbent, reason: "demo: candidate lost online")
            return "\(head): rolled back to epoch \(incumbent)'s topology as epoch \(back.epoch)"
        }
    }
}

/// Which parameter the swap step changes: the exit agent's first numeric decision dimension
/// (MMR's `lambda` in the MovieLens meshes), else the first agent that has one; the new value
/// moves a tenth of the range (and back down at the top of it).
struct SwapTarget: Sendable {
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

    static func format(_ value: Double) -> String {
        var text = String(format: "%.3f", value)
        while text.hasSuffix("0"), !text.hasSuffix(".0") { text.removeLast() }
        return text
    }
}

/// `agentic evolve` run as a child process on a topology file, reading its JSON summary.
enum OfflineSearch {
    struct Result {
        var metric: String
        var startValid: Double
        var bestValid: Double
        var evaluations: Int
        var seconds: Double
    }

    static func run(startFile: String, directory: String, data: String, budgetSeconds: Double) async throws -> Result {
        let arguments = [
            "evolve", startFile, "--budget", "\(Int(budgetSeconds.rounded()))s", "--rounds", "1", "--trials", "3",
            "--proposals", "2", "--no-grid", "--no-test", "--json", "--run-dir", directory, "--data", data,
        ]
        let child = try ChildProcess(executable: try Executables.sibling("agentic"), arguments: arguments)
        let output: [String] = await withTaskCancellationHandler {
            var lines: [String] = []
            for await line in child.lines { lines.append(line) }
            return lines
        } onCancel: {
            child.stop()
        }
        child.stop()
        guard let object = try? JSONSerialization.jsonObject(with: Data(output.joined(separator: "\n").utf8)) as? [String: Any],
            let startKey = object.keys.first(where: { $0.hasPrefix("start_valid_") }),
            let start = (object[startKey] as? NSNumber)?.doubleValue
        else {
            throw CLIError("agentic evolve gave no summary (see \(directory)/lineage.jsonl)")
        }
        let metric = String(startKey.dropFirst("start_valid_".count))
        return Result(
            metric: metric, startValid: start,
            bestValid: (object["best_valid_\(metric)"] as? NSNumber)?.doubleValue ?? start,
            evaluations: (object["evaluations"] as? NSNumber)?.intValue ?? 0,
            seconds: (object["seconds"] as? NSNumber)?.doubleValue ?? 0)
    }
}
