import Foundation

/// Naive Double-precision twins of the fast kernels. They exist for the tests: the fast Float
/// kernels are compared with them, and finite differences are taken through them. Clarity over speed.
public enum Reference {
    /// Row-major `C = alpha · op(A) · op(B) + beta · C` with dense (unstrided) operands.
    public static func gemm(
        _ transA: Transpose, _ transB: Transpose, M: Int, N: Int, K: Int, alpha: Double = 1,
        A: [Double], B: [Double], beta: Double = 0, C: inout [Double]
    ) {
        for i in 0..<M {
            for j in 0..<N {
                var s = 0.0
                for k in 0..<K {
                    let a = transA == .none ? A[i * K + k] : A[k * M + i]
                    let b = transB == .none ? B[k * N + j] : B[j * K + k]
                    s += a * b
                }
                C[i * N + j] = alpha * s + beta * C[i * N + j]
            }
        }
    }

    public static func rmsNormForward(inp: [Double], weight: [Double], N: Int, C: Int, eps: Double)
        -> (out: [Double], rstd: [Double])
    {
        var out = [Double](repeating: 0, count: N * C)
        var rstd = [Double](repeating: 0, count: N)
        for i in 0..<N {
            var ss = 0.0
            for j in 0..<C { ss += inp[i * C + j] * inp[i * C + j] }
            rstd[i] = 1 / (ss / Double(C) + eps).squareRoot()
            for j in 0..<C { out[i * C + j] = inp[i * C + j] * rstd[i] * weight[j] }
        }
        return (out, rstd)
    }

    /// Returns (dInp, dWeight) for upstream gradient dOut.
    public static func rmsNormBackward(dOut: [Double], inp: [Double], weight: [Double], N: Int, C: Int, eps: Double)
        -> (dInp: [Double], dWeight: [Double])
    {
        let (_, rstd) = rmsNormForward(inp: inp, weight: weight, N: N, C: C, eps: eps)
        var dInp = [Double](repeating: 0, count: N * C)
        var dW = [Double](repeating: 0, count: C)
        for i in 0..<N {
            let r = rstd[i]
            var dot = 0.0
            for j in 0..<C { dot += dOut[i * C + j] * weight[j] * inp[i * C + j] * r }
            dot /= Double(C)
            for j in 0..<C {
                let xhat = inp[i * C + j] * r
                dW[j] += dOut[i * C + j] * xhat
                dInp[i * C + j] = r * (dOut[i * C + j] * weight[j] - xhat * dot)
            }
        }
        return (dInp, dW)
    }

    /// Rotate-half RoPE over x (N, H, HD), angles computed in Double.
    public static func rope(x: [Double], positions: [Int], N: Int, H: Int, HD: Int, theta: Double, inverse: Bool = false)
        -> [Double]
    {
        var out = x
        let half = HD / 2
        for n in 0..<N {
            for h in 0..<H {
                let base = (n * H + h) * HD
                for i in 0..<half {
                    let angle = Double(positions[n]) * Foundation.pow(theta, -Double(2 * i) / Double(HD))
                    let c = Foundation.cos(angle)
                    let s = inverse ? -Foundation.sin(angle) : Foundation.sin(angle)
                    let a = x[base + i]
                    let b = x[base + i + half]
                    out[base + i] = a * c - b * s
                    out[base + i + half] = b * c + a * s
                }
            }
        }
        return out
    }

    public static func swigluForward(gate: [Double], up: [Double]) -> [Double] {
        zip(gate, up).map { g, u in g / (1 + Foundation.exp(-g)) * u }
    }

    public static func swigluBackward(dH: [Double], gate: [Double], up: [Double]) -> (dGate: [Double], dUp: [Double]) {
        var dG = [Double](repeating: 0, count: gate.count)
        var dU = dG
        for i in 0..<gate.count {
            let sig = 1 / (1 + Foundation.exp(-gate[i]))
            dG[i] = dH[i] * up[i] * sig * (1 + gate[i] * (1 - sig))
            dU[i] = dH[i] * gate[i] * sig
        }
        return (dG, dU)
    }

    /// Causal softmax of `scale · scores` over a dense (rows, cols) matrix, same masking rule as the fast kernel.
    public static func causalSoftmax(scores: [Double], rows: Int, cols: Int, scale: Double) -> [Double] {
        var out = [Double](repeating: 0, count: rows * cols)
        for i in 0..<rows {
            let valid = min(cols, cols - rows + i + 1)
            let maxv = (0..<valid).map { scale * scores[i * cols + $0] }.max() ?? 0
            var sum = 0.0
            for j in 0..<valid { sum += Foundation.exp(scale * scores[i * cols + j] - maxv) }
            for j in 0..<valid { out[i * cols + j] = Foundation.exp(scale * scores[i * cols + j] - maxv) / sum }
        }
        return out
    }

    public static func causalSoftmaxBackward(dProbs: [Double], probs: [Double], rows: Int, cols: Int, scale: Double)
        -> [Double]
    {
        var d = [Double](repeating: 0, count: rows * cols)
        for i in 0..<rows {
            var dot = 0.0
            for j in 0..<cols { dot += probs[i * cols + j] * dProbs[i * cols + j] }
            for j in 0..<cols { d[i * cols + j] = scale * probs[i * cols + j] * (dProbs[i * cols + j] - dot) }
        }
        return d
    }

    /// (logp, lse) per row; logp is 0 where the target is negative.
    public static func logSoftmaxGather(logits: [Double], targets: [Int], N: Int, V: Int) -> (logp: [Double], lse: [Double]) {
        var logp = [Double](repeating: 0, count: N)
        var lse = [Double](repeating: 0, count: N)
        for i in 0..<N {
            let row = Array(logits[(i * V)..<((i + 1) * V)])
            let m = row.max() ?? 0
            lse[i] = m + Foundation.log(row.reduce(0) { $0 + Foundation.exp($1 - m) })
            logp[i] = targets[i] >= 0 ? row[targets[i]] - lse[i] : 0
        }
        return (logp, lse)
    }

    public static func logSoftmaxGatherBackward(logits: [Double], targets: [Int], weights: [Double], N: Int, V: Int)
        -> [Double]
    {
        let (_, lse) = logSoftmaxGather(logits: logits, targets: targets, N: N, V: V)
        var d = [Double](repeating: 0, count: N * V)
        for i in 0..<N where targets[i] >= 0 {
            for v in 0..<V { d[i * V + v] = -weights[i] * Foundation.exp(logits[i * V + v] - lse[i]) }
            d[i * V + targets[i]] += weights[i]
        }
        return d
    }
}
