import RZTensor

/// Offsets of one layer's cached forward values inside the activation buffer.
struct LayerActivationOffsets {
    var res = 0  // (N, C) layer input (residual stream)
    var ln1 = 0  // (N, C)
    var rstd1 = 0  // (N)
    var qRaw = 0  // (N, QD) before the per-head norm
    var kRaw = 0  // (N, KD)
    var v = 0  // (N, KD)
    var q = 0  // (N, QD) normed and rotated
    var k = 0  // (N, KD)
    var rstdQ = 0  // (N, NH)
    var rstdK = 0  // (N, NKV)
    var probs = 0  // (NH · Σ len²)
    var att = 0  // (N, QD)
    var mid = 0  // (N, C) residual after attention
    var ln2 = 0  // (N, C)
    var rstd2 = 0  // (N)
    var gate = 0  // (N, F)
    var up = 0  // (N, F)
    var h = 0  // (N, F) silu(gate) * up
}

/// Everything the forward pass caches for the backward pass, in one buffer with named offsets
/// (llm.c's `ActivationTensors`). Sized for one packed batch; reused while the batch fits.
final class Activations {
    let buffer: FloatBuffer
    let tokenCapacity: Int
    let scoreCapacity: Int
    let layers: [LayerActivationOffsets]
    let finalRes: Int  // (N, C)
    let lnf: Int  // (N, C)
    let rstdf: Int  // (N)
    let lse: Int  // (N)
    let logp: Int  // (N)
    let entropy: Int  // (N)
    let logitRows: Int  // rows of logits held at once: N when all are kept, else a chunk
    let logits: Int  // (logitRows, V)

    /// With `recompute`, each layer keeps only its input (`res`); the rest is one layer's worth shared by all
    /// layers, which the backward refills by running the layer's forward again.
    let recompute: Bool

    /// Floats the activations take (the buffer's size, or what it would be when not allocated).
    let floats: Int

    /// With `allocate` false, only the sizes are worked out (the memory plan's estimate is this very layout).
    init(config: DecoderConfig, tokens N: Int, scoreSize: Int, logitRows: Int, recompute: Bool, allocate: Bool = true) {
        let C = config.hiddenSize, F = config.intermediateSize, V = config.vocabSize
        let QD = config.numHeads * config.headDim, KD = config.numKVHeads * config.headDim
        var next = 0
        func take(_ n: Int) -> Int {
            defer { next += (n + 15) & ~15 }  // keep every view 64-byte aligned
            return next
        }
        var layers: [LayerActivationOffsets] = []
        for l in 0..<config.numLayers {
            if recompute && l > 0 {
                var a = layers[0]
                a.res = take(N * C)
                layers.append(a)
                continue
            }
            var a = LayerActivationOffsets()
            a.res = take(N * C)
            a.ln1 = take(N * C)
            a.rstd1 = take(N)
            a.v = take(N * KD)
            a.q = take(N * QD)
            a.k = take(N * KD)
            if config.architecture.qkNorm {
                a.qRaw = take(N * QD)
                a.kRaw = take(N * KD)
                a.rstdQ = take(N * config.numHeads)
                a.rstdK = take(N * config.numKVHeads)
            } else {
                // Without the per-head norms the projections are q and k themselves (rotated in place).
                a.qRaw = a.q
                a.kRaw = a.k
            }
            a.probs = take(config.numHeads * scoreSize)
            a.att = take(N * QD)
            a.mid = take(N * C)
            a.ln2 = take(N * C)
            a.rstd2 = take(N)
            a.gate = take(N * F)
            a.up = take(N * F)
            a.h = take(N * F)
            layers.append(a)
        }
        self.layers = layers
        finalRes = take(N * C)
        lnf = take(N * C)
        rstdf = take(N)
        lse = take(N)
        logp = take(N)
        entropy = take(N)
        self.logitRows = logitRows
        logits = take(logitRows * V)
        floats = next
        buffer = FloatBuffer(count: allocate ? next : 0)
        tokenCapacity = N
        scoreCapacity = scoreSize
        self.recompute = recompute
    }

    @inline(__always) func ptr(_ offset: Int) -> UnsafeMutablePointer<Float> { buffer.base + offset }

    /// Layer `l`'s attention values, as the block reads and writes them.
    func attention(_ l: Int) -> AttentionBuffers {
        let a = layers[l]
        return AttentionBuffers(ln: ptr(a.ln1), rstd: ptr(a.rstd1), qRaw: ptr(a.qRaw), kRaw: ptr(a.kRaw), q: ptr(a.q),
                                k: ptr(a.k), v: ptr(a.v), rstdQ: ptr(a.rstdQ), rstdK: ptr(a.rstdK), att: ptr(a.att))
    }

    /// Layer `l`'s MLP values.
    func mlp(_ l: Int) -> MLPBuffers {
        let a = layers[l]
        return MLPBuffers(ln: ptr(a.ln2), rstd: ptr(a.rstd2), gate: ptr(a.gate), up: ptr(a.up), h: ptr(a.h))
    }
}

/// Scratch space for the backward pass (gradients of activations), sized like `Activations`.
final class BackwardScratch {
    let buffer: FloatBuffer
    let tokenCapacity: Int
    let maxLenCapacity: Int
    let logitRows: Int
    let dResA: Int, dResB: Int, dLn: Int  // (N, C)
    let dQ: Int, dQRaw: Int, dAtt: Int  // (N, QD)
    let dK: Int, dKRaw: Int, dV: Int  // (N, KD)
    let dGate: Int, dUp: Int, dH: Int  // (N, F)
    let dScores: Int  // (workers, maxLen²)
    let normScratch: Int  // (workers, max(C, HD))
    let dLogits: Int  // (logitRows, V)
    let rowWeights: Int  // (N)

    /// Floats the scratch takes (allocated or not).
    let floats: Int

    init(config: DecoderConfig, tokens N: Int, maxLen: Int, logitRows: Int, allocate: Bool = true) {
        let C = config.hiddenSize, F = config.intermediateSize, V = config.vocabSize
        let QD = config.numHeads * config.headDim, KD = config.numKVHeads * config.headDim
        var next = 0
        func take(_ n: Int) -> Int {
            defer { next += (n + 15) & ~15 }
            return next
        }
        dResA = take(N * C); dResB = take(N * C); dLn = take(N * C)
        dQ = take(N * QD); dQRaw = take(N * QD); dAtt = take(N * QD)
        dK = take(N * KD); dKRaw = take(N * KD); dV = take(N * KD)
        dGate = take(N * F); dUp = take(N * F); dH = take(N * F)
        dScores = take(Parallelism.workers * maxLen * maxLen)
        normScratch = take(Parallelism.workers * max(C, config.headDim))
        dLogits = take(logitRows * V)
        rowWeights = take(N)
        floats = next
        buffer = FloatBuffer(count: allocate ? next : 0)
        tokenCapacity = N
        maxLenCapacity = maxLen
        self.logitRows = logitRows
    }

    @inline(__always) func ptr(_ offset: Int) -> UnsafeMutablePointer<Float> { buffer.base + offset }

    var block: BlockGradientScratch {
        BlockGradientScratch(dLn: ptr(dLn), dAtt: ptr(dAtt), dQ: ptr(dQ), dQRaw: ptr(dQRaw), dK: ptr(dK), dKRaw: ptr(dKRaw),
                             dV: ptr(dV), dGate: ptr(dGate), dUp: ptr(dUp), dH: ptr(dH), norm: ptr(normScratch))
    }
}
