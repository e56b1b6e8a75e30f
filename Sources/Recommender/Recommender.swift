/// Recommender: the pure algorithms of agentic — recall routes (popularity, item-kNN,
/// RP3beta, EASE, ALS, content), learned rankers (listwise logistic, LambdaMART) and a
/// diversity re-ranker. The agents bind topology parameters to these configurations
/// (`Agents.KindBinding`); fusion and the router's rule still live with the
/// agents (`AgentRuntime`). No I/O: everything here takes an
/// ``Dataset/InteractionMatrix`` and item metadata and returns scores.
///
/// Every algorithm follows one shape: a `Configuration` (Sendable, documented fields
/// with defaults, a ``DecisionSpace`` for tuners), `fit(on:...)` returning an immutable
/// `Sendable` fitted model, then `score(user:)` / `recommend(user:k:excluding:)`.
public import Dataset

/// The single error type of the `Recommender` module.
public struct RecommenderError: Error, Sendable, Equatable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        enum Kind: String, Sendable {
            case invalidConfiguration
            case linearAlgebra
            case emptyTraining
        }
        let kind: Kind
        /// A configuration value is out of its declared range.
        public static let invalidConfiguration = Code(kind: .invalidConfiguration)
        /// A LAPACK routine reported failure (e.g. a matrix that is not positive definite).
        public static let linearAlgebra = Code(kind: .linearAlgebra)
        /// The training data holds nothing to learn from.
        public static let emptyTraining = Code(kind: .emptyTraining)
        public var description: String { kind.rawValue }
    }

    public let code: Code
    public let message: String

    public init(code: Code, message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }
}

/// One tunable parameter: its name, type and closed range.
public struct ParameterSpec: Sendable, Hashable, Codable {
    public enum Kind: String, Sendable, Hashable, Codable {
        case int
        case double
    }

    public var name: String
    public var kind: Kind
    public var minimum: Double
    public var maximum: Double
    public var defaultValue: Double
    /// Whether a tuner should search this range on a log scale.
    public var logScale: Bool

    public init(name: String, kind: Kind, minimum: Double, maximum: Double, defaultValue: Double,
                logScale: Bool = false) {
        self.name = name
        self.kind = kind
        self.minimum = minimum
        self.maximum = maximum
        self.defaultValue = defaultValue
        self.logScale = logScale
    }

    public static func int(_ name: String, _ range: ClosedRange<Int>, default value: Int,
                           logScale: Bool = false) -> ParameterSpec {
        ParameterSpec(name: name, kind: .int, minimum: Double(range.lowerBound),
                      maximum: Double(range.upperBound), defaultValue: Double(value), logScale: logScale)
    }

    public static func double(_ name: String, _ range: ClosedRange<Double>, default value: Double,
                              logScale: Bool = false) -> ParameterSpec {
        ParameterSpec(name: name, kind: .double, minimum: range.lowerBound, maximum: range.upperBound,
                      defaultValue: value, logScale: logScale)
    }

    /// Clamps (and rounds, for integers) a proposed value into the declared range.
    public func clamp(_ value: Double) -> Double {
        let v = Swift.min(Swift.max(value, minimum), maximum)
        return kind == .int ? v.rounded() : v
    }
}

/// The declared search space of one component, for a tuner to explore.
public struct DecisionSpace: Sendable, Hashable, Codable {
    public var component: String
    public var parameters: [ParameterSpec]

    public init(component: String, parameters: [ParameterSpec]) {
        self.component = component
        self.parameters = parameters
    }

    /// Every parameter at its default.
    public var defaults: [String: Double] {
        Dictionary(uniqueKeysWithValues: parameters.map { ($0.name, $0.defaultValue) })
    }
}

/// A configuration a tuner can read and write by parameter name.
public protocol TunableConfiguration: Sendable {
    static var decisionSpace: DecisionSpace { get }
    /// Builds a configuration from defaults overridden by `values` (clamped into range).
    init(values: [String: Double])
}

extension TunableConfiguration {
    static func value(_ name: String, in values: [String: Double]) -> Double {
        guard let spec = decisionSpace.parameters.first(where: { $0.name == name }) else {
            preconditionFailure("\(name) is not declared in \(decisionSpace.component)'s decision space")
        }
        return spec.clamp(values[name] ?? spec.defaultValue)
    }
}

/// Dense users × items scores, row-major.
public struct ScoreMatrix: Sendable {
    public let userCount: Int
    public let itemCount: Int
    public var values: [Double]

    public init(userCount: Int, itemCount: Int, values: [Double]) {
        precondition(values.count == userCount * itemCount)
        self.userCount = userCount
        self.itemCount = itemCount
        self.values = values
    }

    public func row(_ user: Int) -> ArraySlice<Double> {
        values[(user * itemCount)..<((user + 1) * itemCount)]
    }
}

/// A fitted model that scores every item for a user it was trained with.
public protocol ScoringModel: Sendable {
    /// The user × item matrix the model was fitted on; it defines each user's history.
    var training: InteractionMatrix { get }
    /// Scores of every item for `user` (higher is better); seen items are not masked.
    func score(user: Int) -> [Double]
    /// Scores for all users at once; models override it with one BLAS product.
    func scoreAll() -> ScoreMatrix
}

extension ScoringModel {
    public func scoreAll() -> ScoreMatrix {
        let users = training.rowCount, items = training.columnCount
        var values = [Double](repeating: 0, count: users * items)
        values.withUnsafeMutableBufferPointer { buffer in
            let out = SendablePointer(buffer.baseAddress!)
            parallelFor(users) { u in
                let s = score(user: u)
                for i in 0..<items { out.pointer[u * items + i] = s[i] }
            }
        }
        return ScoreMatrix(userCount: users, itemCount: items, values: values)
    }

    /// The `k` best items for `user`, excluding the user's training items and `excluding`;
    /// ties go to the lower item index (the lower raw id, since indices follow ids).
    public func recommend(user: Int, k: Int, excluding: Set<Int> = []) -> [Int] {
        var s = score(user: user)
        for i in training.row(user) { s[Int(i)] = -.infinity }
        for i in excluding where i < s.count { s[i] = -.infinity }
        return topK(s, k: k)
    }
}

/// Indices of the `k` largest finite values, best first, ties to the lower index.
public func topK<C: RandomAccessCollection>(_ scores: C, k: Int) -> [Int] where C.Element == Double, C.Index == Int {
    guard k > 0 else { return [] }
    // A bounded min-heap keyed on (score, -index) keeps this O(n log k) without sorting all items.
    var heap: [(Double, Int)] = []
    heap.reserveCapacity(k + 1)
    @inline(__always) func worse(_ a: (Double, Int), _ b: (Double, Int)) -> Bool {
        a.0 < b.0 || (a.0 == b.0 && a.1 > b.1)
    }
    let start = scores.startIndex
    for offset in 0..<scores.count {
        let v = scores[start + offset]
        guard v.isFinite else { continue }
        let e = (v, offset)
        if heap.count < k {
            heap.append(e)
            var c = heap.count - 1
            while c > 0 {
                let p = (c - 1) / 2
                if worse(heap[c], heap[p]) { heap.swapAt(c, p); c = p } else { break }
            }
        } else if worse(heap[0], e) {
            heap[0] = e
            var p = 0
            while true {
                let l = 2 * p + 1, r = l + 1
                var m = p
                if l < heap.count && worse(heap[l], heap[m]) { m = l }
                if r < heap.count && worse(heap[r], heap[m]) { m = r }
                if m == p { break }
                heap.swapAt(p, m)
                p = m
            }
        }
    }
    return heap.sorted { worse($1, $0) }.map(\.1)
}
