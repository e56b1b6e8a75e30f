import Foundation
import Testing
import Topology

@Suite("Validation of the example topologies")
struct ExampleTests {
    @Test("the examples validate clean", arguments: ["minimal.yaml", "movielens.yaml"])
    func examplesValidate(name: String) throws {
        let spec = try TopologyValidator.load(contentsOf: Paths.example(name))
        #expect(spec.epoch == 0)
        #expect(!spec.agents.isEmpty)
    }

    @Test("the minimal example needs no data set")
    func minimalIsDataFree() throws {
        let spec = try TopologyValidator.load(contentsOf: Paths.example("minimal.yaml"))
        let kinds = Set(spec.agents.map(\.kind))
        #expect(kinds == ["router", "recall.static", "fusion", "rank.passthrough"])
        #expect(spec.agent(named: "static.a")?.replicas == 2)
        #expect(spec.gateway.listen == ["http://127.0.0.1:0"])
    }

    @Test("int literals of double parameters become doubles")
    func normalisesDoubles() throws {
        let spec = try TopologyValidator.load(contentsOf: Paths.example("movielens.yaml"))
        #expect(spec.agent(named: "ease")?.parameters["lambda"] == .double(400))
        guard case .double = spec.agent(named: "ease")?.parameters["lambda"] else {
            Issue.record("lambda should be a double")
            return
        }
        #expect(spec.agent(named: "rp3beta")?.parameters["alpha"] == .double(0.5))
        #expect(spec.agent(named: "itemknn")?.parameters["neighbours"] == .int(800))
    }
}

@Suite("Each bad fixture yields the expected errors")
struct FixtureTests {
    /// (fixture, expected `LINE:FIELD:code` lines, in order).
    static let cases: [(String, [String])] = [
        ("syntax-error.yaml", ["7::syntax"]),
        (
            "unknown-keys.yaml",
            ["6:agents[0].replica:unknownKey", "16:gateway.deadline:unknownKey", "17:evolution:unknownKey"]
        ),
        (
            "wrong-types.yaml",
            [
                "1:epoch:wrongType", "6:agents[0].replicas:wrongType",
                "8:agents[0].parameters.cold_max_history:wrongType",
                "12:agents[1].parameters.k:wrongType", "14:edges:wrongType", "19:gateway.allow_non_loopback:wrongType",
            ]
        ),
        (
            "missing-fields.yaml",
            [
                "1:name:missingField", "3:agents[0].kind:missingField", "4:agents[1].name:missingField",
                "6:edges[0].to:missingField", "8:gateway.exit:missingField",
            ]
        ),
        ("unknown-kind.yaml", ["7:agents[1].kind:unknownKind"]),
        ("duplicate-names.yaml", ["8:agents[2].name:duplicateName", "10:agents[3].name:invalidValue"]),
        (
            "missing-agents.yaml",
            [
                "10:edges[1].to:unknownAgent", "11:edges[2].from:unknownAgent", "13:gateway.entry[1]:unknownAgent",
                "14:gateway.exit:unknownAgent", "17:rewards.inner.nobody:unknownAgent",
            ]
        ),
        ("cycle.yaml", ["16:edges[3]:cycle"]),
        (
            "parameters.yaml",
            [
                "9:agents[1].parameters.lambda:outOfRange", "10:agents[1].parameters.alpha:unknownParameter",
                "12:agents[1].decision_space.lambda.min:outOfRange", "16:agents[2].parameters.neighbours:outOfRange",
                "19:agents[2].decision_space.shrinkage.type:wrongType", "23:agents[3].parameters.method:invalidValue",
                "24:agents[3].parameters.weight.ease:outOfRange", "25:agents[3].parameters.weight.nobody:unknownAgent",
            ]
        ),
        (
            "replicas.yaml",
            [
                "1:epoch:outOfRange", "6:agents[0].replicas:outOfRange", "9:agents[1].replicas:outOfRange",
                "10:agents[1].restart.policy:invalidValue", "10:agents[1].restart.period_s:outOfRange",
                "16:gateway.deadline_ms:outOfRange",
            ]
        ),
        (
            "non-loopback.yaml",
            [
                "5:transport.host:nonLoopback", "15:gateway.listen[0]:nonLoopback", "19:gateway.listen[4]:nonLoopback",
                "20:gateway.nng:nonLoopback",
            ]
        ),
    ]

    @Test("fixture errors", arguments: cases)
    func fixture(name: String, expected: [String]) throws {
        let found = try fixtureIssues(name).map { "\($0.line):\($0.field):\($0.code)" }
        #expect(found == expected)
    }

    @Test("errors print as FILE:LINE:COL: FIELD: message")
    func printedForm() throws {
        let found = try fixtureIssues("unknown-kind.yaml").map(\.description)
        #expect(found.count == 1)
        #expect(
            found[0].hasPrefix(
                "unknown-kind.yaml:7:11: agents[1].kind: unknown kind 'recall.eas' (did you mean 'recall.ease'?)"))
        let missing = try fixtureIssues("missing-fields.yaml").map(\.description)
        #expect(missing.contains("missing-fields.yaml:6:5: edges[0].to: missing required field 'to'"))
        let typos = try fixtureIssues("unknown-keys.yaml").map(\.description)
        #expect(
            typos[0].hasPrefix(
                "unknown-keys.yaml:6:5: agents[0].replica: unknown key 'replica' (did you mean 'replicas'?)"))
    }

    @Test("every error is collected at once, in file order")
    func collectsEverything() throws {
        let found = try fixtureIssues("many-errors.yaml")
        #expect(
            found.map { "\($0.line):\($0.field):\($0.code)" } == [
                "1:epoch:outOfRange", "5:agents[0].kind:unknownKind", "8:agents[1].replicas:outOfRange",
                "10:agents[1].parameters.k:outOfRange", "11:agents[2].name:duplicateName", "15:edges[1]:cycle",
                "16:edges[2].to:unknownAgent", "18:gateway.listen[0]:nonLoopback", "20:gateway.exit:unknownAgent",
                "21:gateway.colour:unknownKey",
            ])
        #expect(found.allSatisfy { $0.file == "many-errors.yaml" && $0.column > 0 })
    }

    @Test("a cycle is named agent by agent")
    func cycleNamed() throws {
        let found = try fixtureIssues("cycle.yaml")
        #expect(found.map(\.message) == ["the edges form a cycle: a -> b -> c -> a; the graph must be acyclic"])
    }

    @Test("loopback addresses pass: 127.0.0.0/8, [::1], localhost, ipc")
    func loopbackPasses() throws {
        let found = try fixtureIssues("non-loopback.yaml").map(\.field)
        #expect(!found.contains("gateway.listen[1]"))
        #expect(!found.contains("gateway.listen[2]"))
        #expect(!found.contains("gateway.listen[3]"))
    }

    @Test("allow_non_loopback lets the gateway listen anywhere")
    func allowNonLoopback() throws {
        let source = try String(contentsOfFile: Paths.fixture("non-loopback.yaml"), encoding: .utf8)
            .replacingOccurrences(of: "  exit: pop", with: "  exit: pop\n  allow_non_loopback: true")
            .replacingOccurrences(of: "  host: 192.168.1.10", with: "  host: 192.168.1.10\n  allow_non_loopback: true")
        #expect(issues(of: source).isEmpty)
    }

    @Test("an empty file is an error, not a crash")
    func emptyFile() {
        let found = issues(of: "")
        #expect(found.count == 1)
        #expect(found.first?.code == .missingField)
    }

    @Test("duplicate keys are a syntax error with a line")
    func duplicateKeys() {
        let found = issues(of: "epoch: 0\nname: a\nname: b\n")
        #expect(found.count == 1)
        #expect(found.first?.code == .syntax)
        #expect(found.first?.line == 2)
    }

    @Test("a decision space may narrow but not widen, and must hold the default")
    func decisionSpaceRules() throws {
        var spec = sampleSpec()
        spec.agents[2].decisionSpace["lambda"] = .double(400...20000)
        spec.agents[1].decisionSpace["k"] = .double(1...2)
        let error = try #require(TopologyValidator.validate(spec).failureValue)
        #expect(
            error.issues.map { "\($0.field):\($0.code)" } == [
                "agents[1].decision_space.k.type:wrongType",
                "agents[2].parameters.lambda:outOfRange",
                "agents[2].decision_space.lambda.max:outOfRange",
            ])
        #expect(error.issues.allSatisfy { $0.line == 0 && $0.file == "<memory>" })
    }

    @Test("a spec built in code validates and normalises")
    func programmaticSpec() throws {
        var spec = sampleSpec()
        spec.agents[2].parameters["lambda"] = 500
        let checked = try TopologyValidator.validate(spec).get()
        guard case .double(500) = checked.agents[2].parameters["lambda"] else {
            Issue.record("expected a double, found \(String(describing: checked.agents[2].parameters["lambda"]))")
            return
        }
    }

    @Test("an error equals another of the same code")
    func errorEquality() {
        #expect(TopologyError(.invalid, "a") == TopologyError(.invalid, "b"))
        #expect(TopologyError(.invalid, "a") != TopologyError(.io, "a"))
    }
}

extension Result {
    var failureValue: Failure? {
        if case .failure(let error) = self { error } else { nil }
    }
}
