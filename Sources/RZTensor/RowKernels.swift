import CKernels

/// The products of the KV-cache forward (prefill and decode): `C (M, N) = A (M, K) · Wᵀ` with W stored (N, K),
/// computed so that each row of C is the same bits whatever else is in the batch (see CKernels' header). OpenBLAS
/// gives no such promise (a one-row product runs as sgemv, more rows as sgemm with shape-dependent edge kernels),
/// so a request's tokens could depend on what else was in flight. They are also faster than OpenBLAS at the
/// shapes of decoding (a few to a few hundred rows), and the only BF16 products on this stack: Debian's OpenBLAS
/// is built without `cblas_sbgemm`.
public enum RowKernels {
    /// The instruction sets, in increasing order (what `level` reports).
    public enum Level: Int32, Sendable, CaseIterable, CustomStringConvertible {
        case portable = 0, avx2, avx512, avx512bf16

        public var description: String {
            switch self {
            case .portable: "portable"
            case .avx2: "avx2"
            case .avx512: "avx512"
            case .avx512bf16: "avx512bf16"
            }
        }
    }

    /// The level in use: the CPU's best unless capped by `RZERO_KERNELS` or `use(_:)`.
    public static var level: Level { Level(rawValue: rz_kernel_level()) ?? .portable }
    /// The best level this CPU supports.
    public static var supported: Level { Level(rawValue: rz_kernel_supported_level()) ?? .portable }
    /// Uses `level` (or the best supported below it) from now on, process-wide; returns the level in use.
    @discardableResult
    public static func use(_ level: Level) -> Level { Level(rawValue: rz_set_kernel_level(level.rawValue)) ?? .portable }

    /// The levels this CPU can run, lowest first.
    public static var available: [Level] { Level.allCases.filter { $0.rawValue <= supported.rawValue } }

    /// Column tiles of this many per work item (the kernels' widest tile), so a split never cuts a tile.
    static let tile = 6
}

/// `C (M, N) = A (M, K) · Wᵀ`, W stored (N, K), each row of C independent of the others (row-invariant).
/// Columns are split over the workers; that changes no result.
/// `level` picks the instruction set (default: `RowKernels.level`).
public func rowInvariantMatmul(
    M: Int, N: Int, K: Int, A: UnsafePointer<Float>, lda: Int, W: UnsafePointer<Float>, ldw: Int,
    C: UnsafeMutablePointer<Float>, ldc: Int, level: RowKernels.Level? = nil
) {
    let level = (level ?? RowKernels.level).rawValue
    splitColumns(M: M, N: N, K: K) { cols in
        rz_matmul_f32_at(level, Int32(M), Int32(cols.count), Int32(K), A, Int32(lda), W + cols.lowerBound * ldw, Int32(ldw),
                      C + cols.lowerBound, Int32(ldc))
    }
}

/// The same with BF16 weights (bit patterns) and A already rounded to BF16 (`roundToBFloat16`).
public func rowInvariantMatmulBF16(
    M: Int, N: Int, K: Int, A: UnsafePointer<UInt16>, lda: Int, W: UnsafePointer<UInt16>, ldw: Int,
    C: UnsafeMutablePointer<Float>, ldc: Int, level: RowKernels.Level? = nil
) {
    let level = (level ?? RowKernels.level).rawValue
    splitColumns(M: M, N: N, K: K) { cols in
        rz_matmul_bf16_at(level, Int32(M), Int32(cols.count), Int32(K), A, Int32(lda), W + cols.lowerBound * ldw, Int32(ldw),
                       C + cols.lowerBound, Int32(ldc))
    }
}

/// `out[i]` = `x[i]` rounded to BF16 (nearest even, as torch rounds), for `count` values.
public func roundToBFloat16(_ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<UInt16>, count: Int) {
    parallelChunks(count, minimumPerChunk: 1 << 16) { r, _ in
        rz_round_bf16(x + r.lowerBound, out + r.lowerBound, r.count)
    }
}

/// Splits N into whole column tiles over the workers; products under ~2¹⁸ multiply-adds run inline.
private func splitColumns(M: Int, N: Int, K: Int, _ body: (Range<Int>) -> Void) {
    if M <= 0 || N <= 0 { return }
    let tile = RowKernels.tile
    let tiles = (N + tile - 1) / tile
    let perTile = max(1, M * K * tile)
    parallelChunks(tiles, minimumPerChunk: max(1, (1 << 18) / perTile)) { r, _ in
        body((r.lowerBound * tile)..<min(N, r.upperBound * tile))
    }
}
