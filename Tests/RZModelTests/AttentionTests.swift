import Testing
@testable import RZModel
import RZTensor
import RZTestSupport

@Suite("Causal GQA attention over packed sequences")
struct AttentionTests {
    // Three sequences of different lengths packed together; 6 query heads share 2 kv heads.
    let batch = PackedBatch(sequences: [[1, 2, 3, 4, 5], [1], [1, 2, 3, 4, 5, 6, 7]])
    let NH = 6, NKV = 2, HD = 5

    @Test("reference backward agrees with finite differences for q, k and v")
    func finiteDifferences() {
        let N = batch.tokenCount, QD = NH * HD, KD = NKV * HD
        let q = TestData.random(N * QD, seed: 1), k = TestData.random(N * KD, seed: 2), v = TestData.random(N * KD, seed: 3)
        let g = TestData.random(N * QD, seed: 4)
        let (dq, dk, dv) = ReferenceAttention.backward(dOut: g, q: q, k: k, v: v, batch: batch, NH: NH, NKV: NKV, HD: HD)
        let f = { (q: [Double], k: [Double], v: [Double]) in
            FiniteDifference.dot(g, ReferenceAttention.forward(q: q, k: k, v: v, batch: self.batch, NH: self.NH, NKV: self.NKV, HD: self.HD))
        }
        #expect(FiniteDifference.relativeError(x: q, analytic: dq) { f($0, k, v) } < 1e-6)
        #expect(FiniteDifference.relativeError(x: k, analytic: dk) { f(q, $0, v) } < 1e-6)
        #expect(FiniteDifference.relativeError(x: v, analytic: dv) { f(q, k, $0) } < 1e-6)
    }

    /// Query blocks of 1, 2 and 3 rows split the short sequences into full and partial blocks; the
    /// 45-token sequence takes three 16-row blocks (the default), the last of them partial.
    @Test("fast forward and backward match the reference; tokens never see other sequences", arguments: [1, 2, 3, 16])
    func fastMatchesReference(queryBlock: Int) {
        let batch = PackedBatch(sequences: [[1, 2, 3, 4, 5], [1], [1, 2, 3, 4, 5, 6, 7], (0..<45).map { Int32($0 % 9) }])
        let N = batch.tokenCount, QD = NH * HD, KD = NKV * HD
        let q = TestData.random(N * QD, seed: 5), k = TestData.random(N * KD, seed: 6), v = TestData.random(N * KD, seed: 7)
        let g = TestData.random(N * QD, seed: 8)
        var out = [Float](repeating: 0, count: N * QD)
        var probs = [Float](repeating: 0, count: NH * batch.totalScoreSize)
        attentionForward(out: &out, probs: &probs, q: q.floats, k: k.floats, v: v.floats, batch: batch, NH: NH, NKV: NKV, HD: HD,
                         queryBlock: queryBlock)
        let ref = ReferenceAttention.forward(q: q, k: k, v: v, batch: batch, NH: NH, NKV: NKV, HD: HD)
        #expect(TestData.mismatch(out, ref) == nil)

        var dq = [Float](repeating: 0, count: N * QD)
        var dk = [Float](repeating: 0, count: N * KD), dv = [Float](repeating: 0, count: N * KD)
        var scratch = [Float](repeating: 0, count: Parallelism.workers * batch.maxLength * batch.maxLength)
        attentionBackward(dQ: &dq, dK: &dk, dV: &dv, dOut: g.floats, probs: probs, q: q.floats, k: k.floats, v: v.floats,
                          batch: batch, NH: NH, NKV: NKV, HD: HD, scratch: &scratch, queryBlock: queryBlock)
        let (rq, rk, rv) = ReferenceAttention.backward(dOut: g, q: q, k: k, v: v, batch: batch, NH: NH, NKV: NKV, HD: HD)
        #expect(TestData.mismatch(dq, rq) == nil)
        #expect(TestData.mismatch(dk, rk) == nil)
        #expect(TestData.mismatch(dv, rv) == nil)

        // Changing the third sequence's values must not change the first sequence's outputs.
        var v2 = v
        for i in (6 * KD)..<(N * KD) { v2[i] += 10 }
        var out2 = [Float](repeating: 0, count: N * QD)
        attentionForward(out: &out2, probs: &probs, q: q.floats, k: k.floats, v: v2.floats, batch: batch, NH: NH, NKV: NKV, HD: HD,
                         queryBlock: queryBlock)
        #expect(Array(out2[0..<(6 * QD)]) == Array(out[0..<(6 * QD)]))
    }
}
