import COpenBLAS

/// Whether a GEMM operand is used as stored or transposed.
public enum Transpose: Sendable {
    case none
    case transposed

    var cblas: CBLAS_TRANSPOSE { self == .none ? CblasNoTrans : CblasTrans }
}

/// Row-major single-precision GEMM through OpenBLAS:
/// `C (M, N) = alpha * op(A) (M, K) * op(B) (K, N) + beta * C`.
///
/// `lda`, `ldb`, `ldc` are row strides as stored (so a transposed A stored as (K, M) has lda ≥ M).
/// Strided views let attention multiply one head's slice of a (T, heads * HD) tensor in place.

public func gemm(
    _ transA: Transpose, _ transB: Transpose, M: Int, N: Int, K: Int, alpha: Float = 1,
    A: UnsafePointer<Float>, lda: Int, B: UnsafePointer<Float>, ldb: Int,
    beta: Float = 0, C: UnsafeMutablePointer<Float>, ldc: Int
) {
    if M == 0 || N == 0 { return }
    if K == 0 {
        // BLAS would only scale C; do that explicitly so beta = 0 also clears NaNs.
        for i in 0..<M {
            let row = C + i * ldc
            for j in 0..<N { row[j] = beta == 0 ? 0 : beta * row[j] }
        }
        return
    }
    cblas_sgemm(
        CblasRowMajor, transA.cblas, transB.cblas, Int32(M), Int32(N), Int32(K), alpha,
        A, Int32(lda), B, Int32(ldb), beta, C, Int32(ldc))
}

/// Row-major matrix-vector product through OpenBLAS: `y = alpha * op(A) x + beta * y`, A stored (rows, cols).

public func gemv(
    _ trans: Transpose, rows: Int, cols: Int, alpha: Float = 1, A: UnsafePointer<Float>, lda: Int,
    x: UnsafePointer<Float>, beta: Float = 0, y: UnsafeMutablePointer<Float>
) {
    if rows == 0 || cols == 0 { return }
    cblas_sgemv(CblasRowMajor, trans.cblas, Int32(rows), Int32(cols), alpha, A, Int32(lda), x, 1, beta, y, 1)
}

/// OpenBLAS's own thread pool. Only executables choose the count; kernels that run many small
/// GEMMs in parallel (attention) drop to one BLAS thread for their duration.
public enum BLASThreads {
    public static var count: Int { Int(openblas_get_num_threads()) }

    public static func set(_ n: Int) { openblas_set_num_threads(Int32(max(1, n))) }

    /// Runs `body` with OpenBLAS single-threaded, restoring the previous count afterwards.
    public static func withSingleThread<R>(_ body: () throws -> R) rethrows -> R {
        let previous = openblas_get_num_threads()
        if previous == 1 { return try body() }
        openblas_set_num_threads(1)
        defer { openblas_set_num_threads(previous) }
        return try body()
    }
}
