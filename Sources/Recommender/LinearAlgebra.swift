import COpenBLAS
public import Dataset

/// Caps the threads OpenBLAS uses per call (process-wide). Its idle workers wait for work
/// in `sched_yield` loops: ~14 % of the CPU of `agentic eval` on two cores, and half of the
/// MovieLens mesh's when agents called it per request (agent processes get
/// `OPENBLAS_NUM_THREADS=1` from the coordinator). A caller that keeps the cores busy
/// itself, or shares them with other processes, sets 1.
public func limitLinearAlgebraThreads(to count: Int) {
    openblas_set_num_threads(Int32(max(count, 1)))
}

/// Thin wrappers over CBLAS/LAPACKE for the row-major dense matrices used here.
enum Dense {
    /// C = A(m×k) · B(k×n), or with `transA`, C = Aᵀ · B where A is stored k×m.
    static func multiply(_ a: [Double], _ b: [Double], m: Int, n: Int, k: Int,
                         transA: Bool = false, transB: Bool = false) -> [Double] {
        var c = [Double](repeating: 0, count: m * n)
        guard m > 0, n > 0, k > 0 else { return c }
        let lda = transA ? m : k, ldb = transB ? k : n
        cblas_dgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    blasint(m), blasint(n), blasint(k), 1.0, a, blasint(lda), b, blasint(ldb), 0.0, &c, blasint(n))
        return c
    }

    /// The full symmetric Gram matrix XᵀX (n×n) of a row-major rows×n matrix.
    static func gram(_ x: [Double], rows: Int, n: Int) -> [Double] {
        var g = [Double](repeating: 0, count: n * n)
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, blasint(n), blasint(rows), 1.0, x, blasint(n),
                    0.0, &g, blasint(n))
        mirrorUpper(&g, n: n)
        return g
    }

    /// AᵀB (n×n) for row-major users × items matrices that are zero outside `pattern`'s
    /// interactions: the sum over users of the outer products of their rows' non-zero parts,
    /// Σ nnz(u)² multiply-adds (~20 M for ml-100k) where dense BLAS does 2·users·items²
    /// (~5 G, a third of a second). Every swap of an item-to-item model fits beside a serving
    /// cluster, so its start-up's CPU is taken from the requests in flight.
    static func interactionProduct(_ a: [Double], _ b: [Double], pattern: InteractionMatrix) -> [Double] {
        let n = pattern.columnCount
        var c = [Double](repeating: 0, count: n * n)
        var columns: [Int] = [], left: [Double] = [], right: [Double] = []
        c.withUnsafeMutableBufferPointer { c in
            for u in 0..<pattern.rowCount {
                columns.removeAll(keepingCapacity: true)
                left.removeAll(keepingCapacity: true)
                right.removeAll(keepingCapacity: true)
                for i in pattern.row(u) {
                    let j = Int(i)
                    columns.append(j)
                    left.append(a[u * n + j])
                    right.append(b[u * n + j])
                }
                for p in columns.indices where left[p] != 0 {
                    let x = left[p], base = columns[p] * n
                    for q in columns.indices { c[base + columns[q]] += x * right[q] }
                }
            }
        }
        return c
    }

    static func mirrorUpper(_ g: inout [Double], n: Int) {
        for i in 0..<n {
            for j in 0..<i { g[i * n + j] = g[j * n + i] }
        }
    }

    /// In-place inverse of a symmetric positive-definite matrix (Cholesky, dpotrf + dpotri).
    static func invertSPD(_ a: inout [Double], n: Int) throws(RecommenderError) {
        let uplo = CChar(UInt8(ascii: "U"))
        var info = LAPACKE_dpotrf(LAPACK_ROW_MAJOR, uplo, Int32(n), &a, Int32(n))
        guard info == 0 else {
            throw RecommenderError(code: .linearAlgebra, message: "dpotrf failed (info \(info)): matrix not positive definite")
        }
        info = LAPACKE_dpotri(LAPACK_ROW_MAJOR, uplo, Int32(n), &a, Int32(n))
        guard info == 0 else {
            throw RecommenderError(code: .linearAlgebra, message: "dpotri failed (info \(info))")
        }
        mirrorUpper(&a, n: n)
    }

    /// Solves A x = b for symmetric positive-definite A (n×n), overwriting both; false on failure.
    static func solveSPD(_ a: UnsafeMutablePointer<Double>, _ b: UnsafeMutablePointer<Double>, n: Int) -> Bool {
        LAPACKE_dposv(LAPACK_ROW_MAJOR, CChar(UInt8(ascii: "U")), Int32(n), 1, a, Int32(n), b, 1) == 0
    }

    /// Scores = X (users × items; binary, or rating-weighted for a non-zero exponent) · W (items × items).
    static func scoreWithItemMatrix(_ training: InteractionMatrix, _ w: [Double], ratingExponent: Double = 0) -> ScoreMatrix {
        let x = training.denseRatings(exponent: ratingExponent)
        let m = training.rowCount, n = training.columnCount
        return ScoreMatrix(userCount: m, itemCount: n, values: multiply(x, w, m: m, n: n, k: n))
    }

    /// One user's scores from an item–item matrix: the (rating-weighted) sum of the rows
    /// of the items seen.
    static func scoreRow(_ training: InteractionMatrix, _ w: [Double], user: Int, ratingExponent: Double = 0) -> [Double] {
        let n = training.columnCount
        var s = [Double](repeating: 0, count: n)
        let maximum = ratingExponent == 0 ? 1 : (training.values.max() ?? 1)
        w.withUnsafeBufferPointer { wp in
            for k in training.rowPointers[user]..<training.rowPointers[user + 1] {
                let weight = ratingExponent == 0 ? 1 : _pow(max(training.values[k], 0) / maximum, ratingExponent)
                cblas_daxpy(blasint(n), weight, wp.baseAddress! + Int(training.columns[k]) * n, 1, &s, 1)
            }
        }
        return s
    }

    /// Keeps the `k` largest entries of each row of an n×n matrix, zeroing the rest.
    static func pruneRows(_ w: inout [Double], n: Int, k: Int) {
        guard k < n else { return }
        w.withUnsafeMutableBufferPointer { buffer in
            let p = SendablePointer(buffer.baseAddress!)
            parallelChunks(n) { rows in
                var scratch = [Double](repeating: 0, count: n)
                for r in rows {
                    let row = p.pointer + r * n
                    for j in 0..<n { scratch[j] = row[j] }
                    let keep = Set(topK(scratch, k: k))
                    for j in 0..<n where !keep.contains(j) { row[j] = 0 }
                }
            }
        }
    }
}

/// A model that scores a user as the user's (rating-weighted) history times an
/// items × items matrix, row-major: score(u, j) = Σ_i X[u,i]^e W[i,j]. EASE, item-kNN and
/// RP3beta all fit such a matrix and differ only in how.
public struct ItemToItemModel: ScoringModel {
    public let training: InteractionMatrix
    public let weights: [Double]
    public let ratingExponent: Double

    /// A model from its parts (a fit, or an artifact of one): `weights` is items × items.
    public init(training: InteractionMatrix, weights: [Double], ratingExponent: Double) {
        self.training = training
        self.weights = weights
        self.ratingExponent = ratingExponent
    }

    public func score(user: Int) -> [Double] {
        Dense.scoreRow(training, weights, user: user, ratingExponent: ratingExponent)
    }

    public func scoreAll() -> ScoreMatrix {
        Dense.scoreWithItemMatrix(training, weights, ratingExponent: ratingExponent)
    }

    /// Scores for a history the model was not fitted with: the sum of the rows of the
    /// history's items, each times its weight; nil when no item is one the model knows.
    public func score(history items: [Int], weights itemWeights: [Double]) -> [Double]? {
        let n = training.columnCount
        var s = [Double](repeating: 0, count: n)
        var any = false
        weights.withUnsafeBufferPointer { w in
            for (item, weight) in zip(items, itemWeights) where item >= 0 && item < n {
                cblas_daxpy(blasint(n), weight, w.baseAddress! + item * n, 1, &s, 1)
                any = true
            }
        }
        return any ? s : nil
    }
}
