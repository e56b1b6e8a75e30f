import Dataset
import Dispatch
import Foundation
import Recommender

/// One evaluation run; holds the loaded data so the phases can share it.
struct Runner {
    let configuration: OfflineEvaluation.Configuration
    let clock = ContinuousClock()

    func log(_ line: String) { configuration.log?(line) }

    /// Grid searched per route on valid. Kept small so the whole run stays within a
    /// minute on two cores; each point is declared in the route's decision space.
    static let grids: [(RouteSpec, [[String: Double]])] = [
        (.ease(.init()), [0.0, 0.25].flatMap { d in [0.0, 0.5, 1.0].flatMap { g in [150.0, 250, 400].map {
            ["lambda": $0, "dropout": 1, "zeroDiagonal": 0, "ratingExponent": g, "userNormalization": d] } } }),
        (.itemKNN(.init()), [100, 400, 800].flatMap { k in [0.0, 1].map { ["neighbours": k, "ratingExponent": $0] } }),
        (.rp3beta(.init()), [0.5, 0.75].flatMap { a in [0.5, 0.7].flatMap { b in [0.0, 1].map { ["alpha": a, "beta": b, "ratingExponent": $0] } } }),
        (.als(.init()), [0.0, 1].map { ["factors": 64, "regularization": 30, "alpha": 3, "iterations": 15, "ratingExponent": $0] }),
        (.content(.init()), [[:]]),
        (.popularity(.init()), [[:]]),
    ]

    func run() throws(EvaluationError) -> EvaluationReport {
        let start = clock.now
        var seconds: [String: Double] = [:]
        func lap(_ name: String, since: ContinuousClock.Instant) {
            let d = since.duration(to: clock.now)
            seconds[name] = Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
        }

        // Data.
        let data: MovieLens
        let split: Split
        do {
            data = try MovieLens.load(directory: configuration.dataDirectory)
            switch configuration.split {
            case .p1:
                split = P1Split.split(data.interactions)
            case .files(let train, let valid, let test):
                split = Split(train: try SplitFile.read(path: train), valid: try SplitFile.read(path: valid),
                              test: try SplitFile.read(path: test))
            }
        } catch {
            throw EvaluationError(code: .data, message: error.description)
        }
        let index = IndexedData(items: data.items, interactions: split.train + split.valid + split.test)
        let items = index.items
        let genres = Reranker.genreBits(items.map(\.genres))
        let catalogueSize = data.items.count
        let train = index.matrix(split.train), valid = index.matrix(split.valid)
        let test = index.matrix(split.test), trainValid = index.matrix(split.train + split.valid)
        lap("load", since: start)
        log("loaded \(index.userCount) users, \(index.itemCount) items; train \(train.nonZeroCount), valid \(valid.nonZeroCount), test \(test.nonZeroCount)")

        // 1. Each route tuned alone on valid.
        var phase = clock.now
        var tuned: [String: [String: Double]] = [:]
        var specs: [RouteSpec] = []
        var trainModels: [String: any ScoringModel] = [:]
        for (base, grid) in Self.grids {
            var best: (ndcg: Double, spec: RouteSpec, values: [String: Double], model: any ScoringModel)?
            for values in grid {
                let fitStart = clock.now
                let spec = base.with(values: values)
                let model = try fit(spec, on: train, items: items)
                let recs = Self.recommendAll(model.scoreAll(), training: train, k: 10)
                let ndcg = Metrics.ndcg10(recommendations: recs, truth: valid)
                log(String(format: "tune %@ %@ valid ndcg@10 %.4f (%@)", spec.name, Self.describe(values), ndcg,
                           String(describing: fitStart.duration(to: clock.now))))
                if best == nil || ndcg > best!.ndcg { best = (ndcg, spec, values, model) }
            }
            if let best {
                specs.append(best.spec)
                tuned[best.spec.name] = best.values
                trainModels[best.spec.name] = best.model
            }
        }
        let trainRoutes = RouteSet(training: train, models: trainModels)
        lap("tune_routes", since: phase)

        // 2. Fusion weights by coordinate ascent on valid.
        phase = clock.now
        let warmRoutes = ["ease", "als", "rp3beta", "itemknn", "content"]
        let weights = tuneFusion(routes: trainRoutes, names: warmRoutes, truth: valid)
        tuned["fusion"] = weights
        lap("tune_fusion", since: phase)

        // 3. Learned ranker: decided by 2-fold cross-validation over valid users, then
        //    trained on all of valid with routes fitted on train. It must beat fusion by
        //    a noise margin: a linear model over the same routes that only ties fusion
        //    adds serving cost and (seen on valid) narrows genre diversity.
        phase = clock.now
        let fusion = Fusion.Configuration(weights: weights)
        let coldFusion = Fusion.Configuration(weights: ["popularity": 1, "content": 0.3])
        func pipeline(useRanker: Bool, diversity: Double, penalty: Double = 0, l2: Double) -> HybridRecommender.Configuration {
            let warm = HybridRecommender.SegmentPolicy(fusion: fusion, useRanker: useRanker, diversity: diversity,
                                                       popularityPenalty: penalty)
            var c = HybridRecommender.Configuration(
                candidatesPerRoute: configuration.candidates, featureRoutes: warmRoutes, router: configuration.router,
                policies: [.cold: .init(fusion: coldFusion, useRanker: false, diversity: diversity), .light: warm, .heavy: warm],
                reranker: .init(candidatePool: 60), ranker: .init(l2: l2, objective: .listwise))
            c.routeCandidates = configuration.routeCandidates
            return c
        }
        var bestL2: Double?
        var bestCV = cvNDCG(pipeline(useRanker: false, diversity: 0, l2: 1), routes: trainRoutes, items: items, valid: valid, useRanker: false)
        log(String(format: "ranker cv: fusion only valid ndcg@10 %.4f", bestCV))
        for l2 in [100.0, 1000] {
            let score = cvNDCG(pipeline(useRanker: true, diversity: 0, l2: l2), routes: trainRoutes, items: items, valid: valid, useRanker: true)
            log(String(format: "ranker cv: l2 %g valid ndcg@10 %.4f", l2, score))
            if score > bestCV + configuration.rankerMargin { bestCV = score - configuration.rankerMargin; bestL2 = l2 }
        }
        let useRanker = bestL2 != nil
        var rankerModel: LogisticRanker.Model?
        if let l2 = bestL2 {
            rankerModel = try trainRanker(pipeline(useRanker: true, diversity: 0, l2: l2), routes: trainRoutes, items: items, targets: valid)
        }
        tuned["ranker"] = ["enabled": useRanker ? 1 : 0, "l2": bestL2 ?? 0]
        lap("train_ranker", since: phase)

        // 4. Diversity λ on valid under ILD / coverage floors.
        phase = clock.now
        var bestRoute: (name: String, ndcg: Double)?
        for name in trainRoutes.names {
            let ndcg = Metrics.ndcg10(recommendations: Self.recommendAll(trainRoutes.scores[name]!, training: train, k: 10), truth: valid)
            if bestRoute == nil || ndcg > bestRoute!.ndcg { bestRoute = (name, ndcg) }
        }
        let coverageFloor = configuration.minimumValidCoverage ?? Metrics.compute(
            recommendations: Self.recommendAll(trainRoutes.scores[bestRoute!.name]!, training: train, k: 10),
            truth: valid, known: train, itemGenres: genres, catalogueSize: catalogueSize).coverage10
        var chosen: (lambda: Double, penalty: Double, metrics: MetricSet)?
        var fallback: (lambda: Double, penalty: Double, metrics: MetricSet)?
        for lambda in [0.0, 0.4, 0.8, 1.2, 1.6, 2.4] {
            for penalty in [0.0, 0.1, 0.2] {
                let model = HybridRecommender(configuration: pipeline(useRanker: useRanker, diversity: lambda, penalty: penalty, l2: bestL2 ?? 1))
                    .model(routes: trainRoutes, items: items, ranker: rankerModel)
                let recs = Self.recommendAll(model, k: 10)
                let m = Metrics.compute(recommendations: recs, truth: valid, known: train, itemGenres: genres, catalogueSize: catalogueSize)
                log(String(format: "diversity %.2f popularity penalty %.2f valid ndcg@10 %.4f ild@10 %.4f cov@10 %.4f",
                           lambda, penalty, m.ndcg10, m.ild10, m.coverage10))
                if fallback == nil || m.ndcg10 > fallback!.metrics.ndcg10 { fallback = (lambda, penalty, m) }
                if m.ild10 >= configuration.minimumValidILD, m.coverage10 > coverageFloor,
                   chosen == nil || m.ndcg10 > chosen!.metrics.ndcg10 {
                    chosen = (lambda, penalty, m)
                }
            }
        }
        let lambda = (chosen ?? fallback)!.lambda, penalty = (chosen ?? fallback)!.penalty
        tuned["reranker"] = ["diversity": lambda, "popularityPenalty": penalty, "validCoverageFloor": coverageFloor,
                             "validILDFloor": configuration.minimumValidILD]
        tuned["router"] = ["coldMaximum": Double(configuration.router.coldMaximum),
                           "heavyMinimum": Double(configuration.router.heavyMinimum)]
        let final = HybridRecommender(configuration: pipeline(useRanker: useRanker, diversity: lambda, penalty: penalty, l2: bestL2 ?? 1))
        lap("tune_diversity", since: phase)

        // 5. Valid report with the tuned pipeline on train-fitted routes.
        phase = clock.now
        let k = configuration.listLength
        let validStage = stage(model: final.model(routes: trainRoutes, items: items, ranker: rankerModel),
                               truth: valid, known: train, genres: genres, catalogueSize: catalogueSize, k: k)
        lap("valid_report", since: phase)

        // 6. Refit on train + valid, report on test.
        phase = clock.now
        var refit: [String: any ScoringModel] = [:]
        for spec in specs { refit[spec.name] = try fit(spec, on: trainValid, items: items) }
        let testRoutes = RouteSet(training: trainValid, models: refit)
        let testModel = final.model(routes: testRoutes, items: items, ranker: rankerModel)
        lap("refit", since: phase)
        phase = clock.now
        let testRecs = Self.recommendAll(testModel, k: k)
        let testStage = stage(model: testModel, truth: test, known: trainValid, genres: genres,
                              catalogueSize: catalogueSize, k: k, recommendations: testRecs)
        lap("test_report", since: phase)

        if let path = configuration.recommendationsPath {
            var text = "user\titem\trank\n"
            for u in 0..<index.userCount {
                for (r, i) in (testRecs[u] ?? []).enumerated() {
                    text += "\(index.userIDs[u])\t\(index.itemIDs[i])\t\(r + 1)\n"
                }
            }
            do {
                try text.write(toFile: path, atomically: true, encoding: .utf8)
            } catch {
                throw EvaluationError(code: .output, message: "cannot write \(path): \(error.localizedDescription)")
            }
        }
        lap("total", since: start)
        return EvaluationReport(
            split: {
                if case .p1 = configuration.split { return "p1" }
                return "files"
            }(),
            users: index.userCount, items: index.itemCount, tuned: tuned,
            rankerWeights: rankerModel.map { Dictionary(uniqueKeysWithValues: zip($0.featureNames, $0.weights)) } ?? [:],
            valid: validStage, test: testStage, seconds: seconds, recommendationsFile: configuration.recommendationsPath)
    }

    func fit(_ spec: RouteSpec, on matrix: InteractionMatrix, items: [Item]) throws(EvaluationError) -> any ScoringModel {
        do {
            return try spec.fit(on: matrix, items: items)
        } catch {
            throw EvaluationError(code: .model, message: "\(spec.name): \(error.description)")
        }
    }

    func trainRanker(_ pipeline: HybridRecommender.Configuration, routes: RouteSet, items: [Item],
                     targets: InteractionMatrix) throws(EvaluationError) -> LogisticRanker.Model {
        do {
            return try HybridRecommender(configuration: pipeline).trainRanker(routes: routes, items: items, targets: targets)
        } catch {
            throw EvaluationError(code: .model, message: "ranker: \(error.description)")
        }
    }

    /// Mean valid NDCG@10 of the pipeline when the ranker of each half of the users is
    /// trained on the other half, so the decision to use it is not made in-sample.
    func cvNDCG(_ pipeline: HybridRecommender.Configuration, routes: RouteSet, items: [Item],
                valid: InteractionMatrix, useRanker: Bool) -> Double {
        var total = 0.0
        for fold in 0..<2 {
            let trainHalf = Self.rows(of: valid, where: { $0 % 2 != fold })
            let evalHalf = Self.rows(of: valid, where: { $0 % 2 == fold })
            let ranker = useRanker ? try? HybridRecommender(configuration: pipeline).trainRanker(routes: routes, items: items, targets: trainHalf) : nil
            if useRanker && ranker == nil { return -1 }
            let model = HybridRecommender(configuration: pipeline).model(routes: routes, items: items, ranker: ranker)
            let recs = Self.recommendAll(model, k: 10, users: (0..<valid.rowCount).filter { $0 % 2 == fold })
            total += Metrics.ndcg10(recommendations: recs, truth: evalHalf) * Double(Self.usersWithRows(evalHalf))
        }
        return total / Double(Self.usersWithRows(valid))
    }

    /// Coordinate ascent over per-route weights (per-user z-scores), starting from the
    /// best single route.
    func tuneFusion(routes: RouteSet, names: [String], truth: InteractionMatrix) -> [String: Double] {
        let training = routes.training
        let m = training.rowCount, n = training.columnCount
        var z: [String: [Double]] = [:]
        for name in names {
            guard let s = routes.scores[name] else { continue }
            var values = [Double](repeating: 0, count: m * n)
            for u in 0..<m {
                var seen = [Bool](repeating: false, count: n)
                for i in training.row(u) { seen[Int(i)] = true }
                let c = Fusion.calibrate(s.row(u), seen: seen, method: .zScore)
                for i in 0..<n { values[u * n + i] = seen[i] ? -.infinity : c[i] }
            }
            z[name] = values
        }
        let active = names.filter { z[$0] != nil }
        func evaluate(_ w: [String: Double]) -> Double {
            var fused = [Double](repeating: 0, count: m * n)
            for (name, weight) in w where weight != 0 {
                let values = z[name]!
                for k in 0..<(m * n) { fused[k] += weight * values[k] }
            }
            let matrix = ScoreMatrix(userCount: m, itemCount: n, values: fused)
            return Metrics.ndcg10(recommendations: Self.recommendAll(matrix, training: training, k: 10), truth: truth)
        }
        var best: [String: Double] = [:]
        var bestScore = -1.0
        for name in active {
            let s = evaluate([name: 1])
            if s > bestScore { bestScore = s; best = [name: 1] }
        }
        let anchor = best.keys.first!
        for _ in 0..<2 {
            for name in active where name != anchor {
                for w in [0.0, 0.05, 0.1, 0.2, 0.3, 0.5] {
                    var trial = best
                    trial[name] = w
                    let s = evaluate(trial)
                    if s > bestScore + 1e-6 { bestScore = s; best = trial }
                }
            }
        }
        log(String(format: "fusion %@ valid ndcg@10 %.4f", Self.describe(best), bestScore))
        return best.filter { $0.value != 0 }
    }

    func stage(model: HybridRecommender.Model, truth: InteractionMatrix, known: InteractionMatrix, genres: [UInt64],
               catalogueSize: Int, k: Int, recommendations: [Int: [Int]]? = nil) -> StageReport {
        let recs = recommendations ?? Self.recommendAll(model, k: k)
        let overall = Metrics.compute(recommendations: recs, truth: truth, known: known, itemGenres: genres, catalogueSize: catalogueSize)
        var segments: [String: MetricSet] = [:]
        for segment in Router.Segment.allCases {
            let users = Set((0..<truth.rowCount).filter { model.segment(user: $0) == segment })
            guard !users.isEmpty, users.contains(where: { truth.rowLength($0) > 0 }) else { continue }
            segments[segment.rawValue] = Metrics.compute(recommendations: recs, truth: truth, known: known, itemGenres: genres,
                                                         catalogueSize: catalogueSize, users: users)
        }
        var routes: [String: MetricSet] = [:]
        for name in model.routes.names {
            let r = Self.recommendAll(model.routes.scores[name]!, training: model.routes.training, k: k)
            routes[name] = Metrics.compute(recommendations: r, truth: truth, known: known, itemGenres: genres, catalogueSize: catalogueSize)
        }
        return StageReport(overall: overall, segments: segments, routes: routes)
    }

    static func recommendAll(_ scores: ScoreMatrix, training: InteractionMatrix, k: Int) -> [Int: [Int]] {
        let results = ConcurrentSlots<[Int]>(count: scores.userCount)
        DispatchQueue.concurrentPerform(iterations: scores.userCount) { u in
            var s = Array(scores.row(u))
            for i in training.row(u) { s[Int(i)] = -.infinity }
            results.set(u, topK(s, k: k))
        }
        var out: [Int: [Int]] = [:]
        for (u, list) in results.values.enumerated() { out[u] = list }
        return out
    }

    static func recommendAll(_ model: HybridRecommender.Model, k: Int, users: [Int]? = nil) -> [Int: [Int]] {
        let list = users ?? Array(0..<model.routes.training.rowCount)
        let results = ConcurrentSlots<[Int]>(count: list.count)
        DispatchQueue.concurrentPerform(iterations: list.count) { index in
            results.set(index, model.recommend(user: list[index], k: k))
        }
        var out: [Int: [Int]] = [:]
        for (u, recs) in zip(list, results.values) { out[u] = recs }
        return out
    }

    static func rows(of matrix: InteractionMatrix, where keep: (Int) -> Bool) -> InteractionMatrix {
        var entries: [MatrixEntry] = []
        for r in 0..<matrix.rowCount where keep(r) {
            for k in matrix.rowPointers[r]..<matrix.rowPointers[r + 1] {
                entries.append(MatrixEntry(row: r, column: Int(matrix.columns[k]), timestamp: matrix.timestamps[k],
                                           value: matrix.values[k]))
            }
        }
        return InteractionMatrix(rowCount: matrix.rowCount, columnCount: matrix.columnCount, entries: entries)
    }

    static func usersWithRows(_ matrix: InteractionMatrix) -> Int {
        (0..<matrix.rowCount).filter { matrix.rowLength($0) > 0 }.count
    }

    static func describe(_ values: [String: Double]) -> String {
        values.sorted { $0.key < $1.key }.map { "\($0.key)=\(String(format: "%g", $0.value))" }.joined(separator: ",")
    }
}

