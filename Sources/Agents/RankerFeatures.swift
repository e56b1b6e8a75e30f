import AgentProtocol
import Dataset
import Foundation

/// When things happened in a training matrix: each item's interaction times and each user's
/// active period. Time says much on MovieLens: an item first rated after a user's last
/// rating is an unlikely pick, and what was popular while the user was active is a likely one.
struct Timeline: Sendable {
    /// Each item's interaction timestamps, ascending (items feedback introduced have none).
    let itemTimes: [[Int]]
    /// Release year per item, the catalogue mean where unknown.
    let releaseYear: [Double]
    let meanReleaseYear: Double
    /// Each known user's first and last interaction time.
    let userSpan: [String: (first: Int, last: Int)]

    init(data: MovieLensData, matrix: InteractionMatrix) {
        var times = [[Int]](repeating: [], count: matrix.columnCount)
        var span: [String: (first: Int, last: Int)] = [:]
        for row in 0..<matrix.rowCount where matrix.rowLength(row) > 0 {
            var first = Int.max, last = Int.min
            for (column, time) in zip(matrix.row(row), matrix.rowTimestamps(row)) {
                times[Int(column)].append(time)
                first = min(first, time)
                last = max(last, time)
            }
            span[String(data.index.userIDs[row])] = (first, last)
        }
        itemTimes = times.map { $0.sorted() }
        let known = data.items.compactMap(\.releaseYear)
        let mean = known.isEmpty ? 1990 : Double(known.reduce(0, +)) / Double(known.count)
        meanReleaseYear = mean
        releaseYear = data.items.map { $0.releaseYear.map(Double.init) ?? mean }
        userSpan = span
    }

    /// How many of `times` (ascending) are at most `t`.
    static func countAtMost(_ times: [Int], _ t: Int) -> Int {
        var low = 0, high = times.count
        while low < high {
            let middle = (low + high) / 2
            if times[middle] <= t { low = middle + 1 } else { high = middle }
        }
        return low
    }
}

/// The ranker's features of one candidate, from what fusion passes on and the live data:
/// per upstream route its calibrated score (or a floor when the route did not propose the
/// item) and whether it proposed it; the fused score; log popularity; the user's affinity to
/// the item's genres; release year; months between the item's first rating and the user's
/// last; the item's share of its ratings given while the user was active; the history's size.
struct RankerFeatures: Sendable {
    let routes: [String]
    let timeline: Timeline
    /// Stands in for a route's calibrated score when the route did not propose the item.
    static let missing = -3.0
    /// The user's active period widened by this on both sides, for the window popularity.
    static let windowMargin = 14 * 86_400
    static let month = 30.0 * 86_400

    var names: [String] {
        routes.flatMap { ["score.\($0)", "proposed.\($0)"] }
            + ["fused", "log_popularity", "genre_affinity", "release_year", "first_seen_gap", "window_popularity",
               "log_history"]
    }

    /// Row-major candidates × names.count.
    func matrix(_ candidates: [ScoredItem], user: String, live: LiveData) -> [Double] {
        var genreCounts = [Double](repeating: 0, count: 64)
        let history = live.history(user).items
        for item in history {
            var bits = live.genres[item]
            while bits != 0 { genreCounts[bits.trailingZeroBitCount] += 1; bits &= bits - 1 }
        }
        let historyCount = Double(max(history.count, 1))
        let logHistory = log(1 + Double(history.count))
        // Feedback carries no time: a user's period is what the training matrix saw.
        let span = timeline.userSpan[user]
        var out: [Double] = []
        out.reserveCapacity(candidates.count * names.count)
        for candidate in candidates {
            for route in routes {
                let score = candidate.sources?[route]
                out.append(score ?? Self.missing)
                out.append(score == nil ? 0 : 1)
            }
            out.append(candidate.score)
            let index = live.itemIndex(candidate.item)
            out.append(index.map { live.logPopularity[$0] } ?? 0)
            var affinity = 0.0
            if let index {
                var bits = live.genres[index]
                let count = Double(max(bits.nonzeroBitCount, 1))
                while bits != 0 { affinity += genreCounts[bits.trailingZeroBitCount]; bits &= bits - 1 }
                affinity /= historyCount * count
            }
            out.append(affinity)
            let known = index.flatMap { $0 < timeline.itemTimes.count ? $0 : nil }
            out.append(((known.map { timeline.releaseYear[$0] } ?? timeline.meanReleaseYear) - 1990) / 10)
            let times = known.map { timeline.itemTimes[$0] } ?? []
            if let span, let firstRated = times.first {
                out.append(min(max(Double(firstRated - span.last) / Self.month, -12), 12))
                let inWindow = Timeline.countAtMost(times, span.last + Self.windowMargin)
                    - Timeline.countAtMost(times, span.first - Self.windowMargin - 1)
                out.append(log(1 + Double(inWindow)) - log(1 + Double(times.count)))
            } else {
                // An unknown user or an item nobody rated yet: no evidence either way.
                out.append(0)
                out.append(0)
            }
            out.append(logHistory)
        }
        return out
    }
}
