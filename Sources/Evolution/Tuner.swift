import Foundation
public import Topology

/// Ask/tell black-box search over one decision space, maximising a reward.
///
/// The first `startupTrials` trials are uniform random; after that a Tree-structured Parzen
/// Estimator (TPE) proposes: the finished trials are split into the best `gamma` share and the rest,
/// each side becomes a per-dimension Parzen density (Gaussian kernels in unit space, smoothed
/// frequencies for choices), and of `candidates` draws from the good density the one with the highest
/// good/bad density ratio is asked. A trial may report intermediate values (e.g. the reward on a
/// growing share of the valid users); it is pruned when its value at a step falls below the median of
/// what earlier trials reported at that step. Everything random comes from the seed.
public struct Tuner: Sendable {
    /// Options of a ``Tuner``.
    public struct Configuration: Sendable {
        /// Trials drawn uniformly before TPE takes over.
        public var startupTrials: Int
        /// Share of finished trials TPE treats as good.
        public var gamma: Double
        /// Draws from the good density compared per ask.
        public var candidates: Int
        /// Finished trials needed at a step before pruning is considered there.
        public var pruningWarmupTrials: Int
        /// The seed of every random choice.
        public var seed: UInt64

        public init(
            startupTrials: Int = 8, gamma: Double = 0.15, candidates: Int = 24, pruningWarmupTrials: Int = 4,
            seed: UInt64 = 1
        ) {
            self.startupTrials = startupTrials
            self.gamma = gamma
            self.candidates = candidates
            self.pruningWarmupTrials = pruningWarmupTrials
            self.seed = seed
        }
    }

    /// One asked trial.
    public struct Trial: Sendable, Equatable {
        /// Its number, from 0.
        public let id: Int
        /// The values to try.
        public let parameters: [String: ParameterValue]
    }

    /// What became of a trial.
    public enum State: String, Sendable, Codable {
        case running, complete, pruned
    }

    struct Record {
        var parameters: [String: ParameterValue]
        var positions: [Double]
        var state: State
        var value: Double?
        var intermediate: [Int: Double]
    }

    public let space: SearchSpace
    public let configuration: Configuration
    private var generator: SeededGenerator
    private var records: [Record] = []
    private var queued: [[String: ParameterValue]] = []

    public init(space: SearchSpace, configuration: Configuration = Configuration()) {
        self.space = space
        self.configuration = configuration
        self.generator = SeededGenerator(seed: configuration.seed)
    }

    /// Makes `parameters` the next trial asked (e.g. the agent's current setting, as a baseline).
    public mutating func enqueue(_ parameters: [String: ParameterValue]) {
        queued.append(parameters)
    }

    /// The next trial to evaluate.
    public mutating func ask() -> Trial {
        let parameters: [String: ParameterValue]
        if !queued.isEmpty {
            parameters = completed(queued.removeFirst())
        } else if finished.count < configuration.startupTrials {
            parameters = space.random(using: &generator)
        } else {
            parameters = tpe()
        }
        let positions = space.dimensions.indices.map { space.position($0, of: parameters[space.dimensions[$0].name]!) ?? 0.5 }
        records.append(Record(parameters: parameters, positions: positions, state: .running, value: nil, intermediate: [:]))
        return Trial(id: records.count - 1, parameters: parameters)
    }

    /// Records an intermediate `value` of trial `id` at `step`.
    /// - Returns: Whether the trial should stop now (it is then marked pruned).
    public mutating func report(_ id: Int, step: Int, value: Double) -> Bool {
        guard records.indices.contains(id), records[id].state == .running else { return false }
        records[id].intermediate[step] = value
        let peers = records.enumerated().compactMap { index, record -> Double? in
            index == id || record.state == .running ? nil : record.intermediate[step]
        }
        guard peers.count >= configuration.pruningWarmupTrials else { return false }
        let sorted = peers.sorted()
        let median = sorted.count % 2 == 1
            ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
        if value < median {
            records[id].state = .pruned
            records[id].value = value
            return true
        }
        return false
    }

    /// Records the final reward of trial `id`.
    public mutating func tell(_ id: Int, value: Double) {
        guard records.indices.contains(id), records[id].state == .running else { return }
        records[id].state = .complete
        records[id].value = value.isFinite ? value : -Double.greatestFiniteMagnitude
    }

    /// Marks trial `id` as failed: it counts as bad, never as best.
    public mutating func fail(_ id: Int) {
        guard records.indices.contains(id), records[id].state == .running else { return }
        records[id].state = .pruned
        records[id].value = -Double.greatestFiniteMagnitude
    }

    /// The best finished trial and its reward.
    public var best: (parameters: [String: ParameterValue], value: Double)? {
        records.filter { $0.state == .complete }.max { $0.value! < $1.value! }.map { ($0.parameters, $0.value!) }
    }

    /// The id of the best finished trial.
    public var bestID: Int? {
        records.indices.filter { records[$0].state == .complete }.max { records[$0].value! < records[$1].value! }
    }

    /// How many trials were pruned.
    public var prunedCount: Int { records.filter { $0.state == .pruned }.count }

    /// How many trials were asked.
    public var trialCount: Int { records.count }

    private var finished: [Record] { records.filter { $0.state != .running } }

    /// `parameters` with every dimension filled (missing ones take the middle of their range).
    private func completed(_ parameters: [String: ParameterValue]) -> [String: ParameterValue] {
        var out = parameters
        for index in space.dimensions.indices where out[space.dimensions[index].name] == nil
            || space.position(index, of: out[space.dimensions[index].name]!) == nil
        {
            out[space.dimensions[index].name] = space.value(
                index, at: space.isChoice(index) ? 0 : 0.5)
        }
        return out
    }

    // MARK: - TPE

    private mutating func tpe() -> [String: ParameterValue] {
        let done = finished.sorted { ($0.value ?? -.infinity) > ($1.value ?? -.infinity) }
        let goodCount = max(1, Int((configuration.gamma * Double(done.count)).rounded(.up)))
        let good = Array(done.prefix(goodCount)), bad = Array(done.dropFirst(goodCount))
        var bestScore = -Double.infinity
        var bestPositions: [Double] = []
        for candidate in 0..<max(1, configuration.candidates) {
            // Every third candidate is drawn uniformly: the ratio still judges it, but the search
            // does not collapse onto the first good region it found.
            let explore = candidate % 3 == 2
            var positions: [Double] = []
            var score = 0.0
            for index in space.dimensions.indices {
                let u: Double
                if space.isChoice(index) {
                    let n = space.categoryCount(index)
                    let weights = categorical(good.map { $0.positions[index] }, n)
                    u = explore ? Double(Int(generator.next() % UInt64(n))) : Double(pick(weights))
                    score += log(weights[Int(u)]) - log(categorical(bad.map { $0.positions[index] }, n)[Int(u)])
                } else {
                    let goodPoints = good.map { $0.positions[index] }
                    u = explore ? generator.unit() : sampleParzen(goodPoints)
                    score += log(parzen(u, goodPoints)) - log(parzen(u, bad.map { $0.positions[index] }))
                }
                positions.append(u)
            }
            if score > bestScore {
                bestScore = score
                bestPositions = positions
            }
        }
        var out: [String: ParameterValue] = [:]
        for index in space.dimensions.indices {
            out[space.dimensions[index].name] = space.value(index, at: bestPositions[index])
        }
        return out
    }

    /// Smoothed category frequencies (one pseudo-count each, so nothing is ruled out).
    private func categorical(_ points: [Double], _ n: Int) -> [Double] {
        var counts = [Double](repeating: 1, count: n)
        for p in points where Int(p) < n { counts[Int(p)] += 1 }
        let total = counts.reduce(0, +)
        return counts.map { $0 / total }
    }

    private mutating func pick(_ weights: [Double]) -> Int {
        var r = generator.unit()
        for (i, w) in weights.enumerated() {
            r -= w
            if r < 0 { return i }
        }
        return weights.count - 1
    }

    /// The kernel width for `points`: Scott's rule on their spread, so it narrows as the good
    /// trials concentrate, kept between 0.02 and 0.5 of the unit range.
    private func bandwidth(_ points: [Double]) -> Double {
        guard points.count > 1 else { return 0.5 }
        let mean = points.reduce(0, +) / Double(points.count)
        let sd = (points.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(points.count - 1)).squareRoot()
        return min(0.5, max(0.08, 1.06 * sd * pow(Double(points.count), -0.2)))
    }

    /// The Parzen density at `u`: a kernel per point plus a flat prior (weight of one point).
    private func parzen(_ u: Double, _ points: [Double]) -> Double {
        let h = bandwidth(points)
        var sum = 1.0  // the uniform prior on [0, 1]
        for p in points {
            let z = (u - p) / h
            sum += exp(-0.5 * z * z) / (h * (2 * Double.pi).squareRoot())
        }
        return sum / Double(points.count + 1)
    }

    private mutating func sampleParzen(_ points: [Double]) -> Double {
        let choice = Int(generator.next() % UInt64(points.count + 1))
        if choice == points.count { return generator.unit() }
        let x = points[choice] + bandwidth(points) * generator.normal()
        return min(max(x, 0), 1)
    }
}
