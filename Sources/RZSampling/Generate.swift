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
    /// Per token, the most likely tokens under the model (temperature 1), when `SamplingParameters.topLogprobs` > 0.
    public var topLogprobs: [[TopLogprob]]? = nil
}

/// A token and its log-probability under the model (log softmax of the logits, temperature 1).
public struct TopLogprob: Sendable, Equatable, Codable {
    public var token: Int32
    public var logprob: Float
    public init(token: Int32, logprob: Float) {
        self.token = token
        self.logprob = logprob
    }
}

/// One token of one sample as the batcher draws it, for callers that stream.
public struct TokenEvent: Sendable, Equatable {
    /// prompt index × n + sample index.
    public var slot: Int
    public var token: Int32
    /// log p(token | prefix) under the model at temperature 1.
    public var logprob: Float
    public var topLogprobs: [TopLogprob]?
    /// Set on the sample's last token.
    public var finishReason: FinishReason?
    public var stopString: String?
}

/// Generates `parameters.n` samples for each prompt with a KV cache: the one-request case of
/// `ContinuousBatcher`. All prompts are prefilled together, each prompt once (its n samples copy its
/// cache); then every unfinished sample advances one token per batched forward step.
///
/// Each sample draws from its own generator seeded by (seed, prompt index, sample index), so the result
/// does not depend on how requests are batched. `detokenize` (needed only for stop strings) maps a
/// sample's tokens to text.
public func generate(
    model: DecoderModel, prompts: [[Int32]], parameters: SamplingParameters,
    detokenize: (([Int32]) -> String)? = nil, prefillTokensPerCall: Int = 4096
) throws -> [[Generation]] {
    let batcher = ContinuousBatcher(model: model)
    batcher.prefillTokensPerStep = prefillTokensPerCall
    _ = try batcher.submit(prompts: prompts, parameters: parameters, detokenize: detokenize)
    while batcher.hasWork {
        if let done = try batcher.step().first { return done.generations }
    }
    return []
}

/// The `k` most likely tokens of a row of logits with their log softmax (Double accumulation), most likely first; ties
/// go to the lower id.
func topLogprobs(_ logits: UnsafePointer<Float>, count: Int, k: Int) -> [TopLogprob] {
    let (maxv, z) = softmaxNormalizer(logits, count: count)
    let logZ = maxv + Foundation.log(z)
    let best = TemperatureSampler.best(min(k, count), of: count) { a, b in logits[a] > logits[b] || (logits[a] == logits[b] && a < b) }
    return best.map { TopLogprob(token: Int32($0), logprob: Float(Double(logits[$0]) - logZ)) }
}

/// log softmax of `count` logits at `index`, in Double for accuracy.
func logSoftmaxAt(_ logits: UnsafePointer<Float>, count: Int, _ index: Int) -> Float {
    let (maxv, z) = softmaxNormalizer(logits, count: count)
    return Float(Double(logits[index]) - maxv - Foundation.log(z))
}

/// The largest logit and Σ exp(logit − largest), in Double: what a log softmax of the row subtracts.
func softmaxNormalizer(_ logits: UnsafePointer<Float>, count: Int) -> (max: Double, sum: Double) {
    var maxv = -Double.infinity
    for i in 0..<count { maxv = max(maxv, Double(logits[i])) }
    var z = 0.0
    for i in 0..<count { z += Foundation.exp(Double(logits[i]) - maxv) }
    return (maxv, z)
}
