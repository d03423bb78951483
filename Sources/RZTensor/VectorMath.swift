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
    let t = x * log2e + roundingMagic
    let p = expOfReduced(x, n: t - roundingMagic)
    let ni = Int32(bitPattern: t.bitPattern) &- 0x4B40_0000
    return p * Float(bitPattern: UInt32(bitPattern: (ni &+ 127) &<< 23))
}

private let log2e: Float = 1.442_695_040_888_963_4
private let roundingMagic: Float = 12_582_912  // 1.5 · 2^23: adding it rounds to an integer kept in the low mantissa bits

/// What `expOfReduced` needs: Float and 8-lane vectors both have it, so the scalar and the vector
/// `fastExp` run one definition, the same operations in the same order.
protocol ExpArithmetic {
    init(constant: Float)
    static func + (a: Self, b: Self) -> Self
    static func - (a: Self, b: Self) -> Self
    static func * (a: Self, b: Self) -> Self
}

extension Float: ExpArithmetic {
    @inline(__always) init(constant: Float) { self = constant }
}

extension SIMD8: ExpArithmetic where Scalar == Float {
    @inline(__always) init(constant: Float) { self.init(repeating: constant) }
}

/// e^(x − n·ln 2) for the integer n = round(x·log2 e): the reduction and the polynomial, before the
/// scale by 2^n.
@inline(__always)
private func expOfReduced<T: ExpArithmetic>(_ x: T, n: T) -> T {
    var r = x - n * T(constant: 0.693_359_375)
    r = r - n * T(constant: -2.121_944_400_546_905_8e-4)
    var p = T(constant: 1.987_569_150_0e-4)
    p = p * r + T(constant: 1.398_199_950_7e-3)
    p = p * r + T(constant: 8.333_451_907_3e-3)
    p = p * r + T(constant: 4.166_579_589_4e-2)
    p = p * r + T(constant: 1.666_666_545_9e-1)
    p = p * r + T(constant: 5.000_000_120_1e-1)
    return p * (r * r) + r + T(constant: 1)
}

// Reductions over explicit 8-lane vectors. A scalar `sum += x[i]` loop never vectorises (LLVM may not
// reorder float additions without fast-math), which left every norm, softmax and log-softmax in the
// training step running one float at a time. Lanes fix the order instead: sums are taken lane-wise,
// then across lanes, then over the scalar tail, the same order on every machine and build.

typealias Lanes = SIMD8<Float>

@inline(__always) func loadLanes(_ p: UnsafePointer<Float>) -> Lanes { UnsafeRawPointer(p).loadUnaligned(as: Lanes.self) }

@inline(__always) func storeLanes(_ v: Lanes, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: Lanes.self)
}

/// `fastExp` on eight lanes: the same operations in the same order, so each lane equals the scalar result.
@inline(__always)
func fastExp(_ xIn: Lanes) -> Lanes {
    let x = xIn.replacing(with: -87.3, where: xIn .< -87.3).replacing(with: 88.376, where: xIn .> 88.376)
    let t = x * log2e + roundingMagic
    let p = expOfReduced(x, n: t - roundingMagic)
    let ni = unsafeBitCast(t, to: SIMD8<Int32>.self) &- 0x4B40_0000
    return p * unsafeBitCast((ni &+ 127) &<< 23, to: Lanes.self)
}

/// The largest of `count` values; −∞ when `count` is 0.
@inline(__always)
func maximum(_ x: UnsafePointer<Float>, count: Int) -> Float {
    var m = Lanes(repeating: -.infinity)
    var i = 0
    while i + 8 <= count {
        let v = loadLanes(x + i)
        m.replace(with: v, where: v .> m)  // not `pointwiseMax`: the generic stdlib call is not inlined
        i += 8
    }
    var result = m.max()
    while i < count {
        result = max(result, x[i])
        i += 1
    }
    return result
}

/// Σ a[i]·b[i].
@inline(__always)
func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Float {
    var acc = Lanes()
    var i = 0
    while i + 8 <= count {
        acc += loadLanes(a + i) * loadLanes(b + i)
        i += 8
    }
    var result = acc.sum()
    while i < count {
        result += a[i] * b[i]
        i += 1
    }
    return result
}

/// `x[i] = exp(x[i]·scale − shift)` over `count` values; returns their sum.
@inline(__always)
func expShiftedInPlace(_ x: UnsafeMutablePointer<Float>, count: Int, scale: Float, shift: Float) -> Float {
    var acc = Lanes()
    var i = 0
    while i + 8 <= count {
        let e = fastExp(loadLanes(x + i) * scale - shift)
        storeLanes(e, x + i)
        acc += e
        i += 8
    }
    var sum = acc.sum()
    while i < count {
        let e = fastExp(x[i] * scale - shift)
        x[i] = e
        sum += e
        i += 1
    }
    return sum
}

/// For one row of logits: (Σ exp(x − shift), Σ exp(x − shift)·x), the normaliser and the
/// unnormalised expectation the entropy needs.
@inline(__always)
func expSums(_ x: UnsafePointer<Float>, count: Int, shift: Float) -> (sum: Float, weighted: Float) {
    var sum = Lanes(), weighted = Lanes()
    var i = 0
    while i + 8 <= count {
        let v = loadLanes(x + i)
        let e = fastExp(v - shift)
        sum += e
        weighted += e * v
        i += 8
    }
    var s = sum.sum(), w = weighted.sum()
    while i < count {
        let e = fastExp(x[i] - shift)
        s += e
        w += e * x[i]
        i += 1
    }
    return (s, w)
}
