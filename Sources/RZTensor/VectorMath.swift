/// exp for Float without a libm call, written so that LLVM's loop vectorizer turns loops over it
/// into packed SIMD code (libm's expf is an opaque call per element and was ~10% of a training step).
///
/// Cephes' expf: n = round(x·log2 e) via the 1.5·2^23 trick, r = x − n·ln 2 (ln 2 split in two for
/// accuracy), a degree-6 polynomial for e^r on |r| ≤ ln2/2, then scale by 2^n through the exponent
/// bits. Within 2 ulp of libm on the clamped range [−87.3, 88.376]; beyond it the input is clamped, so
/// the result stays finite (≈1.2e-38 at the bottom, ≈2.4e38 at the top) and never NaN.
@inline(__always)
public func fastExp(_ xIn: Float) -> Float {
    let x = xIn < -87.3 ? -87.3 : (xIn > 88.376 ? 88.376 : xIn)
    let magic: Float = 12_582_912  // 1.5 · 2^23: adding it rounds to an integer kept in the low mantissa bits
    let t = x * 1.442_695_040_888_963_4 + magic
    let n = t - magic
    var r = x - n * 0.693_359_375
    r = r - n * -2.121_944_400_546_905_8e-4
    var p: Float = 1.987_569_150_0e-4
    p = p * r + 1.398_199_950_7e-3
    p = p * r + 8.333_451_907_3e-3
    p = p * r + 4.166_579_589_4e-2
    p = p * r + 1.666_666_545_9e-1
    p = p * r + 5.000_000_120_1e-1
    p = p * (r * r) + r + 1
    let ni = Int32(bitPattern: t.bitPattern) &- 0x4B40_0000
    return p * Float(bitPattern: UInt32(bitPattern: (ni &+ 127) &<< 23))
}

/// `x[i] = exp(x[i] − shift)` over `count` values; returns their sum.
@inline(__always)
func expShiftedInPlace(_ x: UnsafeMutablePointer<Float>, count: Int, shift: Float) -> Float {
    var sum: Float = 0
    for i in 0..<count {
        let e = fastExp(x[i] - shift)
        x[i] = e
        sum += e
    }
    return sum
}
