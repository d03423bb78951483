import RZTensor

/// What one forward pass returns.
public struct ForwardOutput: Sendable {
    /// Per sequence, log p(token_t | tokens_<t) for t = 1..<len (len − 1 numbers).
    public var logprobs: [[Float]]
    /// Per sequence, the entropy of each predictive distribution at the same positions.
    public var entropies: [[Float]]
    /// Per sequence, (len, V) row-major logits at every position, when asked for.
    public var logits: [[Float]]?
}

/// A Qwen3-architecture decoder (transformers' `Qwen3ForCausalLM`) on the CPU with an exact backward.
///
/// All parameters live in one flat buffer (`parameters`) with named views (`layout`); gradients use the
/// same layout. `forward` caches what `backward` needs; `backward` then accumulates the gradient of
/// `Σ_t w_t · log p_t` (weights per predicted token) into `gradients`.
/// Not thread-safe: one owner (a model actor) drives it.
public final class Qwen3Model {
    public let config: Qwen3Config
    public let layout: ParameterLayout
    public let parameters: FloatBuffer
    public private(set) var gradients: FloatBuffer?
    /// Upper bound, in floats, on logits held at once. Batches whose N·V exceeds it compute the LM head
    /// in row chunks and recompute them in backward, so a 150k vocabulary does not need N·V memory.
    public var logitBudget: Int = 32 << 20

    var rope: RoPETable
    private var activations: Activations?
    private var scratch: BackwardScratch?
    private var lastBatch: PackedBatch?
    private var lastTargets: [Int32] = []

    /// A model with zero parameters; fill `parameters` (e.g. from a checkpoint or `initializeRandom`).
    public init(config: Qwen3Config) throws {
        try config.validate()
        self.config = config
        layout = ParameterLayout(config: config)
        parameters = FloatBuffer(count: layout.count)
        rope = RoPETable(headDim: config.headDim, theta: config.ropeTheta)
    }

    public var parameterCount: Int { layout.count }

    /// Returns the gradient buffer, allocating it (zeroed) on first use.
    @discardableResult
    public func ensureGradients() -> FloatBuffer {
        if let g = gradients { return g }
        let g = FloatBuffer(count: layout.count)
        gradients = g
        return g
    }

    public func zeroGradients() { gradients?.zero() }

    /// Drops the cached activations of the last forward pass (frees memory between phases).
    public func releaseActivations() {
        activations = nil
        scratch = nil
        lastBatch = nil
    }

    // MARK: - Forward

    /// Runs the decoder over `sequences` (each non-empty, ids in 0..<vocab) and returns per-token
    /// log-probabilities. The activations are kept for a following `backward`.
    public func forward(_ sequences: [[Int32]], returnLogits: Bool = false) throws -> ForwardOutput {
        try validate(sequences)
        let batch = PackedBatch(sequences: sequences)
        let N = batch.tokenCount
        let C = config.hiddenSize, F = config.intermediateSize, V = config.vocabSize
        let NH = config.numHeads, NKV = config.numKVHeads, HD = config.headDim
        let QD = NH * HD, KD = NKV * HD
        let eps = Float(config.rmsNormEps)
        let act = activationsFor(batch)
        rope.ensure(positions: batch.maxLength)
        let W = parameters.base
        let targets = batch.nextTokenTargets

        batch.ids.withUnsafeBufferPointer { idsBuf in
            batch.positions.withUnsafeBufferPointer { posBuf in
                rope.cos.withUnsafeBufferPointer { cosBuf in
                    rope.sin.withUnsafeBufferPointer { sinBuf in
                        let ids = idsBuf.baseAddress!, pos = posBuf.baseAddress!
                        let cos = cosBuf.baseAddress!, sin = sinBuf.baseAddress!
                        embeddingForward(out: act.ptr(act.layers[0].res), ids: ids, table: W + layout.embed, N: N, C: C)
                        for (l, a) in act.layers.enumerated() {
                            let p = layout.layers[l]
                            let next = l + 1 < act.layers.count ? act.layers[l + 1].res : act.finalRes
                            rmsNormForward(out: act.ptr(a.ln1), rstd: act.ptr(a.rstd1), inp: act.ptr(a.res),
                                           weight: W + p.inputNorm, N: N, C: C, eps: eps)
                            linearForward(out: act.ptr(a.qRaw), inp: act.ptr(a.ln1), weight: W + p.q, N: N, inF: C, outF: QD)
                            linearForward(out: act.ptr(a.kRaw), inp: act.ptr(a.ln1), weight: W + p.k, N: N, inF: C, outF: KD)
                            linearForward(out: act.ptr(a.v), inp: act.ptr(a.ln1), weight: W + p.v, N: N, inF: C, outF: KD)
                            rmsNormForward(out: act.ptr(a.q), rstd: act.ptr(a.rstdQ), inp: act.ptr(a.qRaw),
                                           weight: W + p.qNorm, N: N * NH, C: HD, eps: eps)
                            rmsNormForward(out: act.ptr(a.k), rstd: act.ptr(a.rstdK), inp: act.ptr(a.kRaw),
                                           weight: W + p.kNorm, N: N * NKV, C: HD, eps: eps)
                            ropeForward(x: act.ptr(a.q), positions: pos, cos: cos, sin: sin, N: N, H: NH, HD: HD)
                            ropeForward(x: act.ptr(a.k), positions: pos, cos: cos, sin: sin, N: N, H: NKV, HD: HD)
                            attentionForward(out: act.ptr(a.att), probs: act.ptr(a.probs), q: act.ptr(a.q),
                                             k: act.ptr(a.k), v: act.ptr(a.v), batch: batch, NH: NH, NKV: NKV, HD: HD)
                            linearForward(out: act.ptr(a.mid), inp: act.ptr(a.att), weight: W + p.o, N: N, inF: QD, outF: C)
                            addInPlace(act.ptr(a.mid), act.ptr(a.res), count: N * C)
                            rmsNormForward(out: act.ptr(a.ln2), rstd: act.ptr(a.rstd2), inp: act.ptr(a.mid),
                                           weight: W + p.postNorm, N: N, C: C, eps: eps)
                            linearForward(out: act.ptr(a.gate), inp: act.ptr(a.ln2), weight: W + p.gate, N: N, inF: C, outF: F)
                            linearForward(out: act.ptr(a.up), inp: act.ptr(a.ln2), weight: W + p.up, N: N, inF: C, outF: F)
                            swigluForward(h: act.ptr(a.h), gate: act.ptr(a.gate), up: act.ptr(a.up), count: N * F)
                            linearForward(out: act.ptr(next), inp: act.ptr(a.h), weight: W + p.down, N: N, inF: F, outF: C)
                            addInPlace(act.ptr(next), act.ptr(a.mid), count: N * C)
                        }
                        rmsNormForward(out: act.ptr(act.lnf), rstd: act.ptr(act.rstdf), inp: act.ptr(act.finalRes),
                                       weight: W + layout.finalNorm, N: N, C: C, eps: eps)
                    }
                }
            }
        }

        var logitsOut: [[Float]]? = returnLogits ? [] : nil
        let chunk = act.logitRows
        targets.withUnsafeBufferPointer { tBuf in
            let t = tBuf.baseAddress!
            var r0 = 0
            while r0 < N {
                let rows = min(chunk, N - r0)
                let logits = act.ptr(act.logits)
                linearForward(out: logits, inp: act.ptr(act.lnf) + r0 * C, weight: W + layout.lmHead, N: rows, inF: C, outF: V)
                logSoftmaxGatherForward(logp: act.ptr(act.logp) + r0, lse: act.ptr(act.lse) + r0,
                                        entropy: act.ptr(act.entropy) + r0, logits: logits, targets: t + r0, N: rows, V: V)
                if returnLogits {
                    appendLogitRows(&logitsOut, logits: logits, firstRow: r0, rows: rows, batch: batch)
                }
                r0 += rows
            }
        }

        lastBatch = batch
        lastTargets = targets
        var logprobs: [[Float]] = []
        var entropies: [[Float]] = []
        for (s, start) in batch.starts.enumerated() {
            let n = batch.lengths[s] - 1
            logprobs.append(Array(UnsafeBufferPointer(start: act.ptr(act.logp) + start, count: n)))
            entropies.append(Array(UnsafeBufferPointer(start: act.ptr(act.entropy) + start, count: n)))
        }
        return ForwardOutput(logprobs: logprobs, entropies: entropies, logits: logitsOut)
    }

    /// Appends the logits of rows [firstRow, firstRow + rows) to the per-sequence output arrays.
    private func appendLogitRows(
        _ out: inout [[Float]]?, logits: UnsafePointer<Float>, firstRow: Int, rows: Int, batch: PackedBatch
    ) {
        let V = config.vocabSize
        for r in firstRow..<(firstRow + rows) {
            // Sequence index of row r: the last start ≤ r.
            var s = (out?.count ?? 1) - 1
            if s < 0 || r >= batch.starts[s] + batch.lengths[s] {
                out?.append([])
                s += 1
            }
            out?[s].append(contentsOf: UnsafeBufferPointer(start: logits + (r - firstRow) * V, count: V))
        }
    }

    private func validate(_ sequences: [[Int32]]) throws {
        guard !sequences.isEmpty else { throw ModelError.invalidInput("empty batch") }
        for (i, s) in sequences.enumerated() {
            guard !s.isEmpty else { throw ModelError.invalidInput("sequence \(i) is empty") }
            guard s.count <= config.maxPositionEmbeddings else {
                throw ModelError.invalidInput(
                    "sequence \(i) has \(s.count) tokens, more than max_position_embeddings \(config.maxPositionEmbeddings)")
            }
            if let bad = s.first(where: { $0 < 0 || Int($0) >= config.vocabSize }) {
                throw ModelError.invalidInput("sequence \(i) has token id \(bad) outside 0..<\(config.vocabSize)")
            }
        }
    }

    private func activationsFor(_ batch: PackedBatch) -> Activations {
        let N = batch.tokenCount
        let keepAll = N * config.vocabSize <= logitBudget
        let rows = keepAll ? N : max(1, logitBudget / config.vocabSize)
        if let a = activations, a.tokenCapacity >= N, a.scoreCapacity >= batch.totalScoreSize,
            a.logitRows >= N || (!keepAll && a.logitRows == rows)
        {
            return a
        }
        activations = nil  // release before allocating the replacement
        let a = Activations(config: config, tokens: N, scoreSize: batch.totalScoreSize, logitRows: rows)
        activations = a
        return a
    }

    // MARK: - Backward

    /// Accumulates into `gradients` the gradient of `Σ_s Σ_t weights[s][t] · logprobs[s][t]` for the
    /// batch of the last `forward` call. `weights` must have the shape of that call's `logprobs`.
    public func backward(weights: [[Float]]) throws {
        guard let batch = lastBatch, let act = activations else {
            throw ModelError.invalidInput("backward called without a preceding forward")
        }
        guard weights.count == batch.lengths.count else {
            throw ModelError.invalidInput("weights cover \(weights.count) sequences, the forward batch had \(batch.lengths.count)")
        }
        for (s, w) in weights.enumerated() where w.count != batch.lengths[s] - 1 {
            throw ModelError.invalidInput("weights for sequence \(s) have \(w.count) values, expected \(batch.lengths[s] - 1)")
        }
        let N = batch.tokenCount
        let C = config.hiddenSize, F = config.intermediateSize, V = config.vocabSize
        let NH = config.numHeads, NKV = config.numKVHeads, HD = config.headDim
        let QD = NH * HD, KD = NKV * HD
        let sc = scratchFor(batch, logitRows: act.logitRows)
        let G = ensureGradients().base
        let W = parameters.base

        // Per-row weights: row i of sequence s predicts token i+1, so it takes weights[s][i].
        let rowWeights = sc.ptr(sc.rowWeights)
        rowWeights.update(repeating: 0, count: N)
        for (s, start) in batch.starts.enumerated() {
            for (i, w) in weights[s].enumerated() { rowWeights[start + i] = w }
        }

        lastTargets.withUnsafeBufferPointer { tBuf in
            batch.ids.withUnsafeBufferPointer { idsBuf in
                batch.positions.withUnsafeBufferPointer { posBuf in
                    rope.cos.withUnsafeBufferPointer { cosBuf in
                        rope.sin.withUnsafeBufferPointer { sinBuf in
                            let t = tBuf.baseAddress!, ids = idsBuf.baseAddress!, pos = posBuf.baseAddress!
                            let cos = cosBuf.baseAddress!, sin = sinBuf.baseAddress!
                            // LM head, chunk by chunk (recomputing logits if they were not all kept).
                            let dLnf = sc.ptr(sc.dLn)
                            let chunk = act.logitRows
                            var r0 = 0
                            while r0 < N {
                                let rows = min(chunk, N - r0)
                                let logits = act.ptr(act.logits)
                                if chunk < N {
                                    linearForward(out: logits, inp: act.ptr(act.lnf) + r0 * C, weight: W + layout.lmHead,
                                                  N: rows, inF: C, outF: V)
                                }
                                let dLogits = sc.ptr(sc.dLogits)
                                logSoftmaxGatherBackward(dLogits: dLogits, logits: logits, lse: act.ptr(act.lse) + r0,
                                                         targets: t + r0, weights: rowWeights + r0, N: rows, V: V)
                                linearBackward(dInp: dLnf + r0 * C, dWeight: G + layout.lmHead, dOut: dLogits,
                                               inp: act.ptr(act.lnf) + r0 * C, weight: W + layout.lmHead,
                                               N: rows, inF: C, outF: V, accumulateInput: false)
                                r0 += rows
                            }
                            var dRes = sc.ptr(sc.dResA)
                            var dOther = sc.ptr(sc.dResB)
                            dRes.update(repeating: 0, count: N * C)
                            let normScratch = sc.ptr(sc.normScratch)
                            rmsNormBackward(dInp: dRes, dWeight: G + layout.finalNorm, dOut: dLnf, inp: act.ptr(act.finalRes),
                                            weight: W + layout.finalNorm, rstd: act.ptr(act.rstdf), N: N, C: C,
                                            scratch: normScratch)

                            for l in stride(from: act.layers.count - 1, through: 0, by: -1) {
                                let a = act.layers[l]
                                let p = layout.layers[l]
                                // MLP block: out = mid + down(silu(gate(ln2)) * up(ln2))
                                let dH = sc.ptr(sc.dH), dGate = sc.ptr(sc.dGate), dUp = sc.ptr(sc.dUp)
                                let dLn = sc.ptr(sc.dLn)
                                linearBackward(dInp: dH, dWeight: G + p.down, dOut: dRes, inp: act.ptr(a.h), weight: W + p.down,
                                               N: N, inF: F, outF: C, accumulateInput: false)
                                swigluBackward(dGate: dGate, dUp: dUp, dH: dH, gate: act.ptr(a.gate), up: act.ptr(a.up), count: N * F)
                                linearBackward(dInp: dLn, dWeight: G + p.gate, dOut: dGate, inp: act.ptr(a.ln2), weight: W + p.gate,
                                               N: N, inF: C, outF: F, accumulateInput: false)
                                linearBackward(dInp: dLn, dWeight: G + p.up, dOut: dUp, inp: act.ptr(a.ln2), weight: W + p.up,
                                               N: N, inF: C, outF: F, accumulateInput: true)
                                let dMid = dOther
                                dMid.update(from: dRes, count: N * C)
                                rmsNormBackward(dInp: dMid, dWeight: G + p.postNorm, dOut: dLn, inp: act.ptr(a.mid),
                                                weight: W + p.postNorm, rstd: act.ptr(a.rstd2), N: N, C: C, scratch: normScratch)
                                // Attention block: mid = res + o(attention(rope(qnorm(q(ln1))), rope(knorm(k(ln1))), v(ln1)))
                                let dAtt = sc.ptr(sc.dAtt), dQ = sc.ptr(sc.dQ), dK = sc.ptr(sc.dK), dV = sc.ptr(sc.dV)
                                linearBackward(dInp: dAtt, dWeight: G + p.o, dOut: dMid, inp: act.ptr(a.att), weight: W + p.o,
                                               N: N, inF: QD, outF: C, accumulateInput: false)
                                dK.update(repeating: 0, count: N * KD)
                                dV.update(repeating: 0, count: N * KD)
                                attentionBackward(dQ: dQ, dK: dK, dV: dV, dOut: dAtt, probs: act.ptr(a.probs), q: act.ptr(a.q),
                                                  k: act.ptr(a.k), v: act.ptr(a.v), batch: batch, NH: NH, NKV: NKV, HD: HD,
                                                  scratch: sc.ptr(sc.dScores))
                                ropeBackward(dx: dQ, positions: pos, cos: cos, sin: sin, N: N, H: NH, HD: HD)
                                ropeBackward(dx: dK, positions: pos, cos: cos, sin: sin, N: N, H: NKV, HD: HD)
                                let dQRaw = sc.ptr(sc.dQRaw), dKRaw = sc.ptr(sc.dKRaw)
                                dQRaw.update(repeating: 0, count: N * QD)
                                dKRaw.update(repeating: 0, count: N * KD)
                                rmsNormBackward(dInp: dQRaw, dWeight: G + p.qNorm, dOut: dQ, inp: act.ptr(a.qRaw),
                                                weight: W + p.qNorm, rstd: act.ptr(a.rstdQ), N: N * NH, C: HD, scratch: normScratch)
                                rmsNormBackward(dInp: dKRaw, dWeight: G + p.kNorm, dOut: dK, inp: act.ptr(a.kRaw),
                                                weight: W + p.kNorm, rstd: act.ptr(a.rstdK), N: N * NKV, C: HD, scratch: normScratch)
                                linearBackward(dInp: dLn, dWeight: G + p.q, dOut: dQRaw, inp: act.ptr(a.ln1), weight: W + p.q,
                                               N: N, inF: C, outF: QD, accumulateInput: false)
                                linearBackward(dInp: dLn, dWeight: G + p.k, dOut: dKRaw, inp: act.ptr(a.ln1), weight: W + p.k,
                                               N: N, inF: C, outF: KD, accumulateInput: true)
                                linearBackward(dInp: dLn, dWeight: G + p.v, dOut: dV, inp: act.ptr(a.ln1), weight: W + p.v,
                                               N: N, inF: C, outF: KD, accumulateInput: true)
                                // dRes for the layer below = dMid + rmsnorm backward; reuse dRes's buffer for it.
                                let dBelow = dRes
                                dBelow.update(from: dMid, count: N * C)
                                rmsNormBackward(dInp: dBelow, dWeight: G + p.inputNorm, dOut: dLn, inp: act.ptr(a.res),
                                                weight: W + p.inputNorm, rstd: act.ptr(a.rstd1), N: N, C: C, scratch: normScratch)
                                dRes = dBelow
                                dOther = dMid
                            }
                            embeddingBackward(dTable: G + layout.embed, dOut: dRes, ids: ids, N: N, C: C)
                        }
                    }
                }
            }
        }
    }

    private func scratchFor(_ batch: PackedBatch, logitRows: Int) -> BackwardScratch {
        if let s = scratch, s.tokenCapacity >= batch.tokenCount, s.maxLenCapacity >= batch.maxLength,
            s.logitRows >= min(logitRows, batch.tokenCount)
        {
            return s
        }
        scratch = nil
        let s = BackwardScratch(config: config, tokens: batch.tokenCount, maxLen: batch.maxLength,
                                logitRows: min(logitRows, batch.tokenCount))
        scratch = s
        return s
    }
}
