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
struct AtomicTable {
    struct Row {
        var fields: [Substring]
        var line: Int
    }

    let file: String
    let names: [String]
    var rows: [Row] = []

    init(text: String, file: String) throws(DatasetError) {
        self.file = file
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).makeIterator()
        guard let header = lines.next(), !header.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw DatasetError(code: .missingHeader, message: "empty file, expected a header line", file: file, line: 1)
        }
        names = header.split(separator: "\t", omittingEmptySubsequences: false).map {
            String($0.split(separator: ":", maxSplits: 1).first ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        }
        var number = 1
        while let raw = lines.next() {
            number += 1
            let line = raw.last == "\r" ? raw.dropLast() : raw
            if line.allSatisfy({ $0 == " " || $0 == "\t" }) { continue }
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
            guard fields.count == names.count else {
                throw DatasetError(code: .malformedRow,
                                   message: "expected \(names.count) tab-separated fields, found \(fields.count)",
                                   file: file, line: number)
            }
            rows.append(Row(fields: fields, line: number))
        }
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
        row.fields[column].trimmingCharacters(in: .whitespaces)
    }

    func int(_ row: Row, _ column: Int) throws(DatasetError) -> Int {
        let text = field(row, column)
        if let value = Int(text) { return value }
        // RecBole writes some integer columns as floats ("881250949.0").
        if let value = Double(text), value.rounded() == value, abs(value) < 9e15 { return Int(value) }
        throw DatasetError(code: .malformedRow,
                           message: "\(names[column]) '\(text)' is not an integer",
                           file: file, line: row.line)
    }

    func double(_ row: Row, _ column: Int) throws(DatasetError) -> Double {
        let text = field(row, column)
        guard let value = Double(text), value.isFinite else {
            throw DatasetError(code: .malformedRow,
                               message: "\(names[column]) '\(text)' is not a number",
                               file: file, line: row.line)
        }
        return value
    }
}
