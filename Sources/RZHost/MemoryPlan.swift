import Foundation
import RZModel
import RZTraining

/// What the host's memory goes to, by part, and how a training step is fitted into the limit.
///
/// The parts are known exactly from the architecture: the weights, and for training their gradients, AdamW's
/// two moments and (with a KL term) the frozen reference, each one float per parameter; then, per step, the
/// activations and backward scratch of the largest micro-batch (`DecoderModel.workingFloats`, the very sizes
/// `forward`/`backward` allocate) plus the reference's forward activations. A step is planned before it
/// runs: the requested micro-batch size and recomputation if they fit, else recomputation, else smaller
/// micro-batches, else a refusal that names the numbers. What is not counted (the sampler's KV caches,
/// buffers of requests in flight, the allocator's slack) is what the limit's margin is for.
public struct MemoryPlan: Sendable, Equatable {
    /// The bytes the service may use; nil when none is set (then steps run as asked).
    public var limitBytes: Int?
    public var weightsBytes: Int
    public var gradientsBytes: Int
    public var optimizerBytes: Int
    public var referenceBytes: Int
    /// The reference held in BF16 (`reference_dtype`): half the weights, plus the largest part widened at a time.
    public var referenceBF16Bytes: Int
    /// Under LoRA the reference is the policy's own base: no copy, and its forward reuses the policy's buffers.
    public var referenceIsBase: Bool
    /// Keys and values of one cached token over all layers (the sampler's cost per token in flight).
    public var kvCacheBytesPerToken: Int
    /// The weights rounded to BF16 for sampling in BF16 (0 in float32). Resident during a step only under LoRA: a full
    /// fine-tuning step releases them first.
    public var samplingWeightsBytes: Int
    /// The last training step's plan.
    public var lastStep: StepPlan?

    public struct StepPlan: Sendable, Equatable {
        public var microBatchTokens: Int
        public var recomputeActivations: Bool
        /// Activations, backward scratch and the reference's forward, for the largest micro-batch.
        public var workingBytes: Int
        /// Everything counted while the step runs.
        public var peakBytes: Int
    }

    /// The parts of a model of `config`, before any step. Gradients and AdamW state are per trainable
    /// parameter (`trainableCount`: all of them, or the adapters' under LoRA); the weights count the adapters too.
    public init(config: DecoderConfig, parameterCount: Int, trainableCount: Int? = nil, referenceIsBase: Bool = false,
                samplingPrecision: SamplingPrecision = .float32, limitBytes: Int?) {
        let P = parameterCount * MemoryLayout<Float>.stride
        let T = (trainableCount ?? parameterCount) * MemoryLayout<Float>.stride
        self.limitBytes = limitBytes
        weightsBytes = referenceIsBase ? P + T : P
        gradientsBytes = T
        optimizerBytes = 2 * T
        self.referenceIsBase = referenceIsBase
        referenceBytes = referenceIsBase ? 0 : P
        let layerFloats = config.numLayers > 0 ? (parameterCount - config.vocabSize * config.hiddenSize) / config.numLayers : 0
        referenceBF16Bytes = referenceIsBase ? 0
            : parameterCount * 2 + max(config.vocabSize * config.hiddenSize, layerFloats) * MemoryLayout<Float>.stride
        kvCacheBytesPerToken = KVCache.bytesPerToken(config, precision: samplingPrecision)
        samplingWeightsBytes = samplingPrecision == .bfloat16 ? parameterCount * 2 : 0
    }

    /// Resident for a training step besides its working memory.
    func fixedBytes(withReference: Bool, referenceInBFloat16: Bool = false) -> Int {
        weightsBytes + gradientsBytes + optimizerBytes + (withReference ? (referenceInBFloat16 ? referenceBF16Bytes : referenceBytes) : 0)
            + (referenceIsBase ? samplingWeightsBytes : 0)
    }

    /// Under LoRA a pass accumulates no weight gradient, so small passes cost no time (at the Qwen3-0.6B shape one
    /// 320-token sequence per pass runs within 4 % of eight per pass) while their activations shrink in
    /// proportion: a LoRA step's passes are held to this many tokens (or the longest sequence), whatever the
    /// requested micro-batch size.
    public static let adapterPassTokens = 512

    /// Settings for a step over sequences of `lengths` that fit the limit: `settings` as given when they fit,
    /// else with recomputation, else with halved micro-batches (down to one sequence per pass). Throws a
    /// client error naming the numbers when even that does not fit. Under LoRA the passes start at most
    /// `adapterPassTokens` long.
    public func fit(lengths: [Int], settings requested: TrainerSettings, withReference: Bool, model: DecoderModel) throws
        -> (TrainerSettings, StepPlan)
    {
        var settings = requested
        if referenceIsBase {
            settings.microBatchTokens = min(settings.microBatchTokens, max(lengths.max() ?? 1, Self.adapterPassTokens))
        }
        let fixed = fixedBytes(withReference: withReference, referenceInBFloat16: settings.referenceInBFloat16)
        func plan(_ tokens: Int, _ recompute: Bool) -> StepPlan {
            var working = 0
            for r in PolicyTrainer.microBatches(lengths, maxTokens: tokens) {
                let chunk = Array(lengths[r])
                var floats = model.workingFloats(lengths: chunk, recompute: recompute)
                if withReference && !referenceIsBase { floats += model.workingFloats(lengths: chunk, recompute: recompute, backward: false) }
                working = max(working, floats * MemoryLayout<Float>.stride)
            }
            return StepPlan(microBatchTokens: tokens, recomputeActivations: recompute, workingBytes: working, peakBytes: fixed + working)
        }
        let asked = plan(settings.microBatchTokens, settings.recomputeActivations)
        guard let limit = limitBytes else { return (settings, asked) }
        // The fallbacks in order of preference, each sized only if the ones before it did not fit.
        let longest = lengths.max() ?? 1
        var fallbacks: [(tokens: Int, recompute: Bool)] = settings.recomputeActivations ? [] : [(settings.microBatchTokens, true)]
        var tokens = settings.microBatchTokens / 2
        while tokens >= longest {
            fallbacks.append((tokens, true))
            tokens /= 2
        }
        if settings.microBatchTokens > longest { fallbacks.append((longest, true)) }
        var tried: [StepPlan] = []
        for (tokens, recompute) in [(settings.microBatchTokens, settings.recomputeActivations)] + fallbacks {
            let candidate = tried.isEmpty ? asked : plan(tokens, recompute)
            tried.append(candidate)
            if candidate.peakBytes <= limit {
                var chosen = settings
                chosen.microBatchTokens = candidate.microBatchTokens
                chosen.recomputeActivations = candidate.recomputeActivations
                return (chosen, candidate)
            }
        }
        // The smallest need, named with the smallest pass that reaches it (one sequence per pass).
        let least = tried.min { ($0.peakBytes, $0.microBatchTokens) < ($1.peakBytes, $1.microBatchTokens) } ?? asked
        let gb = Self.gigabytes
        throw HostError.insufficientMemory(
            "a step over \(lengths.count) sequences (longest \(longest) tokens) needs at least \(gb(least.peakBytes)): "
                + "weights \(gb(weightsBytes)), gradients \(gb(gradientsBytes)), AdamW \(gb(optimizerBytes))"
                + (withReference && !referenceIsBase
                    ? ", reference \(gb(settings.referenceInBFloat16 ? referenceBF16Bytes : referenceBytes))" : "")
                + ", activations \(gb(least.workingBytes)) (\(least.microBatchTokens)-token passes, recomputed); the memory limit is \(gb(limit))")
    }

    /// `bytes` as "1.23 GB", for messages.
    static func gigabytes(_ bytes: Int) -> String { String(format: "%.2f GB", Double(bytes) / 1e9) }

    /// The default limit: what the cgroup allows, else the memory available now, less a margin (a tenth,
    /// at least 512 MB) for what the plan does not count. Nil when neither can be read.
    public static func defaultLimitBytes() -> Int? {
        var candidates: [Int] = []
        if let text = try? String(contentsOfFile: "/sys/fs/cgroup/memory.max", encoding: .utf8),
            let v = Int(text.trimmingCharacters(in: .whitespacesAndNewlines))
        {
            candidates.append(v)
        }
        if let text = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8),
            let line = text.split(separator: "\n").first(where: { $0.hasPrefix("MemAvailable:") }),
            let kb = line.split(separator: " ").dropFirst().first.flatMap({ Int($0) })
        {
            candidates.append(kb * 1024)
        }
        guard let available = candidates.min() else { return nil }
        return available - max(available / 10, 512 << 20)
    }

    /// Parses a size such as `20G`, `1500M`, `8GiB` or a plain byte count; nil for anything else.
    public static func parseBytes(_ text: String) -> Int? {
        let t = text.trimmingCharacters(in: .whitespaces).uppercased()
        let units: [(String, Int)] = [("GIB", 1 << 30), ("MIB", 1 << 20), ("KIB", 1 << 10), ("GB", 1_000_000_000),
                                      ("MB", 1_000_000), ("KB", 1000), ("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)]
        for (suffix, scale) in units where t.hasSuffix(suffix) {
            guard let v = Double(t.dropLast(suffix.count)), v > 0, v * Double(scale) < 9e18 else { return nil }
            return Int(v * Double(scale))
        }
        guard let v = Int(t), v > 0 else { return nil }
        return v
    }
}
