import Testing
import Yams

@testable import Topology

@Suite("Scalar types")
struct ScalarTypeTests {
    /// The fast path for plain words must type every scalar as Yams's default resolver does.
    @Test("plain scalars get the type YAML gives them")
    func plainScalarsMatchYams() {
        let samples = [
            "itemknn", "recall.ease", "Yes", "yes", "YES", "no", "NO", "true", "False", "on", "OFF", "null", "Null",
            "NULL", "nullable", "yesterday", "Onward", "~", "", "42", "-7", "+3", "0x1F", "0o17", "017", "0b101",
            "1_000", "3.5", "-2.5e3", ".5", ".inf", "-.Inf", ".NaN", "1:30", "2001-12-14", "<<", "=", "@x", "_name",
            "Z", "z9", "é", "1e5", "190:20:30.15", "09", "-017", "0", "-0", "+0.", "3.", "3.14.15", "1.2.3", "1-2",
            "12a", "-", "+", ".", "-.5", "300", "0.8", "10_000.5", "1.5e-3",
        ]
        for text in samples {
            #expect(NodeDecoder.resolvedTag(text) == Resolver.default.resolveTag(of: Node(text)), "\(text)")
        }
    }
}
