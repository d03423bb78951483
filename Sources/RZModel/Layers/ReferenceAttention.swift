import Foundation

/// Naive Double-precision causal GQA attention over a packed batch: the tests' twin of
/// `attentionForward`/`attentionBackward`, written as plain loops from the definition.
public enum ReferenceAttention {
    public static func forward(q: [Double], k: [Double], v: [Double], batch: PackedBatch, NH: Int, NKV: Int, HD: Int)
        -> [Double]
    {
        let QD = NH * HD, KD = NKV * HD, group = NH / NKV
        let scale = 1 / Double(HD).squareRoot()
        var out = [Double](repeating: 0, count: batch.tokenCount * QD)
        for (s, start) in batch.starts.enumerated() {
            let len = batch.lengths[s]
            for h in 0..<NH {
                let g = h / group
                for i in 0..<len {
                    var scores = [Double](repeating: 0, count: i + 1)
                    for j in 0...i {
                        var d = 0.0
                        for e in 0..<HD { d += q[(start + i) * QD + h * HD + e] * k[(start + j) * KD + g * HD + e] }
                        scores[j] = d * scale
                    }
                    let m = scores.max() ?? 0
                    let exps = scores.map { Foundation.exp($0 - m) }
                    let z = exps.reduce(0, +)
                    for j in 0...i {
                        for e in 0..<HD { out[(start + i) * QD + h * HD + e] += exps[j] / z * v[(start + j) * KD + g * HD + e] }
                    }
                }
            }
        }
        return out
    }

    /// Vector-Jacobian product of `forward` for upstream gradient dOut: returns (dQ, dK, dV).
    public static func backward(
        dOut: [Double], q: [Double], k: [Double], v: [Double], batch: PackedBatch, NH: Int, NKV: Int, HD: Int
    ) -> (dQ: [Double], dK: [Double], dV: [Double]) {
        let QD = NH * HD, KD = NKV * HD, group = NH / NKV
        let scale = 1 / Double(HD).squareRoot()
        var dQ = [Double](repeating: 0, count: q.count)
        var dK = [Double](repeating: 0, count: k.count)
        var dV = [Double](repeating: 0, count: v.count)
        for (s, start) in batch.starts.enumerated() {
            let len = batch.lengths[s]
            for h in 0..<NH {
                let g = h / group
                for i in 0..<len {
                    var scores = [Double](repeating: 0, count: i + 1)
                    for j in 0...i {
                        var d = 0.0
                        for e in 0..<HD { d += q[(start + i) * QD + h * HD + e] * k[(start + j) * KD + g * HD + e] }
                        scores[j] = d * scale
                    }
                    let m = scores.max() ?? 0
                    let exps = scores.map { Foundation.exp($0 - m) }
                    let z = exps.reduce(0, +)
                    let p = exps.map { $0 / z }
                    var dP = [Double](repeating: 0, count: i + 1)
                    for j in 0...i {
                        for e in 0..<HD {
                            let go = dOut[(start + i) * QD + h * HD + e]
                            dP[j] += go * v[(start + j) * KD + g * HD + e]
                            dV[(start + j) * KD + g * HD + e] += p[j] * go
                        }
                    }
                    let dot = zip(p, dP).reduce(0) { $0 + $1.0 * $1.1 }
                    for j in 0...i {
                        let dS = p[j] * (dP[j] - dot) * scale
                        for e in 0..<HD {
                            dQ[(start + i) * QD + h * HD + e] += dS * k[(start + j) * KD + g * HD + e]
                            dK[(start + j) * KD + g * HD + e] += dS * q[(start + i) * QD + h * HD + e]
                        }
                    }
                }
            }
        }
        return (dQ, dK, dV)
    }
}
