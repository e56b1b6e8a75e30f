import AgentProtocol
import Foundation
import Logging
public import Topology
import Transport

/// What one change of the running system did (`agentic swap`, `apply`, `rollback`).
public struct SwapReport: Codable, Sendable, Equatable {
    /// `swapped` (a new epoch serves), `unchanged` (nothing to do) or `rolled_back` (a gate failed).
    public var outcome: String
    /// The epoch serving after the change (the old one when nothing changed).
    public var epoch: Int
    public var previousEpoch: Int
    /// Why the change was rolled back.
    public var reason: String?
    /// What changed, one line each (as `agentic diff` prints it).
    public var changes: [String]
    /// Instances started (`name~version.replica`).
    public var started: [String]
    /// Instances drained and stopped.
    public var stopped: [String]
    /// From the request until the new processes passed their gate.
    public var gateMilliseconds: Double
    /// From the request until the gateway served the new epoch.
    public var servingMilliseconds: Double
    /// From the request until the old processes were gone.
    public var totalMilliseconds: Double
    /// Whether the gateway confirmed the switch (false: no gateway, or it did not answer in time).
    public var gatewayConfirmed: Bool

    enum CodingKeys: String, CodingKey {
        case outcome, epoch, reason, changes, started, stopped
        case previousEpoch = "previous_epoch"
        case gateMilliseconds = "gate_ms"
        case servingMilliseconds = "serving_ms"
        case totalMilliseconds = "total_ms"
        case gatewayConfirmed = "gateway_confirmed"
    }
}

/// One epoch of a run: when it began, why, and what changed from the one before.
public struct EpochRecord: Codable, Sendable, Equatable {
    public var epoch: Int
    /// ISO 8601, UTC.
    public var time: String
    public var reason: String
    public var changes: [String]

    public init(epoch: Int, time: String, reason: String, changes: [String]) {
        self.epoch = epoch
        self.time = time
        self.reason = reason
        self.changes = changes
    }
}

/// The answer to `history`: the epoch serving now and every epoch of the run.
public struct HistoryReport: Codable, Sendable, Equatable {
    public var epoch: Int
    public var epochs: [EpochRecord]

    public init(epoch: Int, epochs: [EpochRecord]) {
        self.epoch = epoch
        self.epochs = epochs
    }
}

extension Coordinator {
    /// The changed fields the running processes are bound to (the gateway's listeners, its
    /// NNG front, its limits, the transport): neither a swap nor an experiment can apply them.
    static func fixedFields(_ diff: TopologyDiff) -> [String] {
        let bound: Set<String> = ["listen", "nng", "max_in_flight", "max_queued", "max_wait_ms", "max_body_bytes"]
        return diff.gatewayChanges.filter { bound.contains($0.field) }.map { "gateway.\($0.field)" }
            + diff.otherChanges.filter { $0.field.hasPrefix("transport.") }.map(\.field)
    }

    /// Changes the running system to `newSpec` without downtime: the one mechanism behind a
    /// swap, adding or removing an agent, rewiring edges and a rollback.
    ///
    /// Agents that are new or whose spec changed get new processes (a changed agent whose
    /// version did not change gets the next version), on version-distinct addresses beside the
    /// old ones. Each must answer its control socket, then real requests run through the new
    /// graph (every agent from the entry, each fed its real predecessors' outputs) and every
    /// answer must come in within the gateway's deadline, from the right agent and version,
    /// with finite scores and no item twice. Then the run's topology file is rewritten with epoch + 1, the epoch
    /// is announced, the gateway switches, and the old processes drain and stop. Changes are
    /// serialised: at most two versions of an agent live at once.
    /// - Returns: what was done and how long it took.
    /// - Throws: ``CoordinatorError/Code/gateFailed`` with the reason when a new process failed
    ///   its gate (it was stopped; nothing changed); `.invalidTopology` for a spec that does not
    ///   validate or cannot change live; `.io` when the topology file cannot be written.
    public func apply(_ newSpec: TopologySpec, reason: String) async throws(CoordinatorError) -> SwapReport {
        let report = try await perform(newSpec, reason: reason)
        if report.outcome == "rolled_back" {
            throw CoordinatorError(.gateFailed, report.reason ?? "the gate failed")
        }
        return report
    }

    /// Replaces every instance of `agent` with new processes: `changes` are parameter values as
    /// text (typed by the kind), `version` defaults to the next one, `kind` to the same kind
    /// (another kind keeps only the parameters it declares). See ``apply(_:reason:)``.
    public func swap(
        agent: String, changes: [String: String] = [:], version: String? = nil, kind: String? = nil,
        reason: String? = nil
    ) async throws(CoordinatorError) -> SwapReport {
        let report = try await swapReporting(
            agent: agent, changes: changes, version: version, kind: kind, reason: reason)
        if report.outcome == "rolled_back" {
            throw CoordinatorError(.gateFailed, report.reason ?? "the gate failed")
        }
        return report
    }

    /// Goes back to the agents and wiring of an earlier `epoch`, as a new epoch.
    public func rollback(to epoch: Int, reason: String? = nil) async throws(CoordinatorError) -> SwapReport {
        let report = try await rollbackReporting(to: epoch, reason: reason)
        if report.outcome == "rolled_back" {
            throw CoordinatorError(.gateFailed, report.reason ?? "the gate failed")
        }
        return report
    }

    /// Every epoch of this run, oldest first.
    public func history() -> [EpochRecord] { journal }

    /// What changed from epoch `from` to epoch `to` of this run.
    /// - Throws: ``CoordinatorError/Code/notFound`` for an epoch the history lacks.
    public func diff(from: Int, to: Int) throws(CoordinatorError) -> TopologyDiff {
        do {
            return TopologyDiff(from: try store.load(epoch: from), to: try store.load(epoch: to))
        } catch {
            throw CoordinatorError(.notFound, "no epoch \(error.code == .notFound ? "" : "readable ")in this run's history: \(error.message)")
        }
    }

    // MARK: control socket

    /// A change asked for on the control socket; a failed gate is a report, not an error.
    func change(_ request: CoordinatorRequest) async throws(CoordinatorError) -> SwapReport {
        switch request.command {
        case .swap:
            guard let agent = request.agent else { throw CoordinatorError(.invalidTopology, "swap needs an agent") }
            return try await swapReporting(
                agent: agent, changes: request.parameters ?? [:], version: request.version, kind: request.kind,
                reason: request.reason)
        case .rollback:
            guard let epoch = request.epoch else { throw CoordinatorError(.invalidTopology, "rollback needs an epoch") }
            return try await rollbackReporting(to: epoch, reason: request.reason)
        case .experimentStart:
            guard let text = request.topology else { throw CoordinatorError(.invalidTopology, "experiment-start needs a topology") }
            let spec: TopologySpec
            do {
                spec = try TopologyValidator.load(source: text, file: request.file ?? "<experiment>", catalogue: configuration.factory.catalogue)
            } catch {
                throw Self.invalid(error)
            }
            let share = Double(request.parameters?["share"] ?? "") ?? 0.5
            return try await startExperiment(spec, experiment: request.agent ?? "", share: share)
        case .experimentEnd:
            return try await endExperiment(
                promote: request.parameters?["decision"] == "promote", reason: request.reason ?? "experiment ended")
        default:
            guard let text = request.topology else { throw CoordinatorError(.invalidTopology, "apply needs a topology") }
            let file = request.file ?? "<apply>"
            let spec: TopologySpec
            do {
                spec = try TopologyValidator.load(source: text, file: file, catalogue: configuration.factory.catalogue)
            } catch {
                throw Self.invalid(error)
            }
            return try await perform(spec, reason: request.reason ?? "apply \(file)")
        }
    }

    private func swapReporting(
        agent: String, changes: [String: String], version: String?, kind: String?, reason: String?
    ) async throws(CoordinatorError) -> SwapReport {
        guard let index = spec.agents.firstIndex(where: { $0.name == agent }) else {
            throw CoordinatorError(.notFound, "no agent \(agent) in epoch \(spec.epoch)")
        }
        var agentSpec = spec.agents[index]
        let catalogue = configuration.factory.catalogue
        if let kind, kind != agentSpec.kind {
            guard let descriptor = catalogue[kind] else {
                throw CoordinatorError(.invalidTopology, "unknown kind \(kind)")
            }
            agentSpec.kind = kind
            agentSpec.parameters = agentSpec.parameters.filter { Self.parameter($0.key, of: descriptor) != nil }
            agentSpec.decisionSpace = agentSpec.decisionSpace.filter { Self.parameter($0.key, of: descriptor) != nil }
        }
        for (name, text) in changes {
            agentSpec.parameters[name] = Self.typed(text, Self.parameter(name, of: catalogue[agentSpec.kind]))
        }
        // Even a swap that changes nothing else gets new processes: that is what was asked.
        agentSpec.version = version ?? Self.nextVersion(after: agentSpec.version)
        var new = spec
        new.agents[index] = agentSpec
        let what = changes.keys.sorted().map { "\($0)=\(changes[$0] ?? "")" }
            + [kind.map { "kind=\($0)" }, "version=\(agentSpec.version)"].compactMap { $0 }
        return try await perform(new, reason: reason ?? "swap \(agent) \(what.joined(separator: " "))")
    }

    private func rollbackReporting(to epoch: Int, reason: String?) async throws(CoordinatorError) -> SwapReport {
        let earlier: TopologySpec
        do {
            earlier = try store.load(epoch: epoch)
        } catch {
            throw CoordinatorError(.notFound, "cannot roll back to epoch \(epoch): \(error.message)")
        }
        return try await perform(earlier, reason: reason ?? "rollback to epoch \(epoch)")
    }

    // MARK: live experiments

    /// Starts a live experiment: the agents of `proposed` that are new or changed get their own
    /// processes beside the serving ones, gated exactly like a swap's (alive, then right and in
    /// time on the candidate's serving path), but the topology file stays on the control epoch:
    /// `RUN/experiment.json` tells the gateway to send the users its split picks (`share` of
    /// them, by a hash of user and experiment id) through the candidate's graph.
    /// - Returns: `swapped` when the candidate serves beside control (`epoch` is still the
    ///   control's), `rolled_back` with the reason when its gate failed (nothing changed).
    /// - Throws: ``CoordinatorError/Code/invalidTopology`` for a candidate that does not validate,
    ///   or when an experiment already runs.
    public func startExperiment(_ proposed: TopologySpec, experiment: String, share: Double) async throws(CoordinatorError) -> SwapReport {
        let began = ContinuousClock.now
        func milliseconds() -> Double {
            let elapsed = ContinuousClock.now - began
            return Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
        }
        await acquireChange()
        defer { releaseChange() }
        guard !shutdownRequested else { throw CoordinatorError(.notRunning, "the cluster is stopping") }
        guard canary == nil else { throw CoordinatorError(.invalidTopology, "experiment \(canary?.experiment ?? "") is running") }
        guard share > 0, share < 1 else { throw CoordinatorError(.invalidTopology, "the share must be in (0, 1), not \(share)") }
        guard !experiment.isEmpty, experiment.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }) else {
            throw CoordinatorError(.invalidTopology, "an experiment id is letters, digits, - and _")
        }
        let candidate = try prepare(proposed, file: "experiment \(experiment)")
        let diff = TopologyDiff(from: spec, to: candidate)
        // The same rule as a swap: the graph (entry, exit, deadline, agents, edges) may change, since
        // the gateway runs the candidate's own plan; only what the running processes are bound to
        // may not.
        let fixed = Self.fixedFields(diff)
        guard fixed.isEmpty else {
            throw CoordinatorError(.invalidTopology, "an experiment cannot change \(fixed.joined(separator: ", ")): restart the cluster")
        }
        let changes = diff.description.split(separator: "\n").dropFirst().map(String.init)
        guard !diff.isEmpty else { throw CoordinatorError(.invalidTopology, "the candidate is the serving topology") }
        let file = configuration.runDirectory + "/experiment-\(experiment).yaml"
        do {
            try Data(candidate.renderYAML().utf8).write(to: URL(fileURLWithPath: file), options: .atomic)
        } catch {
            throw CoordinatorError(.io, "cannot write \(file): \(error)")
        }
        let starting = diff.agentsAdded + diff.agentsChanged.map(\.name)
        var keys: [Key] = []
        var failure = await fitModels(starting.compactMap(candidate.agent(named:)), in: candidate, topologyPath: file)
        for name in starting where failure == nil {
            guard let agent = candidate.agent(named: name) else { continue }
            for replica in 0..<agent.replicas {
                let key = Key(name: name, version: agent.version, replica: replica)
                keys.append(key)
                order.append(key)
                instances[key] = Instance(
                    key: key, kind: agent.kind, version: agent.version, policy: agent.restart,
                    intensity: RestartIntensity(policy: agent.restart, clock: ContinuousClock()),
                    topologyPath: file, candidate: true)
                start(key)
            }
        }
        if failure == nil { failure = await awaitHealthy(keys) }
        if failure == nil { failure = await checkServingPath(candidate) }
        if let failure {
            log.error("experiment gate failed", metadata: ["experiment": "\(experiment)", "reason": "\(failure)"])
            await stop(keys, patience: .seconds(2), signal: SIGKILL)
            unlink(file)
            return SwapReport(
                outcome: "rolled_back", epoch: spec.epoch, previousEpoch: spec.epoch, reason: failure, changes: changes,
                started: [], stopped: [], gateMilliseconds: milliseconds(), servingMilliseconds: 0,
                totalMilliseconds: milliseconds(), gatewayConfirmed: false)
        }
        let gated = milliseconds()
        let note = ExperimentNote(experiment: experiment, share: share, topology: file, epoch: spec.epoch)
        do {
            try JSONEncoder().encode(note).write(
                to: URL(fileURLWithPath: configuration.runDirectory + "/experiment.json"), options: .atomic)
        } catch {
            await stop(keys, patience: .seconds(2), signal: SIGKILL)
            unlink(file)
            throw CoordinatorError(.io, "cannot write the experiment file: \(error)")
        }
        canary = CanaryState(experiment: experiment, share: share, keys: keys, spec: candidate, file: file)
        announce()
        // The gateway reads the experiment at the announcement; give it the time to dial.
        if configuration.startsGateway { try? await Task.sleep(for: .milliseconds(300)) }
        log.info("experiment started", metadata: ["experiment": "\(experiment)", "share": "\(share)"])
        return SwapReport(
            outcome: "swapped", epoch: spec.epoch, previousEpoch: spec.epoch, changes: changes,
            started: keys.map(\.description), stopped: [], gateMilliseconds: gated, servingMilliseconds: milliseconds(),
            totalMilliseconds: milliseconds(), gatewayConfirmed: false)
    }

    /// Ends the live experiment: the gateway stops splitting, the candidate's processes drain
    /// and stop, and then `promote` applies the candidate as a new epoch (a swap: its agents
    /// start again and pass the gate), while a rollback re-applies the control spec as a new
    /// epoch carrying `reason` (the history says why the candidate lost).
    /// - Throws: ``CoordinatorError/Code/notFound`` when no experiment runs.
    public func endExperiment(promote: Bool, reason: String) async throws(CoordinatorError) -> SwapReport {
        await acquireChange()
        guard let running = canary else {
            releaseChange()
            throw CoordinatorError(.notFound, "no experiment is running")
        }
        unlink(configuration.runDirectory + "/experiment.json")
        announce()
        // Requests the gateway began on the candidate get their deadline; the gateway hears the
        // end at the announcement above or, if pub/sub dropped it, at the next periodic one.
        try? await Task.sleep(for: spec.gateway.deadline + configuration.announceInterval + .milliseconds(200))
        await stop(running.keys, patience: configuration.drainTimeout, signal: SIGTERM)
        unlink(running.file)
        canary = nil
        rebuildOrder()
        if promote {
            releaseChange()
            var candidate = running.spec
            // Fresh processes of the candidate's versions (the canary's were just stopped).
            candidate.epoch = spec.epoch
            return try await perform(candidate, reason: reason)
        }
        defer { releaseChange() }
        var control = spec
        control.epoch = spec.epoch + 1
        let previous = spec
        do {
            control = try store.write(control)
        } catch {
            throw CoordinatorError(.io, "cannot rewrite the topology: \(error.message)")
        }
        spec = control
        journal.append(EpochRecord(epoch: spec.epoch, time: Self.timestamp(), reason: reason, changes: []))
        saveJournal()
        announce()
        return SwapReport(
            outcome: "rolled_back", epoch: spec.epoch, previousEpoch: previous.epoch, reason: reason, changes: [],
            started: [], stopped: running.keys.map(\.description), gateMilliseconds: 0, servingMilliseconds: 0,
            totalMilliseconds: 0, gatewayConfirmed: false)
    }

    /// The proposed topology as the next epoch: changed agents get a version distinct from the
    /// serving one (their processes must coexist), validated, every kind runnable by this build.
    private func prepare(_ proposed: TopologySpec, file: String) throws(CoordinatorError) -> TopologySpec {
        var candidate = proposed
        candidate.epoch = spec.epoch + 1
        for index in candidate.agents.indices {
            let agent = candidate.agents[index]
            if let serving = spec.agent(named: agent.name), serving != agent, serving.version == agent.version {
                candidate.agents[index].version = Self.nextVersion(after: serving.version)
            }
        }
        switch TopologyValidator.validate(candidate, file: file, catalogue: configuration.factory.catalogue) {
        case .success(let valid): candidate = valid
        case .failure(let error): throw Self.invalid(error)
        }
        let runnable = Set(configuration.factory.kinds)
        if let missing = candidate.agents.first(where: { !runnable.contains($0.kind) }) {
            throw CoordinatorError(.invalidTopology, "no implementation in this build for \(missing.name) (kind \(missing.kind))")
        }
        return candidate
    }

    /// The running experiment, if any: its id, share and candidate instances.
    public func experimentStatus() -> ExperimentNote? {
        canary.map { ExperimentNote(experiment: $0.experiment, share: $0.share, topology: $0.file, epoch: spec.epoch) }
    }

    // MARK: the mechanism

    private func perform(_ proposed: TopologySpec, reason: String) async throws(CoordinatorError) -> SwapReport {
        let clock = ContinuousClock()
        let began = clock.now
        func milliseconds(_ instant: ContinuousClock.Instant) -> Double {
            let elapsed = instant - began
            return Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
        }
        await acquireChange()
        defer { releaseChange() }
        guard !shutdownRequested else { throw CoordinatorError(.notRunning, "the cluster is stopping") }
        // A change under a running canary would move the control arm mid-test and leave the
        // candidate's processes wired to a spec that no longer serves.
        if let running = canary {
            throw CoordinatorError(
                .experimentRunning,
                "experiment \(running.experiment) is running: the cluster changes through its decision (see `agentic experiment status`)")
        }

        var candidate = try prepare(proposed, file: "epoch \(spec.epoch + 1)")
        let diff = TopologyDiff(from: spec, to: candidate)
        let fixed = Self.fixedFields(diff)
        guard fixed.isEmpty else {
            throw CoordinatorError(
                .invalidTopology, "\(fixed.joined(separator: ", ")) cannot change while the cluster runs: restart it")
        }
        let changes = diff.description.split(separator: "\n").dropFirst().map(String.init)
        guard !diff.isEmpty else {
            return SwapReport(
                outcome: "unchanged", epoch: spec.epoch, previousEpoch: spec.epoch, changes: [], started: [],
                stopped: [], gateMilliseconds: 0, servingMilliseconds: 0, totalMilliseconds: milliseconds(clock.now),
                gatewayConfirmed: false)
        }
        log.info("changing", metadata: ["epoch": "\(candidate.epoch)", "reason": "\(reason)"])

        // 1. New processes beside the old ones, configured from the candidate file.
        let pending = configuration.runDirectory + "/pending-\(candidate.epoch).yaml"
        defer { unlink(pending) }
        do {
            try Data(candidate.renderYAML().utf8).write(to: URL(fileURLWithPath: pending), options: .atomic)
        } catch {
            throw CoordinatorError(.io, "cannot write \(pending): \(error)")
        }
        let starting = diff.agentsAdded + diff.agentsChanged.map(\.name)
        // 1a. Models first, by the fitting job: the new processes then only load them.
        if let failure = await fitModels(starting.compactMap(candidate.agent(named:)), in: candidate, topologyPath: pending) {
            log.error("change rolled back", metadata: ["epoch": "\(candidate.epoch)", "reason": "\(failure)"])
            return SwapReport(
                outcome: "rolled_back", epoch: spec.epoch, previousEpoch: spec.epoch, reason: failure,
                changes: changes, started: [], stopped: [], gateMilliseconds: milliseconds(clock.now),
                servingMilliseconds: 0, totalMilliseconds: milliseconds(clock.now), gatewayConfirmed: false)
        }
        var keys: [Key] = []
        for name in starting {
            guard let agent = candidate.agent(named: name) else { continue }
            for replica in 0..<agent.replicas {
                let key = Key(name: name, version: agent.version, replica: replica)
                keys.append(key)
                order.append(key)
                instances[key] = Instance(
                    key: key, kind: agent.kind, version: agent.version, policy: agent.restart,
                    intensity: RestartIntensity(policy: agent.restart, clock: ContinuousClock()),
                    topologyPath: pending, candidate: true)
                start(key)
            }
        }

        // 2. The gate: alive, then right and in time on the real serving path.
        var failure = await awaitHealthy(keys)
        if failure == nil { failure = await checkServingPath(candidate) }
        let gated = clock.now
        if let failure {
            log.error("change rolled back", metadata: ["epoch": "\(candidate.epoch)", "reason": "\(failure)"])
            await stop(keys, patience: .seconds(2), signal: SIGKILL)
            return SwapReport(
                outcome: "rolled_back", epoch: spec.epoch, previousEpoch: spec.epoch, reason: failure,
                changes: changes, started: [], stopped: [], gateMilliseconds: milliseconds(gated),
                servingMilliseconds: 0, totalMilliseconds: milliseconds(clock.now), gatewayConfirmed: false)
        }

        // 3. Commit: the file, the history, the epoch.
        let previous = spec
        do {
            candidate = try store.write(candidate)
        } catch {
            await stop(keys, patience: .seconds(2), signal: SIGKILL)
            throw CoordinatorError(.io, "cannot rewrite the topology: \(error.message)")
        }
        spec = candidate
        for key in keys {
            instances[key]?.candidate = false
            instances[key]?.topologyPath = store.path
            instances[key]?.state = .serving
            instances[key]?.lastHeartbeat = clock.now
        }
        journal.append(EpochRecord(epoch: spec.epoch, time: Self.timestamp(), reason: reason, changes: changes))
        saveJournal()
        announce()

        // 4. The gateway switches; requests it already began on the old epoch get their deadline.
        var confirmed = false
        if configuration.startsGateway {
            let deadline = clock.now + configuration.switchTimeout
            while clock.now < deadline, !shutdownRequested {
                if let served = gatewayEpoch, served >= spec.epoch {
                    confirmed = true
                    break
                }
                try? await Task.sleep(for: .milliseconds(5))
            }
            if !confirmed { log.warning("the gateway did not confirm the new epoch", metadata: ["epoch": "\(spec.epoch)"]) }
        }
        let serving = clock.now
        let retiring = instances.keys.filter { key in
            !keys.contains(key) && (diff.agentsRemoved.contains(key.name) || diff.agentsChanged.contains { $0.name == key.name })
        }.sorted { $0.description < $1.description }
        if !retiring.isEmpty {
            try? await Task.sleep(for: max(previous.gateway.deadline, spec.gateway.deadline) + .milliseconds(50))
            // 5. Drain and stop the old processes.
            await stop(retiring, patience: configuration.drainTimeout, signal: SIGTERM)
        }
        rebuildOrder()
        let report = SwapReport(
            outcome: "swapped", epoch: spec.epoch, previousEpoch: previous.epoch, changes: changes,
            started: keys.map(\.description), stopped: retiring.map(\.description),
            gateMilliseconds: milliseconds(gated), servingMilliseconds: milliseconds(serving),
            totalMilliseconds: milliseconds(clock.now), gatewayConfirmed: confirmed)
        log.info(
            "changed", metadata: ["epoch": "\(spec.epoch)", "total_ms": "\(Int(report.totalMilliseconds))"])
        return report
    }

    /// Waits until each new process answers on its control socket, or says why not.
    private func awaitHealthy(_ keys: [Key]) async -> String? {
        let deadline = ContinuousClock.now + configuration.readinessTimeout
        for key in keys {
            guard let requester = try? Self.startingRequester() else { return "cannot open a socket" }
            defer { Thread.detachNewThread { requester.close() } }
            try? requester.dial(layout.controlAddress(agent: key.name, version: key.version, replica: key.replica))
            var healthy = false
            while !healthy {
                guard let instance = instances[key], instance.child != nil else {
                    let how = instances[key]?.exitNote.map { " (\($0))" } ?? ""
                    return "\(key.name) version \(key.version) exited before serving\(how)"
                }
                guard ContinuousClock.now < deadline else {
                    return "\(key.name) version \(key.version) did not start within \(configuration.readinessTimeout)"
                }
                if let payload = try? WireCodec.encode(ControlRequest(command: .health)),
                    let message = try? Message(envelope: Envelope(type: .control, requestID: 1, payload: payload)),
                    let reply = try? await requester.request(message, timeout: .milliseconds(300)),
                    let envelope = try? reply.envelope(), envelope.type != .error,
                    (try? WireCodec.decode(ControlResponse.self, from: envelope.payload)) != nil
                {
                    healthy = true
                } else {
                    try? await Task.sleep(for: .milliseconds(20))
                }
            }
        }
        return nil
    }

    /// Runs real requests through `candidate`'s graph, as the gateway will: each agent fed its
    /// predecessors' real outputs, the new processes where the candidate has them and the
    /// serving ones elsewhere. The first round may take the readiness timeout (a cold process);
    /// every later answer must arrive within the gateway's deadline. Returns why it failed.
    private func checkServingPath(_ candidate: TopologySpec) async -> String? {
        let graph = candidate.graph
        guard let sorted = graph.topologicalOrder() else { return "the graph has a cycle" }
        let reachable = graph.reachableFromEntry
        // Agents off the entry's path are still asked, with no inputs.
        let path = sorted.filter { reachable.contains($0) } + sorted.filter { !reachable.contains($0) }
        var requesters: [String: Requester] = [:]
        defer {
            let all = Array(requesters.values)
            Thread.detachNewThread { all.forEach { $0.close() } }
        }
        let widest = candidate.agents.map(\.replicas).max() ?? 1
        let rounds = 1 + max(configuration.gateRounds, widest)
        for round in 0..<rounds {
            var outputs: [String: AgentOutput] = [:]
            for name in path {
                guard let agent = candidate.agent(named: name) else { continue }
                let address = layout.decisionAddress(agent: name, version: agent.version, replica: round % agent.replicas)
                let requester: Requester
                if let existing = requesters[address] {
                    requester = existing
                } else {
                    guard let made = try? Requester() else { return "cannot open a socket" }
                    try? made.dial(address)
                    requesters[address] = made
                    requester = made
                }
                let inputs = graph.predecessors(of: name).compactMap { outputs[$0] }
                let request = DecisionRequest(
                    requestID: "gate-\(candidate.epoch)-\(round)", user: "gate-\(round)", k: 10, epoch: candidate.epoch,
                    inputs: inputs)
                let timeout = round == 0 ? configuration.readinessTimeout : candidate.gateway.deadline
                let who = "\(name) version \(agent.version) replica \(round % agent.replicas)"
                let reply: Envelope
                do {
                    let message = try Message(
                        envelope: Envelope(type: .request, requestID: UInt64(round + 1), payload: WireCodec.encode(request)))
                    reply = try await requester.request(message, timeout: timeout).envelope()
                } catch let error as TransportError where error.code == .timedOut {
                    return "\(who): too slow, no answer within \(timeout)"
                } catch {
                    return "\(who): \(error)"
                }
                guard reply.type == .reply else {
                    let problem = try? WireCodec.decode(ErrorReply.self, from: reply.payload)
                    return "\(who): answered an error (\(problem.map { "\($0.code): \($0.message)" } ?? "unreadable"))"
                }
                guard let output = try? WireCodec.decode(DecisionResponse.self, from: reply.payload) else {
                    return "\(who): wrong answer (not a decision)"
                }
                guard output.agent == name, output.version == agent.version else {
                    return "\(who): wrong answer (from \(output.agent) version \(output.version))"
                }
                guard output.items.allSatisfy({ $0.score.isFinite }) else {
                    return "\(who): wrong answer (non-finite scores)"
                }
                guard Set(output.items.map(\.item)).count == output.items.count else {
                    return "\(who): wrong answer (an item twice in one list)"
                }
                outputs[name] = output
            }
        }
        return nil
    }

    /// Stops `keys` (never restarted): `signal` now, SIGKILL after `patience`; then forgets them.
    private func stop(_ keys: [Key], patience: Duration, signal: Int32) async {
        var children: [Child] = []
        for key in keys {
            guard var instance = instances[key] else { continue }
            instance.retiring = true
            instance.state = instance.child == nil ? .stopped : .draining
            if let child = instance.child { children.append(child) }
            instances[key] = instance
        }
        children.forEach { $0.signal(signal) }
        let deadline = ContinuousClock.now + patience
        while children.contains(where: \.isRunning), ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
        let left = children.filter(\.isRunning)
        if !left.isEmpty {
            log.warning("not drained in time; killing", metadata: ["pids": "\(left.map(\.pid))"])
            left.forEach { $0.signal(SIGKILL) }
            while children.contains(where: \.isRunning) { try? await Task.sleep(for: .milliseconds(10)) }
        }
        for key in keys {
            instances[key] = nil
            // A killed process leaves its socket files.
            for address in [
                layout.decisionAddress(agent: key.name, version: key.version, replica: key.replica),
                layout.controlAddress(agent: key.name, version: key.version, replica: key.replica),
            ] {
                unlink(String(address.dropFirst("ipc://".count)))
            }
        }
        order.removeAll { instances[$0] == nil }
    }

    /// Instances in topology order, the serving version first.
    private func rebuildOrder() {
        var sorted: [Key] = []
        for agent in spec.agents {
            for replica in 0..<agent.replicas {
                let key = Key(name: agent.name, version: agent.version, replica: replica)
                if instances[key] != nil { sorted.append(key) }
            }
        }
        let placed = Set(sorted)
        order = sorted + order.filter { !placed.contains($0) && instances[$0] != nil }
    }

    private func acquireChange() async {
        guard changing else {
            changing = true
            return
        }
        await withCheckedContinuation { changeWaiters.append($0) }
    }

    private func releaseChange() {
        if changeWaiters.isEmpty {
            changing = false
        } else {
            changeWaiters.removeFirst().resume()
        }
    }

    // MARK: history

    /// A new run starts a new history: its first epoch is the file `up` was given.
    func startHistory() throws {
        let manager = FileManager.default
        try? manager.removeItem(atPath: store.historyDirectory)
        try? manager.removeItem(atPath: store.path)
        var first = store.configuration
        first.requireEpochIncrease = false
        do {
            spec = try TopologyStore(path: store.path, configuration: first).write(spec)
        } catch {
            throw CoordinatorError(.io, "cannot write the run's topology: \(error.message)")
        }
        journal = [
            EpochRecord(epoch: spec.epoch, time: Self.timestamp(), reason: "up \(configuration.topologyPath)", changes: [])
        ]
        saveJournal()
    }

    private func saveJournal() {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let path = store.historyDirectory + "/journal.json"
        do {
            try encoder.encode(journal).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            log.error("cannot write the history journal", metadata: ["path": "\(path)", "error": "\(error)"])
        }
    }

    private static func timestamp() -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: Date())
    }

    // MARK: helpers

    private static func invalid(_ error: TopologyError) -> CoordinatorError {
        let lines = error.issues.isEmpty ? [error.message] : error.issues.map(\.description)
        return CoordinatorError(.invalidTopology, lines.joined(separator: "\n"))
    }

    /// "1" → "2", "1.4" → "1.5", "ease" → "ease.2".
    static func nextVersion(after version: String) -> String {
        var parts = version.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        if let last = parts.last, let number = Int(last) {
            parts[parts.count - 1] = String(number + 1)
            return parts.joined(separator: ".")
        }
        return version + ".2"
    }

    /// The kind's declaration of parameter `name` (`weight.*` declares `weight.<route>`).
    private static func parameter(_ name: String, of kind: KindDescriptor?) -> ParameterSpec? {
        kind?.parameters.first { spec in
            spec.name == name || (spec.name.hasSuffix(".*") && name.hasPrefix(spec.name.dropLast()))
        }
    }

    /// A value given as text, typed as the kind declares it; one that does not parse stays
    /// text, so validation names the parameter and the type it wanted.
    private static func typed(_ text: String, _ declaration: ParameterSpec?) -> ParameterValue {
        switch declaration?.type.rawValue {
        case "int": return Int(text).map(ParameterValue.int) ?? .string(text)
        case "double": return Double(text).map(ParameterValue.double) ?? .string(text)
        case "bool": return Bool(text).map(ParameterValue.bool) ?? .string(text)
        case .some: return .string(text)
        case nil:
            if let value = Int(text) { return .int(value) }
            if let value = Double(text) { return .double(value) }
            if let value = Bool(text) { return .bool(value) }
            return .string(text)
        }
    }
}

/// A live experiment as the coordinator runs it.
struct CanaryState: Sendable {
    var experiment: String
    var share: Double
    var keys: [Coordinator.Key]
    var spec: TopologySpec
    var file: String
}

/// `RUN/experiment.json`: the experiment the gateway splits traffic for.
public struct ExperimentNote: Codable, Sendable, Equatable {
    public var experiment: String
    public var share: Double
    /// The candidate's topology file.
    public var topology: String
    /// The control epoch.
    public var epoch: Int
}
