import COpenBLAS

/// A linear ranker over candidate features, fitted by Newton's method with an L2
/// penalty, either pointwise (logistic loss per candidate) or listwise (softmax over
/// each user's candidates, which targets the head of the list like NDCG does).
/// Linear on purpose: it transfers from the validation fit (routes trained on train)
/// to serving (routes trained on more data) better than trees, whose split thresholds
/// latch onto exact score scales.
public struct LogisticRanker: Sendable {
    public enum Objective: String, Sendable, Codable {
        case pointwise
        case listwise
    }

    public struct Configuration: TunableConfiguration, Equatable {
        /// Loss; listwise needs the per-user group sizes at fit time.
        public var objective: Objective = .pointwise
        /// L2 penalty on standardised weights (not on the bias).
        public var l2: Double = 1
        /// Newton iterations; the problem is convex, so a handful suffice.
        public var iterations: Int = 12
        /// Weight of each positive example relative to a negative one.
        public var positiveWeight: Double = 1

        public init(l2: Double = 1, iterations: Int = 12, positiveWeight: Double = 1, objective: Objective = .pointwise) {
            self.objective = objective
            self.l2 = l2
            self.iterations = iterations
            self.positiveWeight = positiveWeight
        }

        public static let decisionSpace = DecisionSpace(component: "ranker", parameters: [
            .double("l2", 1e-4...1e4, default: 1, logScale: true),
            .int("iterations", 1...50, default: 12),
            .double("positiveWeight", 0.1...100, default: 1, logScale: true),
            .int("listwise", 0...1, default: 0),
        ])

        public init(values: [String: Double]) {
            l2 = Self.value("l2", in: values)
            iterations = Int(Self.value("iterations", in: values))
            positiveWeight = Self.value("positiveWeight", in: values)
            objective = Self.value("listwise", in: values) != 0 ? .listwise : .pointwise
        }
    }

    public struct Model: Sendable, Codable, Equatable {
        public let featureNames: [String]
        public let means: [Double]
        public let scales: [Double]
        /// Weights on standardised features.
        public let weights: [Double]
        public let bias: Double

        /// The logit of one feature row.
        public func score(_ features: UnsafeBufferPointer<Double>) -> Double {
            var z = bias
            for k in 0..<weights.count { z += weights[k] * (features[k] - means[k]) * scales[k] }
            return z
        }

        public func score(_ features: [Double]) -> Double {
            features.withUnsafeBufferPointer { score($0) }
        }
    }

    public var configuration: Configuration

    public init(configuration: Configuration = .init()) { self.configuration = configuration }

    /// Fits on a row-major `labels.count × featureNames.count` matrix; `groups` are the
    /// consecutive per-user row counts (required for the listwise objective).
    public func fit(features: [Double], labels: [Bool], featureNames: [String], groups: [Int] = []) throws(RecommenderError) -> Model {
        let d = featureNames.count, rows = labels.count
        guard rows > 0, features.count == rows * d else {
            throw RecommenderError(code: .emptyTraining, message: "ranker needs a non-empty rows × features matrix")
        }
        guard labels.contains(true), labels.contains(false) else {
            throw RecommenderError(code: .emptyTraining, message: "ranker needs both positive and negative examples")
        }
        var means = [Double](repeating: 0, count: d), scales = [Double](repeating: 1, count: d)
        for k in 0..<d {
            var s = 0.0, q = 0.0
            for r in 0..<rows { let v = features[r * d + k]; s += v; q += v * v }
            let m = s / Double(rows)
            let sd = _sqrt(max(q / Double(rows) - m * m, 0))
            means[k] = m
            scales[k] = sd > 1e-12 ? 1 / sd : 0
        }
        // Standardised design with a trailing bias column.
        let p = d + 1
        var x = [Double](repeating: 0, count: rows * p)
        for r in 0..<rows {
            for k in 0..<d { x[r * p + k] = (features[r * d + k] - means[k]) * scales[k] }
            x[r * p + d] = 1
        }
        if configuration.objective == .listwise {
            guard groups.reduce(0, +) == rows else {
                throw RecommenderError(code: .invalidConfiguration, message: "listwise ranker needs group sizes summing to the row count")
            }
            let w = try fitListwise(x: x, p: d + 1, d: d, labels: labels, groups: groups)
            return Model(featureNames: featureNames, means: means, scales: scales, weights: w, bias: 0)
        }
        var beta = [Double](repeating: 0, count: p)
        let positives = Double(labels.filter { $0 }.count)
        beta[d] = _log(positives / (Double(rows) - positives))
        var eta = [Double](repeating: 0, count: rows)
        var wx = [Double](repeating: 0, count: rows * p)
        for _ in 0..<configuration.iterations {
            cblas_dgemv(CblasRowMajor, CblasNoTrans, blasint(rows), blasint(p), 1.0, x, blasint(p), beta, 1, 0.0, &eta, 1)
            var gradient = [Double](repeating: 0, count: p)
            for r in 0..<rows {
                let prob = 1 / (1 + _exp(-eta[r]))
                let weight = labels[r] ? configuration.positiveWeight : 1
                let residual = weight * ((labels[r] ? 1 : 0) - prob)
                let curvature = _sqrt(weight * max(prob * (1 - prob), 1e-10))
                for k in 0..<p {
                    gradient[k] += residual * x[r * p + k]
                    wx[r * p + k] = curvature * x[r * p + k]
                }
            }
            var hessian = Dense.gram(wx, rows: rows, n: p)
            for k in 0..<d {
                hessian[k * p + k] += configuration.l2
                gradient[k] -= configuration.l2 * beta[k]
            }
            let ok = hessian.withUnsafeMutableBufferPointer { h in
                gradient.withUnsafeMutableBufferPointer { g in Dense.solveSPD(h.baseAddress!, g.baseAddress!, n: p) }
            }
            guard ok else { throw RecommenderError(code: .linearAlgebra, message: "ranker Hessian is singular") }
            var change = 0.0
            for k in 0..<p { beta[k] += gradient[k]; change = max(change, abs(gradient[k])) }
            if change < 1e-7 { break }
        }
        return Model(featureNames: featureNames, means: means, scales: scales,
                     weights: Array(beta[0..<d]), bias: beta[d])
    }

    /// Newton's method on the mean per-user softmax cross-entropy (uniform over the
    /// user's positives); the bias cancels inside a softmax, so only `d` weights.
    func fitListwise(x: [Double], p: Int, d: Int, labels: [Bool], groups: [Int]) throws(RecommenderError) -> [Double] {
        var w = [Double](repeating: 0, count: d)
        var starts: [Int] = []
        var offset = 0
        for g in groups { starts.append(offset); offset += g }
        let active = (0..<groups.count).filter { g in (starts[g]..<(starts[g] + groups[g])).contains { labels[$0] } }
        guard !active.isEmpty else {
            throw RecommenderError(code: .emptyTraining, message: "listwise ranker needs users with positives")
        }
        let users = Double(active.count)
        func lossAndDerivatives(_ w: [Double], derivatives: Bool) -> (Double, [Double], [Double]) {
            var loss = 0.0
            var gradient = [Double](repeating: 0, count: d), hessian = [Double](repeating: 0, count: d * d)
            var scores: [Double] = [], mean = [Double](repeating: 0, count: d)
            for g in active {
                let lo = starts[g], hi = lo + groups[g]
                scores.removeAll(keepingCapacity: true)
                var top = -Double.infinity
                for r in lo..<hi {
                    var s = 0.0
                    for k in 0..<d { s += w[k] * x[r * p + k] }
                    scores.append(s)
                    top = max(top, s)
                }
                var z = 0.0
                for s in scores { z += _exp(s - top) }
                let logZ = top + _log(z)
                var positives = 0.0
                var positiveLoss = 0.0
                for r in lo..<hi where labels[r] { positives += 1; positiveLoss -= scores[r - lo] - logZ }
                loss += positiveLoss / positives
                guard derivatives else { continue }
                // Gradient of mean-positive cross-entropy: E_softmax[x] − mean_positive[x].
                for k in 0..<d { mean[k] = 0 }
                for r in lo..<hi {
                    let prob = _exp(scores[r - lo] - logZ)
                    let target = labels[r] ? 1 / positives : 0
                    for k in 0..<d {
                        let v = x[r * p + k]
                        gradient[k] += (prob - target) * v / users
                        mean[k] += prob * v
                    }
                    for a in 0..<d {
                        let pa = prob * x[r * p + a]
                        if pa == 0 { continue }
                        for b in a..<d { hessian[a * d + b] += pa * x[r * p + b] / users }
                    }
                }
                for a in 0..<d { for b in a..<d { hessian[a * d + b] -= mean[a] * mean[b] / users } }
            }
            return (loss / users, gradient, hessian)
        }
        let l2 = configuration.l2 / users
        for _ in 0..<configuration.iterations {
            var (loss, gradient, hessian) = lossAndDerivatives(w, derivatives: true)
            loss += 0.5 * l2 * w.reduce(0) { $0 + $1 * $1 }
            for a in 0..<d {
                gradient[a] += l2 * w[a]
                hessian[a * d + a] += l2 + 1e-9
                for b in 0..<a { hessian[a * d + b] = hessian[b * d + a] }
            }
            var step = gradient
            let ok = hessian.withUnsafeMutableBufferPointer { h in
                step.withUnsafeMutableBufferPointer { g in Dense.solveSPD(h.baseAddress!, g.baseAddress!, n: d) }
            }
            guard ok else { throw RecommenderError(code: .linearAlgebra, message: "listwise Hessian is singular") }
            // Damped Newton: halve the step until the penalised loss does not increase.
            var t = 1.0
            var accepted = false
            while t > 1e-4 {
                let trial = (0..<d).map { w[$0] - t * step[$0] }
                let trialLoss = lossAndDerivatives(trial, derivatives: false).0 + 0.5 * l2 * trial.reduce(0) { $0 + $1 * $1 }
                if trialLoss <= loss + 1e-12 { w = trial; accepted = true; break }
                t /= 2
            }
            if !accepted || step.reduce(0, { max($0, abs($1)) }) * t < 1e-7 { break }
        }
        return w
    }
}
