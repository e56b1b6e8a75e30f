import AgenticTesting
import Foundation
import Testing
@testable import Dataset

/// Paths relative to the package root, found from this file's location.
enum Fixtures {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let sharedEval = packageRoot.appendingPathComponent("../shared/eval").standardizedFileURL.path
    static let data = packageRoot.appendingPathComponent("data/ml-100k").path
    static var haveReferenceSplit: Bool {
        FileManager.default.fileExists(atPath: sharedEval + "/p1_train.tsv")
            && FileManager.default.fileExists(atPath: data + "/ml-100k.inter")
    }
}

@Test(.computeBound, .computeBound) func splitMix64KnownValues() {
    #expect(SplitMix64.hash(0) == 16_294_208_416_658_607_535)
    #expect(SplitMix64.hash(1) == 10_451_216_379_200_822_465)
    #expect(P1Split.key(user: 1, item: 168) == 1_464_603_291_728_088_767)
}

@Test(.computeBound, .computeBound) func loaderReadsColumnsByHeaderName() throws {
    let text = "timestamp:float\titem_id:token\tuser_id:token\trating:float\n10\t7\t3\t4\n11\t8\t3\t5\n"
    let rows = try MovieLens.loadInteractions(text: text, file: "t.inter")
    #expect(rows == [Interaction(user: 3, item: 7, rating: 4, timestamp: 10),
                     Interaction(user: 3, item: 8, rating: 5, timestamp: 11)])
}

/// The byte-level reader keeps the text reader's rules: CRLF endings, blank lines skipped
/// but counted, blanks around fields ignored, float-written integers and fractional ratings.
@Test(.computeBound) func loaderToleratesLayoutAndCountsLines() throws {
    let text = "user_id:token\titem_id:token\trating:float\ttimestamp:float\r\n"
        + " 1 \t2\t3.5\t881250949.0\r\n\r\n \t\n-4\t+5\t4\t7"
    let rows = try MovieLens.loadInteractions(text: text, file: "l.inter")
    #expect(rows == [Interaction(user: 1, item: 2, rating: 3.5, timestamp: 881_250_949),
                     Interaction(user: -4, item: 5, rating: 4, timestamp: 7)])
    let items = try MovieLens.loadItems(
        text: "item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq\n7\t Héros \tunkonwn\tDrama War\n",
        file: "h.item")
    #expect(items == [Item(id: 7, title: "Héros", releaseYear: nil, genres: ["Drama", "War"])])
    let afterBlank = "user_id:token\titem_id:token\n1\t2\n\n\n1\t99999999999999999999\n"
    do {
        _ = try MovieLens.loadInteractions(text: afterBlank, file: "o.inter")
        Issue.record("expected an overflow to be a malformed row")
    } catch {
        #expect(error.code == .malformedRow && error.line == 5)
    }
    for empty in ["", "\n", " \t\n1\t2\n"] {
        do {
            _ = try MovieLens.loadInteractions(text: empty, file: "e.inter")
            Issue.record("expected a missing header for \(empty.debugDescription)")
        } catch {
            #expect(error.code == .missingHeader)
        }
    }
}

@Test(.computeBound, .computeBound) func loaderNamesFileAndLineOfMalformedRows() {
    let badNumber = "user_id:token\titem_id:token\trating:float\ttimestamp:float\n1\t2\t3\t4\n1\tx\t3\t4\n"
    #expect {
        try MovieLens.loadInteractions(text: badNumber, file: "bad.inter")
    } throws: { error in
        guard let e = error as? DatasetError else { return false }
        return e.code == .malformedRow && e.line == 3 && e.file == "bad.inter" && e.description.contains("bad.inter:3")
    }
    let shortRow = "user_id:token\titem_id:token\trating:float\ttimestamp:float\n1\t2\t3\n"
    #expect(throws: DatasetError.self) { try MovieLens.loadInteractions(text: shortRow, file: "s.inter") }
    do {
        _ = try MovieLens.loadInteractions(text: shortRow, file: "s.inter")
    } catch {
        #expect(error.code == .malformedRow)
        #expect(error.line == 2)
    }
    do {
        _ = try MovieLens.loadItems(text: "movie_title:token_seq\nToy Story\n", file: "i.item")
        Issue.record("expected a missing-column error")
    } catch {
        #expect(error.code == .missingColumn)
    }
    do {
        _ = try SplitFile.parse(text: "user\titem\trating\ttimestamp\n1\t2\t3\t4\n5\t6\tbad\t7\n", file: "x.tsv")
        Issue.record("expected a malformed-row error")
    } catch {
        #expect(error.code == .malformedRow && error.line == 3)
    }
}

@Test(.computeBound, .computeBound) func missingFileIsATypedError() {
    do {
        _ = try MovieLens.load(directory: "/nonexistent/ml-100k")
        Issue.record("expected an error")
    } catch {
        #expect(error.code == .fileNotReadable)
    }
}

@Test(.computeBound, .computeBound) func splitIsEightOneOnePerUser() {
    let rows = (1...20).map { Interaction(user: 7, item: $0, rating: 1, timestamp: $0) }
        + (1...5).map { Interaction(user: 9, item: $0, rating: 1, timestamp: $0) }
    let s = P1Split.split(rows)
    #expect(s.train.filter { $0.user == 7 }.count == 16)
    #expect(s.valid.filter { $0.user == 7 }.count == 2)
    #expect(s.test.filter { $0.user == 7 }.count == 2)
    #expect(s.train.filter { $0.user == 9 }.count == 4)
    #expect(s.valid.filter { $0.user == 9 }.isEmpty)
    #expect(s.test.filter { $0.user == 9 }.count == 1)
}

@Test(.computeBound, .computeBound) func csrMatrixIndexing() {
    let m = InteractionMatrix(rowCount: 2, columnCount: 3, entries: [(1, 2, 5), (0, 1, 3), (1, 0, 4), (1, 2, 9)])
    #expect(Array(m.row(0)) == [1])
    #expect(Array(m.row(1)) == [0, 2])
    #expect(Array(m.rowTimestamps(1)) == [4, 5])
    #expect(m.contains(row: 1, column: 2) && !m.contains(row: 0, column: 2))
    #expect(m.columnCounts() == [1, 1, 1])
    #expect(Array(m.transposed().row(2)) == [1])
}

@Test(.computeBound, .enabled(if: Fixtures.haveReferenceSplit,
               "needs ../shared/eval/p1_*.tsv and data/ml-100k (run deploy/fetch-data.sh)"))
func p1SplitMatchesReferenceFiles() throws {
    let data = try MovieLens.load(directory: Fixtures.data)
    #expect(data.interactions.count == 100_000)
    #expect(data.items.count == 1682)
    let split = P1Split.split(data.interactions)
    for (name, rows) in [("train", split.train), ("valid", split.valid), ("test", split.test)] {
        let path = Fixtures.sharedEval + "/p1_\(name).tsv"
        let reference = try String(contentsOfFile: path, encoding: .utf8)
        #expect(SplitFile.render(rows) == reference, "p1_\(name).tsv differs")
        #expect(try SplitFile.read(path: path) == rows)
    }
}
