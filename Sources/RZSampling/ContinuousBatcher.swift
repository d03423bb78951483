import Foundation
import RZModel
import RZTensor

/// Serves many generation requests at once: requests arrive at any time, are prefilled between decode
/// steps, and every unfinished sample of every request advances one token per batched forward pass.
/// Each request owns its KV cache and its per-sample generators, so its result does not depend on what
/// else is in flight (tokens are identical; logprobs agree to float rounding).
/// Not thread-safe: one owner (the model's worker thread) drives it with `step()`.
public final class ContinuousBatcher {
    public let model: DecoderModel
    /// Upper bound on prompt tokens prefilled per step (at least one prompt is always admitted).
    public var prefillTokensPerStep = 4096
    private var requests: [Request] = []
    private var nextID = 0

    final class Request {
        let id: Int
        let prompts: [[Int32]]
        let parameters: SamplingParameters
        let sampler: any LogitSampler
        let stopTokens: Set<Int32>
        let detokenize: (([Int32]) -> String)?
        /// Told every drawn token as it is recorded (streaming callers).
        let onToken: ((TokenEvent) -> Void)?
        let cache: KVCache
        var rngs: [SeededRandom]
        var results: [Generation]
        /// Next-token logits waiting to be sampled, per slot (a row of a forward pass's logits; prefill shares one
        /// row among a prompt's n samples).
        var pending: [LogitsRow?]
        var finished: [Bool]
        var prefilledPrompts = 0

        init(id: Int, prompts: [[Int32]], parameters: SamplingParameters, detokenize: (([Int32]) -> String)?,
             onToken: ((TokenEvent) -> Void)?, config: DecoderConfig, precision: SamplingPrecision) {
            self.id = id
            self.onToken = onToken
            self.prompts = prompts
            self.parameters = parameters
            self.detokenize = detokenize
            sampler = parameters.sampler()
            stopTokens = Set(parameters.stopTokens)
            let n = parameters.n
            let capacity = KVCache.capacity(longestPrompt: prompts.map(\.count).max() ?? 0, maxTokens: parameters.maxTokens, config: config)
            cache = KVCache(config: config, slots: prompts.count * n, capacity: capacity, precision: precision)
            rngs = (0..<(prompts.count * n)).map { slot in
                SeededRandom(seed: parameters.seed &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(slot / n) &* 0x1_0000_0001 &+ UInt64(slot % n))
            }
            results = (0..<(prompts.count * n)).map { _ in
                Generation(tokens: [], logprobs: [], samplingLogprobs: parameters.returnSamplingLogprobs ? [] : nil, finishReason: .length,
                           topLogprobs: parameters.topLogprobs > 0 ? [] : nil)
            }
            pending = [LogitsRow?](repeating: nil, count: prompts.count * n)
            finished = [Bool](repeating: false, count: prompts.count * n)
        }

        var isDone: Bool { prefilledPrompts == prompts.count && finished.allSatisfy { $0 } }
    }

    public init(model: DecoderModel) {
        self.model = model
    }

    /// Requests admitted and not yet returned by `step()`.
    public var inFlight: Int { requests.count }
    public var hasWork: Bool { !requests.isEmpty }
    /// Bytes of KV cache the requests in flight hold.
    public var cacheBytes: Int { requests.reduce(0) { $0 + $1.cache.byteCount } }

    /// Validates and queues a request; returns its id. Nothing is computed until `step()`. `onToken` is told each token
    /// as it is drawn, on the thread that calls `step()`.
    public func submit(prompts: [[Int32]], parameters: SamplingParameters, detokenize: (([Int32]) -> String)? = nil,
                       onToken: ((TokenEvent) -> Void)? = nil) throws -> Int {
        try parameters.validate()
        guard !prompts.isEmpty else { throw SamplingError.invalidParameter("no prompts") }
        guard prompts.allSatisfy({ !$0.isEmpty }) else { throw SamplingError.invalidParameter("empty prompt") }
        if !parameters.stopStrings.isEmpty && detokenize == nil {
            throw SamplingError.invalidParameter("stop strings need a tokenizer to decode with")
        }
        let config = model.config
        for p in prompts {
            guard p.count < config.maxPositionEmbeddings else {
                throw SamplingError.invalidParameter("a prompt of \(p.count) tokens fills the model's context of \(config.maxPositionEmbeddings)")
            }
            if let bad = p.first(where: { $0 < 0 || Int($0) >= config.vocabSize }) {
                throw ModelError.invalidInput("token id \(bad) outside 0..<\(config.vocabSize)")
            }
        }
        let id = nextID
        nextID += 1
        requests.append(Request(id: id, prompts: prompts, parameters: parameters, detokenize: detokenize, onToken: onToken,
                                config: config, precision: model.samplingPrecision))
        return id
    }

    /// Drops a request (e.g. its client went away).
    public func cancel(id: Int) { requests.removeAll { $0.id == id } }

    /// One scheduling round: prefill waiting prompts (bounded), sample one token for every slot holding
    /// fresh logits, run one forward pass for every sample that continues. Returns finished requests:
    /// per prompt, its n generations.
    public func step() throws -> [(id: Int, generations: [[Generation]])] {
        try prefill()
        var waiting: [(request: Request, slot: Int, logits: LogitsRow)] = []
        for r in requests {
            for slot in r.pending.indices {
                guard let logits = r.pending[slot] else { continue }
                r.pending[slot] = nil
                waiting.append((r, slot, logits))
            }
        }
        let drawn = draw(waiting)
        var decode: [CachedStep] = []
        var owners: [(Request, Int)] = []
        for (i, w) in waiting.enumerated() {
            if let token = record(drawn[i], w.request, slot: w.slot) {
                decode.append(CachedStep(cache: w.request.cache, slot: w.slot, tokens: [token]))
                owners.append((w.request, w.slot))
            }
        }
        if !decode.isEmpty {
            let logits = try model.forwardCachedLogits(decode)
            for (i, (r, slot)) in owners.enumerated() { r.pending[slot] = LogitsRow(logits: logits, row: i) }
        }
        let done = requests.filter(\.isDone)
        requests.removeAll(where: \.isDone)
        return done.map { r in
            (r.id, (0..<r.prompts.count).map { Array(r.results[($0 * r.parameters.n)..<(($0 + 1) * r.parameters.n)]) })
        }
    }

    private func prefill() throws {
        var entries: [CachedStep] = []
        var owners: [(Request, Int)] = []  // (request, prompt index)
        var budget = 0
        outer: for r in requests {
            while r.prefilledPrompts < r.prompts.count {
                let p = r.prefilledPrompts
                if !entries.isEmpty && budget + r.prompts[p].count > prefillTokensPerStep { break outer }
                entries.append(CachedStep(cache: r.cache, slot: p * r.parameters.n, tokens: r.prompts[p]))
                owners.append((r, p))
                budget += r.prompts[p].count
                r.prefilledPrompts += 1
            }
        }
        if entries.isEmpty { return }
        let logits = try model.forwardCachedLogits(entries)
        for (i, (r, p)) in owners.enumerated() {
            let first = p * r.parameters.n
            for j in 0..<r.parameters.n {
                if j > 0 { r.cache.copySlot(first, to: first + j) }
                r.pending[first + j] = LogitsRow(logits: logits, row: i)
            }
        }
    }

    /// One slot's next-token logits: a row of a forward pass's output, kept alive until drawn.
    struct LogitsRow {
        let logits: CachedLogits
        let row: Int
        var pointer: UnsafePointer<Float> { logits.row(row) }
    }

    /// One row's draw: the token, its log-probability under the model, and under the distribution it was drawn from.
    struct Draw {
        var token: Int32 = 0
        var logprob: Float = 0
        var samplingLogprob: Float = 0
        /// The most likely tokens, when the request asks for them.
        var top: [TopLogprob]? = nil
    }

    /// Draws every waiting row's next token, the rows spread over the workers: each slot has its own generator
    /// and rows share nothing, so the draws are exactly those of one row at a time, in any order.
    private func draw(_ waiting: [(request: Request, slot: Int, logits: LogitsRow)]) -> [Draw] {
        let V = model.config.vocabSize
        var rngs = waiting.map { $0.request.rngs[$0.slot] }
        let samplers = waiting.map { $0.request.sampler }
        let alternatives = waiting.map { $0.request.parameters.topLogprobs }
        var drawn = [Draw](repeating: Draw(), count: waiting.count)
        rngs.withUnsafeMutableBufferPointer { rng in
            drawn.withUnsafeMutableBufferPointer { out in
                parallelChunks(waiting.count) { range, _ in
                    for i in range {
                        let base = waiting[i].logits.pointer
                        let d = samplers[i].sampleWithModelLogprob(logits: base, vocabularySize: V, rng: &rng[i])
                        out[i] = Draw(token: d.token, logprob: d.modelLogprob ?? logSoftmaxAt(base, count: V, Int(d.token)),
                                      samplingLogprob: d.logprob,
                                      top: alternatives[i] > 0 ? topLogprobs(base, count: V, k: alternatives[i]) : nil)
                    }
                }
            }
        }
        for (i, w) in waiting.enumerated() { w.request.rngs[w.slot] = rngs[i] }
        return drawn
    }

    /// Records the slot's drawn token; returns it if the sample continues.
    private func record(_ d: Draw, _ r: Request, slot: Int) -> Int32? {
        let token = d.token
        r.results[slot].tokens.append(token)
        r.results[slot].logprobs.append(d.logprob)
        r.results[slot].samplingLogprobs?.append(d.samplingLogprob)
        if let top = d.top { r.results[slot].topLogprobs?.append(top) }
        var stop = false
        if r.stopTokens.contains(token) {
            r.results[slot].finishReason = .stop
            stop = true
        } else if let detokenize = r.detokenize, !r.parameters.stopStrings.isEmpty {
            let text = detokenize(r.results[slot].tokens)
            if let hit = r.parameters.stopStrings.first(where: { text.contains($0) }) {
                r.results[slot].finishReason = .stop
                r.results[slot].stopString = hit
                stop = true
            }
        }
        let finished = stop || r.results[slot].tokens.count >= r.parameters.maxTokens || r.cache.lengths[slot] + 1 > r.cache.capacity
        r.onToken?(TokenEvent(slot: slot, token: token, logprob: d.logprob, topLogprobs: d.top,
                              finishReason: finished ? r.results[slot].finishReason : nil, stopString: r.results[slot].stopString))
        if finished {
            r.finished[slot] = true
            return nil
        }
        return token
    }
}
