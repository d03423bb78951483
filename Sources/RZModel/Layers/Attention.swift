import RZTensor

// Causal grouped-query attention over a packed batch.
// N tokens, NH query heads, NKV key/value heads, HD head dim; QD = NH*HD, KD = NKV*HD.
// q: (N, QD), k/v: (N, KD), out: (N, QD), probs: per sequence s and head h a (len, len) block at
// NH * scoreOffsets[s] + h * len².
// Work is spread over (sequence, kv head) pairs; each pair's per-head GEMMs are small enough to run unsplit
// (below gemm's split threshold), and pairing by kv head keeps the dK/dV accumulation race-free.

/// Forward: `probs = causal_softmax(q kᵀ / √HD)`, `out = probs v`, per sequence and head.
func attentionForward(
    out: UnsafeMutablePointer<Float>, probs: UnsafeMutablePointer<Float>,
    q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
    batch: PackedBatch, NH: Int, NKV: Int, HD: Int
) {
    let QD = NH * HD, KD = NKV * HD, group = NH / NKV
    let scale = 1 / Float(HD).squareRoot()
    let pairs = batch.lengths.count * NKV
    do {
        parallelChunks(pairs) { range, _ in
            for pair in range {
                let s = pair / NKV, g = pair % NKV
                let len = batch.lengths[s], start = batch.starts[s]
                if len == 0 { continue }
                let kg = k + start * KD + g * HD
                let vg = v + start * KD + g * HD
                for h in (g * group)..<((g + 1) * group) {
                    let qh = q + start * QD + h * HD
                    let p = probs + NH * batch.scoreOffsets[s] + h * len * len
                    gemm(.none, .transposed, M: len, N: len, K: HD, A: qh, lda: QD, B: kg, ldb: KD, C: p, ldc: len)
                    causalSoftmaxForward(scores: p, rows: len, cols: len, ld: len, scale: scale)
                    gemm(.none, .none, M: len, N: HD, K: len, A: p, lda: len, B: vg, ldb: KD,
                         C: out + start * QD + h * HD, ldc: QD)
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
    batch: PackedBatch, NH: Int, NKV: Int, HD: Int, scratch: UnsafeMutablePointer<Float>
) {
    let QD = NH * HD, KD = NKV * HD, group = NH / NKV
    let scale = 1 / Float(HD).squareRoot()
    let pairs = batch.lengths.count * NKV
    let maxLen = batch.maxLength
    do {
        parallelChunks(pairs) { range, worker in
            let dS = scratch + worker * maxLen * maxLen
            for pair in range {
                let s = pair / NKV, g = pair % NKV
                let len = batch.lengths[s], start = batch.starts[s]
                if len == 0 { continue }
                let kg = k + start * KD + g * HD
                let vg = v + start * KD + g * HD
                let dKg = dK + start * KD + g * HD
                let dVg = dV + start * KD + g * HD
                for h in (g * group)..<((g + 1) * group) {
                    let qh = q + start * QD + h * HD
                    let dOh = dOut + start * QD + h * HD
                    let p = probs + NH * batch.scoreOffsets[s] + h * len * len
                    // dP = dO vᵀ ; dV += Pᵀ dO
                    gemm(.none, .transposed, M: len, N: len, K: HD, A: dOh, lda: QD, B: vg, ldb: KD, C: dS, ldc: len)
                    gemm(.transposed, .none, M: len, N: HD, K: len, A: p, lda: len, B: dOh, ldb: QD,
                         beta: 1, C: dVg, ldc: KD)
                    causalSoftmaxBackward(dScores: dS, probs: p, rows: len, cols: len, ld: len, ldProbs: len, scale: scale)
                    // dQ = dS k ; dK += dSᵀ q
                    gemm(.none, .none, M: len, N: HD, K: len, A: dS, lda: len, B: kg, ldb: KD,
                         C: dQ + start * QD + h * HD, ldc: QD)
                    gemm(.transposed, .none, M: len, N: HD, K: len, A: dS, lda: len, B: qh, ldb: QD,
                         beta: 1, C: dKg, ldc: KD)
                }
            }
        }
    }
}
