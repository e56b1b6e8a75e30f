public import Dataset

/// RP3beta (Paudel et al. 2017): three-step random-walk item similarity with the
/// transition probabilities raised to α and the target popularity divided out by β.
public struct RP3beta: Sendable {
    public struct Configuration: TunableConfiguration, Hashable {
        /// Exponent on the transition probabilities.
        public var alpha: Double = 0.75
        /// Popularity penalty exponent on the target item.
        public var beta: Double = 0.6
        /// Neighbours kept per source item.
        public var neighbours: Int = 1682
        /// Walk weights are (rating / max rating)^exponent instead of 1; 0 is binary.
        public var ratingExponent: Double = 0

        public init(alpha: Double = 0.75, beta: Double = 0.6, neighbours: Int = 1682, ratingExponent: Double = 0) {
            self.alpha = alpha
            self.beta = beta
            self.neighbours = neighbours
            self.ratingExponent = ratingExponent
        }

        public static let decisionSpace = DecisionSpace(component: "rp3beta", parameters: [
            .double("alpha", 0...2, default: 0.75),
            .double("beta", 0...1, default: 0.6),
            .int("neighbours", 5...5000, default: 1682, logScale: true),
            .double("ratingExponent", 0...3, default: 0),
        ])

        public init(values: [String: Double]) {
            alpha = Self.value("alpha", in: values)
            beta = Self.value("beta", in: values)
            neighbours = Int(Self.value("neighbours", in: values))
            ratingExponent = Self.value("ratingExponent", in: values)
        }
    }

    /// Scores with an item × item matrix, like the other neighbourhood models.
    public typealias Model = ItemToItemModel

    public var configuration: Configuration

    public init(configuration: Configuration = .init()) { self.configuration = configuration }

    public func fit(on training: InteractionMatrix) -> Model {
        let m = training.rowCount, n = training.columnCount
        let alpha = configuration.alpha, beta = configuration.beta
        let x = training.denseRatings(exponent: configuration.ratingExponent)
        let pop = training.columnCounts()
        var rowSums = [Double](repeating: 0, count: m), columnSums = [Double](repeating: 0, count: n)
        for u in 0..<m {
            for i in training.row(u) {
                let v = x[u * n + Int(i)]
                rowSums[u] += v
                columnSums[Int(i)] += v
            }
        }
        // P_ui = x_ui / Σ_j x_uj and P_iu = x_ui / Σ_v x_vi, both raised to α; W = P_iuᵀ-walk · P_ui.
        var forward = x, backward = x
        for u in 0..<m {
            for i in training.row(u) {
                let k = u * n + Int(i)
                forward[k] = _pow(x[k] / rowSums[u], alpha)
                backward[k] = _pow(x[k] / columnSums[Int(i)], alpha)
            }
        }
        var w = Dense.interactionProduct(backward, forward, pattern: training)
        // One power per target item, not per pair.
        let damping = pop.map { $0 > 0 ? _pow(Double($0), -beta) : 0 }
        for i in 0..<n {
            for j in 0..<n { w[i * n + j] = i == j ? 0 : w[i * n + j] * damping[j] }
        }
        Dense.pruneRows(&w, n: n, k: configuration.neighbours)
        return Model(training: training, weights: w, ratingExponent: configuration.ratingExponent)
    }
}
