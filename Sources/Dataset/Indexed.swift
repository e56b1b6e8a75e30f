import Foundation

/// One stored entry of an ``InteractionMatrix``.
public struct MatrixEntry: Sendable, Hashable {
    public var row: Int
    public var column: Int
    public var timestamp: Int
    /// The explicit rating (1 where there is none); the matrix itself is binary.
    public var value: Double

    public init(row: Int, column: Int, timestamp: Int = 0, value: Double = 1) {
        self.row = row
        self.column = column
        self.timestamp = timestamp
        self.value = value
    }
}

/// Compressed sparse rows of a binary user × item matrix, with the event timestamps
/// and ratings kept alongside so time- and rating-aware models need no second structure.
public struct InteractionMatrix: Sendable {
    public let rowCount: Int
    public let columnCount: Int
    /// `rowPointers[r]..<rowPointers[r+1]` indexes `columns`, `timestamps` and `values` for row `r`.
    public let rowPointers: [Int]
    /// Column indices, ascending within each row.
    public let columns: [Int32]
    public let timestamps: [Int]
    /// Explicit ratings aligned with `columns`.
    public let values: [Double]

    /// Builds the matrix from (row, column, timestamp) triples with unit values.
    public init(rowCount: Int, columnCount: Int, entries: [(row: Int, column: Int, timestamp: Int)]) {
        self.init(rowCount: rowCount, columnCount: columnCount,
                  entries: entries.map { MatrixEntry(row: $0.row, column: $0.column, timestamp: $0.timestamp) })
    }

    /// Builds the matrix; duplicates keep the earliest event, because each pair counts
    /// as one implicit interaction.
    public init(rowCount: Int, columnCount: Int, entries: [MatrixEntry]) {
        self.rowCount = rowCount
        self.columnCount = columnCount
        let sorted = entries.sorted { ($0.row, $0.column, $0.timestamp) < ($1.row, $1.column, $1.timestamp) }
        var pointers = [Int](repeating: 0, count: rowCount + 1)
        var cols: [Int32] = [], times: [Int] = [], vals: [Double] = []
        cols.reserveCapacity(sorted.count)
        times.reserveCapacity(sorted.count)
        vals.reserveCapacity(sorted.count)
        var last: (Int, Int) = (-1, -1)
        for e in sorted where (e.row, e.column) != last {
            precondition(e.row >= 0 && e.row < rowCount && e.column >= 0 && e.column < columnCount,
                         "interaction index out of range")
            last = (e.row, e.column)
            cols.append(Int32(e.column))
            times.append(e.timestamp)
            vals.append(e.value)
            pointers[e.row + 1] += 1
        }
        for r in 0..<rowCount { pointers[r + 1] += pointers[r] }
        rowPointers = pointers
        columns = cols
        timestamps = times
        values = vals
    }

    public var nonZeroCount: Int { columns.count }

    /// The column indices of row `r` (a user's items, or an item's users when transposed).
    @inlinable public func row(_ r: Int) -> ArraySlice<Int32> { columns[rowPointers[r]..<rowPointers[r + 1]] }

    /// The timestamps of row `r`, aligned with ``row(_:)``.
    @inlinable public func rowTimestamps(_ r: Int) -> ArraySlice<Int> { timestamps[rowPointers[r]..<rowPointers[r + 1]] }

    @inlinable public func rowLength(_ r: Int) -> Int { rowPointers[r + 1] - rowPointers[r] }

    public func contains(row r: Int, column c: Int) -> Bool {
        var lo = rowPointers[r], hi = rowPointers[r + 1]
        let target = Int32(c)
        while lo < hi {
            let mid = (lo + hi) / 2
            if columns[mid] < target { lo = mid + 1 } else { hi = mid }
        }
        return lo < rowPointers[r + 1] && columns[lo] == target
    }

    /// Number of entries per column (item popularity when rows are users).
    public func columnCounts() -> [Int] {
        var counts = [Int](repeating: 0, count: columnCount)
        for c in columns { counts[Int(c)] += 1 }
        return counts
    }

    public func transposed() -> InteractionMatrix {
        var entries: [MatrixEntry] = []
        entries.reserveCapacity(nonZeroCount)
        for r in 0..<rowCount {
            for k in rowPointers[r]..<rowPointers[r + 1] {
                entries.append(MatrixEntry(row: Int(columns[k]), column: r, timestamp: timestamps[k], value: values[k]))
            }
        }
        return InteractionMatrix(rowCount: columnCount, columnCount: rowCount, entries: entries)
    }

    /// Dense row-major copy (rows × columns) of the binary matrix.
    public func dense() -> [Double] {
        var out = [Double](repeating: 0, count: rowCount * columnCount)
        for r in 0..<rowCount {
            for c in row(r) { out[r * columnCount + Int(c)] = 1 }
        }
        return out
    }

    /// Dense copy whose entries are (rating / maximum rating)^exponent; exponent 0 is binary.
    public func denseRatings(exponent: Double) -> [Double] {
        guard exponent != 0 else { return dense() }
        let maximum = values.max() ?? 1
        var out = [Double](repeating: 0, count: rowCount * columnCount)
        for r in 0..<rowCount {
            for k in rowPointers[r]..<rowPointers[r + 1] {
                out[r * columnCount + Int(columns[k])] = maximum > 0 ? pow(max(values[k], 0) / maximum, exponent) : 1
            }
        }
        return out
    }
}

/// Dense indices for raw ids: the catalogue and user list of one dataset, so every
/// model and split of that dataset shares one coordinate system.
public struct IndexedData: Sendable {
    public let userIDs: [Int]
    public let itemIDs: [Int]
    public let items: [Item]
    let userIndexByID: [Int: Int]
    let itemIndexByID: [Int: Int]

    /// Users come from `interactions` (all splits together) and `extraUsers`; items from
    /// the catalogue, plus any interacted item the catalogue lacks.
    public init(items catalogue: [Item], interactions: [Interaction], extraUsers: [Int] = []) {
        var itemList = catalogue.sorted { $0.id < $1.id }
        var known = Set(itemList.map(\.id))
        for x in interactions where !known.contains(x.item) {
            known.insert(x.item)
            itemList.append(Item(id: x.item, title: "", releaseYear: nil, genres: []))
        }
        itemList.sort { $0.id < $1.id }
        items = itemList
        itemIDs = itemList.map(\.id)
        itemIndexByID = Dictionary(uniqueKeysWithValues: itemIDs.enumerated().map { ($1, $0) })
        let users = Set(interactions.map(\.user)).union(extraUsers).sorted()
        userIDs = users
        userIndexByID = Dictionary(uniqueKeysWithValues: users.enumerated().map { ($1, $0) })
    }

    public var userCount: Int { userIDs.count }
    public var itemCount: Int { itemIDs.count }

    public func userIndex(of id: Int) -> Int? { userIndexByID[id] }
    public func itemIndex(of id: Int) -> Int? { itemIndexByID[id] }

    /// The user × item matrix of `interactions`; rows whose ids are unknown are skipped.
    public func matrix(_ interactions: [Interaction]) -> InteractionMatrix {
        var entries: [MatrixEntry] = []
        entries.reserveCapacity(interactions.count)
        for x in interactions {
            if let u = userIndexByID[x.user], let i = itemIndexByID[x.item] {
                entries.append(MatrixEntry(row: u, column: i, timestamp: x.timestamp, value: x.rating))
            }
        }
        return InteractionMatrix(rowCount: userCount, columnCount: itemCount, entries: entries)
    }
}
