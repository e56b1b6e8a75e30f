import Foundation
import FuzzTargets
import Testing

/// Every input of the fuzz corpus (seeds, what libFuzzer kept, crashes it found) goes through its
/// target in every test run: a fixed crash stays fixed. A broken property stops the test
/// process, so a failure here is loud.
@Suite("Fuzz corpus")
struct FuzzCorpusTests {
    static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Corpus").path

    static func inputs(_ target: FuzzTarget) -> [String] {
        let folder = "\(corpus)/\(target.rawValue)"
        return ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).sorted().map { "\(folder)/\($0)" }
    }

    @Test("every target has a corpus in the repository", arguments: FuzzTarget.allCases)
    func corpusExists(target: FuzzTarget) {
        #expect(Self.inputs(target).count >= max(1, target.seeds.count), "Tests/FuzzTests/Corpus/\(target.rawValue)")
    }

    @Test("the corpus replays through its target", arguments: FuzzTarget.allCases)
    func replay(target: FuzzTarget) throws {
        for path in Self.inputs(target) {
            let data = try #require(FileManager.default.contents(atPath: path), "\(path)")
            target.run(Array(data))
        }
    }

    @Test("the seeds are valid inputs, not only bytes", arguments: FuzzTarget.allCases)
    func seedsDecode(target: FuzzTarget) throws {
        // A seed that no longer decodes (an encoder changed) would leave the fuzzer starting from
        // noise: each must get past the decoder it was made for.
        for seed in target.seeds {
            #expect(target.accepts(seed), "\(target.rawValue) seed of \(seed.count) bytes")
        }
    }
}
