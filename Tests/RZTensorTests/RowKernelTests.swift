import Testing
import RZTensor
import RZTestSupport

/// BF16 bits of `x` rounded to nearest even, written out independently of the kernels' rounding.
private func bf16(_ x: Float) -> UInt16 {
    if x.isNaN { return 0x7FC0 }
    let u = x.bitPattern
    let lower = u & 0xFFFF, upper = u >> 16
    let roundUp = lower > 0x8000 || (lower == 0x8000 && upper & 1 == 1)
    return UInt16(truncatingIfNeeded: upper + (roundUp ? 1 : 0))
}

private func widen(_ b: UInt16) -> Double { Double(Float(bitPattern: UInt32(b) << 16)) }

@Suite("Row-invariant products (sampling's kernels), at every instruction set this CPU has")
struct RowKernelTests {
    /// Shapes that cover every tile remainder (rows mod 4, columns mod 6 and mod 2) and every K tail (16, 8, 32 lanes).
    static let shapes: [(M: Int, N: Int, K: Int)] = [
        (1, 1, 1), (1, 7, 15), (2, 5, 16), (3, 13, 17), (4, 6, 31), (5, 12, 33), (7, 11, 64), (9, 19, 100), (13, 8, 7),
    ]

    @Test("f32: each level agrees with a Double reference", arguments: RowKernels.available)
    func float32(level: RowKernels.Level) {
        for (s, (M, N, K)) in Self.shapes.enumerated() {
            let a = TestData.random(M * K, seed: UInt64(10 + s)).map(Float.init)
            let w = TestData.random(N * K, seed: UInt64(50 + s)).map(Float.init)
            var c = [Float](repeating: .nan, count: M * N)
            rowInvariantMatmul(M: M, N: N, K: K, A: a, lda: K, W: w, ldw: K, C: &c, ldc: N, level: level)
            var ref = [Double](repeating: 0, count: M * N)
            for i in 0..<M { for j in 0..<N { for k in 0..<K { ref[i * N + j] += Double(a[i * K + k]) * Double(w[j * K + k]) } } }
            #expect(TestData.mismatch(c, ref, atol: 1e-5, rtol: 1e-5) == nil, "level \(level) shape \(M)x\(N)x\(K)")
        }
    }

    @Test("bf16: each level agrees with a Double reference over the rounded values", arguments: RowKernels.available)
    func bfloat16(level: RowKernels.Level) {
        for (s, (M, N, K)) in Self.shapes.enumerated() {
            let a = TestData.random(M * K, seed: UInt64(20 + s)).map(Float.init)
            let w = TestData.random(N * K, seed: UInt64(60 + s)).map(Float.init)
            var a16 = [UInt16](repeating: 0, count: M * K), w16 = [UInt16](repeating: 0, count: N * K)
            roundToBFloat16(a, &a16, count: M * K)
            roundToBFloat16(w, &w16, count: N * K)
            #expect(a16 == a.map(bf16) && w16 == w.map(bf16))
            var c = [Float](repeating: .nan, count: M * N)
            rowInvariantMatmulBF16(M: M, N: N, K: K, A: a16, lda: K, W: w16, ldw: K, C: &c, ldc: N, level: level)
            var ref = [Double](repeating: 0, count: M * N)
            for i in 0..<M { for j in 0..<N { for k in 0..<K { ref[i * N + j] += widen(a16[i * K + k]) * widen(w16[j * K + k]) } } }
            #expect(TestData.mismatch(c, ref, atol: 1e-5, rtol: 1e-5) == nil, "level \(level) shape \(M)x\(N)x\(K)")
        }
    }

    @Test("a row's result is the same bits alone, in any batch, at any offset, in any column split", arguments: RowKernels.available)
    func rowInvariance(level: RowKernels.Level) {
        let M = 37, N = 29, K = 70
        let a = TestData.random(M * K, seed: 7).map(Float.init), w = TestData.random(N * K, seed: 8).map(Float.init)
        var a16 = [UInt16](repeating: 0, count: M * K), w16 = [UInt16](repeating: 0, count: N * K)
        roundToBFloat16(a, &a16, count: M * K)
        roundToBFloat16(w, &w16, count: N * K)
        for bf in [false, true] {
            /// Rows `rows` of A times columns `cols` of W, as one call.
            func product(_ rows: Range<Int>, _ cols: Range<Int>) -> [Float] {
                var c = [Float](repeating: 0, count: rows.count * cols.count)
                if bf {
                    a16.withUnsafeBufferPointer { ab in w16.withUnsafeBufferPointer { wb in
                        rowInvariantMatmulBF16(M: rows.count, N: cols.count, K: K, A: ab.baseAddress! + rows.lowerBound * K, lda: K,
                                               W: wb.baseAddress! + cols.lowerBound * K, ldw: K, C: &c, ldc: cols.count, level: level)
                    } }
                } else {
                    a.withUnsafeBufferPointer { ab in w.withUnsafeBufferPointer { wb in
                        rowInvariantMatmul(M: rows.count, N: cols.count, K: K, A: ab.baseAddress! + rows.lowerBound * K, lda: K,
                                           W: wb.baseAddress! + cols.lowerBound * K, ldw: K, C: &c, ldc: cols.count, level: level)
                    } }
                }
                return c
            }
            let full = product(0..<M, 0..<N)
            func expectRows(_ rows: Range<Int>, _ cols: Range<Int>) {
                let part = product(rows, cols)
                for (i, r) in rows.enumerated() {
                    for (j, col) in cols.enumerated() where part[i * cols.count + j].bitPattern != full[r * N + col].bitPattern {
                        Issue.record("level \(level) bf16 \(bf): row \(r) col \(col) differs in rows \(rows) cols \(cols)")
                        return
                    }
                }
            }
            for r in [0, 5, 17, 36] { expectRows(r..<(r + 1), 0..<N) }
            expectRows(3..<10, 0..<N)
            expectRows(30..<37, 0..<N)
            expectRows(0..<M, 5..<6)
            expectRows(11..<24, 7..<26)
        }
    }

    @Test("rounding to BF16: nearest, ties to even, infinities and NaN")
    func rounding() {
        let one = Float(1), ulp = Float(1) / 128  // BF16's spacing at 1
        let cases: [(Float, UInt16)] = [
            (one, 0x3F80), (one + ulp / 2, 0x3F80), (one + ulp * 1.5, 0x3F82), (one + ulp * 0.75, 0x3F81),
            (-2, 0xC000), (.infinity, 0x7F80), (-.infinity, 0xFF80), (0, 0), (-0.0, 0x8000), (Float.greatestFiniteMagnitude, 0x7F80),
        ]
        var out = [UInt16](repeating: 0, count: cases.count)
        roundToBFloat16(cases.map(\.0), &out, count: cases.count)
        #expect(out == cases.map(\.1))
        var nan: [UInt16] = [0]
        roundToBFloat16([Float.nan], &nan, count: 1)
        #expect(Float(bitPattern: UInt32(nan[0]) << 16).isNaN)
    }
}
