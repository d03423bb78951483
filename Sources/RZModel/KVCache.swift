import Foundation
import RZTensor

/// Keys and values of every layer for a fixed number of sequence slots, each up to `capacity` tokens.
/// Layout per layer: (slots, capacity, NKV·HD) for keys (after norm and rotation) and for values, in float32 or, for
/// sampling in BF16, as BF16 bits (half the memory, and half the bytes attention reads per step).
/// Not thread-safe: it belongs to one generation call.
public final class KVCache {
    public let slots: Int
    public let capacity: Int
    public let precision: SamplingPrecision
    let kvDim: Int
    let layers: Int
    /// Per layer, float32 keys and values (empty in BF16).
    let keys: [FloatBuffer]
    let values: [FloatBuffer]
    /// Per layer, BF16 keys and values (empty in float32).
    let keys16: [HalfBuffer]
    let values16: [HalfBuffer]
    /// Tokens cached per slot.
    public internal(set) var lengths: [Int]

    public init(config: DecoderConfig, slots: Int, capacity: Int, precision: SamplingPrecision = .float32) {
        self.slots = slots
        self.capacity = capacity
        self.precision = precision
        kvDim = config.numKVHeads * config.headDim
        layers = config.numLayers
        let count = slots * capacity * config.numKVHeads * config.headDim
        let f32 = precision == .float32 ? config.numLayers : 0, b16 = config.numLayers - f32
        keys = (0..<f32).map { _ in FloatBuffer(count: count) }
        values = (0..<f32).map { _ in FloatBuffer(count: count) }
        keys16 = (0..<b16).map { _ in HalfBuffer(count: count) }
        values16 = (0..<b16).map { _ in HalfBuffer(count: count) }
        lengths = [Int](repeating: 0, count: slots)
    }

    /// Bytes held for keys and values.
    public var byteCount: Int { slots * capacity * bytesPerToken }
    /// Keys and values of one cached token over all layers.
    var bytesPerToken: Int { layers * 2 * kvDim * (precision == .float32 ? 4 : 2) }

    /// Keys and values of one cached token over all layers of a model of `config`.
    public static func bytesPerToken(_ config: DecoderConfig, precision: SamplingPrecision) -> Int {
        2 * config.numLayers * config.numKVHeads * config.headDim * (precision == .float32 ? 4 : 2)
    }

    /// Tokens per slot for prompts of up to `longestPrompt` tokens and `maxTokens` new ones (the model's context at most).
    public static func capacity(longestPrompt: Int, maxTokens: Int, config: DecoderConfig) -> Int {
        min(longestPrompt + maxTokens, config.maxPositionEmbeddings)
    }

    /// Makes slot `to` a copy of slot `from` (n samples of one prompt share its prefill).
    public func copySlot(_ from: Int, to: Int) {
        let n = lengths[from] * kvDim, src = from * capacity * kvDim, dst = to * capacity * kvDim
        for l in keys.indices {
            (keys[l].base + dst).update(from: keys[l].base + src, count: n)
            (values[l].base + dst).update(from: values[l].base + src, count: n)
        }
        for l in keys16.indices {
            (keys16[l].bits + dst).update(from: keys16[l].bits + src, count: n)
            (values16[l].bits + dst).update(from: values16[l].bits + src, count: n)
        }
        lengths[to] = lengths[from]
    }

    public func reset(slot: Int) { lengths[slot] = 0 }

    /// Stores `rows` new keys and values (float32, (rows, kvDim)) of layer `l` at `slot`'s end.
    func append(layer l: Int, slot: Int, keys k: UnsafePointer<Float>, values v: UnsafePointer<Float>, rows: Int) {
        let dst = (slot * capacity + lengths[slot]) * kvDim
        if precision == .float32 {
            (keys[l].base + dst).update(from: k, count: rows * kvDim)
            (values[l].base + dst).update(from: v, count: rows * kvDim)
        } else {
            roundToBFloat16(k, keys16[l].bits + dst, count: rows * kvDim)
            roundToBFloat16(v, values16[l].bits + dst, count: rows * kvDim)
        }
    }
}

/// An owned buffer of BF16 bit patterns (a BF16 KV cache layer).
final class HalfBuffer {
    let bits: UnsafeMutablePointer<UInt16>
    init(count: Int) {
        bits = .allocate(capacity: max(count, 1))
        bits.initialize(repeating: 0, count: max(count, 1))
    }
    deinit { bits.deallocate() }
}

/// One entry of a cached forward pass: append `tokens` to `slot` of `cache`.
public struct CachedStep {
    public let cache: KVCache
    public let slot: Int
    public let tokens: [Int32]
    public init(cache: KVCache, slot: Int, tokens: [Int32]) {
        self.cache = cache
        self.slot = slot
        self.tokens = tokens
    }
}

private struct SlotKey: Hashable {
    let cache: ObjectIdentifier
    let slot: Int
}

extension DecoderModel {
    /// Appends `tokens[i]` to cache slot `slots[i]` and returns, for each entry, the logits (V) after its
    /// last new token (all its new tokens' logits, row-major, when `allLogits`). One call serves prefill
    /// (many tokens per slot, prompts of different lengths together) and decoding (one token per slot):
    /// new tokens attend causally to themselves and to everything already cached in their slot.
    public func forwardCached(slots: [Int], tokens: [[Int32]], cache: KVCache, allLogits: Bool = false) throws -> [[Float]] {
        guard slots.count == tokens.count else { throw ModelError.invalidInput("forwardCached needs one token list per slot") }
        return try forwardCached(zip(slots, tokens).map { CachedStep(cache: cache, slot: $0, tokens: $1) }, allLogits: allLogits)
    }

    /// The general form: each entry names its own cache, so one forward pass can serve many requests
    /// that each own a KV cache (continuous batching).
    public func forwardCached(_ entries: [CachedStep], allLogits: Bool = false) throws -> [[Float]] {
        let out = try forwardCachedLogits(entries, allLogits: allLogits)
        guard allLogits else { return (0..<out.rows).map(out.array) }
        var start = 0
        return entries.map { e in
            defer { start += e.tokens.count }
            return Array(UnsafeBufferPointer(start: out.row(start), count: e.tokens.count * out.vocabularySize))
        }
    }

    /// `forwardCached` without copying the logits out: one buffer, a row per entry (per new token with `allLogits`).
    public func forwardCachedLogits(_ entries: [CachedStep], allLogits: Bool = false) throws -> CachedLogits {
        guard !entries.isEmpty else { throw ModelError.invalidInput("forwardCached needs at least one entry") }
        guard bf16Parameters == nil else { throw ModelError.invalidInput("a model held in BF16 only scores (forward)") }
        var seen = Set<SlotKey>()
        for e in entries {
            guard e.cache.kvDim == config.numKVHeads * config.headDim, e.cache.layers == config.numLayers else {
                throw ModelError.invalidInput("a KV cache made for a different model")
            }
            guard seen.insert(SlotKey(cache: ObjectIdentifier(e.cache), slot: e.slot)).inserted else {
                throw ModelError.invalidInput("a slot appears twice in one call")
            }
            let s = e.slot
            guard s >= 0 && s < e.cache.slots else { throw ModelError.invalidInput("slot \(s) outside the cache's \(e.cache.slots)") }
            guard !e.tokens.isEmpty else { throw ModelError.invalidInput("no tokens for slot \(s)") }
            guard e.cache.lengths[s] + e.tokens.count <= min(e.cache.capacity, config.maxPositionEmbeddings) else {
                throw ModelError.invalidInput("slot \(s) would exceed its capacity of \(e.cache.capacity) tokens")
            }
            if let bad = e.tokens.first(where: { $0 < 0 || Int($0) >= config.vocabSize }) {
                throw ModelError.invalidInput("token id \(bad) outside 0..<\(config.vocabSize)")
            }
        }
        let slots = entries.map(\.slot)
        let tokens = entries.map(\.tokens)
        let caches = entries.map(\.cache)
        let C = config.hiddenSize, F = config.intermediateSize, V = config.vocabSize
        let NH = config.numHeads, NKV = config.numKVHeads, HD = config.headDim
        let QD = NH * HD, KD = NKV * HD, group = NH / NKV
        let eps = Float(config.rmsNormEps)  // the final norm's; the layers' is the block's
        let W = parameters.base
        let counts = tokens.map(\.count)
        let R = counts.reduce(0, +)
        var rowStart = [Int](repeating: 0, count: counts.count)
        for i in 1..<max(counts.count, 1) { rowStart[i] = rowStart[i - 1] + counts[i - 1] }
        let ids = tokens.flatMap { $0 }
        var positions: [Int32] = []
        for (i, s) in slots.enumerated() { positions += (0..<counts[i]).map { Int32(caches[i].lengths[s] + $0) } }
        let maxKeys = slots.indices.map { caches[$0].lengths[slots[$0]] + counts[$0] }.max() ?? 1
        let maxRows = counts.max() ?? 1
        rope.ensure(positions: maxKeys)

        let profile = decodeProfile
        var clock = profile?.now() ?? 0
        /// Adds the time since the last mark to `part` (only while a profile is being taken).
        func mark(_ part: WritableKeyPath<DecodeProfile.Parts, Double>) {
            guard let profile else { return }
            let t = profile.now()
            profile.parts[keyPath: part] += Double(t - clock) * 1e-9
            clock = t
        }
        let x = FloatBuffer(count: R * C), ln = FloatBuffer(count: R * C), rstd = FloatBuffer(count: R * NH)
        let q = FloatBuffer(count: R * QD), k = FloatBuffer(count: R * KD), v = FloatBuffer(count: R * KD)
        let att = FloatBuffer(count: R * QD), gate = FloatBuffer(count: R * F), up = FloatBuffer(count: R * F)
        let scoreRows = max(maxRows, group)  // decoding scores a group's heads at once
        let scores = FloatBuffer(count: Parallelism.workers * scoreRows * maxKeys)
        let widest = max(C, QD, F)
        let bf16 = samplingPrecision == .bfloat16 ? bf16SamplingWeights() : nil
        let anyHalfCache = caches.contains { $0.precision == .bfloat16 }
        // Activations rounded to BF16: for BF16 weights, and for the queries that read a BF16 cache.
        let activations16 = UnsafeMutablePointer<UInt16>.allocate(capacity: bf16 != nil || anyHalfCache ? max(1, R * widest) : 1)
        defer { activations16.deallocate() }
        let adapterProduct = FloatBuffer(count: adapters == nil ? 0 : R * widest)
        mark(\.buffers)
        ids.withUnsafeBufferPointer { idBuf in
            positions.withUnsafeBufferPointer { posBuf in
                rope.cos.withUnsafeBufferPointer { cosBuf in
                    rope.sin.withUnsafeBufferPointer { sinBuf in
                        guard let idp = idBuf.baseAddress, let pos = posBuf.baseAddress, let cos = cosBuf.baseAddress,
                            let sin = sinBuf.baseAddress
                        else { return }
                        if let bf16 {
                            bf16.widenRows(ids: idp, count: R, table: layout.embed, width: C, into: x.base)
                        } else {
                            embeddingForward(out: x.base, ids: idp, table: W + layout.embed, N: R, C: C)
                        }
                        mark(\.embedding)
                        let rotary = RotaryPositions(positions: pos, cos: cos, sin: sin)
                        // No backward follows: the projections are normed in place and ln, rstd and gate are reused.
                        let attBuffers = AttentionBuffers(ln: ln.base, rstd: rstd.base, qRaw: q.base, kRaw: k.base, q: q.base,
                                                          k: k.base, v: v.base, rstdQ: rstd.base, rstdK: rstd.base, att: att.base)
                        let mlpBuffers = MLPBuffers(ln: ln.base, rstd: rstd.base, gate: gate.base, up: up.base, h: gate.base)
                        for l in 0..<config.numLayers {
                            var w = layerWeights(l, rows: R)
                            w.cached = CachedProducts(bf16: bf16.map { layout.layers[l].matrices($0.bits) }, activations16: activations16,
                                                      adapterProduct: adapterProduct.base)
                            block.attentionInputForward(w, x: x.base, attBuffers, N: R, rotary: rotary)
                            mark(\.qkv)
                            for (i, s) in slots.enumerated() {
                                caches[i].append(layer: l, slot: s, keys: k.base + rowStart[i] * KD, values: v.base + rowStart[i] * KD,
                                                 rows: counts[i])
                            }
                            // A BF16 cache is read with the queries rounded to BF16 too (one product of BF16 pairs).
                            if anyHalfCache { roundToBFloat16(q.base, activations16, count: R * QD) }
                            mark(\.cacheWrite)
                            let scale = 1 / Float(HD).squareRoot()
                            parallelChunks(slots.count * NKV) { range, worker in
                                let sc = scores.base + worker * scoreRows * maxKeys
                                for pair in range {
                                    let i = pair / NKV, g = pair % NKV
                                    let cache = caches[i]
                                    let rows = counts[i], keysN = cache.lengths[slots[i]] + rows
                                    let keyBase = slots[i] * cache.capacity * KD + g * HD
                                    let half = cache.precision == .bfloat16
                                    /// Scores (m, keysN) of m query rows at `offset` in q (`lda` apart) against the group's keys.
                                    func score(_ m: Int, _ offset: Int, lda: Int) {
                                        if half {
                                            rowInvariantMatmulBF16(M: m, N: keysN, K: HD, A: activations16 + offset, lda: lda,
                                                                   W: cache.keys16[l].bits + keyBase, ldw: KD, C: sc, ldc: keysN)
                                        } else {
                                            rowInvariantMatmul(M: m, N: keysN, K: HD, A: q.base + offset, lda: lda,
                                                               W: cache.keys[l].base + keyBase, ldw: KD, C: sc, ldc: keysN)
                                        }
                                    }
                                    /// `out` = the first `count` probabilities in `p` weighting the group's values.
                                    func weigh(_ out: FloatPointer, _ p: UnsafePointer<Float>, _ count: Int) {
                                        if half {
                                            weightedSumOfRows(out: out, weights: p, rows: cache.values16[l].bits + keyBase, count: count,
                                                              stride: KD, width: HD)
                                        } else {
                                            weightedSumOfRows(out: out, weights: p, rows: cache.values[l].base + keyBase, count: count,
                                                              stride: KD, width: HD)
                                        }
                                    }
                                    if rows == 1 {
                                        // Decoding: the group's heads (contiguous in q) score the cached keys in one product,
                                        // then each head's probabilities weight the cached values.
                                        score(group, rowStart[i] * QD + g * group * HD, lda: HD)
                                        for h in 0..<group {
                                            causalSoftmaxForward(scores: sc + h * keysN, rows: 1, cols: keysN, ld: keysN, scale: scale)
                                            weigh(att.base + rowStart[i] * QD + (g * group + h) * HD, sc + h * keysN, keysN)
                                        }
                                    } else if half {
                                        // Prefill from a BF16 cache: per head, row r of the prompt sees keysN − rows + r + 1 keys.
                                        for h in (g * group)..<((g + 1) * group) {
                                            score(rows, rowStart[i] * QD + h * HD, lda: QD)
                                            causalSoftmaxForward(scores: sc, rows: rows, cols: keysN, ld: keysN, scale: scale)
                                            for r in 0..<rows { weigh(att.base + (rowStart[i] + r) * QD + h * HD, sc + r * keysN, keysN - rows + r + 1) }
                                        }
                                    } else {
                                        // Float32 prefill: OpenBLAS per sequence and head, the same call whatever else is in the batch.
                                        let kg = cache.keys[l].base + keyBase, vg = cache.values[l].base + keyBase
                                        for h in (g * group)..<((g + 1) * group) {
                                            gemm(.none, .transposed, M: rows, N: keysN, K: HD, A: q.base + rowStart[i] * QD + h * HD, lda: QD,
                                                 B: kg, ldb: KD, C: sc, ldc: keysN)
                                            causalSoftmaxForward(scores: sc, rows: rows, cols: keysN, ld: keysN, scale: scale)
                                            gemm(.none, .none, M: rows, N: HD, K: keysN, A: sc, lda: keysN, B: vg, ldb: KD,
                                                 C: att.base + rowStart[i] * QD + h * HD, ldc: QD)
                                        }
                                    }
                                }
                            }
                            mark(\.attention)
                            block.attentionOutputForward(w, x: x.base, att: att.base, out: x.base, projection: ln.base, N: R)
                            mark(\.output)
                            block.mlpForward(w, x: x.base, mlpBuffers, out: x.base, N: R)
                            mark(\.mlp)
                        }
                    }
                }
            }
        }
        for (i, s) in slots.enumerated() { caches[i].lengths[s] += counts[i] }
        // Final norm and LM head only on the rows whose logits are wanted.
        let wanted: [Int] = allLogits ? Array(0..<R) : rowStart.enumerated().map { $0.element + counts[$0.offset] - 1 }
        let sel = FloatBuffer(count: wanted.count * C)
        for (j, r) in wanted.enumerated() { (sel.base + j * C).update(from: x.base + r * C, count: C) }
        rmsNormForward(out: sel.base, rstd: rstd.base, inp: sel.base, weight: W + layout.finalNorm, N: wanted.count, C: C, eps: eps)
        let logits = FloatBuffer(count: wanted.count * V)
        if let bf16 {
            roundToBFloat16(sel.base, activations16, count: wanted.count * C)
            rowInvariantMatmulBF16(M: wanted.count, N: V, K: C, A: activations16, lda: C, W: bf16.bits + layout.lmHead, ldw: C,
                                   C: logits.base, ldc: V)
        } else {
            rowInvariantMatmul(M: wanted.count, N: V, K: C, A: sel.base, lda: C, W: W + layout.lmHead, ldw: C, C: logits.base, ldc: V)
        }
        mark(\.head)
        return CachedLogits(buffer: logits, rows: wanted.count, vocabularySize: V)
    }
}

/// The logits of one KV-cache forward, row-major (rows, V) in one buffer, read in place by whoever samples from them.
public final class CachedLogits {
    public let rows: Int
    public let vocabularySize: Int
    private let buffer: FloatBuffer

    init(buffer: FloatBuffer, rows: Int, vocabularySize: Int) {
        self.buffer = buffer
        self.rows = rows
        self.vocabularySize = vocabularySize
    }

    /// Row `i` (V floats), valid while this object lives.
    public func row(_ i: Int) -> UnsafePointer<Float> { UnsafePointer(buffer.base + i * vocabularySize) }

    /// Row `i` copied into an array.
    public func array(_ i: Int) -> [Float] { Array(UnsafeBufferPointer(start: row(i), count: vocabularySize)) }
}


/// Where the time of `forwardCached` goes, accumulated over calls while `DecoderModel.decodeProfile` is set
/// (`rzero bench decode-profile`). Seconds per part; the parts are consecutive, so they add up to the calls' time.
public final class DecodeProfile {
    public struct Parts: Codable, Sendable {
        /// Per-call scratch buffers (allocated and zeroed every call).
        public var buffers = 0.0
        public var embedding = 0.0
        /// ln1, the q/k/v projections (and adapters), q/k norms, rotation.
        public var qkv = 0.0
        /// Copying the new keys and values into the slots' caches.
        public var cacheWrite = 0.0
        /// Scores, softmax and the weighted sum over each slot's cache.
        public var attention = 0.0
        /// The o projection and the residual.
        public var output = 0.0
        /// ln2, gate, up, SiLU, down and the residual.
        public var mlp = 0.0
        /// The final norm of the rows whose logits are wanted, and the LM head.
        public var head = 0.0
    }

    public var parts = Parts()
    public init() {}

    func now() -> UInt64 {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return UInt64(t.tv_sec) * 1_000_000_000 + UInt64(t.tv_nsec)
    }
}
