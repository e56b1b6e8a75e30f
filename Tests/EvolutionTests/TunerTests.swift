import AgenticTesting
import Foundation
import Testing
import Topology

@testable import Evolution

/// A known function over a mixed space: best at n = 37, rate = 0.3 (log scale), mode = "b".
private func known(_ p: [String: ParameterValue]) -> Double {
    let n = Double(p["n"]!.int!), rate = p["rate"]!.number!, mode = p["mode"]!.string!
    return -pow((n - 37) / 20, 2) - pow(log10(rate / 0.3), 2) + (mode == "b" ? 1 : 0)
}

private let space: [String: DecisionDimension] = [
    "n": .int(0...100),
    "rate": .double(0.001...10, log: true),
    "mode": .choice(["a", "b", "c"]),
]

private func search(seed: UInt64, trials: Int, startup: Int) throws -> (best: Double, parameters: [String: ParameterValue]) {
    var tuner = Tuner(space: try SearchSpace(space), configuration: .init(startupTrials: startup, seed: seed))
    for _ in 0..<trials {
        let trial = tuner.ask()
        tuner.tell(trial.id, value: known(trial.parameters))
    }
    let best = try #require(tuner.best)
    return (best.value, best.parameters)
}

@Suite(.computeBound) struct TunerTests {
    @Test func tpeFindsTheOptimumOfAMixedSpace() throws {
        // The optimum is 1; a uniformly random point scores about -1. Over 8 seeds of 80 trials the
        // best found must come close on average, with the right category.
        var total = 0.0, rightMode = 0
        for seed in UInt64(1)...8 {
            let found = try search(seed: seed, trials: 80, startup: 10)
            total += found.best
            if found.parameters["mode"] == "b" { rightMode += 1 }
        }
        #expect(total / 8 > 0.75, "mean best \(total / 8)")
        #expect(rightMode >= 6, "right category in \(rightMode) of 8")
    }

    @Test func tpeBeatsRandomSearchOnAverage() throws {
        var tpe = 0.0, random = 0.0
        for seed in UInt64(1)...8 {
            tpe += try search(seed: seed, trials: 40, startup: 8).best
            random += try search(seed: seed, trials: 40, startup: 40).best
        }
        #expect(tpe > random, "TPE mean \(tpe / 8), random mean \(random / 8)")
    }

    @Test func aSeedReproducesTheTrials() throws {
        func trials(_ seed: UInt64) throws -> [[String: ParameterValue]] {
            var tuner = Tuner(space: try SearchSpace(space), configuration: .init(startupTrials: 4, seed: seed))
            return (0..<12).map { _ in
                let t = tuner.ask()
                tuner.tell(t.id, value: known(t.parameters))
                return t.parameters
            }
        }
        #expect(try trials(9) == trials(9))
        #expect(try trials(9) != trials(10))
    }

    @Test func valuesStayInsideTheSpace() throws {
        var tuner = Tuner(space: try SearchSpace(space), configuration: .init(startupTrials: 5, seed: 5))
        for _ in 0..<60 {
            let t = tuner.ask()
            #expect((0...100).contains(t.parameters["n"]!.int!))
            #expect((0.001...10).contains(t.parameters["rate"]!.number!))
            #expect(["a", "b", "c"].contains(t.parameters["mode"]!.string!))
            tuner.tell(t.id, value: known(t.parameters))
        }
    }

    @Test func medianPruningStopsHopelessTrials() throws {
        var tuner = Tuner(space: try SearchSpace(space), configuration: .init(startupTrials: 30, pruningWarmupTrials: 4, seed: 2))
        var pruned = 0
        for _ in 0..<30 {
            let t = tuner.ask()
            let value = known(t.parameters)
            // The intermediate value is a noisy early look at the final one.
            if tuner.report(t.id, step: 0, value: value - 0.1) {
                pruned += 1
                continue
            }
            tuner.tell(t.id, value: value)
        }
        #expect(pruned > 5)
        #expect(tuner.prunedCount == pruned)
        // A pruned trial is never the best.
        let best = try #require(tuner.best)
        #expect(best.value >= -1)
    }

    @Test func theEnqueuedBaselineComesFirst() throws {
        var tuner = Tuner(space: try SearchSpace(space), configuration: .init(seed: 1))
        tuner.enqueue(["n": 12, "rate": 0.5, "mode": "c"])
        #expect(tuner.ask().parameters == ["n": 12, "rate": 0.5, "mode": "c"])
    }

    @Test func anUnsearchableSpaceIsRefused() {
        #expect(throws: EvolutionError.self) { try SearchSpace(["x": DecisionDimension(type: .double, min: 0, max: 1, log: true)]) }
        #expect(throws: EvolutionError.self) { try SearchSpace(["x": DecisionDimension(type: .choice, values: [])]) }
    }
}
