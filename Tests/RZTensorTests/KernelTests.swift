import Testing
import Foundation
@testable import RZTensor
import RZTestSupport

@Suite("Fast kernels match their naive Double twins")
struct KernelTests {
    @Test("gemm: every transpose case, odd shapes, alpha and beta", arguments: [
        (Transpose.none, Transpose.none), (.none, .transposed), (.transposed, .none), (.transposed, .transposed),
    ])
    func gemmCases(ta: Transpose, tb: Transpose) {
        let M = 7, N = 13, K = 24
        let A = TestData.random(M * K, seed: 1), B = TestData.random(K * N, seed: 2), C0 = TestData.random(M * N, seed: 3)
        var ref = C0
        Reference.gemm(ta, tb, M: M, N: N, K: K, alpha: 0.5, A: A, B: B, beta: 2, C: &ref)
        var c = C0.floats
        let a = A.floats, b = B.floats
        a.withUnsafeBufferPointer { ap in
            b.withUnsafeBufferPointer { bp in
                c.withUnsafeMutableBufferPointer { cp in
                    gemm(ta, tb, M: M, N: N, K: K, alpha: 0.5, A: ap.baseAddress!, lda: ta == .none ? K : M,
                         B: bp.baseAddress!, ldb: tb == .none ? N : K, beta: 2, C: cp.baseAddress!, ldc: N)
                }
            }
        }
        #expect(TestData.mismatch(c, ref) == nil, "gemm \(ta) \(tb)")
    }

    @Test("gemm on strided sub-matrices (one head's slice of a wider tensor)")
    func gemmStrided() {
        // A is the middle 5 columns of a (6, 17) matrix; B the first 5 columns of a (9, 8) matrix, transposed.
        let wideA = TestData.random(6 * 17, seed: 4), wideB = TestData.random(9 * 8, seed: 5)
        let A = (0..<6).flatMap { i in (0..<5).map { j in wideA[i * 17 + 6 + j] } }
        let B = (0..<9).flatMap { i in (0..<5).map { j in wideB[i * 8 + j] } }
        var ref = [Double](repeating: 0, count: 6 * 9)
        Reference.gemm(.none, .transposed, M: 6, N: 9, K: 5, A: A, B: B, C: &ref)
        var c = [Float](repeating: 0, count: 6 * 9)
        let a = wideA.floats, b = wideB.floats
        a.withUnsafeBufferPointer { ap in
            b.withUnsafeBufferPointer { bp in
                c.withUnsafeMutableBufferPointer { cp in
                    gemm(.none, .transposed, M: 6, N: 9, K: 5, A: ap.baseAddress! + 6, lda: 17, B: bp.baseAddress!, ldb: 8,
                         C: cp.baseAddress!, ldc: 9)
                }
            }
        }
        #expect(TestData.mismatch(c, ref) == nil, "strided gemm")
    }

    /// 24 fills three 8-lane vectors, 29 adds a scalar tail, 5 is all tail.
    @Test("rmsNorm forward and backward", arguments: [24, 29, 5])
    func rmsNorm(C: Int) {
        let N = 7
        let x = TestData.random(N * C, seed: 6), w = TestData.random(C, seed: 7).map { 1 + 0.3 * $0 }
        let dy = TestData.random(N * C, seed: 8)
        let (refOut, refRstd) = Reference.rmsNormForward(inp: x, weight: w, N: N, C: C, eps: 1e-6)
        let (refDx, refDw) = Reference.rmsNormBackward(dOut: dy, inp: x, weight: w, N: N, C: C, eps: 1e-6)
        let xf = x.floats, wf = w.floats, dyf = dy.floats
        var out = [Float](repeating: 0, count: N * C), rstd = [Float](repeating: 0, count: N)
        var dx = [Float](repeating: 0.5, count: N * C), dw = [Float](repeating: 0.25, count: C)  // accumulates
        var scratch = [Float](repeating: 0, count: Parallelism.workers * C)
        rmsNormForward(out: &out, rstd: &rstd, inp: xf, weight: wf, N: N, C: C, eps: 1e-6)
        rmsNormBackward(dInp: &dx, dWeight: &dw, dOut: dyf, inp: xf, weight: wf, rstd: rstd, N: N, C: C, scratch: &scratch)
        #expect(TestData.mismatch(out, refOut) == nil, "rmsnorm out")
        var inPlace = xf  // the KV-cache forward normalises q and k in place
        var rstd2 = rstd
        inPlace.withUnsafeMutableBufferPointer { b in
            rmsNormForward(out: b.baseAddress!, rstd: &rstd2, inp: b.baseAddress!, weight: wf, N: N, C: C, eps: 1e-6)
        }
        #expect(inPlace == out, "rmsnorm in place")
        #expect(TestData.mismatch(rstd, refRstd) == nil, "rmsnorm rstd")
        #expect(TestData.mismatch(dx, refDx.map { $0 + 0.5 }) == nil, "rmsnorm dInp (accumulated)")
        #expect(TestData.mismatch(dw, refDw.map { $0 + 0.25 }) == nil, "rmsnorm dWeight (accumulated)")
    }

    @Test("rope forward matches the definition; backward is its inverse rotation")
    func rope() {
        let N = 5, H = 3, HD = 8
        let positions = [0, 3, 1, 17, 4]
        let x = TestData.random(N * H * HD, seed: 9)
        var table = RoPETable(headDim: HD, theta: 10_000)
        table.ensure(positions: 18)
        var fwd = x.floats
        var bwd = x.floats
        let pos = positions.map { Int32($0) }
        ropeForward(x: &fwd, positions: pos, cos: table.cos, sin: table.sin, N: N, H: H, HD: HD)
        ropeBackward(dx: &bwd, positions: pos, cos: table.cos, sin: table.sin, N: N, H: H, HD: HD)
        #expect(TestData.mismatch(fwd, Reference.rope(x: x, positions: positions, N: N, H: H, HD: HD, theta: 10_000)) == nil, "rope fwd")
        #expect(TestData.mismatch(bwd, Reference.rope(x: x, positions: positions, N: N, H: H, HD: HD, theta: 10_000, inverse: true)) == nil, "rope bwd")
    }

    @Test("swiglu forward and backward")
    func swiglu() {
        let n = 37
        let g = TestData.random(n, seed: 10, scale: 3), u = TestData.random(n, seed: 11), dh = TestData.random(n, seed: 12)
        var h = [Float](repeating: 0, count: n)
        // The backward overwrites its outputs: stale values must not leak in.
        var dG = [Float](repeating: 7, count: n), dU = [Float](repeating: -3, count: n)
        swigluForward(h: &h, gate: g.floats, up: u.floats, count: n)
        swigluBackward(dGate: &dG, dUp: &dU, dH: dh.floats, gate: g.floats, up: u.floats, count: n)
        let (rg, ru) = Reference.swigluBackward(dH: dh, gate: g, up: u)
        #expect(TestData.mismatch(h, Reference.swigluForward(gate: g, up: u)) == nil, "swiglu h")
        var inPlace = g.floats  // the KV-cache forward gates in place: h is gate
        inPlace.withUnsafeMutableBufferPointer { b in
            swigluForward(h: b.baseAddress!, gate: b.baseAddress!, up: u.floats, count: n)
        }
        #expect(inPlace == h, "swiglu in place")
        #expect(TestData.mismatch(dG, rg) == nil, "swiglu dGate")
        #expect(TestData.mismatch(dU, ru) == nil, "swiglu dUp")
    }

    @Test("causal softmax forward and backward, square and decode-shaped", arguments: [(9, 9), (1, 6), (3, 7)])
    func causalSoftmax(rows: Int, cols: Int) {
        let s = TestData.random(rows * cols, seed: 13, scale: 2), dp = TestData.random(rows * cols, seed: 14)
        let scale = 0.35
        let refP = Reference.causalSoftmax(scores: s, rows: rows, cols: cols, scale: scale)
        var p = s.floats
        causalSoftmaxForward(scores: &p, rows: rows, cols: cols, ld: cols, scale: Float(scale))
        #expect(TestData.mismatch(p, refP) == nil, "softmax")
        // Masked entries must be exactly zero (they are never attended to).
        for i in 0..<rows { for j in (cols - rows + i + 1)..<cols { #expect(p[i * cols + j] == 0) } }
        var d = dp.floats
        causalSoftmaxBackward(dScores: &d, probs: p, rows: rows, cols: cols, ld: cols, ldProbs: cols, scale: Float(scale))
        #expect(TestData.mismatch(d, Reference.causalSoftmaxBackward(dProbs: dp, probs: refP, rows: rows, cols: cols, scale: scale)) == nil, "softmax backward")
    }

    @Test("log-softmax gather forward and backward (V not a multiple of 8)")
    func logSoftmaxGather() {
        let N = 6, V = 37
        let logits = TestData.random(N * V, seed: 15, scale: 3)
        let targets = [3, -1, 36, 0, 17, 5], weights = [1.0, 0.7, -0.4, 0, 2, 0.3]
        let (refLogp, refLse) = Reference.logSoftmaxGather(logits: logits, targets: targets, N: N, V: V)
        var logp = [Float](repeating: 0, count: N), lse = [Float](repeating: 0, count: N)
        var entropy = [Float](repeating: 0, count: N)
        let t32 = targets.map { Int32($0) }
        entropy.withUnsafeMutableBufferPointer { e in
            logSoftmaxGatherForward(logp: &logp, lse: &lse, entropy: e.baseAddress, logits: logits.floats, targets: t32, N: N, V: V)
        }
        #expect(TestData.mismatch(logp, refLogp) == nil, "logp")
        #expect(TestData.mismatch(lse, refLse) == nil, "lse")
        // Entropy from its definition.
        let refEntropy = (0..<N).map { i in
            (0..<V).reduce(0.0) { acc, v in
                let lp = logits[i * V + v] - refLse[i]
                return acc - Foundation.exp(lp) * lp
            }
        }
        #expect(TestData.mismatch(entropy, refEntropy) == nil, "entropy")
        var d = [Float](repeating: 9, count: N * V)  // written, not accumulated
        logSoftmaxGatherBackward(dLogits: &d, logits: logits.floats, lse: lse, targets: t32, weights: weights.map { Float($0) }, N: N, V: V)
        #expect(TestData.mismatch(d, Reference.logSoftmaxGatherBackward(logits: logits, targets: targets, weights: weights, N: N, V: V)) == nil, "dLogits")
    }

    @Test("embedding backward accumulates repeated ids")
    func embedding() {
        let V = 5, C = 3
        let table = (0..<(V * C)).map { Float($0) }
        let ids: [Int32] = [4, 1, 4]
        var out = [Float](repeating: 0, count: 3 * C)
        embeddingForward(out: &out, ids: ids, table: table, N: 3, C: C)
        #expect(out == [12, 13, 14, 3, 4, 5, 12, 13, 14])
        var dTable = [Float](repeating: 0, count: V * C)
        embeddingBackward(dTable: &dTable, dOut: [1, 2, 3, 10, 20, 30, 100, 200, 300], ids: ids, N: 3, C: C)
        #expect(Array(dTable[12..<15]) == [101, 202, 303])
        #expect(Array(dTable[3..<6]) == [10, 20, 30])
        #expect(dTable[0] == 0)
    }

    @Test("sumOfSquares and allFinite")
    func reductions() {
        let x: [Float] = (0..<3000).map { Float($0 % 7) - 3 }
        let ref = x.reduce(0.0) { $0 + Double($1) * Double($1) }
        #expect(sumOfSquares(x, count: x.count) == ref)
        #expect(allFinite(x, count: x.count))
        #expect(!allFinite(x + [.nan], count: x.count + 1))
    }
}


@Suite("Fast exp")
struct VectorMathTests {
    @Test("fastExp is within 2 ulp of libm's exp on [-87, 88.3]; clamps beyond without NaN or inf")
    func accuracy() {
        var worst: Float = 0
        var x: Float = -87
        while x < 88.3 {
            let ref = Float(Foundation.exp(Double(x)))
            worst = max(worst, abs(fastExp(x) - ref) / ref.ulp)
            x += 0.00071
        }
        #expect(worst <= 2, "worst error \(worst) ulp")
        #expect(fastExp(-1000) >= 0 && fastExp(-1000) < 1e-37)
        #expect(fastExp(1000) > 1e38 && fastExp(1000).isFinite)
        #expect(fastExp(0) == 1)
    }

    @Test("the 8-lane fastExp equals the scalar one in every lane, clamps and NaN included")
    func lanesMatchScalar() {
        var inputs: [Float] = stride(from: -100, to: 100, by: 0.0137).map { Float($0) }
        inputs += [-.infinity, .infinity, .nan, 0, -0.0, 88.376, -87.3, .leastNonzeroMagnitude]
        while inputs.count % 8 != 0 { inputs.append(1) }
        for i in stride(from: 0, to: inputs.count, by: 8) {
            let lanes = fastExp(Lanes(inputs[i..<(i + 8)]))
            for j in 0..<8 {
                let scalar = fastExp(inputs[i + j])
                #expect(lanes[j].bitPattern == scalar.bitPattern || (lanes[j].isNaN && scalar.isNaN), "x = \(inputs[i + j])")
            }
        }
    }

    @Test("lane reductions: maximum, dot, exp sums over full vectors and tails", arguments: [0, 1, 7, 8, 9, 16, 37, 100])
    func reductions(count: Int) {
        let a = TestData.random(count, seed: 21, scale: 4).floats, b = TestData.random(count, seed: 22).floats
        #expect(maximum(a, count: count) == (a.max() ?? -.infinity))
        let refDot = zip(a, b).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        #expect(abs(Double(dot(a, b, count: count)) - refDot) <= 1e-5 * max(1, abs(refDot)))
        let shift = a.max() ?? 0
        let refSum = a.reduce(0.0) { $0 + Foundation.exp(Double($1 - shift)) }
        let refWeighted = a.reduce(0.0) { $0 + Foundation.exp(Double($1 - shift)) * Double($1) }
        let sums = expSums(a, count: count, shift: shift)
        #expect(abs(Double(sums.sum) - refSum) <= 1e-5 * max(1, refSum))
        #expect(abs(Double(sums.weighted) - refWeighted) <= 1e-5 * max(1, abs(refWeighted)))
        var e = a
        let total = expShiftedInPlace(&e, count: count, scale: 0.5, shift: 0.5 * shift)
        for i in 0..<count { #expect(e[i] == fastExp(a[i] * 0.5 - 0.5 * shift)) }
        #expect(abs(Double(total) - e.reduce(0.0) { $0 + Double($1) }) <= 1e-5 * max(1, Double(total)))
    }
}

@Suite("gemm with one row (the sgemv path)")
struct SingleRowGemmTests {
    @Test("M = 1 matches the reference for every transpose case, with beta, strided A", arguments: [
        (Transpose.none, Transpose.none), (.none, .transposed), (.transposed, .none), (.transposed, .transposed),
    ])
    func singleRow(ta: Transpose, tb: Transpose) {
        let N = 700, K = 37  // N large enough to be split across workers
        let A = TestData.random(K, seed: 21), B = TestData.random(K * N, seed: 22), C0 = TestData.random(N, seed: 23)
        var ref = C0
        Reference.gemm(ta, tb, M: 1, N: N, K: K, alpha: 1.5, A: A, B: B, beta: 0.5, C: &ref)
        // A transposed is stored (K, 1), so consecutive elements of its one row are lda = 1 apart.
        var c = C0.floats
        let a = A.floats, b = B.floats
        a.withUnsafeBufferPointer { ap in
            b.withUnsafeBufferPointer { bp in
                c.withUnsafeMutableBufferPointer { cp in
                    gemm(ta, tb, M: 1, N: N, K: K, alpha: 1.5, A: ap.baseAddress!, lda: ta == .none ? K : 1,
                         B: bp.baseAddress!, ldb: tb == .none ? N : K, beta: 0.5, C: cp.baseAddress!, ldc: N)
                }
            }
        }
        #expect(TestData.mismatch(c, ref) == nil)
    }
}
