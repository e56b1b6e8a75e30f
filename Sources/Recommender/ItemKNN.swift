public import Dataset

/// Item-based k-nearest neighbours with shrunk cosine similarity.
public struct ItemKNN: Sendable {
    public struct Configuration: TunableConfiguration, Hashable {
        /// Neighbours kept per item.
        public var neighbours: Int = 400
        /// Added to the cosine denominator so rare co-occurrences count less.
        public var shrinkage: Double = 0
        /// Item vectors hold (rating / max rating)^exponent instead of 1; 0 is binary.
        public var ratingExponent: Double = 0

        public init(neighbours: Int = 400, shrinkage: Double = 0, ratingExponent: Double = 0) {
            self.neighbours = neighbours
            self.shrinkage = shrinkage
            self.ratingExponent = ratingExponent
        }

        public static let decisionSpace = DecisionSpace(component: "itemknn", parameters: [
            .int("neighbours", 5...5000, default: 400, logScale: true),
            .double("shrinkage", 0...500, default: 0),
            .double("ratingExponent", 0...3, default: 0),
        ])

        public init(values: [String: Double]) {
            neighbours = Int(Self.value("neighbours", in: values))
            shrinkage = Self.value("shrinkage", in: values)
            ratingExponent = Self.value("ratingExponent", in: values)
        }
    }

    /// Scores with an item × item matrix, like the other neighbourhood models.
    public typealias Model = ItemToItemModel

    public var configuration: Configuration

    public init(configuration: Configuration = .init()) { self.configuration = configuration }

    public func fit(on training: InteractionMatrix) -> Model {
        let n = training.columnCount
        let ratings = training.denseRatings(exponent: configuration.ratingExponent)
        var s = Dense.interactionProduct(ratings, ratings, pattern: training)
        let norms = (0..<n).map { _sqrt(s[$0 * n + $0]) }
        for i in 0..<n {
            for j in 0..<n {
                s[i * n + j] = i == j ? 0 : s[i * n + j] / (norms[i] * norms[j] + configuration.shrinkage + 1e-9)
            }
        }
        Dense.pruneRows(&s, n: n, k: configuration.neighbours)
        return Model(training: training, weights: s, ratingExponent: configuration.ratingExponent)
    }
}
