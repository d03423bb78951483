import Foundation

/// Rotary position embedding tables in the "rotate half" layout of transformers' Llama/Qwen3:
/// for pair index i < HD/2, angle = pos * theta^(-2i/HD); element i pairs with element i + HD/2.
public struct RoPETable {
    public let headDim: Int
    /// The first half's inverse frequencies (HD/2), as the model's rotary variant defines them.
    public let inverseFrequencies: [Float]
    public private(set) var positions: Int = 0
    /// (positions, HD/2) each.
    public private(set) var cos: [Float] = []
    public private(set) var sin: [Float] = []

    /// Plain RoPE: `inv_freq[i] = theta^(-2i/HD)`.
    public init(headDim: Int, theta: Double) {
        self.init(headDim: headDim, inverseFrequencies: (0..<(headDim / 2)).map { i in
            1.0 / Foundation.pow(theta, Double(2 * i) / Double(headDim))
        })
    }

    /// Any rotary variant that only changes the frequencies (Llama 3's scaling among them).
    public init(headDim: Int, inverseFrequencies: [Double]) {
        precondition(inverseFrequencies.count == headDim / 2, "one inverse frequency per rotated pair")
        self.headDim = headDim
        // transformers holds inv_freq in float32; rounding once here keeps angles bit-close for long positions.
        self.inverseFrequencies = inverseFrequencies.map { Float($0) }
    }

    /// Makes the table cover positions `0..<n`.
    public mutating func ensure(positions n: Int) {
        if n <= positions { return }
        let half = headDim / 2
        var c = [Float](repeating: 0, count: n * half)
        var s = [Float](repeating: 0, count: n * half)
        for p in 0..<n {
            for i in 0..<half {
                let angle = Float(p) * inverseFrequencies[i]
                c[p * half + i] = Foundation.cos(angle)
                s[p * half + i] = Foundation.sin(angle)
            }
        }
        cos = c
        sin = s
        positions = n
    }
}

/// Rotates, in place, x of shape (N, H, HD) where row n sits at position `positions[n]`.
/// `cos`/`sin` are (maxPosition, HD/2) tables from `RoPETable`.
public func ropeForward(
    x: UnsafeMutablePointer<Float>, positions: UnsafePointer<Int32>,
    cos: UnsafePointer<Float>, sin: UnsafePointer<Float>, N: Int, H: Int, HD: Int
) {
    ropeRotate(x: x, positions: positions, cos: cos, sin: sin, N: N, H: H, HD: HD, direction: 1)
}

/// Backward of `ropeForward`, in place on the gradient: the transpose of a rotation is the
/// rotation by the negative angle. (Overwrites, since the map is one-to-one.)
public func ropeBackward(
    dx: UnsafeMutablePointer<Float>, positions: UnsafePointer<Int32>,
    cos: UnsafePointer<Float>, sin: UnsafePointer<Float>, N: Int, H: Int, HD: Int
) {
    ropeRotate(x: dx, positions: positions, cos: cos, sin: sin, N: N, H: H, HD: HD, direction: -1)
}

private func ropeRotate(
    x: UnsafeMutablePointer<Float>, positions: UnsafePointer<Int32>,
    cos: UnsafePointer<Float>, sin: UnsafePointer<Float>, N: Int, H: Int, HD: Int, direction: Float
) {
    let half = HD / 2
    parallelChunks(N, minimumPerChunk: max(1, 8_192 / max(H * HD, 1))) { rows, _ in
        for n in rows {
            let p = Int(positions[n])
            let c = cos + p * half
            let s = sin + p * half
            for h in 0..<H {
                let v = x + (n * H + h) * HD
                for i in 0..<half {
                    let a = v[i]
                    let b = v[i + half]
                    let si = direction * s[i]
                    v[i] = a * c[i] - b * si
                    v[i + half] = b * c[i] + a * si
                }
            }
        }
    }
}
