import Foundation

/// Per row of `logits` (N, V): `lse[i] = log Σ_v exp(logits[i,v])` and, where `targets[i] >= 0`,
/// `logp[i] = logits[i, targets[i]] − lse[i]` (else 0). When `entropy` is given it receives the
/// entropy of the row's distribution, `lse − Σ p·logit`.
public func logSoftmaxGatherForward(
    logp: UnsafeMutablePointer<Float>, lse: UnsafeMutablePointer<Float>,
    entropy: UnsafeMutablePointer<Float>?, logits: UnsafePointer<Float>, targets: UnsafePointer<Int32>,
    N: Int, V: Int
) {
    parallelChunks(N, minimumPerChunk: max(1, 32_768 / max(V, 1))) { rows, _ in
        for i in rows {
            let row = logits + i * V
            let maxv = maximum(row, count: V)
            let (sum, weighted) = expSums(row, count: V, shift: maxv)
            let l = maxv + Foundation.log(sum)
            lse[i] = l
            let t = Int(targets[i])
            logp[i] = t >= 0 ? row[t] - l : 0
            if let entropy { entropy[i] = l - weighted / sum }
        }
    }
}

/// Gradient of `Σ_i weights[i] · logp[i]` with respect to the logits.
/// Writes (does not accumulate) `dLogits[i,:] = weights[i] · (onehot(targets[i]) − softmax(logits[i,:]))`;
/// rows with weight 0 or no target are zeroed.
public func logSoftmaxGatherBackward(
    dLogits: UnsafeMutablePointer<Float>, logits: UnsafePointer<Float>, lse: UnsafePointer<Float>,
    targets: UnsafePointer<Int32>, weights: UnsafePointer<Float>, N: Int, V: Int
) {
    parallelChunks(N, minimumPerChunk: max(1, 32_768 / max(V, 1))) { rows, _ in
        for i in rows {
            let d = dLogits + i * V
            let w = weights[i]
            let t = Int(targets[i])
            if w == 0 || t < 0 {
                d.update(repeating: 0, count: V)
                continue
            }
            let row = logits + i * V
            let l = lse[i]
            for v in 0..<V { d[v] = -w * fastExp(row[v] - l) }
            d[t] += w
        }
    }
}
