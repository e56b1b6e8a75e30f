import Foundation
public import Topology

/// A decision space as the tuner searches it: every dimension mapped onto [0, 1] (log-scaled ones in
/// log space, choices as indices), in name order so a seed always gives the same trials.
public struct SearchSpace: Sendable, Equatable {
    /// One searchable dimension.
    public struct Dimension: Sendable, Equatable {
        public let name: String
        public let dimension: DecisionDimension
    }

    /// The dimensions, sorted by name.
    public let dimensions: [Dimension]

    /// The space of `space`, an agent's `decision_space`.
    /// - Throws: ``EvolutionError/Code/invalidSpace`` for a dimension that cannot be searched.
    public init(_ space: [String: DecisionDimension]) throws(EvolutionError) {
        var dimensions: [Dimension] = []
        for (name, dimension) in space.sorted(by: { $0.key < $1.key }) {
            switch dimension.type {
            case .choice:
                guard let values = dimension.values, !values.isEmpty else {
                    throw EvolutionError(.invalidSpace, "\(name): a choice needs values")
                }
            case .int, .double:
                guard let low = dimension.min, let high = dimension.max, low <= high else {
                    throw EvolutionError(.invalidSpace, "\(name): a number needs min <= max")
                }
                if dimension.log && low <= 0 {
                    throw EvolutionError(.invalidSpace, "\(name): a log scale needs min > 0")
                }
            default:
                throw EvolutionError(.invalidSpace, "\(name): type \(dimension.type) is not searchable")
            }
            dimensions.append(Dimension(name: name, dimension: dimension))
        }
        self.dimensions = dimensions
    }

    /// Whether dimension `index` is a choice (searched by category, not by position).
    func isChoice(_ index: Int) -> Bool { dimensions[index].dimension.type == .choice }

    /// The number of categories of choice dimension `index`.
    func categoryCount(_ index: Int) -> Int { dimensions[index].dimension.values?.count ?? 0 }

    /// The value at unit position `u` (for a choice, `u` is the category index).
    func value(_ index: Int, at u: Double) -> ParameterValue {
        let d = dimensions[index].dimension
        switch d.type {
        case .choice:
            let values = d.values ?? []
            return .string(values[min(max(Int(u), 0), values.count - 1)])
        default:
            let low = d.min ?? 0, high = d.max ?? 0
            let clamped = min(max(u, 0), 1)
            var x = d.log ? exp(log(low) + clamped * (log(high) - log(low))) : low + clamped * (high - low)
            x = min(max(x, low), high)
            return d.type == .int ? .int(Int(x.rounded())) : .double(x)
        }
    }

    /// The unit position of `value`, or nil when it does not fit the dimension.
    func position(_ index: Int, of value: ParameterValue) -> Double? {
        let d = dimensions[index].dimension
        switch d.type {
        case .choice:
            guard let text = value.string, let i = d.values?.firstIndex(of: text) else { return nil }
            return Double(i)
        default:
            guard let x = value.number, let low = d.min, let high = d.max else { return nil }
            if high == low { return 0.5 }
            let u = d.log ? (log(max(x, low)) - log(low)) / (log(high) - log(low)) : (x - low) / (high - low)
            return min(max(u, 0), 1)
        }
    }

    /// A uniformly random assignment.
    func random(using generator: inout SeededGenerator) -> [String: ParameterValue] {
        var out: [String: ParameterValue] = [:]
        for index in dimensions.indices {
            let u = isChoice(index) ? Double(Int(generator.next() % UInt64(categoryCount(index)))) : generator.unit()
            out[dimensions[index].name] = value(index, at: u)
        }
        return out
    }
}
