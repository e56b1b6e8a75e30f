import Foundation

/// The splitmix64 mixing function of the P1 protocol (wrapping 64-bit arithmetic).
public enum SplitMix64 {
    public static func hash(_ x: UInt64) -> UInt64 {
        var z = x &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Train / valid / test interactions.
public struct Split: Sendable {
    public var train: [Interaction]
    public var valid: [Interaction]
    public var test: [Interaction]

    public init(train: [Interaction], valid: [Interaction], test: [Interaction]) {
        self.train = train
        self.valid = valid
        self.test = test
    }
}

/// The P1 split: per user, interactions ordered by `splitmix64((user << 32) | item)`,
/// the first ⌊8n/10⌋ train, the next ⌊n/10⌋ valid, the rest test.
public enum P1Split {
    public static func key(user: Int, item: Int) -> UInt64 {
        SplitMix64.hash((UInt64(truncatingIfNeeded: user) << 32) | UInt64(truncatingIfNeeded: item))
    }

    /// Splits and orders each part like the reference files: by user, timestamp, item.
    public static func split(_ interactions: [Interaction]) -> Split {
        var byUser: [Int: [Interaction]] = [:]
        for x in interactions { byUser[x.user, default: []].append(x) }
        var split = Split(train: [], valid: [], test: [])
        for (_, rows) in byUser {
            let ordered = rows.sorted {
                let a = key(user: $0.user, item: $0.item), b = key(user: $1.user, item: $1.item)
                return a != b ? a < b : $0.timestamp < $1.timestamp
            }
            let n = ordered.count
            let nTrain = 8 * n / 10, nValid = n / 10
            split.train += ordered[0..<nTrain]
            split.valid += ordered[nTrain..<(nTrain + nValid)]
            split.test += ordered[(nTrain + nValid)...]
        }
        split.train.sort(by: SplitFile.canonicalOrder)
        split.valid.sort(by: SplitFile.canonicalOrder)
        split.test.sort(by: SplitFile.canonicalOrder)
        return split
    }
}

/// Split files: `user item rating timestamp`, tab separated, with a header line.
public enum SplitFile {
    static let header = "user\titem\trating\ttimestamp"

    @Sendable static func canonicalOrder(_ a: Interaction, _ b: Interaction) -> Bool {
        (a.user, a.timestamp, a.item) < (b.user, b.timestamp, b.item)
    }

    /// Reads a split file; the header line is optional (a first line whose first field
    /// is not numeric is taken as header, as `score.py` does).
    public static func read(path: String) throws(DatasetError) -> [Interaction] {
        try parse(text: readText(path), file: path)
    }

    /// Parses split-file text; `file` only labels errors.
    public static func parse(text: String, file: String) throws(DatasetError) -> [Interaction] {
        var out: [Interaction] = []
        var number = 0
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            number += 1
            let line = raw.last == "\r" ? raw.dropLast() : raw
            if line.allSatisfy({ $0 == " " || $0 == "\t" }) { continue }
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
            if number == 1, Double(fields[0].trimmingCharacters(in: .whitespaces)) == nil { continue }
            guard fields.count >= 2 else {
                throw DatasetError(code: .malformedRow, message: "expected at least user and item fields",
                                   file: file, line: number)
            }
            func int(_ i: Int, _ name: String) throws(DatasetError) -> Int {
                let t = fields[i].trimmingCharacters(in: .whitespaces)
                if let v = Int(t) { return v }
                if let d = Double(t), d.rounded() == d, abs(d) < 9e15 { return Int(d) }
                throw DatasetError(code: .malformedRow, message: "\(name) '\(t)' is not an integer",
                                   file: file, line: number)
            }
            var rating = 1.0
            if fields.count > 2 {
                let t = fields[2].trimmingCharacters(in: .whitespaces)
                guard let r = Double(t), r.isFinite else {
                    throw DatasetError(code: .malformedRow, message: "rating '\(t)' is not a number",
                                       file: file, line: number)
                }
                rating = r
            }
            out.append(Interaction(user: try int(0, "user"), item: try int(1, "item"), rating: rating,
                                   timestamp: fields.count > 3 ? try int(3, "timestamp") : 0))
        }
        return out
    }

    /// Renders rows in the reference format (integral ratings without a decimal point).
    public static func render(_ rows: [Interaction]) -> String {
        var text = header + "\n"
        text.reserveCapacity(rows.count * 24)
        for r in rows {
            let rating = r.rating.rounded() == r.rating ? String(Int(r.rating)) : String(r.rating)
            text += "\(r.user)\t\(r.item)\t\(rating)\t\(r.timestamp)\n"
        }
        return text
    }

    /// Writes rows in the reference format.
    public static func write(_ rows: [Interaction], path: String) throws(DatasetError) {
        guard FileManager.default.createFile(atPath: path, contents: Data(render(rows).utf8)) else {
            throw DatasetError(code: .fileNotWritable, message: "cannot write file", file: path)
        }
    }
}

/// Where a dataset's train / valid / test parts come from.
public enum SplitSource: Sendable, Equatable, Hashable {
    /// The P1 hash split computed from all interactions.
    case p1
    /// A split given as three files (`user item rating timestamp`).
    case files(train: String, valid: String, test: String)

    /// The parts of `interactions` (ignored for `.files`, which reads the three files).
    public func split(_ interactions: [Interaction]) throws(DatasetError) -> Split {
        switch self {
        case .p1:
            return P1Split.split(interactions)
        case .files(let train, let valid, let test):
            return Split(
                train: try SplitFile.read(path: train), valid: try SplitFile.read(path: valid),
                test: try SplitFile.read(path: test))
        }
    }

    /// `p1`, or `files` for a split given as files.
    public var name: String {
        if case .p1 = self { return "p1" }
        return "files"
    }
}

/// A learned component's own hold-out inside whatever it may train on: per user, the last
/// ninth of the interactions in P1 key order. Applied to P1 train + valid it gives P1 valid
/// back for almost every user, and applied to P1 train it never touches valid or test, so
/// the same procedure is honest at every stage of evaluation and in serving.
public enum HoldOut {
    /// `interactions` split into what is kept for fitting and what is held out as labels.
    public static func lastNinth(_ interactions: [Interaction]) -> (kept: [Interaction], heldOut: [Interaction]) {
        var byUser: [Int: [Interaction]] = [:]
        for x in interactions { byUser[x.user, default: []].append(x) }
        var kept: [Interaction] = [], heldOut: [Interaction] = []
        kept.reserveCapacity(interactions.count)
        for user in byUser.keys.sorted() {
            let ordered = byUser[user]!.sorted {
                let a = P1Split.key(user: $0.user, item: $0.item), b = P1Split.key(user: $1.user, item: $1.item)
                return a != b ? a < b : $0.timestamp < $1.timestamp
            }
            let held = ordered.count / 9
            kept += ordered[0..<(ordered.count - held)]
            heldOut += ordered[(ordered.count - held)...]
        }
        return (kept, heldOut)
    }
}
