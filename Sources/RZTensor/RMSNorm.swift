// Shapes: N rows (tokens, or tokens × heads for the per-head q/k norm), C features per row.

/// `out[i,:] = inp[i,:] * rstd[i] * weight`, `rstd[i] = 1 / sqrt(mean(inp[i,:]²) + eps)`.
/// Matches transformers' Qwen3RMSNorm in float32 (weight multiplies directly, no `1 + w`).
public func rmsNormForward(
    out: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>,
    inp: UnsafePointer<Float>, weight: UnsafePointer<Float>, N: Int, C: Int, eps: Float
) {
    parallelChunks(N, minimumPerChunk: max(1, 16_384 / max(C, 1))) { rows, _ in
        for i in rows {
            let x = inp + i * C
            let y = out + i * C
            let ss = dot(x, x, count: C)
            let r = 1 / (ss / Float(C) + eps).squareRoot()
            rstd[i] = r
            // Lanes, not a plain loop: `out` may be `inp` (the KV-cache forward normalises q and k in place),
            // which sends LLVM's vectoriser to its scalar fallback.
            var j = 0
            while j + 8 <= C {
                storeLanes(loadLanes(x + j) * r * loadLanes(weight + j), y + j)
                j += 8
            }
            while j < C {
                y[j] = x[j] * r * weight[j]
                j += 1
            }
        }
    }
}

/// Backward of `rmsNormForward`. Accumulates into `dInp` and `dWeight` (callers zero them first); a nil
/// `dWeight` (a frozen weight) skips its gradient.
/// `scratch` must hold `Parallelism.workers * C` floats: per-worker partial sums of `dWeight`,
/// so rows can be split across cores without racing on the shared weight gradient.
public func rmsNormBackward(
    dInp: UnsafeMutablePointer<Float>, dWeight: UnsafeMutablePointer<Float>?,
    dOut: UnsafePointer<Float>, inp: UnsafePointer<Float>, weight: UnsafePointer<Float>,
    rstd: UnsafePointer<Float>, N: Int, C: Int, scratch: UnsafeMutablePointer<Float>
) {
    scratch.update(repeating: 0, count: Parallelism.workers * C)
    parallelChunks(N, minimumPerChunk: max(1, 16_384 / max(C, 1))) { rows, w in
        let dw = scratch + w * C
        for i in rows {
            let x = inp + i * C
            let dy = dOut + i * C
            let dx = dInp + i * C
            let r = rstd[i]
            // dot = mean_j(dy_j * w_j * xhat_j)
            var lanes = Lanes()
            var j = 0
            while j + 8 <= C {
                lanes += loadLanes(dy + j) * loadLanes(weight + j) * loadLanes(x + j)
                j += 8
            }
            var sum = lanes.sum()
            while j < C {
                sum += dy[j] * weight[j] * x[j]
                j += 1
            }
            let dot = sum * r / Float(C)
            if dWeight == nil {
                for j in 0..<C { dx[j] += r * (dy[j] * weight[j] - x[j] * r * dot) }
                continue
            }
            for j in 0..<C {
                let xhat = x[j] * r
                dw[j] += dy[j] * xhat
                dx[j] += r * (dy[j] * weight[j] - xhat * dot)
            }
        }
    }
    guard let dWeight else { return }
    for w in 0..<Parallelism.workers {
        let dw = scratch + w * C
        for j in 0..<C { dWeight[j] += dw[j] }
    }
}
