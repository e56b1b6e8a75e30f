import Dataset
import Foundation
import Recommender
public import Topology

extension TopologyEvaluator {
    /// Tunes `topology` on valid (routes fitted on train) within each agent's declared
    /// `decision_space`, in pipeline order: each recall agent alone (coordinate search,
    /// a few points per dimension around its current value), fusion weights (coordinate
    /// ascent over its inputs), the ranker's L2 (cross-fitted over valid users), then
    /// MMR λ and popularity penalty: the most accurate setting whose valid ILD@10 reaches
    /// ``Configuration/minimumValidILD`` and whose Coverage@10 beats the best single
    /// route's, both raised to clear the diversity reference's by a margin. Test data is
    /// never read.
    public func tune(_ topology: TopologySpec) throws(EvaluationError) -> TunedTopology {
        var spec = topology
        var chosen: [String: [String: Double]] = [:]
        var plan = try TopologyPlan(spec)
        var seconds: [String: Double] = [:]
        var step = clock.now

        // 1. Each recall agent alone, from the topology's values (fitted side by side).
        _ = try fittedConcurrently(plan.routes, stage: .valid)
        for route in plan.routes {
            guard let agent = spec.agent(named: route.name) else { continue }
            let routeStart = clock.now
            var best = route
            var bestScore = try validNDCG(route, cache: true)
            log(String(format: "tune %@ %@ valid ndcg@10 %.4f", route.name, Runner.describe(route.values), bestScore))
            for (dimensionName, dimension) in agent.decisionSpace.sorted(by: { $0.key < $1.key }) {
                guard let name = route.names[dimensionName], dimension.type == .int || dimension.type == .double,
                      let lo = dimension.min, let hi = dimension.max, hi > lo else { continue }
                let current = best.values[name] ?? route.spec.with(values: [:]).defaultValue(name) ?? lo
                let trials = Self.neighbours(of: current, lo: lo, hi: hi, log: dimension.log, integer: dimension.type == .int)
                    .map { value in
                        var trial = best
                        trial.values[name] = value
                        trial.spec = route.spec.with(values: trial.values)
                        return trial
                    }
                for (trial, score) in zip(trials, try validNDCG(trials)) {
                    log(String(format: "tune %@ %@ valid ndcg@10 %.4f", route.name, Runner.describe(trial.values), score))
                    if score > bestScore + 1e-6 { bestScore = score; best = trial }
                }
            }
            _ = try fitted(best, stage: .valid)
            for (topologyName, name) in route.names {
                guard let value = best.values[name], agent.decisionSpace[topologyName] != nil else { continue }
                spec = spec.setting(route.name, topologyName, Self.parameterValue(value, kind: agent.kind, name: topologyName))
            }
            chosen[route.name] = best.values
            seconds["route_\(route.name)"] = self.seconds(since: routeStart)
        }
        plan = try TopologyPlan(spec)
        seconds["routes"] = self.seconds(since: step)
        step = clock.now

        // 2. Fusion weights.
        if let fusionAgent = plan.fusionAgent {
            let weights = try tuneFusion(plan)
            for name in plan.fusionInputs {
                spec = spec.setting(fusionAgent, "weight.\(name)", .double(weights[name] ?? 0))
            }
            chosen[fusionAgent] = weights
            plan = try TopologyPlan(spec)
        }
        seconds["fusion"] = self.seconds(since: step)
        step = clock.now

        // 3. The ranker's L2 (scored without diversity, so MMR does not mask it), and
        // whether a learned ranker is worth serving at all: the alternative is `model: none`
        // (the fused order), compared below after re-ranking, both cross-fitted on valid.
        var rankerOptions = [spec]
        if let rankerAgent = plan.rankerAgent, let agent = spec.agent(named: rankerAgent), agent.kind == "rank.learned" {
            if let choice = plan.ranker {
                var candidates = [choice.l2]
                if let d = agent.decisionSpace["l2"], let lo = d.min, let hi = d.max, hi > lo {
                    candidates += Self.neighbours(of: choice.l2, lo: lo, hi: hi, log: d.log, integer: false)
                }
                var best = (l2: choice.l2, score: -1.0)
                for l2 in candidates {
                    let trial = spec.setting(rankerAgent, "l2", .double(l2)).setting(plan.rerankAgent, "lambda", .double(1))
                        .setting(plan.rerankAgent, "popularity_penalty", .double(0))
                    let score = try evaluate(trial, on: .valid, details: false).overall.ndcg10
                    log(String(format: "tune %@ l2=%g valid ndcg@10 %.4f (cross-fitted)", rankerAgent, l2, score))
                    if score > best.score + 1e-6 { best = (l2, score) }
                }
                spec = spec.setting(rankerAgent, "l2", .double(best.l2))
                chosen[rankerAgent] = ["l2": best.l2]
                rankerOptions = [spec, spec.setting(rankerAgent, "model", .string("none"))]
            } else {
                rankerOptions = [spec.setting(rankerAgent, "model", .string("linear")), spec]
            }
        }

        seconds["ranker"] = self.seconds(since: step)
        step = clock.now

        // 4. MMR λ and popularity penalty under the diversity floors (per ranker option).
        if let rerankAgent = plan.rerankAgent, let agent = spec.agent(named: rerankAgent) {
            let routes = try routeSet(plan, stage: .valid)
            var floor = 0.0, bestRoute = -1.0
            for route in plan.routes {
                let lists = Runner.recommendAll(routes.scores[route.name]!, training: data.train, k: 10)
                let m = Metrics.compute(recommendations: lists, truth: data.valid, known: data.train, itemGenres: data.genres,
                                        catalogueSize: data.catalogueSize)
                if m.ndcg10 > bestRoute { bestRoute = m.ndcg10; floor = m.coverage10 }
            }
            var ildFloor = configuration.minimumValidILD
            if let reference = try diversityReferenceMetrics() {
                floor = max(floor, reference.coverage10 * (1 + configuration.coverageMargin))
                ildFloor = max(ildFloor, reference.ild10 + configuration.ildMargin)
                log(String(format: "tune %@ floors: valid cov@10 > %.4f, ild@10 >= %.4f (reference cov@10 %.4f ild@10 %.4f)",
                           rerankAgent, floor, ildFloor, reference.coverage10, reference.ild10))
            }
            if let fixed = configuration.minimumValidCoverage { floor = fixed }
            // A coarse grid (λ in tenths of its range, the penalty in thirds) for every ranker
            // option, then half steps around the winner of the chosen option only: the
            // metrics are smooth in both, so this finds what a fine grid finds at a third
            // of the evaluations.
            let currentLambda = TopologyPlan.mmrLambda(diversity: plan.reranker.diversity)
            var lambdas = [currentLambda]
            var lambdaRange: (lo: Double, hi: Double, step: Double)?
            if let d = agent.decisionSpace["lambda"], let lo = d.min, let hi = d.max, hi > lo {
                lambdas += (0...10).map { lo + (hi - lo) * Double($0) / 10 }
                lambdaRange = (lo, hi, (hi - lo) / 20)
            }
            var penalties = [plan.reranker.popularityPenalty]
            var penaltyRange: (lo: Double, hi: Double, step: Double)?
            if let d = agent.decisionSpace["popularity_penalty"], let lo = d.min, let hi = d.max, hi > lo {
                penalties += (0...3).map { lo + (hi - lo) * Double($0) / 3 }
                penaltyRange = (lo, hi, (hi - lo) / 6)
            }
            typealias Setting = (spec: TopologySpec, lambda: Double, penalty: Double, metrics: MetricSet)
            func grid(_ option: TopologySpec, _ points: [(lambda: Double, penalty: Double)]) throws(EvaluationError) -> [Setting] {
                let model = option.agent(named: plan.rankerAgent ?? "")?.parameters["model"]?.string ?? "-"
                var settings: [Setting] = []
                for (lambda, penalty) in points {
                    let trial = option.setting(rerankAgent, "lambda", .double(lambda))
                        .setting(rerankAgent, "popularity_penalty", .double(penalty))
                    let m = try evaluate(trial, on: .valid, details: false).overall
                    log(String(format: "tune %@ ranker=%@ lambda=%.3f popularity_penalty=%.3f valid ndcg@10 %.4f ild@10 %.4f cov@10 %.4f",
                               rerankAgent, model, lambda, penalty, m.ndcg10, m.ild10, m.coverage10))
                    settings.append((option, lambda, penalty, m))
                }
                return settings
            }
            let coarse = Array(Set(lambdas)).sorted().flatMap { lambda in Array(Set(penalties)).sorted().map { (lambda, $0) } }
            func best(_ settings: [Setting]) -> Setting {
                settings[Self.constrainedBest(settings.map(\.metrics), coverageFloor: floor, ildFloor: ildFloor)]
            }
            var tried: [[Setting]] = []
            for option in rankerOptions { tried.append(try grid(option, coarse)) }
            // A learned ranker (the first option) must beat the fused order by a noise margin:
            // one that only ties adds serving cost for nothing. A setting that clears the
            // floors always wins over one that does not.
            var chosenOption = 0
            for other in tried.indices.dropFirst() {
                let candidate = best(tried[other]), current = best(tried[chosenOption])
                let feasible = Self.violation(candidate.metrics, coverageFloor: floor, ildFloor: ildFloor) == 0
                let currentFeasible = Self.violation(current.metrics, coverageFloor: floor, ildFloor: ildFloor) == 0
                if feasible && !currentFeasible
                    || feasible == currentFeasible && candidate.metrics.ndcg10 + configuration.rankerMargin > current.metrics.ndcg10 {
                    chosenOption = other
                }
            }
            let centre = best(tried[chosenOption])
            func around(_ value: Double, _ range: (lo: Double, hi: Double, step: Double)?) -> [Double] {
                guard let range else { return [value] }
                return [value - range.step, value, value + range.step].filter { $0 >= range.lo - 1e-12 && $0 <= range.hi + 1e-12 }
            }
            let fine = around(centre.lambda, lambdaRange).flatMap { lambda in around(centre.penalty, penaltyRange).map { (lambda, $0) } }
                .filter { point in !tried[chosenOption].contains { abs($0.lambda - point.0) < 1e-9 && abs($0.penalty - point.1) < 1e-9 } }
            tried[chosenOption] += try grid(rankerOptions[chosenOption], fine)
            let pick = best(tried[chosenOption])
            spec = pick.spec.setting(rerankAgent, "lambda", .double(pick.lambda))
                .setting(rerankAgent, "popularity_penalty", .double(pick.penalty))
            chosen[rerankAgent] = ["lambda": pick.lambda, "popularity_penalty": pick.penalty,
                                   "valid_coverage_floor": floor, "valid_ild_floor": ildFloor]
        } else if rankerOptions.count > 1 {
            let withRanker = try evaluate(rankerOptions[0], on: .valid, details: false).overall.ndcg10
            let without = try evaluate(rankerOptions[1], on: .valid, details: false).overall.ndcg10
            spec = withRanker > without + configuration.rankerMargin ? rankerOptions[0] : rankerOptions[1]
        }
        seconds["rerank"] = self.seconds(since: step)
        plan = try TopologyPlan(spec)
        if let rankerAgent = plan.rankerAgent, spec.agent(named: rankerAgent)?.kind == "rank.learned" {
            chosen[rankerAgent, default: [:]]["used"] = plan.ranker == nil ? 0 : 1
        }
        if let routerAgent = plan.routerAgent {
            chosen[routerAgent] = ["cold_max_history": Double(plan.router.coldMaximum),
                                   "light_max_history": Double(plan.router.heavyMinimum - 1)]
        }
        return TunedTopology(topology: spec, chosen: chosen, seconds: seconds)
    }

    /// How far `m` falls short of the diversity floors (relative coverage shortfall plus
    /// ILD shortfall); 0 when it clears both (coverage strictly above its floor).
    static func violation(_ m: MetricSet, coverageFloor: Double, ildFloor: Double) -> Double {
        let coverage = m.coverage10 > coverageFloor ? 0 : (coverageFloor - m.coverage10) / max(coverageFloor, 1e-9) + 1e-9
        return coverage + max(ildFloor - m.ild10, 0)
    }

    /// The index of the most accurate setting that clears both floors; when none does, the
    /// one closest to clearing them (then the most accurate): the floors are constraints,
    /// and the fallback must not drift to the least diverse, most accurate setting.
    static func constrainedBest(_ metrics: [MetricSet], coverageFloor: Double, ildFloor: Double) -> Int {
        precondition(!metrics.isEmpty)
        var best = 0
        for (i, m) in metrics.enumerated().dropFirst() {
            let v = violation(m, coverageFloor: coverageFloor, ildFloor: ildFloor)
            let b = violation(metrics[best], coverageFloor: coverageFloor, ildFloor: ildFloor)
            if v < b || v == b && m.ndcg10 > metrics[best].ndcg10 { best = i }
        }
        return best
    }

    /// A route's valid NDCG@10 alone, remembered so later tuning rounds (evolution tunes
    /// the same neighbours again) refit nothing.
    func validNDCG(_ route: TopologyPlan.Route, cache: Bool = false) throws(EvaluationError) -> Double {
        let key = Self.key(route.spec, values: route.values, stage: .valid)
        if let hit = routeScores[key] { return hit }
        let score = routeNDCG(try fitted(route, stage: .valid, cache: cache))
        routeScores[key] = score
        return score
    }

    /// ``validNDCG(_:cache:)`` of several routes, the uncached ones fitted side by side and
    /// kept (the cache is LRU-bounded), so the winner is not fitted a second time.
    func validNDCG(_ routes: [TopologyPlan.Route]) throws(EvaluationError) -> [Double] {
        let keys = routes.map { Self.key($0.spec, values: $0.values, stage: .valid) }
        let missing = routes.indices.filter { routeScores[keys[$0]] == nil }
        for (i, fitted) in zip(missing, try fittedConcurrently(missing.map { routes[$0] }, stage: .valid)) {
            routeScores[keys[i]] = routeNDCG(fitted)
        }
        return keys.map { routeScores[$0]! }
    }

    func routeNDCG(_ route: FittedRoute) -> Double {
        Metrics.ndcg10(recommendations: Runner.recommendAll(route.scores, training: data.train, k: 10), truth: data.valid)
    }

    /// The two neighbours of `value` one sixth of the range away (log range if `log`).
    static func neighbours(of value: Double, lo: Double, hi: Double, log: Bool, integer: Bool) -> [Double] {
        var out: [Double] = []
        if log && lo > 0 {
            let step = Foundation.log(hi / lo) / 6
            out = [value * exp(-step), value * exp(step)]
        } else {
            let step = (hi - lo) / 6
            out = [value - step, value + step]
        }
        return out.map { min(max($0, lo), hi) }.map { integer ? $0.rounded() : $0 }.filter { $0 != value }
    }

    static func parameterValue(_ value: Double, kind: String, name: String) -> ParameterValue {
        switch KindCatalogue.builtin[kind]?.parameter(named: name)?.type {
        case .int?: .int(Int(value.rounded()))
        case .bool?: .bool(value != 0)
        default: .double(value)
        }
    }

    /// Coordinate ascent over fusion weights on per-user z-scores, from the better of the
    /// topology's weights and the best single input.
    func tuneFusion(_ plan: TopologyPlan) throws(EvaluationError) -> [String: Double] {
        let routes = try routeSet(plan, stage: .valid)
        let training = data.train, truth = data.valid
        let m = training.rowCount, n = training.columnCount
        let users = Array(0..<m)
        var z: [String: [Double]] = [:]
        for name in plan.fusionInputs {
            guard let s = routes.scores[name] else { continue }
            let rows = Self.parallelMap(users) { u in
                var seen = [Bool](repeating: false, count: n)
                for i in training.row(u) { seen[Int(i)] = true }
                var c = Fusion.calibrate(s.row(u), seen: seen, method: plan.fusion.calibration)
                for i in 0..<n where seen[i] { c[i] = -.infinity }
                return c
            }
            z[name] = Array(rows.joined())
        }
        // Each trial fuses and ranks user by user on all cores (no users × items buffer).
        func evaluate(_ w: [String: Double]) -> Double {
            let terms = w.sorted { $0.key < $1.key }.compactMap { name, weight in
                weight == 0 ? nil : z[name].map { (values: $0, weight: weight) }
            }
            if terms.isEmpty { return 0 }
            let lists = Self.parallelMap(users) { u in
                var fused = [Double](repeating: 0, count: n)
                for term in terms {
                    term.values.withUnsafeBufferPointer { v in
                        let row = v.baseAddress! + u * n
                        for i in 0..<n { fused[i] += term.weight * row[i] }
                    }
                }
                return topK(fused, k: 10)
            }
            return Metrics.ndcg10(recommendations: Dictionary(uniqueKeysWithValues: zip(users, lists)), truth: truth)
        }
        var best = plan.fusion.weights
        var bestScore = evaluate(best)
        for name in plan.fusionInputs {
            let s = evaluate([name: 1])
            if s > bestScore { bestScore = s; best = [name: 1] }
        }
        let anchor = best.max { $0.value < $1.value }?.key ?? plan.fusionInputs[0]
        let scale = best[anchor] ?? 1
        for _ in 0..<2 {
            for name in plan.fusionInputs where name != anchor {
                // Up to the anchor's own weight: on P1 ALS sat at the old 0.7 edge.
                for w in [0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0] {
                    var trial = best
                    trial[name] = w * scale
                    let s = evaluate(trial)
                    if s > bestScore + 1e-6 { bestScore = s; best = trial }
                }
            }
        }
        log(String(format: "tune fusion %@ valid ndcg@10 %.4f", Runner.describe(best), bestScore))
        var out = best
        for name in plan.fusionInputs where out[name] == nil { out[name] = 0 }
        return out
    }
}

extension RouteSpec {
    /// The default of parameter `name` in this route's decision space.
    func defaultValue(_ name: String) -> Double? {
        decisionSpace.parameters.first { $0.name == name }?.defaultValue
    }
}
