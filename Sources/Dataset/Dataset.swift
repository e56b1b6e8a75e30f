/// Dataset: MovieLens-100K in RecBole's atomic-file format, the P1 hash split of
/// the evaluation protocol, split TSV files and the compact indexed (CSR) form that
/// every recommender in the project is fitted on.
///
/// Entry points: ``MovieLens/load(directory:)``, ``P1Split/split(_:)``,
/// ``SplitFile/read(path:)`` and ``IndexedData``.
import Foundation

/// One user–item event with the raw MovieLens ids.
public struct Interaction: Sendable, Hashable, Codable {
    public var user: Int
    public var item: Int
    public var rating: Double
    public var timestamp: Int

    public init(user: Int, item: Int, rating: Double, timestamp: Int) {
        self.user = user
        self.item = item
        self.rating = rating
        self.timestamp = timestamp
    }
}

/// A catalogue entry of `ml-100k.item`.
public struct Item: Sendable, Hashable, Codable {
    public var id: Int
    public var title: String
    /// `nil` where the source leaves the year blank.
    public var releaseYear: Int?
    public var genres: [String]

    public init(id: Int, title: String, releaseYear: Int?, genres: [String]) {
        self.id = id
        self.title = title
        self.releaseYear = releaseYear
        self.genres = genres
    }
}

/// A row of `ml-100k.user`.
public struct UserProfile: Sendable, Hashable, Codable {
    public var id: Int
    public var age: Int?
    public var gender: String
    public var occupation: String

    public init(id: Int, age: Int?, gender: String, occupation: String) {
        self.id = id
        self.age = age
        self.gender = gender
        self.occupation = occupation
    }
}

/// MovieLens-100K as RecBole ships it: interactions, item catalogue, users.
public struct MovieLens: Sendable {
    public var interactions: [Interaction]
    public var items: [Item]
    public var users: [UserProfile]

    public init(interactions: [Interaction], items: [Item], users: [UserProfile]) {
        self.interactions = interactions
        self.items = items
        self.users = users
    }

    /// Loads `ml-100k.inter`, `ml-100k.item` and `ml-100k.user` from `directory`.
    /// The user file is optional because no algorithm needs demographics.
    public static func load(directory: String) throws(DatasetError) -> MovieLens {
        let base = directory.hasSuffix("/") ? directory : directory + "/"
        let interactions = try loadInteractions(path: base + "ml-100k.inter")
        let items = try loadItems(path: base + "ml-100k.item")
        let userPath = base + "ml-100k.user"
        let users = FileManager.default.fileExists(atPath: userPath) ? try loadUsers(path: userPath) : []
        return MovieLens(interactions: interactions, items: items, users: users)
    }

    /// Parses an atomic `.inter` file (`user_id`, `item_id`, `rating`, `timestamp`).
    public static func loadInteractions(path: String) throws(DatasetError) -> [Interaction] {
        try loadInteractions(text: readText(path), file: path)
    }

    /// Parses the text of an atomic `.inter` file; `file` only labels errors.
    public static func loadInteractions(text: String, file: String) throws(DatasetError) -> [Interaction] {
        let table = try AtomicTable(text: text, file: file)
        let u = try table.column("user_id"), i = try table.column("item_id")
        let r = table.optionalColumn("rating"), t = table.optionalColumn("timestamp")
        var out: [Interaction] = []
        out.reserveCapacity(table.rows.count)
        for row in table.rows {
            let rating = try r.map { c throws(DatasetError) in try table.double(row, c) } ?? 1
            let time = try t.map { c throws(DatasetError) in try table.int(row, c) } ?? 0
            out.append(Interaction(user: try table.int(row, u), item: try table.int(row, i),
                                   rating: rating, timestamp: time))
        }
        guard !out.isEmpty else {
            throw DatasetError(code: .emptyDataset, message: "no interactions", file: file)
        }
        return out
    }

    /// Parses an atomic `.item` file (`item_id`, `movie_title`, `release_year`, `class`).
    public static func loadItems(path: String) throws(DatasetError) -> [Item] {
        try loadItems(text: readText(path), file: path)
    }

    /// Parses the text of an atomic `.item` file; `file` only labels errors.
    public static func loadItems(text: String, file: String) throws(DatasetError) -> [Item] {
        let table = try AtomicTable(text: text, file: file)
        let id = try table.column("item_id")
        let title = table.optionalColumn("movie_title")
        let year = table.optionalColumn("release_year")
        let genre = table.optionalColumn("class")
        var out: [Item] = []
        for row in table.rows {
            let yearText = year.map { table.field(row, $0) } ?? ""
            // release_year is a token column; RecBole writes "unkonwn" for one film, so
            // anything that is not a year means "unknown" rather than a broken file.
            let releaseYear = Int(yearText)
            out.append(Item(id: try table.int(row, id),
                            title: title.map { table.field(row, $0) } ?? "",
                            releaseYear: releaseYear,
                            genres: genre.map { table.field(row, $0).split(separator: " ").map(String.init) } ?? []))
        }
        guard !out.isEmpty else {
            throw DatasetError(code: .emptyDataset, message: "no items", file: file)
        }
        return out
    }

    /// Parses an atomic `.user` file.
    public static func loadUsers(path: String) throws(DatasetError) -> [UserProfile] {
        let table = try AtomicTable(text: readText(path), file: path)
        let id = try table.column("user_id")
        let age = table.optionalColumn("age"), gender = table.optionalColumn("gender")
        let occupation = table.optionalColumn("occupation")
        var out: [UserProfile] = []
        for row in table.rows {
            out.append(UserProfile(id: try table.int(row, id),
                                   age: age.flatMap { Int(table.field(row, $0)) },
                                   gender: gender.map { table.field(row, $0) } ?? "",
                                   occupation: occupation.map { table.field(row, $0) } ?? ""))
        }
        return out
    }
}

func readText(_ path: String) throws(DatasetError) -> String {
    guard let data = FileManager.default.contents(atPath: path) else {
        throw DatasetError(code: .fileNotReadable, message: "cannot read file", file: path)
    }
    guard let text = String(data: data, encoding: .utf8) else {
        throw DatasetError(code: .fileNotReadable, message: "file is not UTF-8", file: path)
    }
    return text
}

/// A tab-separated file with a `name:type` header, addressed by column name.
///
/// Works on the UTF-8 bytes: splitting and trimming 400,000 fields as `Character`s (and
/// through `NSString` for the trim) was 80 % of an agent's start-up, 1.1 s for ml-100k.
struct AtomicTable {
    struct Row {
        /// The row's first field in `bounds`.
        var first: Int
        var line: Int
    }

    let file: String
    let names: [String]
    private(set) var rows: [Row] = []
    private let bytes: [UInt8]
    /// Every row's fields, `names.count` per row, without surrounding blanks.
    private var bounds: [Range<Int>] = []

    private static let newline = UInt8(ascii: "\n"), carriageReturn = UInt8(ascii: "\r")
    private static let tab = UInt8(ascii: "\t"), space = UInt8(ascii: " ")

    init(text: String, file: String) throws(DatasetError) {
        self.file = file
        let bytes = Array(text.utf8)
        self.bytes = bytes
        var lines = Self.lines(bytes).makeIterator()
        guard let header = lines.next(), !bytes[header.range].allSatisfy(Self.isBlank) else {
            throw DatasetError(code: .missingHeader, message: "empty file, expected a header line", file: file, line: 1)
        }
        names = String(decoding: bytes[header.range], as: UTF8.self)
            .split(separator: "\t", omittingEmptySubsequences: false).map {
                String($0.split(separator: ":", maxSplits: 1).first ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
            }
        let columns = names.count
        while let line = lines.next() {
            if bytes[line.range].allSatisfy(Self.isBlank) { continue }
            let first = bounds.count
            var fieldStart = line.range.lowerBound
            var found = 0
            for position in line.range.lowerBound...line.range.upperBound
            where position == line.range.upperBound || bytes[position] == Self.tab {
                found += 1
                if found <= columns { bounds.append(Self.trim(fieldStart..<position, in: bytes)) }
                fieldStart = position + 1
            }
            guard found == columns else {
                throw DatasetError(code: .malformedRow,
                                   message: "expected \(columns) tab-separated fields, found \(found)",
                                   file: file, line: line.number)
            }
            rows.append(Row(first: first, line: line.number))
        }
    }

    /// Lines without their terminator (a final empty line is not one), numbered from 1.
    private static func lines(_ bytes: [UInt8]) -> [(range: Range<Int>, number: Int)] {
        var lines: [(range: Range<Int>, number: Int)] = []
        var start = 0
        while start < bytes.count || (start == 0 && bytes.isEmpty) {
            let end = bytes[start...].firstIndex(of: newline) ?? bytes.count
            let content = end > start && bytes[end - 1] == carriageReturn ? end - 1 : end
            lines.append((start..<content, lines.count + 1))
            start = end + 1
        }
        return lines
    }

    private static func isBlank(_ byte: UInt8) -> Bool { byte == space || byte == tab }

    private static func trim(_ range: Range<Int>, in bytes: [UInt8]) -> Range<Int> {
        var lower = range.lowerBound, upper = range.upperBound
        while lower < upper, isBlank(bytes[lower]) { lower += 1 }
        while upper > lower, isBlank(bytes[upper - 1]) { upper -= 1 }
        return lower..<upper
    }

    func column(_ name: String) throws(DatasetError) -> Int {
        guard let index = names.firstIndex(of: name) else {
            throw DatasetError(code: .missingColumn,
                               message: "column '\(name)' not in header (\(names.joined(separator: ", ")))",
                               file: file, line: 1)
        }
        return index
    }

    func optionalColumn(_ name: String) -> Int? { names.firstIndex(of: name) }

    func field(_ row: Row, _ column: Int) -> String {
        String(decoding: bytes[bounds[row.first + column]], as: UTF8.self)
    }

    func int(_ row: Row, _ column: Int) throws(DatasetError) -> Int {
        if let value = Self.decimal(bytes[bounds[row.first + column]]) { return value }
        let text = field(row, column)
        // RecBole writes some integer columns as floats ("881250949.0").
        if let value = Double(text), value.rounded() == value, abs(value) < 9e15 { return Int(value) }
        throw DatasetError(code: .malformedRow,
                           message: "\(names[column]) '\(text)' is not an integer",
                           file: file, line: row.line)
    }

    func double(_ row: Row, _ column: Int) throws(DatasetError) -> Double {
        // Most ratings are whole numbers: no string to make for them.
        if let value = Self.decimal(bytes[bounds[row.first + column]]) { return Double(value) }
        let text = field(row, column)
        guard let value = Double(text), value.isFinite else {
            throw DatasetError(code: .malformedRow,
                               message: "\(names[column]) '\(text)' is not a number",
                               file: file, line: row.line)
        }
        return value
    }

    /// An optionally signed run of ASCII digits short enough not to overflow; nil otherwise.
    private static func decimal(_ digits: ArraySlice<UInt8>) -> Int? {
        var rest = digits
        let negative = rest.first == UInt8(ascii: "-")
        if negative || rest.first == UInt8(ascii: "+") { rest = rest.dropFirst() }
        guard !rest.isEmpty, rest.count <= 18 else { return nil }
        var value = 0
        for byte in rest {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + Int(byte - UInt8(ascii: "0"))
        }
        return negative ? -value : value
    }
}
