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

/// The precision of sampling's weight products (`DecoderModel.samplingPrecision`).
public enum SamplingPrecision: String, Sendable, CaseIterable, Codable {
    /// Float32 weights and products.
    case float32
    /// Weights and activations rounded to BF16 for the products (sums in float32): half the weight bytes to read,
    /// and AVX512-BF16's pair products where the CPU has them. Norms, biases and adapters stay float32.
    case bfloat16

    /// What measures faster for a model of `parameterCount` on this CPU (docs/performance.md): BF16 on CPUs with
    /// AVX512-BF16 for models of real size (at the Qwen3-0.6B shape 1.4-1.7× float32's decode speed), float32
    /// otherwise (for models of a few million parameters, as the built-in ones, BF16 is no faster, and without
    /// AVX512-BF16 the BF16 weights must be widened before every product).
    public static func preferred(parameterCount: Int) -> SamplingPrecision {
        RowKernels.supported == .avx512bf16 && parameterCount >= 50_000_000 ? .bfloat16 : .float32
    }
}

/// A decoder of the supported families (transformers' `Qwen3ForCausalLM`, `Qwen2ForCausalLM`,
/// `LlamaForCausalLM`; `DecoderConfig` says which and what that implies) on the CPU with an exact backward.
///
/// All parameters live in one flat buffer (`parameters`) with named views (`layout`); gradients use the
/// same layout. `forward` caches what `backward` needs; `backward` then accumulates the gradient of
/// `Σ_t w_t · log p_t` (weights per predicted token) into `gradients`.
/// Not thread-safe: one owner (a model actor) drives it.
public final class DecoderModel {
    public let config: DecoderConfig
    public let layout: ParameterLayout
    public let parameters: FloatBuffer
    /// The full parameters' gradients (never allocated while adapters are attached: the base is frozen then).
    private var baseGradients: FloatBuffer?
    /// LoRA adapters, when attached: the forward passes apply them, and only they are trained.
    public private(set) var adapters: LoRAAdapters?
    /// Upper bound, in floats, on logits held at once. Batches whose N·V exceeds it compute the LM head
    /// in row chunks and recompute them in backward, so a 150k vocabulary does not need N·V memory.
    public var logitBudget: Int = 32 << 20
    /// Activation recomputation: the forward keeps only each layer's input, and the backward runs each layer's
    /// forward again just before its backward. Activation memory drops from every layer's to one layer's plus
    /// the layer inputs, for about one more forward pass of compute; the gradients are the same bits.
    public var recomputeActivations = false
    /// When set, `forwardCached` adds the time of each of its parts here (a benchmark's profile).
    public var decodeProfile: DecodeProfile?
    /// The precision of the KV-cache forward's (sampling's) weight products; training and scoring are float32 always.
    public var samplingPrecision: SamplingPrecision = .float32 {
        didSet { if samplingPrecision == .float32 { samplingWeightsBF16 = nil } }
    }
    /// The parameters rounded to BF16 for sampling in BF16, made on first use after a change (see
    /// `invalidateSamplingWeights`).
    private var samplingWeightsBF16: BF16Weights?

    var rope: RoPETable
    /// The layer definition every layer runs (sizes and architecture).
    let block: DecoderBlock
    private var activations: Activations?
    private var scratch: BackwardScratch?
    private var lastBatch: PackedBatch?
    private var lastTargets: [Int32] = []
    /// Whether the last forward applied the adapters (its backward and recomputation must do the same).
    private var lastUsedAdapters = true

    /// A model with zero parameters; fill `parameters` (e.g. from a checkpoint or `initializeRandom`).
    public convenience init(config: DecoderConfig) throws {
        try self.init(config: config, mappedParameters: false)
    }

    /// With `mappedParameters` the parameter buffer is resident only where written (a BF16-held model widens
    /// into it one part at a time).
    private init(config: DecoderConfig, mappedParameters: Bool) throws {
        try config.validate()
        self.config = config
        layout = ParameterLayout(config: config)
        parameters = mappedParameters ? FloatBuffer(mappedCount: layout.count) : FloatBuffer(count: layout.count)
        rope = RoPETable(headDim: config.headDim,
                         inverseFrequencies: config.rotaryScaling.inverseFrequencies(headDim: config.headDim, theta: config.ropeTheta))
        block = DecoderBlock(config)
    }

    /// A forward-only model of `config` whose parameters are `weights` (BF16): each forward widens one part at a
    /// time into float32 (the embedding, each layer, the final norm and LM head) and releases it after use, so
    /// it holds half the memory of a float32 copy plus one part. What a frozen KL reference can be held in.
    public static func frozenBFloat16(config: DecoderConfig, weights: BF16Weights) throws -> DecoderModel {
        let model = try DecoderModel(config: config, mappedParameters: true)
        guard weights.count == model.layout.count else {
            throw ModelError.invalidInput("BF16 weights of \(weights.count) parameters for a model of \(model.layout.count)")
        }
        model.bf16Parameters = weights
        return model
    }

    /// Forgets the BF16 copy sampling uses, after the parameters changed (an optimizer step, loaded or merged weights).
    /// Whoever writes `parameters` directly calls it; the next BF16 sampling pass rounds them again.
    public func invalidateSamplingWeights() { samplingWeightsBF16 = nil }

    /// Makes what sampling in `samplingPrecision` needs now rather than at the first request (a service at start-up).
    public func prepareSampling() {
        if samplingPrecision == .bfloat16 { _ = bf16SamplingWeights() }
    }

    /// The BF16 copy of the parameters for sampling (the model's own when it is held in BF16).
    func bf16SamplingWeights() -> BF16Weights {
        if let bf16Parameters { return bf16Parameters }
        if let w = samplingWeightsBF16 { return w }
        let w = BF16Weights(parameters)
        samplingWeightsBF16 = w
        return w
    }

    /// The BF16 weights of a forward-only model (`frozenBFloat16`), else nil.
    public private(set) var bf16Parameters: BF16Weights?

    /// Parameters `range` of a BF16-held model, widened for use (`use` true) or released (false); a no-op otherwise.
    private func stream(_ range: Range<Int>, use: Bool) {
        guard let bf16Parameters else { return }
        if use { bf16Parameters.widen(range, into: parameters.base) } else { parameters.releasePages(range) }
    }

    /// Layer `l`'s tensors in the flat layout (a layer's tensors are contiguous, input norm first).
    private func layerRange(_ l: Int) -> Range<Int> {
        layout.layers[l].inputNorm..<(l + 1 < layout.layers.count ? layout.layers[l + 1].inputNorm : layout.finalNorm)
    }

    private var embedRange: Range<Int> { layout.embed..<(layout.embed + config.vocabSize * config.hiddenSize) }
    /// The final norm and the LM head (the embedding again when tied).
    private var headRanges: [Range<Int>] {
        [layout.finalNorm..<(layout.finalNorm + config.hiddenSize), layout.lmHead..<(layout.lmHead + config.vocabSize * config.hiddenSize)]
    }

    public var parameterCount: Int { layout.count }

    /// What training updates: the adapters' parameters when they are attached, else all parameters.
    public var trainableParameters: FloatBuffer { adapters?.parameters ?? parameters }
    public var trainableCount: Int { adapters?.layout.count ?? layout.count }

    /// The trainable parameters' gradients, once allocated.
    public var gradients: FloatBuffer? {
        if let adapters { return adapters.gradients }
        return baseGradients
    }

    /// Returns the trainable parameters' gradient buffer, allocating it (zeroed) on first use.
    @discardableResult
    public func ensureGradients() -> FloatBuffer {
        if let adapters { return adapters.ensureGradients() }
        if let g = baseGradients { return g }
        let g = FloatBuffer(count: layout.count)
        baseGradients = g
        return g
    }

    public func zeroGradients() { gradients?.zero() }

    /// Attaches LoRA adapters (made for this model's config): from now on the base is frozen and the adapters
    /// are what trains. Full gradients, if any, are released.
    public func attachAdapters(_ a: LoRAAdapters) throws {
        guard a.layout.layers.count == config.numLayers else { throw ModelError.invalidInput("adapters made for a different model") }
        adapters = a
        baseGradients = nil
        releaseActivations()
    }

    /// Folds the adapters into the weights (W += s·B·A) and detaches them: the model then computes what it
    /// computed with them, as a plain model (an export for tools that do not know LoRA).
    public func mergeAdapters() {
        guard let a = adapters else { return }
        for (l, row) in a.layout.layers.enumerated() {
            for (i, m) in LoRAModule.allCases.enumerated() {
                if let f = row[i] { a.merge(f, into: parameters.base + layout.layers[l].weight(m)) }
            }
        }
        invalidateSamplingWeights()
        adapters = nil
        releaseActivations()
    }

    /// Layer `l`'s weights for a pass over `rows` rows, with its adapters when they are attached and `useAdapters`.
    func layerWeights(_ l: Int, rows: Int, useAdapters: Bool = true) -> LayerTensors {
        var w = layout.layers[l].pointers(parameters.base)
        if useAdapters, let a = adapters { w.lora = a.layer(l, in: a.parameters, rows: rows) }
        return w
    }

    /// Where layer `l`'s backward accumulates: the adapters' gradients when attached, else the full ones.
    private func layerGradients(_ l: Int, rows: Int) -> LayerGradients {
        if let a = adapters { return LayerGradients(base: nil, lora: a.layer(l, in: a.ensureGradients(), rows: rows)) }
        return LayerGradients(base: layout.layers[l].pointers(ensureGradients().base), lora: nil)
    }

    /// Floats held for the last forward's activations (what `recomputeActivations` shrinks).
    public var activationFloats: Int { activations?.buffer.count ?? 0 }
    /// Floats held for the last backward's scratch.
    public var backwardScratchFloats: Int { scratch?.buffer.count ?? 0 }

    /// Drops the cached activations of the last forward pass (frees memory between phases).
    public func releaseActivations() {
        activations = nil
        scratch = nil
        lastBatch = nil
    }

    // MARK: - Forward

    /// Runs the decoder over `sequences` (each non-empty, ids in 0..<vocab) and returns per-token
    /// log-probabilities. The activations are kept for a following `backward`. With `useAdapters` false the
    /// attached adapters are left out: the frozen base, which is the KL reference under LoRA.
    public func forward(_ sequences: [[Int32]], returnLogits: Bool = false, useAdapters: Bool = true) throws -> ForwardOutput {
        try validate(sequences)
        lastUsedAdapters = useAdapters
        let batch = PackedBatch(sequences: sequences)
        let N = batch.tokenCount
        let C = config.hiddenSize, V = config.vocabSize
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
                        stream(embedRange, use: true)
                        embeddingForward(out: act.ptr(act.layers[0].res), ids: ids, table: W + layout.embed, N: N, C: C)
                        stream(embedRange, use: false)
                        let rotary = RotaryPositions(positions: pos, cos: cos, sin: sin)
                        for l in act.layers.indices {
                            let next = l + 1 < act.layers.count ? act.layers[l + 1].res : act.finalRes
                            stream(layerRange(l), use: true)
                            layerForward(l, act, batch: batch, rotary: rotary, output: act.ptr(next))
                            stream(layerRange(l), use: false)
                        }
                        for r in headRanges { stream(r, use: true) }
                        rmsNormForward(out: act.ptr(act.lnf), rstd: act.ptr(act.rstdf), inp: act.ptr(act.finalRes),
                                       weight: W + layout.finalNorm, N: N, C: C, eps: block.eps)
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
        for r in headRanges { stream(r, use: false) }

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

    /// Rows of logits held at once for `N` tokens: all of them when they fit the logit budget, else a chunk.
    private func logitRows(tokens N: Int) -> Int {
        N * config.vocabSize <= logitBudget ? N : max(1, logitBudget / config.vocabSize)
    }

    /// Floats that a forward (and, with `backward`, the backward after it) over sequences of these lengths
    /// holds beyond the weights and gradients: the activations and the backward scratch, exactly as they are
    /// allocated, with or without recomputation.
    public func workingFloats(lengths: [Int], recompute: Bool, backward: Bool = true) -> Int {
        let N = lengths.reduce(0, +), scoreSize = lengths.reduce(0) { $0 + $1 * $1 }
        let rows = logitRows(tokens: N)
        let act = Activations(config: config, tokens: N, scoreSize: scoreSize, logitRows: rows, recompute: recompute, allocate: false)
        let adapterScratch = adapters.map { N * 2 * $0.config.rank } ?? 0
        guard backward else { return act.floats + adapterScratch }
        let sc = BackwardScratch(config: config, tokens: N, maxLen: lengths.max() ?? 0, logitRows: min(rows, N), allocate: false)
        return act.floats + sc.floats + adapterScratch
    }

    private func activationsFor(_ batch: PackedBatch) -> Activations {
        let N = batch.tokenCount
        let rows = logitRows(tokens: N)
        let keepAll = rows == N
        if let a = activations, a.recompute == recomputeActivations, a.tokenCapacity >= N, a.scoreCapacity >= batch.totalScoreSize,
            a.logitRows >= N || (!keepAll && a.logitRows == rows)
        {
            return a
        }
        activations = nil  // release before allocating the replacement
        let a = Activations(config: config, tokens: N, scoreSize: batch.totalScoreSize, logitRows: rows,
                            recompute: recomputeActivations)
        activations = a
        return a
    }

    // MARK: - Backward

    /// Accumulates into `gradients` the gradient of `Σ_s Σ_t weights[s][t] · logprobs[s][t]` for the
    /// batch of the last `forward` call. `weights` must have the shape of that call's `logprobs`.
    public func backward(weights: [[Float]]) throws {
        guard bf16Parameters == nil else { throw ModelError.invalidInput("a model held in BF16 is forward-only") }
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
        let C = config.hiddenSize, V = config.vocabSize
        let NH = config.numHeads, NKV = config.numKVHeads, HD = config.headDim
        let KD = NKV * HD
        let sc = scratchFor(batch, logitRows: act.logitRows)
        // The full gradients, or nil when the base is frozen (adapters attached): its products are skipped.
        let G: FloatPointer? = adapters == nil ? ensureGradients().base : nil
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
                                linearBackward(dInp: dLnf + r0 * C, dWeight: G.map { $0 + layout.lmHead }, dOut: dLogits,
                                               inp: act.ptr(act.lnf) + r0 * C, weight: W + layout.lmHead,
                                               N: rows, inF: C, outF: V, accumulateInput: false)
                                r0 += rows
                            }
                            // dRes: the gradient at a layer's output, then (written back by the layer) at its input;
                            // dMid: at its attention block's output.
                            let dRes = sc.ptr(sc.dResA), dMid = sc.ptr(sc.dResB)
                            dRes.update(repeating: 0, count: N * C)
                            let normScratch = sc.ptr(sc.normScratch)
                            rmsNormBackward(dInp: dRes, dWeight: G.map { $0 + layout.finalNorm }, dOut: dLnf, inp: act.ptr(act.finalRes),
                                            weight: W + layout.finalNorm, rstd: act.ptr(act.rstdf), N: N, C: C,
                                            scratch: normScratch)

                            let rotary = RotaryPositions(positions: pos, cos: cos, sin: sin)
                            let blockScratch = sc.block
                            for l in stride(from: act.layers.count - 1, through: 0, by: -1) {
                                let a = act.layers[l]
                                let w = layerWeights(l, rows: N, useAdapters: lastUsedAdapters), g = layerGradients(l, rows: N)
                                let att = act.attention(l)
                                if act.recompute { layerForward(l, act, batch: batch, rotary: rotary, output: nil) }
                                block.mlpBackward(w, g, x: act.ptr(a.mid), act.mlp(l), blockScratch, dOut: dRes, dX: dMid, N: N)
                                block.attentionOutputBackward(w, g, att: att.att, dOut: dMid, dAtt: blockScratch.dAtt, N: N)
                                blockScratch.dK.update(repeating: 0, count: N * KD)
                                blockScratch.dV.update(repeating: 0, count: N * KD)
                                attentionBackward(dQ: blockScratch.dQ, dK: blockScratch.dK, dV: blockScratch.dV, dOut: blockScratch.dAtt,
                                                  probs: act.ptr(a.probs), q: att.q, k: att.k, v: att.v, batch: batch,
                                                  NH: NH, NKV: NKV, HD: HD, scratch: sc.ptr(sc.dScores))
                                // The gradient at the layer's input: dMid through the residual, plus ln1's path.
                                dRes.update(from: dMid, count: N * C)
                                block.attentionInputBackward(w, g, x: act.ptr(a.res), att, blockScratch, dX: dRes, N: N, rotary: rotary)
                            }
                            if let G { embeddingBackward(dTable: G + layout.embed, dOut: dRes, ids: ids, N: N, C: C) }
                        }
                    }
                }
            }
        }
    }

    /// Layer `l`'s forward from its input `res` into the activations; the layer's output goes to `output`. The
    /// recomputation before a backward passes nil: it needs the layer's values, not its output (which the
    /// layer above still holds).
    private func layerForward(_ l: Int, _ act: Activations, batch: PackedBatch, rotary: RotaryPositions, output: FloatPointer?) {
        let a = act.layers[l]
        let w = layerWeights(l, rows: batch.tokenCount, useAdapters: lastUsedAdapters)
        let att = act.attention(l)
        block.attentionInputForward(w, x: act.ptr(a.res), att, N: batch.tokenCount, rotary: rotary)
        attentionForward(out: att.att, probs: act.ptr(a.probs), q: att.q, k: att.k, v: att.v, batch: batch,
                         NH: config.numHeads, NKV: config.numKVHeads, HD: config.headDim)
        block.attentionOutputForward(w, x: act.ptr(a.res), att: att.att, out: act.ptr(a.mid), projection: act.ptr(a.mid),
                                     N: batch.tokenCount)
        if let output {
            block.mlpForward(w, x: act.ptr(a.mid), act.mlp(l), out: output, N: batch.tokenCount)
        } else {
            block.mlpHiddenForward(w, x: act.ptr(a.mid), act.mlp(l), N: batch.tokenCount)
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
