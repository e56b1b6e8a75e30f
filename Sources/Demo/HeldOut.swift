public import Dataset
import Foundation

/// The users the demo replays and, for each, the items it takes: its held-out (test)
/// interactions of split P1 in the order the user made them, never seen by the models that
/// were fitted on train.
public struct HeldOutUsers: Sendable {
    public struct User: Sendable {
        public var id: String
        /// The held-out items in time order (timestamp, then item id), each once: one visit
        /// reveals the next.
        public var sequence: [String]

        public init(id: String, sequence: [String]) {
            self.id = id
            self.sequence = sequence
        }
    }

    /// In replay order: a fixed hash order, so a run does not favour low user ids.
    public let users: [User]
    /// Where they came from, for the report.
    public let source: String

    public init(users: [User], source: String) {
        self.users = users
        self.source = source
    }

    /// The test part of the interactions, grouped by user.
    public init(test: [Interaction], source: String) {
        var byUser: [Int: [Interaction]] = [:]
        for row in test { byUser[row.user, default: []].append(row) }
        users = byUser.keys.sorted { SplitMix64.hash(UInt64($0)) < SplitMix64.hash(UInt64($1)) }
            .map { user in
                var seen: Set<Int> = []
                let ordered = byUser[user]!.sorted { ($0.timestamp, $0.item) < ($1.timestamp, $1.item) }
                return User(id: String(user), sequence: ordered.filter { seen.insert($0.item).inserted }.map { String($0.item) })
            }
        self.source = source
    }

    /// Split P1 of MovieLens in `dataDirectory`, or else a test split file such as
    /// `shared/eval/p1_test.tsv`, the first of `testFiles` that exists.
    /// - Throws: ``DemoError/Code/noData`` when neither is there or readable.
    public static func load(dataDirectory: String, testFiles: [String]) throws(DemoError) -> HeldOutUsers {
        let manager = FileManager.default
        if manager.fileExists(atPath: dataDirectory + "/ml-100k.inter") {
            do {
                let interactions = try MovieLens.loadInteractions(path: dataDirectory + "/ml-100k.inter")
                return HeldOutUsers(test: P1Split.split(interactions).test, source: "\(dataDirectory) (split P1, test)")
            } catch {
                throw DemoError(.noData, "cannot read \(dataDirectory): \(error)")
            }
        }
        for file in testFiles where manager.fileExists(atPath: file) {
            do {
                return HeldOutUsers(test: try SplitFile.read(path: file), source: file)
            } catch {
                throw DemoError(.noData, "cannot read \(file): \(error)")
            }
        }
        throw DemoError(
            .noData,
            "no held-out data: \(dataDirectory)/ml-100k.inter is missing (run deploy/fetch-data.sh)"
                + (testFiles.isEmpty ? "" : " and so is \(testFiles.joined(separator: ", "))"))
    }
}
