import COpenBLAS
public import Dataset

/// Implicit-feedback alternating least squares (Hu, Koren, Volinsky 2008): confidence
/// 1 + α on observed pairs, each half-step an exact ridge solve per row via LAPACK.
public struct ALS: Sendable {
    public struct Configuration: TunableConfiguration, Hashable {
        /// Latent dimension.
        public var factors: Int = 64
        /// L2 regularisation on both factor matrices.
        public var regularization: Double = 30
        /// Extra confidence on observed interactions.
        public var alpha: Double = 3
        /// Alternating sweeps.
        public var iterations: Int = 15
        /// Seed of the deterministic initialisation.
        public var seed: UInt64 = 42
        /// Confidence is 1 + α·(rating / max rating)^exponent; 0 ignores ratings.
        public var ratingExponent: Double = 0

        public init(factors: Int = 64, regularization: Double = 30, alpha: Double = 3,
                    iterations: Int = 15, seed: UInt64 = 42, ratingExponent: Double = 0) {
            self.factors = factors
            self.regularization = regularization
            self.alpha = alpha
            self.iterations = iterations
            self.seed = seed
            self.ratingExponent = ratingExponent
        }

        public static let decisionSpace = DecisionSpace(component: "als", parameters: [
            .int("factors", 4...512, default: 64, logScale: true),
            .double("regularization", 0.01...1000, default: 30, logScale: true),
            .double("alpha", 0.1...100, default: 3, logScale: true),
            .int("iterations", 1...100, default: 15),
            .double("ratingExponent", 0...3, default: 0),
        ])

        public init(values: [String: Double]) {
            factors = Int(Self.value("factors", in: values))
            regularization = Self.value("regularization", in: values)
            alpha = Self.value("alpha", in: values)
            iterations = Int(Self.value("iterations", in: values))
            ratingExponent = Self.value("ratingExponent", in: values)
        }
    }

    public struct Model: ScoringModel {
        public let training: InteractionMatrix
        public let factors: Int
        /// users × factors, row-major.
        public let userFactors: [Double]
        /// items × factors, row-major.
        public let itemFactors: [Double]

        /// A model from its parts (a fit, or an artifact of one).
        public init(training: InteractionMatrix, factors: Int, userFactors: [Double], itemFactors: [Double]) {
            self.training = training
            self.factors = factors
            self.userFactors = userFactors
            self.itemFactors = itemFactors
        }

        public func score(user: Int) -> [Double] {
            let n = training.columnCount, f = factors
            var s = [Double](repeating: 0, count: n)
            userFactors.withUnsafeBufferPointer { up in
                cblas_dgemv(CblasRowMajor, CblasNoTrans, blasint(n), blasint(f), 1.0, itemFactors, blasint(f),
                            up.baseAddress! + user * f, 1, 0.0, &s, 1)
            }
            return s
        }

        public func scoreAll() -> ScoreMatrix {
            let m = training.rowCount, n = training.columnCount
            return ScoreMatrix(userCount: m, itemCount: n,
                               values: Dense.multiply(userFactors, itemFactors, m: m, n: n, k: factors, transB: true))
        }

        /// YᵀY (factors × factors) of the item factors: what every fold-in starts from, so a
        /// serving agent computes it once.
        public func itemGram() -> [Double] {
            Dense.multiply(itemFactors, itemFactors, m: factors, n: factors, k: training.columnCount, transA: true)
        }

        /// Scores for a history the model was not fitted with: the user's factors solved
        /// against the fixed item factors, (YᵀY + αΣ wᵢyᵢyᵢᵀ + λI) x = Σ (1 + αwᵢ) yᵢ, as one
        /// half-step of the fit would, with each item's rating weight wᵢ. `gram` is
        /// ``itemGram()``. Nil when the system cannot be solved.
        public func foldIn(
            items: [Int], weights: [Double], gram: [Double], regularization: Double, alpha: Double
        ) -> [Double]? {
            let f = factors, n = training.columnCount
            var a = gram
            var b = [Double](repeating: 0, count: f)
            for k in 0..<f { a[k * f + k] += regularization }
            for (i, w) in zip(items, weights) where i >= 0 && i < n {
                let base = i * f
                for p in 0..<f {
                    let yp = itemFactors[base + p]
                    b[p] += (1 + alpha * w) * yp
                    for q in 0..<f { a[p * f + q] += alpha * w * yp * itemFactors[base + q] }
                }
            }
            let solved = a.withUnsafeMutableBufferPointer { a in
                b.withUnsafeMutableBufferPointer { b in Dense.solveSPD(a.baseAddress!, b.baseAddress!, n: f) }
            }
            guard solved else { return nil }
            var s = [Double](repeating: 0, count: n)
            cblas_dgemv(CblasRowMajor, CblasNoTrans, blasint(n), blasint(f), 1.0, itemFactors, blasint(f), b, 1, 0.0, &s, 1)
            return s
        }
    }

    public var configuration: Configuration

    public init(configuration: Configuration = .init()) { self.configuration = configuration }

    public func fit(on training: InteractionMatrix) throws(RecommenderError) -> Model {
        let c = configuration
        guard c.factors > 0, c.regularization > 0, c.alpha >= 0 else {
            throw RecommenderError(code: .invalidConfiguration, message: "ALS needs factors > 0, regularization > 0, alpha ≥ 0")
        }
        let byItem = training.transposed()
        var rng = c.seed
        func gaussianish() -> Double {
            // Sum of uniforms: cheap, deterministic, and small initial factors are all ALS needs.
            var s = 0.0
            for _ in 0..<4 {
                rng = SplitMix64.hash(rng)
                s += Double(rng >> 11) / Double(1 << 53) - 0.5
            }
            return s * 0.01
        }
        var users = (0..<(training.rowCount * c.factors)).map { _ in gaussianish() }
        var items = (0..<(training.columnCount * c.factors)).map { _ in gaussianish() }
        for _ in 0..<c.iterations {
            users = Self.solve(rows: training, fixed: items, factors: c.factors, reg: c.regularization, alpha: c.alpha,
                               ratingExponent: c.ratingExponent)
            items = Self.solve(rows: byItem, fixed: users, factors: c.factors, reg: c.regularization, alpha: c.alpha,
                               ratingExponent: c.ratingExponent)
        }
        return Model(training: training, factors: c.factors, userFactors: users, itemFactors: items)
    }

    /// One half-step: for each row r, (YᵀY + Y_rᵀ diag(c − 1) Y_r + reg I) x_r = Y_rᵀ c,
    /// with confidence c = 1 + α·w (w = 1, or the scaled rating to a power).
    static func solve(rows: InteractionMatrix, fixed: [Double], factors f: Int, reg: Double, alpha: Double,
                      ratingExponent: Double) -> [Double] {
        let otherCount = rows.columnCount
        let maximum = rows.values.max() ?? 1
        let yty = Dense.gram(fixed, rows: otherCount, n: f)
        var out = [Double](repeating: 0, count: rows.rowCount * f)
        out.withUnsafeMutableBufferPointer { buffer in
            let result = SendablePointer(buffer.baseAddress!)
            parallelChunks(rows.rowCount) { range in
                var a = [Double](repeating: 0, count: f * f)
                var b = [Double](repeating: 0, count: f)
                var gathered = [Double]()
                fixed.withUnsafeBufferPointer { y in
                    for r in range {
                        let cols = rows.row(r)
                        for k in 0..<(f * f) { a[k] = yty[k] }
                        for k in 0..<f { a[k * f + k] += reg; b[k] = 0 }
                        if !cols.isEmpty {
                            gathered.removeAll(keepingCapacity: true)
                            for e in rows.rowPointers[r]..<rows.rowPointers[r + 1] {
                                let base = y.baseAddress! + Int(rows.columns[e]) * f
                                let w = ratingExponent == 0 ? 1 : _pow(max(rows.values[e], 0) / maximum, ratingExponent)
                                let scale = _sqrt(alpha * w)
                                for k in 0..<f {
                                    b[k] += (1 + alpha * w) * base[k]
                                    gathered.append(scale * base[k])
                                }
                            }
                            cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, blasint(f), blasint(cols.count), 1.0,
                                        gathered, blasint(f), 1.0, &a, blasint(f))
                        }
                        let ok = a.withUnsafeMutableBufferPointer { ap in
                            b.withUnsafeMutableBufferPointer { bp in Dense.solveSPD(ap.baseAddress!, bp.baseAddress!, n: f) }
                        }
                        let dst = result.pointer + r * f
                        for k in 0..<f { dst[k] = ok ? b[k] : 0 }
                    }
                }
            }
        }
        return out
    }
}
