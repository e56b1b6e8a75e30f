import AgenticTesting
import Foundation

/// A small MovieLens in RecBole's atomic format, made by the tests: 60 users and 40 items in
/// four genres. Each user rates items of one favourite genre (and a few others), so
/// neighbourhood and content models have a real signal, and item 1 is the most popular.
enum Fixture {
    static let genres = ["Action", "Comedy", "Drama", "Horror"]
    static let userCount = 60
    static let itemCount = 40

    /// The genre of item `id` (1-based): items cycle through the four genres.
    static func genre(of item: Int) -> String { genres[(item - 1) % genres.count] }

    /// Item `id`'s title: one of five words shared by eight titles each, so titles carry a
    /// signal the content route can weigh (a token needs three titles to count).
    static func title(of item: Int) -> String {
        "\(["Night", "Love", "Star", "City", "Dead"][item % 5]) Film \(item)"
    }

    /// The interactions as (user, item, rating, timestamp).
    static var interactions: [(Int, Int, Int, Int)] {
        var rows: [(Int, Int, Int, Int)] = []
        var state: UInt64 = 7
        func next() -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int(state >> 33)
        }
        for user in 1...userCount {
            let favourite = (user - 1) % genres.count
            var items = Set<Int>([1])
            // Eight or nine items of the favourite genre (item 1 may be one), three others.
            while items.count < 9 { items.insert(favourite + 1 + genres.count * (next() % (itemCount / genres.count))) }
            while items.count < 12 { items.insert(1 + next() % itemCount) }
            for (offset, item) in items.sorted().enumerated() {
                rows.append((user, item, 3 + next() % 3, 880_000_000 + user * 1000 + offset))
            }
        }
        return rows
    }

    /// Writes the three atomic files into `directory` (made if missing) and returns it.
    @discardableResult
    static func write(to directory: String) throws -> String {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var inter = "user_id:token\titem_id:token\trating:float\ttimestamp:float\n"
        for (u, i, r, t) in interactions { inter += "\(u)\t\(i)\t\(r)\t\(t)\n" }
        var item = "item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq\n"
        for i in 1...itemCount { item += "\(i)\t\(title(of: i))\t\(1980 + i % 20)\t\(genre(of: i))\n" }
        var user = "user_id:token\tage:token\tgender:token\toccupation:token\tzip_code:token\n"
        for u in 1...userCount { user += "\(u)\t30\tF\tother\t00000\n" }
        try inter.write(toFile: directory + "/ml-100k.inter", atomically: true, encoding: .utf8)
        try item.write(toFile: directory + "/ml-100k.item", atomically: true, encoding: .utf8)
        try user.write(toFile: directory + "/ml-100k.user", atomically: true, encoding: .utf8)
        return directory
    }
}

/// The repository's topology directory.
let topologyDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("topology").path
