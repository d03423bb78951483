// Both kernels run over explicit 8-lane vectors: `h` may be `gate` itself (the KV-cache forward gates in
// place), and LLVM's vectoriser falls back to its scalar loop when its run-time check finds outputs
// overlapping inputs. Each lane computes exactly what the scalar tail does.

/// `h = silu(gate) * up` elementwise over `count` values (the Qwen3 MLP's gating). `h` may be `gate`.
public func swigluForward(
    h: UnsafeMutablePointer<Float>, gate: UnsafePointer<Float>, up: UnsafePointer<Float>, count: Int
) {
    parallelChunks(count, minimumPerChunk: 32_768) { r, _ in
        var i = r.lowerBound
        while i + 8 <= r.upperBound {
            let g = loadLanes(gate + i)
            storeLanes(g / (1 + fastExp(-g)) * loadLanes(up + i), h + i)
            i += 8
        }
        while i < r.upperBound {
            let g = gate[i]
            h[i] = g / (1 + fastExp(-g)) * up[i]
            i += 1
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
        var i = r.lowerBound
        while i + 8 <= r.upperBound {
            let g = loadLanes(gate + i), d = loadLanes(dH + i)
            let sig = 1 / (1 + fastExp(-g))
            storeLanes(d * loadLanes(up + i) * sig * (1 + g * (1 - sig)), dGate + i)
            storeLanes(d * g * sig, dUp + i)
            i += 8
        }
        while i < r.upperBound {
            let g = gate[i]
            let sig = 1 / (1 + fastExp(-g))
            dGate[i] = dH[i] * up[i] * sig * (1 + g * (1 - sig))
            dUp[i] = dH[i] * g * sig
            i += 1
        }
    }
}
