import Dataset
import Synchronization

extension MovieLensData {
    /// The interaction matrices models are fitted on.
    enum Matrix: Sendable, Hashable {
        /// ``MovieLensData/training``: what the serving routes fit.
        case training
        /// ``MovieLensData/rankerFit``: what the learned ranker fits its upstream routes on.
        case rankerFit
    }

    subscript(matrix: Matrix) -> InteractionMatrix {
        switch matrix {
        case .training: training
        case .rankerFit: rankerFit
        }
    }
}

/// Fitted recall models shared by every agent made in this process, least recently used
/// first out.
///
/// An agent process fits once anyway, but offline evaluation makes the same agents many
/// times in one process, and every learned ranker refits its upstream routes on
/// ``MovieLensData/rankerFit``: with this, each (fit, data, matrix) is fitted once while it
/// stays among the last `capacity` used. Fits of different keys run side by side; a second
/// maker of a key being fitted waits for that fit instead of repeating it. A failed fit is
/// not kept, so the next maker tries again.
final class FitCache: Sendable {
    /// What identifies a fitted model: the parameters that shape it and its training matrix.
    struct Key: Sendable, Hashable {
        var fit: KindBinding.RecallFit
        /// ``MovieLensData/key``: the data set and training set.
        var data: String
        var matrix: MovieLensData.Matrix
    }

    /// The process's cache. An item × item model of MovieLens-100K is 23 MB, so 24 entries
    /// stay under about half a gigabyte.
    static let shared = FitCache(capacity: 24)

    /// One key's model, fitted at most once at a time: its lock is held while fitting.
    private final class Slot: Sendable {
        let model = Mutex<RecallModel?>(nil)
    }

    private struct Entries {
        var slots: [Key: (slot: Slot, used: UInt64)] = [:]
        var clock: UInt64 = 0
        var fits = 0
    }

    let capacity: Int
    private let entries = Mutex(Entries())

    init(capacity: Int) {
        self.capacity = max(capacity, 1)
    }

    /// The model for `key`: the cached one, or the one `fit` makes (then cached).
    func model(for key: Key, fit: () throws -> RecallModel) throws -> RecallModel {
        let slot = entries.withLock { entries in
            entries.clock += 1
            if let entry = entries.slots[key] {
                entries.slots[key]?.used = entries.clock
                return entry.slot
            }
            let slot = Slot()
            entries.slots[key] = (slot, entries.clock)
            if entries.slots.count > capacity,
                let oldest = entries.slots.min(by: { $0.value.used < $1.value.used })?.key
            {
                // A fit in progress under the evicted key still completes for its maker.
                entries.slots[oldest] = nil
            }
            return slot
        }
        return try slot.model.withLock { model in
            if let model { return model }
            let fitted = try fit()
            model = fitted
            entries.withLock { $0.fits += 1 }
            return fitted
        }
    }

    /// How many fits this cache has run (hits do not count).
    var fits: Int { entries.withLock { $0.fits } }

    /// Whether `key`'s model is cached now.
    func contains(_ key: Key) -> Bool {
        guard let slot = entries.withLock({ $0.slots[key]?.slot }) else { return false }
        return slot.model.withLock { $0 != nil }
    }
}
