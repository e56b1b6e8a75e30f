import COpenBLAS
public import Dataset

/// EASE (Steck 2019) and its dropout-regularised variants (Steck 2020, "Autoencoders
/// that don't overfit towards the identity"): P = (XᵀX + Λ)⁻¹ with
/// Λ = λI + d·diag(XᵀX), where d = p/(1−p) for dropout rate p.
///
/// With `zeroDiagonal` (EASE / EDLAE) B = I − P·diag(1/diag P) with a zero diagonal;
/// without it (DLAE) B = I − P·Λ, letting dropout alone keep B away from the identity.
public struct EASE: Sendable {
    public struct Configuration: TunableConfiguration, Hashable {
        /// L2 regularisation λ added to the Gram diagonal; larger favours popular items.
        public var lambda: Double = 300
        /// Dropout emphasis d = p/(1−p): extra penalty proportional to item popularity.
        public var dropout: Double = 0
        /// Constrain diag(B) = 0 (EASE/EDLAE); false gives the DLAE closed form.
        public var zeroDiagonal: Bool = true
        /// Input entries are (rating / max rating)^exponent; 0 is the binary matrix.
        /// Low ratings still count as interactions but say less about what comes next.
        /// λ is rescaled by the mean Gram diagonal so it keeps its binary meaning.
        public var ratingExponent: Double = 0
        /// Each user's rows enter the Gram matrix scaled by |history|^-δ, so heavy users
        /// do not dominate the item–item statistics (scoring is unaffected per user).
        public var userNormalization: Double = 0

        public init(lambda: Double = 300, dropout: Double = 0, zeroDiagonal: Bool = true, ratingExponent: Double = 0,
                    userNormalization: Double = 0) {
            self.lambda = lambda
            self.dropout = dropout
            self.zeroDiagonal = zeroDiagonal
            self.ratingExponent = ratingExponent
            self.userNormalization = userNormalization
        }

        public static let decisionSpace = DecisionSpace(component: "ease", parameters: [
            .double("lambda", 1...20_000, default: 300, logScale: true),
            .double("dropout", 0...4, default: 0),
            .int("zeroDiagonal", 0...1, default: 1),
            .double("ratingExponent", 0...3, default: 0),
            .double("userNormalization", 0...1, default: 0),
        ])

        public init(values: [String: Double]) {
            lambda = Self.value("lambda", in: values)
            dropout = Self.value("dropout", in: values)
            zeroDiagonal = Self.value("zeroDiagonal", in: values) != 0
            ratingExponent = Self.value("ratingExponent", in: values)
            userNormalization = Self.value("userNormalization", in: values)
        }
    }

    /// Scores with an item × item matrix, like the other neighbourhood models.
    public typealias Model = ItemToItemModel

    public var configuration: Configuration

    public init(configuration: Configuration = .init()) { self.configuration = configuration }

    public func fit(on training: InteractionMatrix) throws(RecommenderError) -> Model {
        let c = configuration
        guard c.lambda > 0, c.dropout >= 0 else {
            throw RecommenderError(code: .invalidConfiguration, message: "EASE needs lambda > 0 and dropout ≥ 0")
        }
        let n = training.columnCount
        var z = training.denseRatings(exponent: c.ratingExponent)
        if c.userNormalization != 0 {
            for u in 0..<training.rowCount where training.rowLength(u) > 0 {
                let f = _pow(Double(training.rowLength(u)), -c.userNormalization)
                for i in training.row(u) { z[u * n + Int(i)] *= f }
            }
        }
        var p = Dense.interactionProduct(z, z, pattern: training)
        var diagonal = 0.0
        for i in 0..<n { diagonal += p[i * n + i] }
        // Rescale λ by the mean Gram diagonal so it keeps its binary-matrix meaning.
        let reweighted = c.ratingExponent != 0 || c.userNormalization != 0
        let lambda = !reweighted || diagonal == 0 ? c.lambda : c.lambda * diagonal / Double(training.nonZeroCount)
        var penalty = [Double](repeating: 0, count: n)
        for i in 0..<n {
            penalty[i] = lambda + c.dropout * p[i * n + i]
            p[i * n + i] += penalty[i]
        }
        try Dense.invertSPD(&p, n: n)
        var b = [Double](repeating: 0, count: n * n)
        for i in 0..<n {
            for j in 0..<n {
                if c.zeroDiagonal {
                    b[i * n + j] = i == j ? 0 : -p[i * n + j] / p[j * n + j]
                } else {
                    b[i * n + j] = (i == j ? 1 : 0) - p[i * n + j] * penalty[j]
                }
            }
        }
        return Model(training: training, weights: b, ratingExponent: c.ratingExponent)
    }
}
