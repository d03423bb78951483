import COpenBLAS

/// Whether a GEMM operand is used as stored or transposed.
public enum Transpose: Sendable {
    case none
    case transposed

    var cblas: CBLAS_TRANSPOSE { self == .none ? CblasNoTrans : CblasTrans }
}

/// OpenBLAS is pinned to one thread the first time any GEMM runs; see `Parallelism`.
private let singleThreadedBLAS: Void = { openblas_set_num_threads(1) }()

/// Products smaller than this many multiply-adds run as one BLAS call: splitting costs more.
private let splitThreshold = 1 << 21

/// Row-major single-precision GEMM through OpenBLAS:
/// `C (M, N) = alpha * op(A) (M, K) * op(B) (K, N) + beta * C`.
///
/// `lda`, `ldb`, `ldc` are row strides as stored (so a transposed A stored as (K, M) has lda ≥ M).
/// Strided views let attention multiply one head's slice of a (T, heads * HD) tensor in place.
/// Large products are split along the longer of M and N into one block per worker.
public func gemm(
    _ transA: Transpose, _ transB: Transpose, M: Int, N: Int, K: Int, alpha: Float = 1,
    A: UnsafePointer<Float>, lda: Int, B: UnsafePointer<Float>, ldb: Int,
    beta: Float = 0, C: UnsafeMutablePointer<Float>, ldc: Int
) {
    _ = singleThreadedBLAS
    if M == 0 || N == 0 { return }
    if K == 0 {
        // BLAS would only scale C; do that explicitly so beta = 0 also clears NaNs.
        for i in 0..<M {
            let row = C + i * ldc
            for j in 0..<N { row[j] = beta == 0 ? 0 : beta * row[j] }
        }
        return
    }
    if M == 1 {
        // One row (batch-1 decode): OpenBLAS's sgemm is several times slower than sgemv here.
        rowTimesMatrix(transB, N: N, K: K, alpha: alpha, x: A, xStride: transA == .none ? 1 : lda, B: B, ldb: ldb,
                       beta: beta, y: C)
        return
    }
    let workers = Parallelism.workers
    if workers <= 1 || M * N * K < splitThreshold {
        gemmBlock(transA, transB, M: M, N: N, K: K, alpha: alpha, A: A, lda: lda, B: B, ldb: ldb, beta: beta, C: C, ldc: ldc)
        return
    }
    if M >= N {
        // Rows of C come from rows of op(A): row i of op(A) starts at A + i·lda (stored) or A + i (transposed).
        parallelChunks(M, minimumPerChunk: 16) { rows, _ in
            let a = transA == .none ? A + rows.lowerBound * lda : A + rows.lowerBound
            gemmBlock(transA, transB, M: rows.count, N: N, K: K, alpha: alpha, A: a, lda: lda, B: B, ldb: ldb,
                      beta: beta, C: C + rows.lowerBound * ldc, ldc: ldc)
        }
    } else {
        parallelChunks(N, minimumPerChunk: 16) { cols, _ in
            let b = transB == .none ? B + cols.lowerBound : B + cols.lowerBound * ldb
            gemmBlock(transA, transB, M: M, N: cols.count, K: K, alpha: alpha, A: A, lda: lda, B: b, ldb: ldb,
                      beta: beta, C: C + cols.lowerBound, ldc: ldc)
        }
    }
}

/// y (1, N) = alpha · x (1, K) · op(B) + beta · y, as matrix-vector products split over blocks of N.
private func rowTimesMatrix(
    _ transB: Transpose, N: Int, K: Int, alpha: Float, x: UnsafePointer<Float>, xStride: Int,
    B: UnsafePointer<Float>, ldb: Int, beta: Float, y: UnsafeMutablePointer<Float>
) {
    parallelChunks(N, minimumPerChunk: max(64, (1 << 18) / max(K, 1))) { cols, _ in
        if transB == .transposed {
            // B stored (N, K): y[cols] = B[cols, :] · x
            cblas_sgemv(CblasRowMajor, CblasNoTrans, Int32(cols.count), Int32(K), alpha, B + cols.lowerBound * ldb, Int32(ldb),
                        x, Int32(xStride), beta, y + cols.lowerBound, 1)
        } else {
            // B stored (K, N): y[cols] = B[:, cols]ᵀ · x
            cblas_sgemv(CblasRowMajor, CblasTrans, Int32(K), Int32(cols.count), alpha, B + cols.lowerBound, Int32(ldb),
                        x, Int32(xStride), beta, y + cols.lowerBound, 1)
        }
    }
}

private func gemmBlock(
    _ transA: Transpose, _ transB: Transpose, M: Int, N: Int, K: Int, alpha: Float,
    A: UnsafePointer<Float>, lda: Int, B: UnsafePointer<Float>, ldb: Int,
    beta: Float, C: UnsafeMutablePointer<Float>, ldc: Int
) {
    cblas_sgemm(
        CblasRowMajor, transA.cblas, transB.cblas, Int32(M), Int32(N), Int32(K), alpha,
        A, Int32(lda), B, Int32(ldb), beta, C, Int32(ldc))
}

/// Row-major matrix-vector product through OpenBLAS: `y = alpha * op(A) x + beta * y`, A stored (rows, cols).
public func gemv(
    _ trans: Transpose, rows: Int, cols: Int, alpha: Float = 1, A: UnsafePointer<Float>, lda: Int,
    x: UnsafePointer<Float>, beta: Float = 0, y: UnsafeMutablePointer<Float>
) {
    _ = singleThreadedBLAS
    if rows == 0 || cols == 0 { return }
    cblas_sgemv(CblasRowMajor, trans.cblas, Int32(rows), Int32(cols), alpha, A, Int32(lda), x, 1, beta, y, 1)
}
