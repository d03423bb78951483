import RZTensor

// Causal grouped-query attention over a packed batch.
// N tokens, NH query heads, NKV key/value heads, HD head dim; QD = NH*HD, KD = NKV*HD.
// q: (N, QD), k/v: (N, KD), out: (N, QD), probs: per sequence s and head h a (len, len) block at
// NH * scoreOffsets[s] + h * len².
// Work is spread over (sequence, kv head) pairs; each pair's per-head GEMMs are small enough to run unsplit
// (below gemm's split threshold), and pairing by kv head keeps the dK/dV accumulation race-free.
// Causality is used, not just masked: query rows go in blocks of `queryBlock`, and a block multiplies
// only the keys up to its last row, so a 128-token sequence with 16-row blocks does 56% of the full
// square's work. Score entries right of a block's keys are never written or read.

/// Query rows per block: smaller blocks skip more of the masked triangle but make smaller GEMMs.
let attentionQueryBlock = 16

/// The query-row blocks of a `len`-token sequence: (first row, rows, keys = first row + rows).
@inline(__always)
private func forEachQueryBlock(_ len: Int, _ block: Int, _ body: (Int, Int, Int) -> Void) {
    var r0 = 0
    while r0 < len {
        let rows = min(block, len - r0)
        body(r0, rows, r0 + rows)
        r0 += rows
    }
}

/// Forward: `probs = causal_softmax(q kᵀ / √HD)`, `out = probs v`, per sequence and head.
func attentionForward(
    out: UnsafeMutablePointer<Float>, probs: UnsafeMutablePointer<Float>,
    q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
    batch: PackedBatch, NH: Int, NKV: Int, HD: Int, queryBlock: Int = attentionQueryBlock
) {
    let QD = NH * HD, KD = NKV * HD, group = NH / NKV
    let scale = 1 / Float(HD).squareRoot()
    let pairs = batch.lengths.count * NKV
    parallelChunks(pairs) { range, _ in
        for pair in range {
            let s = pair / NKV, g = pair % NKV
            let len = batch.lengths[s], start = batch.starts[s]
            let kg = k + start * KD + g * HD
            let vg = v + start * KD + g * HD
            for h in (g * group)..<((g + 1) * group) {
                let p = probs + NH * batch.scoreOffsets[s] + h * len * len
                forEachQueryBlock(len, queryBlock) { r0, rows, keys in
                    let pBlock = p + r0 * len
                    gemm(.none, .transposed, M: rows, N: keys, K: HD, A: q + (start + r0) * QD + h * HD, lda: QD,
                         B: kg, ldb: KD, C: pBlock, ldc: len)
                    causalSoftmaxForward(scores: pBlock, rows: rows, cols: keys, ld: len, scale: scale)
                    gemm(.none, .none, M: rows, N: HD, K: keys, A: pBlock, lda: len, B: vg, ldb: KD,
                         C: out + (start + r0) * QD + h * HD, ldc: QD)
                }
            }
        }
    }
}

/// Backward. Writes `dQ` (overwrites) and accumulates into `dK`, `dV` (zero them first).
/// `scratch` must hold `Parallelism.workers * maxLen²` floats.
func attentionBackward(
    dQ: UnsafeMutablePointer<Float>, dK: UnsafeMutablePointer<Float>, dV: UnsafeMutablePointer<Float>,
    dOut: UnsafePointer<Float>, probs: UnsafePointer<Float>,
    q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
    batch: PackedBatch, NH: Int, NKV: Int, HD: Int, scratch: UnsafeMutablePointer<Float>,
    queryBlock: Int = attentionQueryBlock
) {
    let QD = NH * HD, KD = NKV * HD, group = NH / NKV
    let scale = 1 / Float(HD).squareRoot()
    let pairs = batch.lengths.count * NKV
    let maxLen = batch.maxLength
    parallelChunks(pairs) { range, worker in
        let dS = scratch + worker * maxLen * maxLen
        for pair in range {
            let s = pair / NKV, g = pair % NKV
            let len = batch.lengths[s], start = batch.starts[s]
            let kg = k + start * KD + g * HD
            let vg = v + start * KD + g * HD
            let dKg = dK + start * KD + g * HD
            let dVg = dV + start * KD + g * HD
            for h in (g * group)..<((g + 1) * group) {
                let p = probs + NH * batch.scoreOffsets[s] + h * len * len
                forEachQueryBlock(len, queryBlock) { r0, rows, keys in
                    let qBlock = q + (start + r0) * QD + h * HD
                    let dOBlock = dOut + (start + r0) * QD + h * HD
                    let pBlock = p + r0 * len
                    // dP = dO vᵀ ; dV += Pᵀ dO
                    gemm(.none, .transposed, M: rows, N: keys, K: HD, A: dOBlock, lda: QD, B: vg, ldb: KD, C: dS, ldc: keys)
                    gemm(.transposed, .none, M: keys, N: HD, K: rows, A: pBlock, lda: len, B: dOBlock, ldb: QD,
                         beta: 1, C: dVg, ldc: KD)
                    causalSoftmaxBackward(dScores: dS, probs: pBlock, rows: rows, cols: keys, ld: keys, ldProbs: len, scale: scale)
                    // dQ = dS k ; dK += dSᵀ q
                    gemm(.none, .none, M: rows, N: HD, K: keys, A: dS, lda: keys, B: kg, ldb: KD,
                         C: dQ + (start + r0) * QD + h * HD, ldc: QD)
                    gemm(.transposed, .none, M: keys, N: HD, K: rows, A: dS, lda: keys, B: qBlock, ldb: QD,
                         beta: 1, C: dKg, ldc: KD)
                }
            }
        }
    }
}
