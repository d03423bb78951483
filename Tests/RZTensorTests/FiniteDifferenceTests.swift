import Testing
import RZTensor
import RZTestSupport

@Suite("Reference backward passes agree with finite differences (Double)")
struct FiniteDifferenceTests {
    @Test("rmsNorm: input and weight")
    func rmsNorm() {
        let N = 3, C = 6
        let x = TestData.random(N * C, seed: 1), w = TestData.random(C, seed: 2).map { 1 + 0.5 * $0 }
        let g = TestData.random(N * C, seed: 3)
        let (dx, dw) = Reference.rmsNormBackward(dOut: g, inp: x, weight: w, N: N, C: C, eps: 1e-6)
        let ex = FiniteDifference.relativeError(x: x, analytic: dx) {
            FiniteDifference.dot(g, Reference.rmsNormForward(inp: $0, weight: w, N: N, C: C, eps: 1e-6).out)
        }
        let ew = FiniteDifference.relativeError(x: w, analytic: dw) {
            FiniteDifference.dot(g, Reference.rmsNormForward(inp: x, weight: $0, N: N, C: C, eps: 1e-6).out)
        }
        #expect(ex < 1e-6)
        #expect(ew < 1e-6)
    }

    @Test("rope: the backward (inverse rotation) is the vjp")
    func rope() {
        let N = 4, H = 2, HD = 6, pos = [0, 5, 2, 9]
        let x = TestData.random(N * H * HD, seed: 4), g = TestData.random(N * H * HD, seed: 5)
        let dx = Reference.rope(x: g, positions: pos, N: N, H: H, HD: HD, theta: 100, inverse: true)
        let e = FiniteDifference.relativeError(x: x, analytic: dx) {
            FiniteDifference.dot(g, Reference.rope(x: $0, positions: pos, N: N, H: H, HD: HD, theta: 100))
        }
        #expect(e < 1e-6)
    }

    @Test("swiglu: gate and up")
    func swiglu() {
        let gate = TestData.random(10, seed: 6, scale: 2), up = TestData.random(10, seed: 7), g = TestData.random(10, seed: 8)
        let (dg, du) = Reference.swigluBackward(dH: g, gate: gate, up: up)
        let eg = FiniteDifference.relativeError(x: gate, analytic: dg) {
            FiniteDifference.dot(g, Reference.swigluForward(gate: $0, up: up))
        }
        let eu = FiniteDifference.relativeError(x: up, analytic: du) {
            FiniteDifference.dot(g, Reference.swigluForward(gate: gate, up: $0))
        }
        #expect(eg < 1e-6)
        #expect(eu < 1e-6)
    }

    @Test("causal softmax with scale")
    func softmax() {
        let rows = 4, cols = 4, scale = 0.7
        let s = TestData.random(rows * cols, seed: 9), g = TestData.random(rows * cols, seed: 10)
        let p = Reference.causalSoftmax(scores: s, rows: rows, cols: cols, scale: scale)
        let ds = Reference.causalSoftmaxBackward(dProbs: g, probs: p, rows: rows, cols: cols, scale: scale)
        let e = FiniteDifference.relativeError(x: s, analytic: ds) {
            FiniteDifference.dot(g, Reference.causalSoftmax(scores: $0, rows: rows, cols: cols, scale: scale))
        }
        #expect(e < 1e-6)
    }

    @Test("log-softmax gather with per-token weights")
    func logSoftmax() {
        let N = 3, V = 7, targets = [2, 6, -1], weights = [0.5, -1.5, 3]
        let logits = TestData.random(N * V, seed: 11, scale: 2)
        let d = Reference.logSoftmaxGatherBackward(logits: logits, targets: targets, weights: weights, N: N, V: V)
        let e = FiniteDifference.relativeError(x: logits, analytic: d) {
            FiniteDifference.dot(weights, Reference.logSoftmaxGather(logits: $0, targets: targets, N: N, V: V).logp)
        }
        #expect(e < 1e-6)
    }

    @Test("gemm: the vjp formulas linear layers use")
    func linear() {
        // y = x Wᵀ; dx = g W; dW = gᵀ x
        let N = 3, inF = 5, outF = 4
        let x = TestData.random(N * inF, seed: 12), w = TestData.random(outF * inF, seed: 13), g = TestData.random(N * outF, seed: 14)
        func fwd(_ x: [Double], _ w: [Double]) -> [Double] {
            var y = [Double](repeating: 0, count: N * outF)
            Reference.gemm(.none, .transposed, M: N, N: outF, K: inF, A: x, B: w, C: &y)
            return y
        }
        var dx = [Double](repeating: 0, count: N * inF), dw = [Double](repeating: 0, count: outF * inF)
        Reference.gemm(.none, .none, M: N, N: inF, K: outF, A: g, B: w, C: &dx)
        Reference.gemm(.transposed, .none, M: outF, N: inF, K: N, A: g, B: x, C: &dw)
        #expect(FiniteDifference.relativeError(x: x, analytic: dx) { FiniteDifference.dot(g, fwd($0, w)) } < 1e-6)
        #expect(FiniteDifference.relativeError(x: w, analytic: dw) { FiniteDifference.dot(g, fwd(x, $0)) } < 1e-6)
    }
}
