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
struct LayerTensors {
    let inputNorm, q, k, v, o: FloatPointer
    let qBias, kBias, vBias, oBias, qNorm, kNorm: FloatPointer?
    let postNorm, gate, up, down: FloatPointer
    let gateBias, upBias, downBias: FloatPointer?
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
        linearForward(out: b.qRaw, inp: b.ln, weight: w.q, bias: w.qBias, N: N, inF: C, outF: QD)
        linearForward(out: b.kRaw, inp: b.ln, weight: w.k, bias: w.kBias, N: N, inF: C, outF: KD)
        linearForward(out: b.v, inp: b.ln, weight: w.v, bias: w.vBias, N: N, inF: C, outF: KD)
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
            linearForward(out: dst, inp: att, weight: w.o, bias: w.oBias, N: N, inF: QD, outF: C)
        }
    }

    /// Backward of `attentionOutputForward`: accumulates o's gradients and writes `dAtt` (the core's dOut).
    /// The residual's share of `dOut` is the caller's to pass on.
    func attentionOutputBackward(_ w: LayerTensors, _ g: LayerTensors, att: UnsafePointer<Float>, dOut: UnsafePointer<Float>,
                                 dAtt: FloatPointer, N: Int) {
        linearBackward(dInp: dAtt, dWeight: g.o, dBias: g.oBias, dOut: dOut, inp: att, weight: w.o, N: N, inF: QD, outF: C,
                       accumulateInput: false)
    }

    /// Backward of `attentionInputForward`, given the core's gradients in `s.dQ`, `s.dK`, `s.dV` (dQ, dK
    /// are overwritten). Accumulates the projections', norms' and ln1's gradients; `dX` must already hold the
    /// residual path's gradient, to which ln1's is added.
    func attentionInputBackward(
        _ w: LayerTensors, _ g: LayerTensors, x: UnsafePointer<Float>, _ b: AttentionBuffers, _ s: BlockGradientScratch,
        dX: FloatPointer, N: Int, rotary r: RotaryPositions
    ) {
        ropeBackward(dx: s.dQ, positions: r.positions, cos: r.cos, sin: r.sin, N: N, H: NH, HD: HD)
        ropeBackward(dx: s.dK, positions: r.positions, cos: r.cos, sin: r.sin, N: N, H: NKV, HD: HD)
        var dQRaw = s.dQ, dKRaw = s.dK
        if let qNorm = w.qNorm, let kNorm = w.kNorm, let gQNorm = g.qNorm, let gKNorm = g.kNorm {
            dQRaw = s.dQRaw
            dKRaw = s.dKRaw
            dQRaw.update(repeating: 0, count: N * QD)
            dKRaw.update(repeating: 0, count: N * KD)
            rmsNormBackward(dInp: dQRaw, dWeight: gQNorm, dOut: s.dQ, inp: b.qRaw, weight: qNorm, rstd: b.rstdQ,
                            N: N * NH, C: HD, scratch: s.norm)
            rmsNormBackward(dInp: dKRaw, dWeight: gKNorm, dOut: s.dK, inp: b.kRaw, weight: kNorm, rstd: b.rstdK,
                            N: N * NKV, C: HD, scratch: s.norm)
        }
        linearBackward(dInp: s.dLn, dWeight: g.q, dBias: g.qBias, dOut: dQRaw, inp: b.ln, weight: w.q,
                       N: N, inF: C, outF: QD, accumulateInput: false)
        linearBackward(dInp: s.dLn, dWeight: g.k, dBias: g.kBias, dOut: dKRaw, inp: b.ln, weight: w.k,
                       N: N, inF: C, outF: KD, accumulateInput: true)
        linearBackward(dInp: s.dLn, dWeight: g.v, dBias: g.vBias, dOut: s.dV, inp: b.ln, weight: w.v,
                       N: N, inF: C, outF: KD, accumulateInput: true)
        rmsNormBackward(dInp: dX, dWeight: g.inputNorm, dOut: s.dLn, inp: x, weight: w.inputNorm, rstd: b.rstd,
                        N: N, C: C, scratch: s.norm)
    }

    // MARK: MLP block

    /// `out = x + down(silu(gate(ln2)) * up(ln2))`, ln2 = rmsnorm(x). `out` may be `x`; `m.ln` then serves
    /// as scratch for down's output (it is no longer needed by then).
    func mlpForward(_ w: LayerTensors, x: UnsafePointer<Float>, _ m: MLPBuffers, out: FloatPointer, N: Int) {
        mlpHiddenForward(w, x: x, m, N: N)
        residualAdd(out: out, x: x, scratch: m.ln, N: N) { dst in
            linearForward(out: dst, inp: m.h, weight: w.down, bias: w.downBias, N: N, inF: F, outF: C)
        }
    }

    /// The MLP up to its hidden layer: ln2, gate, up and h, what `mlpBackward` reads.
    func mlpHiddenForward(_ w: LayerTensors, x: UnsafePointer<Float>, _ m: MLPBuffers, N: Int) {
        rmsNormForward(out: m.ln, rstd: m.rstd, inp: x, weight: w.postNorm, N: N, C: C, eps: eps)
        linearForward(out: m.gate, inp: m.ln, weight: w.gate, bias: w.gateBias, N: N, inF: C, outF: F)
        linearForward(out: m.up, inp: m.ln, weight: w.up, bias: w.upBias, N: N, inF: C, outF: F)
        swigluForward(h: m.h, gate: m.gate, up: m.up, count: N * F)
    }

    /// Backward of `mlpForward`: accumulates the MLP's parameter gradients and writes `dX = dOut + (the
    /// gradient through ln2)`.
    func mlpBackward(
        _ w: LayerTensors, _ g: LayerTensors, x: UnsafePointer<Float>, _ m: MLPBuffers, _ s: BlockGradientScratch,
        dOut: UnsafePointer<Float>, dX: FloatPointer, N: Int
    ) {
        linearBackward(dInp: s.dH, dWeight: g.down, dBias: g.downBias, dOut: dOut, inp: m.h, weight: w.down,
                       N: N, inF: F, outF: C, accumulateInput: false)
        swigluBackward(dGate: s.dGate, dUp: s.dUp, dH: s.dH, gate: m.gate, up: m.up, count: N * F)
        linearBackward(dInp: s.dLn, dWeight: g.gate, dBias: g.gateBias, dOut: s.dGate, inp: m.ln, weight: w.gate,
                       N: N, inF: C, outF: F, accumulateInput: false)
        linearBackward(dInp: s.dLn, dWeight: g.up, dBias: g.upBias, dOut: s.dUp, inp: m.ln, weight: w.up,
                       N: N, inF: C, outF: F, accumulateInput: true)
        dX.update(from: dOut, count: N * C)
        rmsNormBackward(dInp: dX, dWeight: g.postNorm, dOut: s.dLn, inp: x, weight: w.postNorm, rstd: m.rstd,
                        N: N, C: C, scratch: s.norm)
    }

    /// `out = x + f`, where `project` writes f: straight into `out` when it is a separate buffer, else into
    /// `scratch` first. Either way the sum is one addition per element, `f + x`, so both forms round alike.
    private func residualAdd(out: FloatPointer, x: UnsafePointer<Float>, scratch: FloatPointer, N: Int,
                             _ project: (FloatPointer) -> Void) {
        if UnsafePointer(out) == x {
            project(scratch)
            addInPlace(out, scratch, count: N * C)
        } else {
            project(out)
            addInPlace(out, x, count: N * C)
        }
    }
}
