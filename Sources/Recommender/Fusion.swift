/// Score fusion: calibrates each route per user, then takes a weighted sum.
///
/// Raw route scores live on unrelated scales (EASE regression outputs, random-walk
/// probabilities, counts), so each is first normalised over the user's unseen items.
public struct Fusion: Sendable {
    public enum Calibration: String, Sendable, Codable {
        /// (s − mean) / std over the user's unseen items.
        case zScore
        /// 1 / log2(rank + 2): heavy emphasis on each route's head.
        case reciprocalLogRank
    }

    public struct Configuration: Sendable, Equatable {
        /// Weight per route name; routes without a weight are ignored.
        public var weights: [String: Double]
        /// How raw scores are made comparable before weighting.
        public var calibration: Calibration = .zScore

        public init(weights: [String: Double], calibration: Calibration = .zScore) {
            self.weights = weights
            self.calibration = calibration
        }

        /// One non-negative weight per route.
        public static func decisionSpace(routes: [String]) -> DecisionSpace {
            DecisionSpace(component: "fusion", parameters: routes.map { .double("weight.\($0)", 0...1, default: 1) })
        }
    }

    public var configuration: Configuration

    public init(configuration: Configuration) { self.configuration = configuration }

    /// Fuses one user's route scores; `seen[i]` items are excluded from calibration and
    /// come back as −∞.
    public func fuse(_ routes: [String: ArraySlice<Double>], seen: [Bool]) -> [Double] {
        let n = seen.count
        var out = [Double](repeating: 0, count: n)
        for (name, w) in configuration.weights.sorted(by: { $0.key < $1.key }) where w != 0 {
            guard let s = routes[name] else { continue }
            let calibrated = Fusion.calibrate(s, seen: seen, method: configuration.calibration)
            for i in 0..<n { out[i] += w * calibrated[i] }
        }
        for i in 0..<n where seen[i] { out[i] = -.infinity }
        return out
    }

    /// Per-user calibration of one route's scores (seen items get 0).
    public static func calibrate(_ s: ArraySlice<Double>, seen: [Bool], method: Calibration) -> [Double] {
        let n = seen.count
        let base = s.startIndex
        var out = [Double](repeating: 0, count: n)
        switch method {
        case .zScore:
            var sum = 0.0, sq = 0.0, count = 0.0
            for i in 0..<n where !seen[i] {
                let v = s[base + i]
                sum += v; sq += v * v; count += 1
            }
            guard count > 0 else { return out }
            let mean = sum / count
            let sd = _sqrt(max(sq / count - mean * mean, 0))
            let inv = sd > 0 ? 1 / sd : 0
            for i in 0..<n where !seen[i] { out[i] = (s[base + i] - mean) * inv }
        case .reciprocalLogRank:
            var masked = Array(s)
            for i in 0..<n where seen[i] { masked[i] = -.infinity }
            for (r, i) in topK(masked, k: n).enumerated() { out[i] = 1 / _log2(Double(r) + 2) }
        }
        return out
    }
}

@inline(__always) func _log2(_ x: Double) -> Double { _log(x) / 0.6931471805599453 }
