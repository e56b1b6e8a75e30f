/// Where each field of a parsed spec was written, so that checks on the model can name a line.
struct SourceMap: Sendable {
    struct Location: Sendable, Hashable {
        var line: Int
        var column: Int
    }

    private var locations: [String: Location] = [:]

    mutating func record(_ field: String, line: Int, column: Int) {
        if locations[field] == nil { locations[field] = Location(line: line, column: column) }
    }

    /// The location of `field`, else of its nearest recorded ancestor, else of the document.
    func locate(_ field: String) -> Location? {
        var path = Substring(field)
        while true {
            if let location = locations[String(path)] { return location }
            guard let cut = path.lastIndex(where: { $0 == "." || $0 == "[" }) else { break }
            path = path[..<cut]
        }
        return locations[""]
    }
}

/// Field paths are written the way a reader would point at them: `agents[2].parameters.lambda`.
enum FieldPath {
    static func key(_ parent: String, _ key: String) -> String { parent.isEmpty ? key : "\(parent).\(key)" }
    static func index(_ parent: String, _ index: Int) -> String { "\(parent)[\(index)]" }

    /// `field` itself or anything inside it.
    static func isWithin(_ field: String, _ ancestor: String) -> Bool {
        field == ancestor || field.hasPrefix(ancestor + ".") || field.hasPrefix(ancestor + "[")
    }
}

/// Small edit distance, for "did you mean" hints on typos.
enum Suggest {
    static func closest(to word: String, in candidates: some Sequence<String>) -> String? {
        var best: (String, Int)?
        for candidate in candidates {
            let distance = levenshtein(Array(word), Array(candidate))
            if distance <= max(1, min(3, candidate.count / 3)), best == nil || distance < best!.1 {
                best = (candidate, distance)
            }
        }
        return best?.0
    }

    static func hint(_ word: String, _ candidates: some Sequence<String>) -> String {
        closest(to: word, in: candidates).map { " (did you mean '\($0)'?)" } ?? ""
    }

    private static func levenshtein(_ a: [Character], _ b: [Character]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        var current = previous
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                current[j] = Swift.min(
                    previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}
