/// `h = silu(gate) * up` elementwise over `count` values (the Qwen3 MLP's gating).
public func swigluForward(
    h: UnsafeMutablePointer<Float>, gate: UnsafePointer<Float>, up: UnsafePointer<Float>, count: Int
) {
    parallelChunks(count, minimumPerChunk: 32_768) { r, _ in
        for i in r {
            let g = gate[i]
            h[i] = g / (1 + fastExp(-g)) * up[i]
        }
    }
}

/// Backward of `swigluForward`. Writes (does not accumulate) `dGate` and `dUp`: each gate and up value
/// feeds only its own output, so nothing else contributes to their gradients.
public func swigluBackward(
    dGate: UnsafeMutablePointer<Float>, dUp: UnsafeMutablePointer<Float>, dH: UnsafePointer<Float>,
    gate: UnsafePointer<Float>, up: UnsafePointer<Float>, count: Int
) {
    parallelChunks(count, minimumPerChunk: 32_768) { r, _ in
        for i in r {
            let g = gate[i]
            let sig = 1 / (1 + fastExp(-g))
            dGate[i] = dH[i] * up[i] * sig * (1 + g * (1 - sig))
            dUp[i] = dH[i] * g * sig
        }
    }
}
