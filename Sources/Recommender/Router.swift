/// Segments users by history length so each segment can run its own pipeline:
/// co-occurrence models need history, so cold users get popularity and content.
public struct Router: Sendable {
    public enum Segment: String, Sendable, Codable, CaseIterable, Comparable {
        case cold
        case light
        case heavy

        public static func < (a: Segment, b: Segment) -> Bool {
            allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
        }
    }

    public struct Configuration: TunableConfiguration, Equatable {
        /// Users with at most this many known items are cold.
        public var coldMaximum: Int = 4
        /// Users with at least this many known items are heavy; the rest are light.
        public var heavyMinimum: Int = 100

        public init(coldMaximum: Int = 4, heavyMinimum: Int = 100) {
            self.coldMaximum = coldMaximum
            self.heavyMinimum = heavyMinimum
        }

        public static let decisionSpace = DecisionSpace(component: "router", parameters: [
            .int("coldMaximum", 0...50, default: 4),
            .int("heavyMinimum", 1...1000, default: 100, logScale: true),
        ])

        public init(values: [String: Double]) {
            coldMaximum = Int(Self.value("coldMaximum", in: values))
            heavyMinimum = Int(Self.value("heavyMinimum", in: values))
        }
    }

    public var configuration: Configuration

    public init(configuration: Configuration = .init()) { self.configuration = configuration }

    public func segment(historyLength n: Int) -> Segment {
        if n <= configuration.coldMaximum { return .cold }
        return n >= max(configuration.heavyMinimum, configuration.coldMaximum + 1) ? .heavy : .light
    }
}
