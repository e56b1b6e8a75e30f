import Foundation
public import Topology

/// The offline evolution loop: individual rounds (each tunable agent tuned on its inner reward until
/// the gains saturate) alternate with compositional rounds (composer edits and architect proposals
/// judged by the outer reward). Only valid measurements choose; every proposal, its evaluation and
/// the decision go to the lineage journal.
public actor Evolver {
    /// Options of an ``Evolver``.
    public struct Configuration: Sendable {
        /// Rounds (individual + compositional); nil runs until the budget is spent.
        public var rounds: Int?
        /// Wall time for the whole search; nil means no limit (then `rounds` must be set).
        public var budget: Duration?
        /// Tuner trials per agent per sweep (the first is the current setting).
        public var trialsPerAgent: Int
        /// Individual sweeps per round at most; fewer when a sweep gains less than `minimumGain`.
        public var maxTuneSweeps: Int
        /// Compositional proposals per round.
        public var proposalsPerRound: Int
        /// An outer-reward gain below this does not count (noise on valid).
        public var minimumGain: Double
        /// Shares of the valid users at which a tuner trial reports early, for median pruning
        /// (empty: no pruning). Each costs an evaluation, so use it with a cheap objective.
        public var pruningFractions: [Double]
        public var seed: UInt64
        /// A topology to stay at least as diverse as: measured on valid at the start of the run,
        /// its ILD@10 and Coverage@10 become floors no adopted topology may fall below (for
        /// example the strongest single model, so the pipeline never narrows what it shows).
        public var reference: TopologySpec?

        public init(
            rounds: Int? = 3, budget: Duration? = nil, trialsPerAgent: Int = 8, maxTuneSweeps: Int = 2,
            proposalsPerRound: Int = 8, minimumGain: Double = 0.0005, pruningFractions: [Double] = [], seed: UInt64 = 1
        ) {
            self.rounds = rounds
            self.budget = budget
            self.trialsPerAgent = trialsPerAgent
            self.maxTuneSweeps = maxTuneSweeps
            self.proposalsPerRound = proposalsPerRound
            self.minimumGain = minimumGain
            self.pruningFractions = pruningFractions
            self.seed = seed
            self.reference = nil
        }
    }

    /// What a run found.
    public struct Outcome: Sendable {
        public var start: TopologySpec
        public var best: TopologySpec
        public var startValid: TopologyMeasurement
        public var bestValid: TopologyMeasurement
        public var startVerdict: OuterJudge.Verdict
        public var bestVerdict: OuterJudge.Verdict
        /// The floors measured on the reference (metric → valid value), empty without one.
        public var floors: [String: Double]
        public var rounds: Int
        public var evaluations: Int
        public var proposals: Int
        public var accepted: Int
        public var rejected: Int
        public var seconds: Double
    }

    private let objective: any TopologyObjective
    private let composer: Composer
    private let architect: Architect
    private let journal: any LineageJournal
    public let configuration: Configuration
    private let log: (@Sendable (String) -> Void)?

    private var generator: SeededGenerator
    private var sequence = 0
    private var evaluations = 0
    private var proposals = 0
    private var acceptedCount = 0
    private var rejectedCount = 0
    private var cache: [String: TopologyMeasurement] = [:]
    private var history: [LineageEntry] = []
    private var failures: [String] = []
    private var elite: [(spec: TopologySpec, reward: Double)] = []
    private let clock = ContinuousClock()
    private var started = ContinuousClock.now

    private var current: TopologySpec
    private var currentValid = TopologyMeasurement(metrics: [:])
    private var currentVerdict = OuterJudge.Verdict(reward: -1, feasible: false, violations: [])

    public init(
        objective: any TopologyObjective, composer: Composer = Composer(), architect: Architect? = nil,
        journal: any LineageJournal = MemoryJournal(), configuration: Configuration = Configuration(),
        log: (@Sendable (String) -> Void)? = nil
    ) {
        self.objective = objective
        self.composer = composer
        self.architect = architect ?? Architect(proposer: OfflineProposer(composer: composer, seed: configuration.seed &+ 17), composer: composer)
        self.journal = journal
        self.configuration = configuration
        self.log = log
        self.generator = SeededGenerator(seed: configuration.seed)
        self.current = TopologySpec(name: "none", agents: [], edges: [], gateway: GatewaySpec(entry: [], exit: ""))
    }

    /// Evolves `start`; the best topology found comes back with its epoch bumped once.
    public func run(_ start: TopologySpec) async throws(EvolutionError) -> Outcome {
        guard configuration.rounds != nil || configuration.budget != nil else {
            throw EvolutionError(.invalidSpace, "give a number of rounds or a budget")
        }
        started = clock.now
        current = start
        var judge = OuterJudge(outer: start.rewards.outer)
        if let reference = configuration.reference {
            // Relative to what valid says in this run, never a constant chosen elsewhere.
            let measured = try await objective.evaluate(reference, stage: .valid, fraction: 1)
            for metric in OuterJudge.referenceMetrics { if let value = measured.metrics[metric] { judge.floors[metric] = value } }
            say("reference \(reference.name): floors \(judge.floors.sorted { $0.key < $1.key }.map { "\($0.key) \(f($0.value))" }.joined(separator: ", "))")
        }
        currentValid = try await measure(start, fraction: 1)
        currentVerdict = judge.judge(currentValid, of: start)
        let startValid = currentValid, startVerdict = currentVerdict
        elite = [(start, currentVerdict.reward)]
        try await record(LineageEntry(
            round: 0, source: .start, decision: .baseline, outerReward: currentVerdict.reward, metrics: currentValid.metrics,
            reason: currentVerdict.violations.isEmpty ? nil : currentVerdict.violations.joined(separator: "; "), epoch: start.epoch))
        say("start: valid \(start.rewards.outer.metric) \(f(currentVerdict.reward))")

        var round = 0
        while !outOfTime, configuration.rounds.map({ round < $0 }) ?? true {
            round += 1
            // Individual: tune each agent until a sweep stops paying.
            for _ in 0..<max(1, configuration.maxTuneSweeps) {
                let before = currentVerdict.reward
                for agent in current.agents where !agent.decisionSpace.isEmpty {
                    if outOfTime { break }
                    guard current.agent(named: agent.name) != nil else { continue }
                    try await tune(agent.name, round: round, judge: judge)
                }
                if currentVerdict.reward - before < configuration.minimumGain || outOfTime { break }
            }
            // The objective's own tuning of the whole topology, when it has one: one more proposal.
            if !outOfTime, let tuned = try await objective.tuned(current), tuned != current {
                proposals += 1
                switch TopologyValidator.validate(tuned, file: "<tuned>", catalogue: composer.catalogue) {
                case .success(let valid):
                    let m = try await measure(valid, fraction: 1)
                    try await decide(valid, m, edits: [], source: .objective, agent: nil, round: round, judge: judge,
                                     reason: "the objective's own tuning within the decision spaces")
                case .failure(let error):
                    rejectedCount += 1
                    try await record(LineageEntry(round: round, source: .objective, decision: .invalid, reason: error.message))
                }
            }
            // Compositional: composer edits and architect proposals, alternating.
            for index in 0..<configuration.proposalsPerRound where !outOfTime {
                try await compose(round: round, fromArchitect: index % 2 == 1, judge: judge)
            }
            say("round \(round): valid \(start.rewards.outer.metric) \(f(currentVerdict.reward)) after \(evaluations) evaluations")
        }

        var best = current
        best.epoch = start.epoch + 1
        switch TopologyValidator.validate(best, file: "<best>", catalogue: composer.catalogue) {
        case .success(let valid): best = valid
        case .failure(let error): throw EvolutionError(.invalidEdit, "the best topology does not validate: \(error.message)")
        }
        try await record(LineageEntry(
            round: round, source: .final, decision: .baseline, outerReward: currentVerdict.reward, metrics: currentValid.metrics,
            epoch: best.epoch, seconds: elapsed))
        return Outcome(
            start: start, best: best, startValid: startValid, bestValid: currentValid, startVerdict: startVerdict,
            bestVerdict: currentVerdict, floors: judge.floors, rounds: round, evaluations: evaluations, proposals: proposals,
            accepted: acceptedCount, rejected: rejectedCount, seconds: elapsed)
    }

    // MARK: - Individual

    /// The reward `agent` answers to: its inner reward, unless it declares `outer` (or none).
    func innerReward(of agent: String, in spec: TopologySpec, _ m: TopologyMeasurement) -> Double {
        let metric = spec.innerReward(of: agent)
        if metric == nil || metric == "outer" { return m.metrics[spec.rewards.outer.metric] ?? -1 }
        return m.innerRewards[agent] ?? m.metrics[metric!] ?? m.metrics[spec.rewards.outer.metric] ?? -1
    }

    private func tune(_ name: String, round: Int, judge: OuterJudge) async throws(EvolutionError) {
        guard let agent = current.agent(named: name), let space = try? SearchSpace(agent.decisionSpace) else { return }
        let seed = configuration.seed &+ UInt64(round) &* 1000 &+ name.utf8.reduce(0) { $0 &* 31 &+ UInt64($1) }
        var tuner = Tuner(space: space, configuration: Tuner.Configuration(startupTrials: max(2, configuration.trialsPerAgent / 2), seed: seed))
        // The current setting first (defaults filled in), so the tuner only ever moves to better.
        let resolved = composer.catalogue[agent.kind]?.resolvedParameters(agent.parameters) ?? agent.parameters
        tuner.enqueue(resolved.filter { agent.decisionSpace[$0.key] != nil })
        var results: [Int: (spec: TopologySpec, measurement: TopologyMeasurement, reward: Double, parameters: [String: ParameterValue])] = [:]
        for _ in 0..<configuration.trialsPerAgent {
            if outOfTime { break }
            let trial = tuner.ask()
            let edits = trial.parameters.sorted { $0.key < $1.key }.map { Edit(.setParameter, agent: name, parameter: $0.key, value: $0.value) }
            let spec: TopologySpec
            do {
                spec = try composer.apply(edits, to: current)
            } catch {
                tuner.fail(trial.id)
                try await record(LineageEntry(round: round, source: .tuner, decision: .invalid, agent: name, parameters: trial.parameters, reason: error.message))
                continue
            }
            var pruned = false
            for (step, fraction) in configuration.pruningFractions.enumerated() where fraction < 1 {
                let partial = try await measure(spec, fraction: fraction)
                if tuner.report(trial.id, step: step, value: innerReward(of: name, in: spec, partial)) {
                    pruned = true
                    try await record(LineageEntry(
                        round: round, source: .tuner, decision: .pruned, agent: name, parameters: trial.parameters,
                        innerReward: innerReward(of: name, in: spec, partial),
                        reason: "below the median of earlier trials on \(Int(fraction * 100))% of the valid users"))
                    break
                }
            }
            if pruned { continue }
            let m: TopologyMeasurement
            do {
                m = try await measure(spec, fraction: 1)
            } catch {
                tuner.fail(trial.id)
                try await record(LineageEntry(round: round, source: .tuner, decision: .invalid, agent: name, parameters: trial.parameters, reason: error.message))
                continue
            }
            let reward = innerReward(of: name, in: spec, m)
            tuner.tell(trial.id, value: reward)
            results[trial.id] = (spec, m, reward, trial.parameters)
            try await record(LineageEntry(
                round: round, source: .tuner, decision: .trial, agent: name, parameters: trial.parameters,
                outerReward: judge.judge(m, of: spec).reward, innerReward: reward, metrics: m.metrics))
        }
        // The winner on the inner reward becomes a candidate version; the outer reward gates it.
        // Constraints come first: when some trials meet every constraint, the winner is the best
        // of those (the best inner reward of a topology that could never be adopted is no help).
        let feasible = results.filter { judge.judge($0.value.measurement, of: $0.value.spec).feasible }
        let pool = feasible.isEmpty ? results : feasible
        guard let winner = pool.sorted(by: { $0.key < $1.key }).map(\.value).max(by: { $0.reward < $1.reward }) else { return }
        guard winner.spec != current else { return }
        let edits = winner.parameters.sorted { $0.key < $1.key }.map { Edit(.setParameter, agent: name, parameter: $0.key, value: $0.value) }
        try await decide(winner.spec, winner.measurement, edits: edits, source: .tuner, agent: name, round: round, judge: judge, reason: nil)
    }

    // MARK: - Compositional

    private func compose(round: Int, fromArchitect: Bool, judge: OuterJudge) async throws(EvolutionError) {
        proposals += 1
        let source: LineageEntry.Source
        let outcome: Architect.Outcome
        if fromArchitect {
            source = architect.proposer.name == "offline" ? .offline : .architect
            let context = ArchitectContext(
                current: current, currentReward: currentVerdict.reward, failures: failures, history: Array(history.suffix(20)),
                elite: elite.map(\.spec))
            outcome = await architect.propose(context)
        } else {
            source = .composer
            if let edit = composer.randomEdit(for: current, using: &generator) {
                outcome = architect.check(Proposal(rationale: "composer edit", edits: [edit]), against: current)
            } else {
                outcome = .rejected(reason: "no edit applies", proposal: nil)
            }
        }
        switch outcome {
        case .rejected(let reason, let proposal):
            rejectedCount += 1
            failures.append(reason)
            try await record(LineageEntry(round: round, source: source, decision: .invalid, edits: proposal?.edits ?? [], reason: reason))
            say("\(source.rawValue) proposal refused: \(reason)")
        case .candidate(let spec, let proposal):
            let m: TopologyMeasurement
            do {
                m = try await measure(spec, fraction: 1)
            } catch {
                rejectedCount += 1
                failures.append(error.message)
                try await record(LineageEntry(round: round, source: source, decision: .invalid, edits: proposal.edits, reason: error.message))
                return
            }
            try await decide(spec, m, edits: proposal.edits, source: source, agent: nil, round: round, judge: judge, reason: proposal.rationale)
        }
    }

    /// Adopts `spec` when it is better than the current topology on valid: feasibility first, then
    /// the outer reward by at least `minimumGain`.
    private func decide(
        _ spec: TopologySpec, _ m: TopologyMeasurement, edits: [Edit], source: LineageEntry.Source, agent: String?, round: Int,
        judge: OuterJudge, reason: String?
    ) async throws(EvolutionError) {
        let verdict = judge.judge(m, of: spec)
        let better = (verdict.feasible && !currentVerdict.feasible)
            || (verdict.feasible == currentVerdict.feasible && verdict.reward >= currentVerdict.reward + configuration.minimumGain)
        var why = reason
        if !verdict.violations.isEmpty { why = verdict.violations.joined(separator: "; ") }
        if better {
            current = spec
            currentValid = m
            currentVerdict = verdict
            acceptedCount += 1
            elite.append((spec, verdict.reward))
            elite.sort { $0.reward > $1.reward }
            elite = Array(elite.prefix(5))
            say("accepted \(source.rawValue) \(edits.map(\.description).joined(separator: "; ")): valid \(f(verdict.reward))")
        } else {
            if source != .tuner { rejectedCount += 1 }
            if !verdict.feasible { failures.append(why ?? "infeasible") }
            if why == nil { why = "valid \(f(verdict.reward)) is not above \(f(currentVerdict.reward)) + \(configuration.minimumGain)" }
        }
        try await record(LineageEntry(
            round: round, source: source, decision: better ? .accepted : .rejected, agent: agent, edits: edits,
            outerReward: verdict.reward, metrics: m.metrics, reason: why, epoch: better ? spec.epoch : nil))
    }

    // MARK: - Support

    private var elapsed: Double {
        let d = started.duration(to: clock.now)
        return Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
    }

    private var outOfTime: Bool {
        guard let budget = configuration.budget else { return false }
        return started.duration(to: clock.now) >= budget
    }

    /// Measures on valid, once per distinct topology (versions and epoch do not change a measurement).
    private func measure(_ spec: TopologySpec, fraction: Double) async throws(EvolutionError) -> TopologyMeasurement {
        var key = spec
        key.epoch = 0
        for index in key.agents.indices { key.agents[index].version = "" }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let text = ((try? encoder.encode(key)).map { String(decoding: $0, as: UTF8.self) } ?? UUID().uuidString) + "@\(fraction)"
        if let hit = cache[text] { return hit }
        let m = try await objective.evaluate(spec, stage: .valid, fraction: fraction)
        evaluations += 1
        cache[text] = m
        return m
    }

    private func record(_ entry: LineageEntry) async throws(EvolutionError) {
        var entry = entry
        sequence += 1
        entry.sequence = sequence
        if entry.seconds == nil { entry.seconds = elapsed }
        history.append(entry)
        try await journal.record(entry)
    }

    private func say(_ line: String) { log?(line) }

    private func f(_ x: Double) -> String { String(format: "%.4f", x) }
}
