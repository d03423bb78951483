import RZTensor

// The decoder layer, written once (llm.c's manner: each block a forward/backward pair over raw buffers).
//
//   mid = x + o(attention(rope(norm_q(q(ln1))), rope(norm_k(k(ln1))), v(ln1)))     ln1 = rmsnorm(x)
//   out = mid + down(silu(gate(ln2)) * up(ln2))                                     ln2 = rmsnorm(mid)
//
// with the per-head q/k norms and the biases present or not as `DecoderArchitecture` says. The attention
// core sits between `attentionInputForward` and `attentionOutputForward` and is the caller's: the training
// forward runs it over a packed batch (`attentionForward`), the KV-cache forward over each slot's cache. So
// training, scoring and sampling differ only in where K and V come from and go to.

typealias FloatPointer = UnsafeMutablePointer<Float>

/// Pointers to one layer's tensors: its parameters, or their gradients (same layout). Absent ones are nil.
/// `lora` is the layer's adapters when the model has them (parameters only; see `LayerGradients`).
struct LayerTensors {
    let inputNorm, q, k, v, o: FloatPointer
    let qBias, kBias, vBias, oBias, qNorm, kNorm: FloatPointer?
    let postNorm, gate, up, down: FloatPointer
    let gateBias, upBias, downBias: FloatPointer?
    var lora: LayerAdapters? = nil
    /// Set by the KV-cache forward: products through the row-invariant kernels (and BF16 weights when given).
    var cached: CachedProducts? = nil
}

/// How the KV-cache forward computes a layer's linear products: through `rowInvariantMatmul` (each row the same
/// bits whatever else is in the batch), with the layer's matrices in BF16 when `bf16` is set. Training and
/// scoring leave `LayerTensors.cached` nil and use OpenBLAS.
struct CachedProducts {
    /// The layer's matrices as BF16 bits (sampling in BF16), else nil.
    var bf16: LayerMatricesBF16?
    /// (rows, max input width) the activations rounded to BF16.
    let activations16: UnsafeMutablePointer<UInt16>
    /// (rows, max output width) an adapter's product before it is scaled and added.
    let adapterProduct: FloatPointer
}

/// One layer's weight matrices as BF16 bits, in the parameter layout.
struct LayerMatricesBF16 {
    let q, k, v, o, gate, up, down: UnsafePointer<UInt16>
}

/// Where a layer's backward accumulates: the base parameters' gradients (nil when the base is frozen, as
/// under LoRA: their products are then skipped) and the adapters' gradients (nil without adapters).
struct LayerGradients {
    let base: LayerTensors?
    let lora: LayerAdapters?
}

/// Where an attention block's values for N rows live. The training forward gives each its own place (the
/// backward reads them); the KV-cache forward lets `qRaw`/`kRaw` alias `q`/`k` and reuses scratch.
/// Without q/k norms `qRaw == q` and `kRaw == k` always, and `rstdQ`/`rstdK` are unused.
struct AttentionBuffers {
    var ln: FloatPointer  // (N, C) rmsnorm(x)
    var rstd: FloatPointer  // (N)
    var qRaw: FloatPointer  // (N, QD) projection before the per-head norm
    var kRaw: FloatPointer  // (N, KD)
    var q: FloatPointer  // (N, QD) normed and rotated
    var k: FloatPointer  // (N, KD)
    var v: FloatPointer  // (N, KD)
    var rstdQ: FloatPointer  // (N, NH)
    var rstdK: FloatPointer  // (N, NKV)
    var att: FloatPointer  // (N, QD) the core's output, input of o
}

/// Where an MLP block's values for N rows live (`h` may alias `gate` when no backward follows).
struct MLPBuffers {
    var ln: FloatPointer  // (N, C) rmsnorm(mid)
    var rstd: FloatPointer  // (N)
    var gate: FloatPointer  // (N, F)
    var up: FloatPointer  // (N, F)
    var h: FloatPointer  // (N, F) silu(gate) * up
}

/// Gradient scratch of one layer's backward (reused across layers).
struct BlockGradientScratch {
    var dLn: FloatPointer  // (N, C)
    var dAtt: FloatPointer  // (N, QD)
    var dQ: FloatPointer, dQRaw: FloatPointer  // (N, QD)
    var dK: FloatPointer, dKRaw: FloatPointer, dV: FloatPointer  // (N, KD)
    var dGate: FloatPointer, dUp: FloatPointer, dH: FloatPointer  // (N, F)
    var norm: FloatPointer  // (workers, max(C, HD)) rmsNormBackward's per-worker partial weight gradients
}

/// Rotary tables and each row's position.
struct RotaryPositions {
    let positions: UnsafePointer<Int32>
    let cos: UnsafePointer<Float>
    let sin: UnsafePointer<Float>
}

/// The sizes and variant of the decoder layer; all layers of a model share it.
struct DecoderBlock {
    let C: Int, F: Int, NH: Int, NKV: Int, HD: Int
    let eps: Float
    let architecture: DecoderArchitecture
    var QD: Int { NH * HD }
    var KD: Int { NKV * HD }

    init(_ config: DecoderConfig) {
        C = config.hiddenSize
        F = config.intermediateSize
        NH = config.numHeads
        NKV = config.numKVHeads
        HD = config.headDim
        eps = Float(config.rmsNormEps)
        architecture = config.architecture
    }

    // MARK: Attention block

    /// `x` → ln1 → q, k, v (with biases) → per-head norms → rotation, into `b`. K and V are then ready to be
    /// stored wherever the attention core reads them.
    func attentionInputForward(_ w: LayerTensors, x: UnsafePointer<Float>, _ b: AttentionBuffers, N: Int, rotary r: RotaryPositions) {
        rmsNormForward(out: b.ln, rstd: b.rstd, inp: x, weight: w.inputNorm, N: N, C: C, eps: eps)
        project(out: b.qRaw, inp: b.ln, weight: w.q, bias: w.qBias, w.lora?.q, w.lora, w.cached, w.cached?.bf16?.q, N: N, inF: C, outF: QD)
        project(out: b.kRaw, inp: b.ln, weight: w.k, bias: w.kBias, w.lora?.k, w.lora, w.cached, w.cached?.bf16?.k, N: N, inF: C, outF: KD)
        project(out: b.v, inp: b.ln, weight: w.v, bias: w.vBias, w.lora?.v, w.lora, w.cached, w.cached?.bf16?.v, N: N, inF: C, outF: KD)
        if let qNorm = w.qNorm, let kNorm = w.kNorm {
            rmsNormForward(out: b.q, rstd: b.rstdQ, inp: b.qRaw, weight: qNorm, N: N * NH, C: HD, eps: eps)
            rmsNormForward(out: b.k, rstd: b.rstdK, inp: b.kRaw, weight: kNorm, N: N * NKV, C: HD, eps: eps)
        }
        ropeForward(x: b.q, positions: r.positions, cos: r.cos, sin: r.sin, N: N, H: NH, HD: HD)
        ropeForward(x: b.k, positions: r.positions, cos: r.cos, sin: r.sin, N: N, H: NKV, HD: HD)
    }

    /// `out = x + o(att)`. `out` may be `x` (the residual updated in place); `projection` is (N, C) scratch
    /// for o's output then, and unused otherwise.
    func attentionOutputForward(
        _ w: LayerTensors, x: UnsafePointer<Float>, att: UnsafePointer<Float>, out: FloatPointer, projection: FloatPointer, N: Int
    ) {
        residualAdd(out: out, x: x, scratch: projection, N: N) { dst in
            project(out: dst, inp: att, weight: w.o, bias: w.oBias, w.lora?.o, w.lora, w.cached, w.cached?.bf16?.o, N: N, inF: QD, outF: C)
        }
    }

    /// Backward of `attentionOutputForward`: accumulates o's gradients and writes `dAtt` (the core's dOut).
    /// The residual's share of `dOut` is the caller's to pass on.
    func attentionOutputBackward(_ w: LayerTensors, _ g: LayerGradients, att: UnsafePointer<Float>, dOut: UnsafePointer<Float>,
                                 dAtt: FloatPointer, N: Int) {
        projectBackward(dInp: dAtt, dWeight: g.base?.o, dBias: g.base?.oBias, g.lora?.o, dOut: dOut, inp: att, weight: w.o,
                        w.lora?.o, w.lora, N: N, inF: QD, outF: C, accumulateInput: false)
    }

    /// Backward of `attentionInputForward`, given the core's gradients in `s.dQ`, `s.dK`, `s.dV` (dQ, dK
    /// are overwritten). Accumulates the projections', norms' and ln1's gradients; `dX` must already hold the
    /// residual path's gradient, to which ln1's is added.
    func attentionInputBackward(
        _ w: LayerTensors, _ g: LayerGradients, x: UnsafePointer<Float>, _ b: AttentionBuffers, _ s: BlockGradientScratch,
        dX: FloatPointer, N: Int, rotary r: RotaryPositions
    ) {
        ropeBackward(dx: s.dQ, positions: r.positions, cos: r.cos, sin: r.sin, N: N, H: NH, HD: HD)
        ropeBackward(dx: s.dK, positions: r.positions, cos: r.cos, sin: r.sin, N: N, H: NKV, HD: HD)
        var dQRaw = s.dQ, dKRaw = s.dK
        if let qNorm = w.qNorm, let kNorm = w.kNorm {
            dQRaw = s.dQRaw
            dKRaw = s.dKRaw
            dQRaw.update(repeating: 0, count: N * QD)
            dKRaw.update(repeating: 0, count: N * KD)
            rmsNormBackward(dInp: dQRaw, dWeight: g.base?.qNorm, dOut: s.dQ, inp: b.qRaw, weight: qNorm, rstd: b.rstdQ,
                            N: N * NH, C: HD, scratch: s.norm)
            rmsNormBackward(dInp: dKRaw, dWeight: g.base?.kNorm, dOut: s.dK, inp: b.kRaw, weight: kNorm, rstd: b.rstdK,
                            N: N * NKV, C: HD, scratch: s.norm)
        }
        projectBackward(dInp: s.dLn, dWeight: g.base?.q, dBias: g.base?.qBias, g.lora?.q, dOut: dQRaw, inp: b.ln, weight: w.q,
                        w.lora?.q, w.lora, N: N, inF: C, outF: QD, accumulateInput: false)
        projectBackward(dInp: s.dLn, dWeight: g.base?.k, dBias: g.base?.kBias, g.lora?.k, dOut: dKRaw, inp: b.ln, weight: w.k,
                        w.lora?.k, w.lora, N: N, inF: C, outF: KD, accumulateInput: true)
        projectBackward(dInp: s.dLn, dWeight: g.base?.v, dBias: g.base?.vBias, g.lora?.v, dOut: s.dV, inp: b.ln, weight: w.v,
                        w.lora?.v, w.lora, N: N, inF: C, outF: KD, accumulateInput: true)
        rmsNormBackward(dInp: dX, dWeight: g.base?.inputNorm, dOut: s.dLn, inp: x, weight: w.inputNorm, rstd: b.rstd,
                        N: N, C: C, scratch: s.norm)
    }

    // MARK: MLP block

    /// `out = x + down(silu(gate(ln2)) * up(ln2))`, ln2 = rmsnorm(x). `out` may be `x`; `m.ln` then serves
    /// as scratch for down's output (it is no longer needed by then).
    func mlpForward(_ w: LayerTensors, x: UnsafePointer<Float>, _ m: MLPBuffers, out: FloatPointer, N: Int) {
        mlpHiddenForward(w, x: x, m, N: N)
        residualAdd(out: out, x: x, scratch: m.ln, N: N) { dst in
            project(out: dst, inp: m.h, weight: w.down, bias: w.downBias, w.lora?.down, w.lora, w.cached, w.cached?.bf16?.down, N: N, inF: F, outF: C)
        }
    }

    /// The MLP up to its hidden layer: ln2, gate, up and h, what `mlpBackward` reads.
    func mlpHiddenForward(_ w: LayerTensors, x: UnsafePointer<Float>, _ m: MLPBuffers, N: Int) {
        rmsNormForward(out: m.ln, rstd: m.rstd, inp: x, weight: w.postNorm, N: N, C: C, eps: eps)
        project(out: m.gate, inp: m.ln, weight: w.gate, bias: w.gateBias, w.lora?.gate, w.lora, w.cached, w.cached?.bf16?.gate, N: N, inF: C, outF: F)
        project(out: m.up, inp: m.ln, weight: w.up, bias: w.upBias, w.lora?.up, w.lora, w.cached, w.cached?.bf16?.up, N: N, inF: C, outF: F)
        swigluForward(h: m.h, gate: m.gate, up: m.up, count: N * F)
    }

    /// Backward of `mlpForward`: accumulates the MLP's parameter gradients and writes `dX = dOut + (the
    /// gradient through ln2)`.
    func mlpBackward(
        _ w: LayerTensors, _ g: LayerGradients, x: UnsafePointer<Float>, _ m: MLPBuffers, _ s: BlockGradientScratch,
        dOut: UnsafePointer<Float>, dX: FloatPointer, N: Int
    ) {
        projectBackward(dInp: s.dH, dWeight: g.base?.down, dBias: g.base?.downBias, g.lora?.down, dOut: dOut, inp: m.h,
                        weight: w.down, w.lora?.down, w.lora, N: N, inF: F, outF: C, accumulateInput: false)
        swigluBackward(dGate: s.dGate, dUp: s.dUp, dH: s.dH, gate: m.gate, up: m.up, count: N * F)
        projectBackward(dInp: s.dLn, dWeight: g.base?.gate, dBias: g.base?.gateBias, g.lora?.gate, dOut: s.dGate, inp: m.ln,
                        weight: w.gate, w.lora?.gate, w.lora, N: N, inF: C, outF: F, accumulateInput: false)
        projectBackward(dInp: s.dLn, dWeight: g.base?.up, dBias: g.base?.upBias, g.lora?.up, dOut: s.dUp, inp: m.ln,
                        weight: w.up, w.lora?.up, w.lora, N: N, inF: C, outF: F, accumulateInput: true)
        dX.update(from: dOut, count: N * C)
        rmsNormBackward(dInp: dX, dWeight: g.base?.postNorm, dOut: s.dLn, inp: x, weight: w.postNorm, rstd: m.rstd,
                        N: N, C: C, scratch: s.norm)
    }

    // MARK: Linear layers with their adapters

    /// A linear layer's forward, plus its adapter's term when it has one.
    private func project(out: FloatPointer, inp: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                         _ lora: LoRAFactors?, _ adapters: LayerAdapters?, _ cached: CachedProducts?, _ weight16: UnsafePointer<UInt16>?,
                         N: Int, inF: Int, outF: Int) {
        guard let cached else {
            linearForward(out: out, inp: inp, weight: weight, bias: bias, N: N, inF: inF, outF: outF)
            if let lora, let adapters { loraForward(out: out, inp: inp, lora, u: adapters.scratch, N: N, inF: inF, outF: outF) }
            return
        }
        if let weight16 {
            roundToBFloat16(inp, cached.activations16, count: N * inF)
            rowInvariantMatmulBF16(M: N, N: outF, K: inF, A: cached.activations16, lda: inF, W: weight16, ldw: inF, C: out, ldc: outF)
        } else {
            rowInvariantMatmul(M: N, N: outF, K: inF, A: inp, lda: inF, W: weight, ldw: inF, C: out, ldc: outF)
        }
        if let bias { addRowVector(out, bias, rows: N, cols: outF) }
        if let lora, let adapters {
            // Adapters stay float32: u = x Aᵀ, then out += s · u Bᵀ, each product row-invariant.
            let u = adapters.scratch
            rowInvariantMatmul(M: N, N: lora.rank, K: inF, A: inp, lda: inF, W: lora.a, ldw: inF, C: u, ldc: lora.rank)
            rowInvariantMatmul(M: N, N: outF, K: lora.rank, A: u, lda: lora.rank, W: lora.b, ldw: lora.rank,
                               C: cached.adapterProduct, ldc: outF)
            addScaled(out, cached.adapterProduct, scale: lora.scale, count: N * outF)
        }
    }

    /// A linear layer's backward: the input gradient through the base and the adapter; the base's weight and
    /// bias gradients when they are trained; the adapter's when it has one.
    private func projectBackward(
        dInp: FloatPointer, dWeight: FloatPointer?, dBias: FloatPointer?, _ dLoRA: LoRAFactors?, dOut: UnsafePointer<Float>,
        inp: UnsafePointer<Float>, weight: UnsafePointer<Float>, _ lora: LoRAFactors?, _ adapters: LayerAdapters?,
        N: Int, inF: Int, outF: Int, accumulateInput: Bool
    ) {
        linearBackward(dInp: dInp, dWeight: dWeight, dBias: dBias, dOut: dOut, inp: inp, weight: weight, N: N, inF: inF,
                       outF: outF, accumulateInput: accumulateInput)
        if let lora, let dLoRA, let adapters {
            loraBackward(dInp: dInp, grad: dLoRA, dOut: dOut, inp: inp, lora, scratch: adapters.scratch, N: N, inF: inF, outF: outF)
        }
    }

    /// `out = x + f`, where `project` writes f: straight into `out` when it is a separate buffer, else into
    /// `scratch` first. Either way the sum is one addition per element, `f + x`, so both forms round alike.
    private func residualAdd(out: FloatPointer, x: UnsafePointer<Float>, scratch: FloatPointer, N: Int,
                             _ write: (FloatPointer) -> Void) {
        if UnsafePointer(out) == x {
            write(scratch)
            addInPlace(out, scratch, count: N * C)
        } else {
            write(out)
            addInPlace(out, x, count: N * C)
        }
    }
}
