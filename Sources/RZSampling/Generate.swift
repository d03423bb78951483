import Foundation
import RZModel
import RZTensor

/// Why a sample stopped.
public enum FinishReason: String, Codable, Sendable {
    /// A stop token or stop string.
    case stop
    /// `maxTokens` reached (or the model's context).
    case length
}

/// One generated sample.
public struct Generation: Sendable, Equatable, Codable {
    public var tokens: [Int32]
    /// log p(token | prefix) under the unmodified model distribution at temperature 1: what GRPO needs as
    /// logp_old, equal to scoring the finished sequence.
    public var logprobs: [Float]
    /// Log-probabilities under the distribution actually sampled from (temperature, top-k, top-p), if asked.
    public var samplingLogprobs: [Float]?
    public var finishReason: FinishReason
    /// The stop string that ended the sample, if one did.
    public var stopString: String?
}

/// Generates `parameters.n` samples for each prompt with a KV cache. All prompts are prefilled together,
/// each prompt once (its n samples copy its cache); then every unfinished sample advances one token per
/// batched forward step, and finished samples leave the batch.
///
/// Each sample draws from its own generator seeded by (seed, prompt index, sample index), so the result
/// does not depend on how requests are batched. `detokenize` (needed only for stop strings) maps a
/// sample's tokens to text.
public func generate(
    model: Qwen3Model, prompts: [[Int32]], parameters: SamplingParameters,
    detokenize: (([Int32]) -> String)? = nil, prefillTokensPerCall: Int = 4096
) throws -> [[Generation]] {
    try parameters.validate()
    guard !prompts.isEmpty else { throw SamplingError.invalidParameter("no prompts") }
    if !parameters.stopStrings.isEmpty && detokenize == nil {
        throw SamplingError.invalidParameter("stop strings need a tokenizer to decode with")
    }
    let n = parameters.n
    let maxPrompt = prompts.map(\.count).max() ?? 0
    guard prompts.allSatisfy({ !$0.isEmpty }) else { throw SamplingError.invalidParameter("empty prompt") }
    guard maxPrompt < model.config.maxPositionEmbeddings else {
        throw SamplingError.invalidParameter("a prompt of \(maxPrompt) tokens fills the model's context")
    }
    let capacity = min(maxPrompt + parameters.maxTokens, model.config.maxPositionEmbeddings)
    let cache = KVCache(config: model.config, slots: prompts.count * n, capacity: capacity)
    let sampler = parameters.sampler()
    let V = model.config.vocabSize
    let stopTokens = Set(parameters.stopTokens)

    var rngs = (0..<(prompts.count * n)).map { slot in
        SeededRandom(seed: parameters.seed &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(slot / n) &* 0x1_0000_0001 &+ UInt64(slot % n))
    }
    var results = (0..<(prompts.count * n)).map { _ in
        Generation(tokens: [], logprobs: [], samplingLogprobs: parameters.returnSamplingLogprobs ? [] : nil, finishReason: .length)
    }
    var pending = [[Float]](repeating: [], count: prompts.count * n)  // next-token logits per slot

    // Prefill: prompt p goes into slot p·n, in calls of bounded size.
    var p = 0
    while p < prompts.count {
        var slots: [Int] = [], toks: [[Int32]] = []
        var budget = 0
        while p < prompts.count && (slots.isEmpty || budget + prompts[p].count <= prefillTokensPerCall) {
            slots.append(p * n)
            toks.append(prompts[p])
            budget += prompts[p].count
            p += 1
        }
        let logits = try model.forwardCached(slots: slots, tokens: toks, cache: cache)
        for (i, s) in slots.enumerated() {
            for j in 0..<n {
                if j > 0 { cache.copySlot(s, to: s + j) }
                pending[s + j] = logits[i]
            }
        }
    }

    var active = Array(0..<(prompts.count * n))
    while !active.isEmpty {
        var next: [Int] = [], nextTokens: [[Int32]] = []
        for slot in active {
            let (token, samplingLogprob) = pending[slot].withUnsafeBufferPointer { buf in
                sampler.sample(logits: buf.baseAddress!, vocabularySize: V, rng: &rngs[slot])
            }
            results[slot].tokens.append(token)
            results[slot].logprobs.append(logSoftmaxAt(pending[slot], Int(token)))
            results[slot].samplingLogprobs?.append(samplingLogprob)
            if stopTokens.contains(token) {
                results[slot].finishReason = .stop
                continue
            }
            if let detokenize, !parameters.stopStrings.isEmpty {
                let text = detokenize(results[slot].tokens)
                if let hit = parameters.stopStrings.first(where: { text.contains($0) }) {
                    results[slot].finishReason = .stop
                    results[slot].stopString = hit
                    continue
                }
            }
            if results[slot].tokens.count >= parameters.maxTokens || cache.lengths[slot] + 1 > capacity { continue }
            next.append(slot)
            nextTokens.append([token])
        }
        active = next
        if active.isEmpty { break }
        let logits = try model.forwardCached(slots: active, tokens: nextTokens, cache: cache)
        for (i, slot) in active.enumerated() { pending[slot] = logits[i] }
    }
    return (0..<prompts.count).map { Array(results[($0 * n)..<(($0 + 1) * n)]) }
}

/// log softmax(logits)[index], in Double for accuracy.
func logSoftmaxAt(_ logits: [Float], _ index: Int) -> Float {
    var maxv = -Double.infinity
    for x in logits { maxv = max(maxv, Double(x)) }
    var z = 0.0
    for x in logits { z += Foundation.exp(Double(x) - maxv) }
    return Float(Double(logits[index]) - maxv - Foundation.log(z))
}
