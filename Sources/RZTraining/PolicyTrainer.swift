import Foundation
import RZModel
import RZTensor

/// One sampled response for a GRPO step.
public struct GRPOSample: Sendable, Codable, Equatable {
    public var prompt: [Int32]
    public var response: [Int32]
    /// Log-probabilities of the response tokens under the policy that sampled them (logp_old). nil means
    /// "this very policy" (ratio 1, fully on-policy).
    public var oldLogProbs: [Float]?
    /// Reference-model log-probabilities, if the caller computed them; else the trainer's reference does.
    public var refLogProbs: [Float]?
    public var reward: Double
    /// Responses to the same prompt share a group id.
    public var group: Int

    public init(prompt: [Int32], response: [Int32], oldLogProbs: [Float]? = nil, refLogProbs: [Float]? = nil,
                reward: Double, group: Int) {
        self.prompt = prompt
        self.response = response
        self.oldLogProbs = oldLogProbs
        self.refLogProbs = refLogProbs
        self.reward = reward
        self.group = group
    }
}

/// One (prompt, target) pair for a supervised step: cross-entropy on the target tokens only.
public struct SFTSample: Sendable, Codable, Equatable {
    public var prompt: [Int32]
    public var target: [Int32]
    public init(prompt: [Int32], target: [Int32]) {
        self.prompt = prompt
        self.target = target
    }
}

/// Everything a training step can be told.
public struct TrainerSettings: Codable, Sendable, Equatable {
    public var loss = GRPOLossSettings()
    public var optimizer = AdamWSettings()
    /// Gradient clipping threshold on the global L2 norm (torch clip_grad_norm_ semantics).
    public var maxGradNorm: Double = 1.0
    /// Upper bound on tokens per forward/backward pass; the batch is processed in micro-batches of at most
    /// this many tokens (at least one sequence each), accumulating gradients, so memory stays bounded.
    public var microBatchTokens: Int = 8192
    /// Activation recomputation per decoder layer (`DecoderModel.recomputeActivations`): much less memory per
    /// micro-batch token for about one more forward pass; the step's result is the same.
    public var recomputeActivations = false
    /// Hold the frozen KL reference in BF16 (`DecoderModel.frozenBFloat16`): half its memory, its weights rounded
    /// to BF16 (what a BF16 checkpoint holds anyway). No effect under LoRA, whose reference is the base.
    public var referenceInBFloat16 = false

    public init(loss: GRPOLossSettings = GRPOLossSettings(), optimizer: AdamWSettings = AdamWSettings(),
                maxGradNorm: Double = 1.0, microBatchTokens: Int = 8192, recomputeActivations: Bool = false,
                referenceInBFloat16: Bool = false) {
        self.loss = loss
        self.optimizer = optimizer
        self.maxGradNorm = maxGradNorm
        self.microBatchTokens = microBatchTokens
        self.recomputeActivations = recomputeActivations
        self.referenceInBFloat16 = referenceInBFloat16
    }

    enum CodingKeys: String, CodingKey {
        case loss, optimizer, maxGradNorm, microBatchTokens, recomputeActivations, referenceInBFloat16
    }

    /// Settings saved before a field existed (older checkpoints) take that field's default.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let defaults = TrainerSettings()
        loss = try c.decodeIfPresent(GRPOLossSettings.self, forKey: .loss) ?? defaults.loss
        optimizer = try c.decodeIfPresent(AdamWSettings.self, forKey: .optimizer) ?? defaults.optimizer
        maxGradNorm = try c.decodeIfPresent(Double.self, forKey: .maxGradNorm) ?? defaults.maxGradNorm
        microBatchTokens = try c.decodeIfPresent(Int.self, forKey: .microBatchTokens) ?? defaults.microBatchTokens
        recomputeActivations = try c.decodeIfPresent(Bool.self, forKey: .recomputeActivations) ?? defaults.recomputeActivations
        referenceInBFloat16 = try c.decodeIfPresent(Bool.self, forKey: .referenceInBFloat16) ?? defaults.referenceInBFloat16
    }
}

/// What one optimizer step reports.
public struct StepMetrics: Codable, Sendable, Equatable {
    public var loss: Double = 0
    public var policyLoss: Double = 0
    public var kl: Double = 0
    public var clipFractionHigher: Double = 0
    public var clipFractionLower: Double = 0
    /// Global gradient norm before clipping.
    public var gradNorm: Double = 0
    public var meanReward: Double = 0
    public var meanAdvantage: Double = 0
    /// Mean entropy of the policy's next-token distributions over the response tokens.
    public var entropy: Double = 0
    public var tokens: Int = 0
    public var sequences: Int = 0
    public var learningRate: Double = 0
    /// True when the gradient norm was not finite and no update was applied.
    public var skipped: Bool = false
    /// Optimizer steps taken so far (after this one).
    public var step: Int = 0
}

/// Owns a policy model, its frozen KL reference and its AdamW state, and runs GRPO and SFT steps.
/// Under LoRA (the model has adapters) only the adapters train and the frozen base is the reference: no
/// second model is held, and the reference is the policy's own forward with the adapters left out.
/// Not thread-safe: one owner (a model actor) drives it.
public final class PolicyTrainer {
    public let model: DecoderModel
    /// The frozen copy that is the KL reference (full fine-tuning; nil until frozen, and always under LoRA).
    public private(set) var reference: DecoderModel?
    public let optimizer: AdamWState
    public var settings: TrainerSettings

    /// Attach adapters to `model` before making its trainer: the optimizer is sized for what trains.
    public init(model: DecoderModel, settings: TrainerSettings = TrainerSettings()) {
        self.model = model
        self.settings = settings
        optimizer = AdamWState(parameterCount: model.trainableCount)
    }

    /// Whether the reference is the frozen base under the adapters (LoRA) rather than a frozen copy.
    public var referenceIsBase: Bool { model.adapters != nil }

    /// Whether reference log-probabilities can be computed now.
    public var hasReference: Bool { referenceIsBase || reference != nil }

    /// The reference's log-probabilities (and entropies) for `sequences`: the frozen copy's forward, or the
    /// base's (the policy without its adapters). Under LoRA this overwrites the policy's cached activations,
    /// so call it before the policy's forward whose backward follows.
    public func referenceForward(_ sequences: [[Int32]]) throws -> ForwardOutput {
        if referenceIsBase { return try model.forward(sequences, useAdapters: false) }
        guard let reference else { throw GRPOError.invalidValue("no reference model") }
        return try reference.forward(sequences)
    }

    /// A step's activations are not kept between steps: a service samples in between, and the memory plan
    /// counts them only while a step runs.
    private func releaseActivations() {
        model.releaseActivations()
        reference?.releaseActivations()
    }

    /// The models' activation storage follows the settings (the reference only runs forward, so it keeps as
    /// little as the policy).
    private func applyMemorySettings() {
        model.recomputeActivations = settings.recomputeActivations
        reference?.recomputeActivations = settings.recomputeActivations
    }

    /// Freezes a copy of the current weights as the KL reference (done at the start of each phase). Under
    /// LoRA the reference is the frozen base, which never moves: nothing to do.
    public func resetReference() throws {
        guard !referenceIsBase else { return }
        if settings.referenceInBFloat16 {
            reference = nil  // released before the new one is made
            reference = try DecoderModel.frozenBFloat16(config: model.config, weights: BF16Weights(model.parameters))
        } else {
            let ref = try (reference?.bf16Parameters == nil ? reference : nil) ?? DecoderModel(config: model.config)
            ref.parameters.copy(from: model.parameters)
            reference = ref
        }
        reference?.logitBudget = model.logitBudget
    }

    /// Holds a frozen reference as the settings ask: converting it to BF16 rounds its weights; converting back
    /// keeps the rounded values.
    private func matchReferenceStorage() throws {
        guard let ref = reference else { return }
        if settings.referenceInBFloat16 && ref.bf16Parameters == nil {
            let weights = BF16Weights(ref.parameters)
            reference = nil
            reference = try DecoderModel.frozenBFloat16(config: model.config, weights: weights)
        } else if !settings.referenceInBFloat16, let weights = ref.bf16Parameters {
            let widened = try DecoderModel(config: model.config)
            weights.widen(0..<weights.count, into: widened.parameters.base)
            reference = widened
        }
        reference?.logitBudget = model.logitBudget
    }

    /// Replaces the reference with given weights (checkpoint restore).
    func setReference(parameters: FloatBuffer?) throws {
        guard let parameters else {
            reference = nil
            return
        }
        let ref = try DecoderModel(config: model.config)
        ref.parameters.copy(from: parameters)
        reference = ref
    }

    /// Replaces the reference with BF16-held weights (checkpoint restore).
    func setReference(bf16 weights: BF16Weights) throws {
        reference = try DecoderModel.frozenBFloat16(config: model.config, weights: weights)
    }

    // MARK: GRPO

    /// One GRPO optimizer step over `samples` (whole groups: advantages are computed within the batch).
    public func grpoStep(_ samples: [GRPOSample]) throws -> StepMetrics {
        try validate(samples)
        releaseStaleSamplingWeights()
        let advantages = try groupAdvantages(rewards: samples.map(\.reward), groups: samples.map(\.group),
                                             epsilon: settings.loss.advantageEpsilon)
        let weights = aggregationWeights(settings.loss.aggregation, lengths: samples.map { $0.response.count })
        let needsReference = settings.loss.klPenalty != nil && samples.contains { $0.refLogProbs == nil }
        if needsReference && !hasReference { try resetReference() }
        try matchReferenceStorage()

        applyMemorySettings()
        var metrics = StepMetrics()
        var entropySum = 0.0
        let grads = model.ensureGradients()
        grads.zero()
        for range in microBatches(samples.map { $0.prompt.count + $0.response.count }) {
            let chunk = Array(samples[range])
            let sequences = chunk.map { $0.prompt + $0.response }
            var refLogp: [[Double]]? = nil
            if settings.loss.klPenalty != nil {
                var computed: [[Double]] = []
                if needsReference {
                    let out = try referenceForward(sequences)
                    computed = zip(chunk, out.logprobs).map { s, lp in responsePart(lp, s).map(Double.init) }
                }
                refLogp = chunk.enumerated().map { i, s in s.refLogProbs.map { $0.map(Double.init) } ?? computed[i] }
            }
            let out = try model.forward(sequences)
            let logp = zip(chunk, out.logprobs).map { s, lp in responsePart(lp, s).map(Double.init) }
            let old = chunk.enumerated().map { i, s in s.oldLogProbs.map { $0.map(Double.init) } ?? logp[i] }
            let r = try grpoLoss(logp: logp, oldLogp: old, refLogp: refLogp, advantages: Array(advantages[range]),
                                 weights: Array(weights[range]), settings: settings.loss)
            metrics.loss += r.loss
            metrics.policyLoss += r.policyLoss
            metrics.kl += r.kl
            metrics.clipFractionHigher += Double(r.clippedHigherTokens)
            metrics.clipFractionLower += Double(r.clippedLowerTokens)
            metrics.tokens += r.tokens
            for (s, e) in zip(chunk, out.entropies) { entropySum += responsePart(e, s).reduce(0.0) { $0 + Double($1) } }
            // Backward weights: zero on prompt positions, dL/dlogp on response positions.
            let backwardWeights = zip(chunk, r.dLogp).map { s, d in
                [Float](repeating: 0, count: s.prompt.count - 1) + d.map(Float.init)
            }
            try model.backward(weights: backwardWeights)
        }
        let tokens = Double(max(metrics.tokens, 1))
        metrics.clipFractionHigher /= tokens
        metrics.clipFractionLower /= tokens
        metrics.entropy = entropySum / tokens
        metrics.sequences = samples.count
        metrics.meanReward = samples.reduce(0) { $0 + $1.reward } / Double(samples.count)
        metrics.meanAdvantage = advantages.reduce(0, +) / Double(samples.count)
        try applyUpdate(&metrics)
        releaseActivations()
        return metrics
    }

    /// The response tokens' entries of a per-position array over prompt + response (len − 1 entries).
    private func responsePart<T>(_ values: [T], _ s: GRPOSample) -> ArraySlice<T> {
        values[(s.prompt.count - 1)...]
    }

    private func validate(_ samples: [GRPOSample]) throws {
        guard !samples.isEmpty else { throw GRPOError.invalidValue("empty batch") }
        for (i, s) in samples.enumerated() {
            guard !s.prompt.isEmpty else { throw GRPOError.invalidValue("sample \(i) has an empty prompt") }
            guard !s.response.isEmpty else { throw GRPOError.invalidValue("sample \(i) has an empty response") }
            if let o = s.oldLogProbs, o.count != s.response.count {
                throw GRPOError.shapeMismatch("sample \(i): \(o.count) old logprobs for \(s.response.count) response tokens")
            }
            if let r = s.refLogProbs, r.count != s.response.count {
                throw GRPOError.shapeMismatch("sample \(i): \(r.count) ref logprobs for \(s.response.count) response tokens")
            }
            if ((s.oldLogProbs ?? []) + (s.refLogProbs ?? [])).contains(where: { !$0.isFinite || $0 > 0 }) {
                throw GRPOError.invalidValue("sample \(i) has a log-probability that is positive or not finite")
            }
        }
    }

    // MARK: SFT

    /// One supervised step: minimises the mean negative log-likelihood of all target tokens in the batch.
    public func sftStep(_ samples: [SFTSample]) throws -> StepMetrics {
        guard !samples.isEmpty else { throw GRPOError.invalidValue("empty batch") }
        for (i, s) in samples.enumerated() where s.prompt.isEmpty || s.target.isEmpty {
            throw GRPOError.invalidValue("sample \(i) needs a non-empty prompt and target")
        }
        releaseStaleSamplingWeights()
        let total = Double(samples.reduce(0) { $0 + $1.target.count })
        applyMemorySettings()
        var metrics = StepMetrics()
        var entropySum = 0.0
        let grads = model.ensureGradients()
        grads.zero()
        for range in microBatches(samples.map { $0.prompt.count + $0.target.count }) {
            let chunk = Array(samples[range])
            let out = try model.forward(chunk.map { $0.prompt + $0.target })
            var weights: [[Float]] = []
            for (s, lp) in zip(chunk, out.logprobs) {
                let targetLogp = lp[(s.prompt.count - 1)...]
                metrics.loss -= targetLogp.reduce(0.0) { $0 + Double($1) } / total
                weights.append([Float](repeating: 0, count: s.prompt.count - 1)
                               + [Float](repeating: Float(-1 / total), count: s.target.count))
            }
            for (s, e) in zip(chunk, out.entropies) { entropySum += e[(s.prompt.count - 1)...].reduce(0.0) { $0 + Double($1) } }
            try model.backward(weights: weights)
        }
        metrics.policyLoss = metrics.loss
        metrics.tokens = Int(total)
        metrics.sequences = samples.count
        metrics.entropy = entropySum / total
        try applyUpdate(&metrics)
        releaseActivations()
        return metrics
    }

    // MARK: Shared

    /// Consecutive index ranges whose token counts stay within `microBatchTokens` (≥ 1 sequence each).
    func microBatches(_ lengths: [Int]) -> [Range<Int>] { Self.microBatches(lengths, maxTokens: settings.microBatchTokens) }

    /// Consecutive index ranges whose token counts stay within `maxTokens` (≥ 1 sequence each): the passes a
    /// step makes, which the memory plan also sizes.
    public static func microBatches(_ lengths: [Int], maxTokens: Int) -> [Range<Int>] {
        var ranges: [Range<Int>] = []
        var start = 0, tokens = 0
        for (i, n) in lengths.enumerated() {
            if i > start && tokens + n > maxTokens {
                ranges.append(start..<i)
                start = i
                tokens = 0
            }
            tokens += n
        }
        if start < lengths.count { ranges.append(start..<lengths.count) }
        return ranges
    }

    /// Drops the model's BF16 copy for sampling when this training changes the weights it was rounded from: at the start
    /// of a full fine-tuning step, so that its memory is free for the step (nothing in a step makes it again; the next
    /// sampling rounds the updated weights). Under LoRA the base does not change and the copy stays.
    private func releaseStaleSamplingWeights() {
        if model.adapters == nil { model.invalidateSamplingWeights() }
    }

    /// Clips the global gradient norm and applies AdamW, or skips when the norm is not finite.
    private func applyUpdate(_ metrics: inout StepMetrics) throws {
        guard let grads = model.gradients else { throw GRPOError.invalidValue("no gradients") }
        let norm = sumOfSquares(grads.base, count: grads.count).squareRoot()
        metrics.gradNorm = norm
        guard norm.isFinite else {
            metrics.skipped = true
            metrics.step = optimizer.step
            grads.zero()
            return
        }
        // torch.nn.utils.clip_grad_norm_: coefficient max_norm / (norm + 1e-6), applied only when < 1.
        let coefficient = settings.maxGradNorm / (norm + 1e-6)
        if coefficient < 1 { scaleInPlace(grads.base, Float(coefficient), count: grads.count) }
        metrics.learningRate = optimizer.update(params: model.trainableParameters, grads: grads, settings: settings.optimizer)
        metrics.step = optimizer.step
    }
}
