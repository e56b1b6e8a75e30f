public import Dataset

/// Most-popular items: the baseline route and the cold-start fallback.
public struct Popularity: Sendable {
    public struct Configuration: TunableConfiguration, Equatable {
        /// Exponent applied to counts; only ranks matter for a single route, but fusion
        /// sees the magnitude, and a value below 1 damps the head of the catalogue.
        public var exponent: Double = 1

        public init(exponent: Double = 1) { self.exponent = exponent }

        public static let decisionSpace = DecisionSpace(component: "popularity", parameters: [
            .double("exponent", 0.1...2, default: 1),
        ])

        public init(values: [String: Double]) {
            exponent = Self.value("exponent", in: values)
        }
    }

    public struct Model: ScoringModel {
        public let training: InteractionMatrix
        /// Per-item score (count^exponent).
        public let itemScores: [Double]

        public func score(user: Int) -> [Double] { itemScores }

        public func scoreAll() -> ScoreMatrix {
            var values = [Double]()
            values.reserveCapacity(training.rowCount * itemScores.count)
            for _ in 0..<training.rowCount { values += itemScores }
            return ScoreMatrix(userCount: training.rowCount, itemCount: itemScores.count, values: values)
        }
    }

    public var configuration: Configuration

    public init(configuration: Configuration = .init()) { self.configuration = configuration }

    public func fit(on training: InteractionMatrix) -> Model {
        let counts = training.columnCounts()
        return Model(training: training, itemScores: counts.map { [e = configuration.exponent] c in e == 1 ? Double(c) : _pow(Double(c), e) })
    }
}

