import AgentProtocol
import Foundation
import Synchronization
import Topology

/// Ends a demo run early (Ctrl-C): the replay stops sending, requests in flight finish, and
/// the report covers what ran. Safe to call from any thread, any number of times.
public final class DemoStop: Sendable {
    private let flag = Atomic<Bool>(false)
    public init() {}
    public func stop() { flag.store(true, ordering: .releasing) }
    public var isStopped: Bool { flag.load(ordering: .acquiring) }
}

/// Replays held-out users through a gateway at a steady rate, sends their clicks back, runs
/// the scenario's steps meanwhile, and measures everything.
public struct DemoDriver: Sendable {
    public struct Configuration: Sendable {
        /// The gateway's base URL (`http://127.0.0.1:PORT`).
        public var gateway: String
        /// The topology file, for the report.
        public var topology: String
        /// The run directory, for the report.
        public var runDirectory: String
        /// How long the replay runs.
        public var duration: Duration = .seconds(150)
        /// Recommendation requests per second, sent on schedule whether or not earlier ones
        /// have answered (open loop), so a slow gateway shows up as latency, not as a lower rate.
        public var rate: Double = 10
        /// The length of each recommended list.
        public var k = 10
        /// How long one HTTP request may take before it counts as failed.
        public var requestTimeout: Duration = .seconds(5)
        /// The length of a timeline point.
        public var window: Duration = .seconds(5)
        /// How often the progress callback gets a reading.
        public var progressInterval: Duration = .milliseconds(500)
        /// How long a scenario step still running at the end may take before it is cancelled.
        public var stepGrace: Duration = .seconds(30)
        /// HTTP connections to the gateway.
        public var connections = 16

        public init(gateway: String, topology: String, runDirectory: String) {
            self.gateway = gateway
            self.topology = topology
            self.runDirectory = runDirectory
        }
    }

    /// The measurements and the topologies seen, one per epoch.
    public struct Result: Sendable {
        public var report: DemoReport
        public var topologies: [TopologyPicture.Graph]
    }

    public let configuration: Configuration

    public init(configuration: Configuration) { self.configuration = configuration }

    /// Runs until the duration is over or `stop` is called; never throws: failures are counted.
    /// - Parameter progress: called every `progressInterval` with a reading, from any task.
    public func run(
        users: HeldOutUsers, scenario: DemoScenario, stop: DemoStop,
        progress: @escaping @Sendable (DemoProgress) -> Void = { _ in }
    ) async -> Result {
        let recorder = Recorder(window: configuration.window)
        let client = GatewayClient(
            base: configuration.gateway, timeout: configuration.requestTimeout, connections: configuration.connections)
        let context = DemoContext(gateway: configuration.gateway, recorder: recorder, client: client)
        let ledger = SequenceLedger()
        _ = try? await context.snapshotTopology()
        let replayOver = DemoStop()
        let steps = Task { await runSteps(scenario, context: context, stop: stop, over: replayOver) }
        let reporter = Task {
            while !replayOver.isStopped {
                progress(await recorder.snapshot())
                try? await Task.sleep(for: configuration.progressInterval)
            }
        }
        let started = ContinuousClock.now
        await withTaskGroup(of: Void.self) { group in
            guard !users.users.isEmpty, configuration.rate > 0 else { return }
            let interval = Duration.seconds(1 / configuration.rate)
            var index = 0
            while !stop.isStopped {
                let scheduled = started + interval * index
                guard scheduled - started < configuration.duration else { break }
                // Short naps, so Ctrl-C is heard at once even at a low rate.
                while !stop.isStopped, ContinuousClock.now < scheduled {
                    try? await Task.sleep(for: min(scheduled - ContinuousClock.now, .milliseconds(50)))
                }
                guard !stop.isStopped else { break }
                let user = users.users[index % users.users.count]
                await recorder.recordSent()
                group.addTask {
                    await one(user, scheduled: scheduled, client: client, recorder: recorder, ledger: ledger, context: context)
                }
                index += 1
            }
        }
        replayOver.stop()
        // A step still running (a swap half done) gets a grace period, then is cancelled.
        let grace = Task {
            try? await Task.sleep(for: configuration.stepGrace)
            steps.cancel()
        }
        await steps.value
        grace.cancel()
        await reporter.value
        progress(await recorder.snapshot())
        await recorder.finish()
        await client.shutdown()
        return await result(recorder, users: users, interrupted: stop.isStopped, elapsed: ContinuousClock.now - started)
    }

    private func one(
        _ user: HeldOutUsers.User, scheduled: ContinuousClock.Instant, client: GatewayClient, recorder: Recorder,
        ledger: SequenceLedger, context: DemoContext
    ) async {
        var outcome = Outcome()
        let answer: GatewayClient.Recommendation
        do {
            answer = try await client.recommend(user: user.id, k: configuration.k)
        } catch {
            outcome.failure = error.message
            _ = await recorder.record(outcome)
            return
        }
        // From the scheduled start, not the actual send: time spent queued behind slow
        // requests is latency the user would have seen (no coordinated omission).
        let latency = ContinuousClock.now - scheduled
        outcome.latencyMicroseconds = UInt64(max(0, latency.seconds * 1e6))
        // Each visit is judged on the user's next held-out item, in the order the user took
        // them, and that item is then taken (clicked) whether it was in the list or not: every
        // visit has one thing to find, and the system learns what the user did before the next.
        let target = await ledger.take(user)
        let quality = OnlineQuality.score(items: answer.items.map(\.item), clicks: target.map { [$0] } ?? [], k: configuration.k)
        outcome.epoch = answer.epoch
        outcome.degraded = !answer.degraded.isEmpty
        outcome.scored = target != nil
        outcome.hit = quality.hit
        outcome.ndcg = quality.ndcg
        outcome.clicks = target == nil ? 0 : 1
        if await recorder.record(outcome), !(await recorder.hasTopology(answer.epoch)) {
            _ = try? await context.snapshotTopology()
        }
        for item in target.map({ [$0] }) ?? [] {
            do {
                try await client.feedback(user: user.id, item: item, requestID: answer.requestID)
                await recorder.recordFeedback(accepted: true)
            } catch {
                await recorder.recordFeedback(accepted: false)
            }
        }
    }

    private func runSteps(_ scenario: DemoScenario, context: DemoContext, stop: DemoStop, over: DemoStop) async {
        for step in scenario.steps.sorted(by: { $0.at < $1.at }) {
            while !stop.isStopped, !over.isStopped, await context.recorder.elapsed < step.at {
                try? await Task.sleep(for: .milliseconds(50))
            }
            guard !stop.isStopped, !over.isStopped, !Task.isCancelled else {
                // Reported, not dropped: a reader of the report must see the plan was cut short.
                let now = await context.recorder.elapsed.seconds
                await context.recorder.endStep(
                    DemoReport.Step(
                        name: step.name, plannedSeconds: step.at.seconds, startedSeconds: now, finishedSeconds: now,
                        outcome: stop.isStopped ? "skipped: the run was interrupted" : "skipped: the replay ended before the step could start",
                        ok: false))
                continue
            }
            await context.recorder.beginStep(step.name)
            let started = await context.recorder.elapsed
            var outcome: String
            var ok = true
            do {
                outcome = try await step.action(context)
            } catch {
                outcome = Task.isCancelled ? "cancelled at the end of the run" : "\(error)"
                ok = false
            }
            await context.recorder.endStep(
                DemoReport.Step(
                    name: step.name, plannedSeconds: step.at.seconds, startedSeconds: started.seconds,
                    finishedSeconds: await context.recorder.elapsed.seconds, outcome: outcome, ok: ok))
        }
    }

    private func result(_ recorder: Recorder, users: HeldOutUsers, interrupted: Bool, elapsed: Duration) async
        -> Result
    {
        let total = await recorder.total
        let epochs = await recorder.epochs.keys.sorted()
        // A snapshot is the gateway's current topology: an epoch whose answers all came back
        // after the gateway had moved on never got one. The run's history keeps every epoch.
        let layout = RunLayout(runDirectory: configuration.runDirectory)
        let history = TopologyStore(
            path: layout.topologyFile, configuration: .init(historyDirectory: layout.historyDirectory))
        for epoch in epochs where !(await recorder.hasTopology(epoch)) {
            if let spec = try? history.load(epoch: epoch) {
                await recorder.recordTopology(TopologyPicture.Graph(spec, epoch: epoch))
            }
        }
        var summaries: [DemoReport.EpochSummary] = []
        for epoch in epochs {
            if let summary = await recorder.summary(of: epoch) { summaries.append(summary) }
        }
        let report = DemoReport(
            topology: configuration.topology, runDirectory: configuration.runDirectory, gateway: configuration.gateway,
            heldOut: users.source, users: users.users.count, plannedSeconds: configuration.duration.seconds,
            elapsedSeconds: elapsed.seconds, rate: configuration.rate, interrupted: interrupted,
            requests: DemoReport.Requests(
                sent: await recorder.sent, ok: total.ok, failed: total.failed, degraded: total.degraded),
            feedback: await recorder.feedback,
            latency: DemoReport.Latency(
                p50Milliseconds: total.percentileMilliseconds(50), p99Milliseconds: total.percentileMilliseconds(99),
                maxMilliseconds: total.latency.totalCount > 0 ? Double(total.latency.max) / 1000 : 0),
            hitRate: total.hitRate, ndcgAt10: total.ndcg, epochs: summaries, timeline: await recorder.timeline,
            steps: await recorder.steps, offline: await recorder.offline, experiments: await recorder.experiments,
            failures: await recorder.failures,
            renderer: "", files: DemoReport.Files())
        return Result(report: report, topologies: await recorder.topologies.values.sorted { $0.epoch < $1.epoch })
    }
}

/// How far each user has got through their held-out sequence in this replay (users come
/// round again when the replay outlasts one pass over them).
actor SequenceLedger {
    private var taken: [String: Int] = [:]

    /// The user's next held-out item, now taken (a later visit gets the one after); nil when
    /// the user has taken them all.
    func take(_ user: HeldOutUsers.User) -> String? {
        let position = taken[user.id, default: 0]
        guard position < user.sequence.count else { return nil }
        taken[user.id] = position + 1
        return user.sequence[position]
    }
}
