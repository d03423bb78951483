import Foundation

/// The model families whose Hugging Face checkpoints the decoder loads. Each is one `DecoderArchitecture`
/// (plus the config fields its transformers class reads); the names are transformers' `model_type`s.
public enum ModelFamily: String, Codable, Sendable, CaseIterable {
    /// `Qwen3ForCausalLM`: per-head q/k RMSNorm; `attention_bias` puts biases on q, k, v and o.
    case qwen3
    /// `Qwen2ForCausalLM` (Qwen2, Qwen2.5, Qwen2.5-Math): biases on q, k and v, none on o, no q/k norm.
    case qwen2
    /// `LlamaForCausalLM` (Llama 2/3.x, OctoThinker): no q/k norm; `attention_bias` (q, k, v, o) and
    /// `mlp_bias` (gate, up, down); llama3 rotary scaling.
    case llama

    /// The class name transformers writes in `architectures`.
    public var causalLMClass: String {
        switch self {
        case .qwen3: "Qwen3ForCausalLM"
        case .qwen2: "Qwen2ForCausalLM"
        case .llama: "LlamaForCausalLM"
        }
    }
}

/// What differs between the decoder layers of the supported families. Every other part (pre-norm RMSNorm
/// residual blocks, rotate-half RoPE, grouped-query causal attention, SwiGLU MLP) is common to all.
public struct DecoderArchitecture: Sendable, Equatable {
    /// RMSNorm over each head of q and k before the rotation (Qwen3).
    public var qkNorm: Bool
    /// Biases on the q, k and v projections.
    public var qkvBias: Bool
    /// A bias on the attention output projection.
    public var outputBias: Bool
    /// Biases on the gate, up and down projections.
    public var mlpBias: Bool

    public init(qkNorm: Bool, qkvBias: Bool = false, outputBias: Bool = false, mlpBias: Bool = false) {
        self.qkNorm = qkNorm
        self.qkvBias = qkvBias
        self.outputBias = outputBias
        self.mlpBias = mlpBias
    }
}

/// How rotary frequencies are derived from `rope_theta`.
public enum RotaryScaling: Sendable, Equatable {
    /// `inv_freq[i] = theta^(-2i/HD)` (transformers' rope type "default").
    case none
    /// Llama 3.1/3.2's frequency-dependent scaling (transformers' `_compute_llama3_parameters`): long
    /// wavelengths are divided by `factor`, short ones kept, and the band between interpolated.
    case llama3(factor: Double, lowFrequencyFactor: Double, highFrequencyFactor: Double, originalMaxPositions: Int)

    /// The inverse frequencies for a head of `headDim` (its first half; element i pairs with i + HD/2).
    public func inverseFrequencies(headDim: Int, theta: Double) -> [Double] {
        let base = (0..<(headDim / 2)).map { i in 1.0 / Foundation.pow(theta, Double(2 * i) / Double(headDim)) }
        guard case let .llama3(factor, low, high, original) = self else { return base }
        let lowWavelength = Double(original) / low
        let highWavelength = Double(original) / high
        return base.map { f in
            let wavelength = 2 * Double.pi / f
            if wavelength < highWavelength { return f }
            if wavelength > lowWavelength { return f / factor }
            let smooth = (Double(original) / wavelength - low) / (high - low)
            return (1 - smooth) * f / factor + smooth * f
        }
    }
}

/// The fields of a Hugging Face config.json (`Qwen3ForCausalLM`, `Qwen2ForCausalLM`, `LlamaForCausalLM`)
/// that the decoder needs, with the architecture they imply.
///
/// Reads what both older and newer transformers write: `rope_theta` (and `rope_scaling`) at the top level
/// or a `rope_parameters` object (transformers ≥ 4.56/5), `torch_dtype` or `dtype`, `head_dim` present or
/// not. Writes the older spelling (top-level `rope_theta`, `rope_scaling`, `torch_dtype`), which every
/// version reads. Anything that would change the computation and is not implemented (sliding-window
/// attention in use, other rope types, other activations) is refused by name.
public struct DecoderConfig: Codable, Sendable, Equatable {
    public var family: ModelFamily = .qwen3
    public var architecture: DecoderArchitecture = DecoderArchitecture(qkNorm: true)
    public var vocabSize: Int
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var numLayers: Int
    public var numHeads: Int
    public var numKVHeads: Int
    public var headDim: Int
    public var maxPositionEmbeddings: Int = 32_768
    public var rmsNormEps: Double = 1e-6
    public var ropeTheta: Double = 10_000
    public var rotaryScaling: RotaryScaling = .none
    public var tieWordEmbeddings: Bool = false
    /// The dtype the checkpoint was saved in ("float32", "bfloat16", ...). Informational: weights are
    /// always converted to Float32 on load.
    public var dtype: String = "float32"
    public var bosTokenId: Int?
    public var eosTokenId: Int?

    /// `architecture` defaults to the family's own (for Llama and Qwen3: without biases).
    public init(
        family: ModelFamily = .qwen3, architecture: DecoderArchitecture? = nil,
        vocabSize: Int, hiddenSize: Int, intermediateSize: Int, numLayers: Int, numHeads: Int, numKVHeads: Int,
        headDim: Int, maxPositionEmbeddings: Int = 32_768, rmsNormEps: Double = 1e-6, ropeTheta: Double = 10_000,
        rotaryScaling: RotaryScaling = .none, tieWordEmbeddings: Bool = false, bosTokenId: Int? = nil,
        eosTokenId: Int? = nil
    ) {
        self.family = family
        self.architecture = architecture ?? Self.defaultArchitecture(family)
        self.vocabSize = vocabSize
        self.hiddenSize = hiddenSize
        self.intermediateSize = intermediateSize
        self.numLayers = numLayers
        self.numHeads = numHeads
        self.numKVHeads = numKVHeads
        self.headDim = headDim
        self.maxPositionEmbeddings = maxPositionEmbeddings
        self.rmsNormEps = rmsNormEps
        self.ropeTheta = ropeTheta
        self.rotaryScaling = rotaryScaling
        self.tieWordEmbeddings = tieWordEmbeddings
        self.bosTokenId = bosTokenId
        self.eosTokenId = eosTokenId
    }

    public static func defaultArchitecture(_ family: ModelFamily) -> DecoderArchitecture {
        switch family {
        case .qwen3: DecoderArchitecture(qkNorm: true)
        case .qwen2: DecoderArchitecture(qkNorm: false, qkvBias: true)
        case .llama: DecoderArchitecture(qkNorm: false)
        }
    }

    enum CodingKeys: String, CodingKey {
        case modelType = "model_type"
        case vocabSize = "vocab_size"
        case hiddenSize = "hidden_size"
        case intermediateSize = "intermediate_size"
        case numLayers = "num_hidden_layers"
        case numHeads = "num_attention_heads"
        case numKVHeads = "num_key_value_heads"
        case headDim = "head_dim"
        case maxPositionEmbeddings = "max_position_embeddings"
        case rmsNormEps = "rms_norm_eps"
        case ropeTheta = "rope_theta"
        case tieWordEmbeddings = "tie_word_embeddings"
        case torchDtype = "torch_dtype"
        case dtype
        case bosTokenId = "bos_token_id"
        case eosTokenId = "eos_token_id"
        case ropeParameters = "rope_parameters"
        case ropeScaling = "rope_scaling"
        case attentionBias = "attention_bias"
        case mlpBias = "mlp_bias"
        case hiddenAct = "hidden_act"
        case useSlidingWindow = "use_sliding_window"
        case layerTypes = "layer_types"
        case partialRotaryFactor = "partial_rotary_factor"
        case architectures
    }

    /// A `rope_parameters` or `rope_scaling` object (both spellings of the type key).
    private struct RopeParameters: Codable {
        var ropeTheta: Double?
        var ropeType: String?
        var type: String?
        var factor: Double?
        var lowFreqFactor: Double?
        var highFreqFactor: Double?
        var originalMaxPositionEmbeddings: Int?
        var partialRotaryFactor: Double?
        enum CodingKeys: String, CodingKey {
            case ropeTheta = "rope_theta"
            case ropeType = "rope_type"
            case type
            case factor
            case lowFreqFactor = "low_freq_factor"
            case highFreqFactor = "high_freq_factor"
            case originalMaxPositionEmbeddings = "original_max_position_embeddings"
            case partialRotaryFactor = "partial_rotary_factor"
        }
        var kind: String { ropeType ?? type ?? "default" }
    }

    /// eos_token_id may be an int or a list of ints in HF configs; we keep the first.
    private static func decodeTokenId(_ c: KeyedDecodingContainer<CodingKeys>, _ key: CodingKeys) -> Int? {
        if let v = try? c.decodeIfPresent(Int.self, forKey: key) { return v }
        if let v = try? c.decodeIfPresent([Int].self, forKey: key) { return v.first }
        return nil
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let modelType = try c.decodeIfPresent(String.self, forKey: .modelType) ?? ModelFamily.qwen3.rawValue
        guard let family = ModelFamily(rawValue: modelType) else {
            let known = ModelFamily.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")
            throw ModelError.unsupported("model_type \"\(modelType)\" (supported: \(known))")
        }
        self.family = family
        func required(_ key: CodingKeys) throws -> Int {
            guard let v = try c.decodeIfPresent(Int.self, forKey: key) else {
                throw ModelError.invalidConfig("missing required field \"\(key.rawValue)\"")
            }
            return v
        }
        vocabSize = try required(.vocabSize)
        hiddenSize = try required(.hiddenSize)
        intermediateSize = try required(.intermediateSize)
        numLayers = try required(.numLayers)
        numHeads = try required(.numHeads)
        numKVHeads = try c.decodeIfPresent(Int.self, forKey: .numKVHeads) ?? numHeads
        // Llama writes `head_dim: null` in some versions; absent or null means hidden / heads.
        headDim = try c.decodeIfPresent(Int.self, forKey: .headDim) ?? (numHeads > 0 ? hiddenSize / numHeads : 0)
        maxPositionEmbeddings = try c.decodeIfPresent(Int.self, forKey: .maxPositionEmbeddings) ?? 32_768
        rmsNormEps = try c.decodeIfPresent(Double.self, forKey: .rmsNormEps) ?? 1e-6
        tieWordEmbeddings = try c.decodeIfPresent(Bool.self, forKey: .tieWordEmbeddings) ?? false
        dtype =
            try c.decodeIfPresent(String.self, forKey: .dtype)
            ?? c.decodeIfPresent(String.self, forKey: .torchDtype) ?? "float32"
        bosTokenId = Self.decodeTokenId(c, .bosTokenId)
        eosTokenId = Self.decodeTokenId(c, .eosTokenId)

        let attentionBias = try c.decodeIfPresent(Bool.self, forKey: .attentionBias) ?? false
        let mlpBias = try c.decodeIfPresent(Bool.self, forKey: .mlpBias) ?? false
        switch family {
        case .qwen3:
            architecture = DecoderArchitecture(qkNorm: true, qkvBias: attentionBias, outputBias: attentionBias)
        case .qwen2:
            // Qwen2's projections have fixed biases; it has no attention_bias setting.
            architecture = DecoderArchitecture(qkNorm: false, qkvBias: true)
        case .llama:
            architecture = DecoderArchitecture(qkNorm: false, qkvBias: attentionBias, outputBias: attentionBias, mlpBias: mlpBias)
        }
        if mlpBias && family != .llama {
            throw ModelError.unsupported("mlp_bias = true for model_type \"\(modelType)\" (its MLP has no biases)")
        }

        // rope_scaling null (Llama 2, many Qwen configs) decodes as absent.
        let ropeParameters = try c.decodeIfPresent(RopeParameters.self, forKey: .ropeParameters)
        let ropeScaling = try c.decodeIfPresent(RopeParameters.self, forKey: .ropeScaling)
        ropeTheta = try c.decodeIfPresent(Double.self, forKey: .ropeTheta) ?? ropeParameters?.ropeTheta ?? 10_000
        rotaryScaling = .none
        for p in [ropeParameters, ropeScaling].compactMap({ $0 }) {
            if let partial = p.partialRotaryFactor, partial != 1 {
                throw ModelError.unsupported("partial_rotary_factor \(partial) (only full rotation is supported)")
            }
            switch p.kind {
            case "default": continue
            case "llama3":
                guard let factor = p.factor, let low = p.lowFreqFactor, let high = p.highFreqFactor,
                    let original = p.originalMaxPositionEmbeddings
                else {
                    throw ModelError.invalidConfig(
                        "rope type \"llama3\" needs factor, low_freq_factor, high_freq_factor and original_max_position_embeddings")
                }
                guard factor > 0, low > 0, high > low, original > 0 else {
                    throw ModelError.invalidConfig(
                        "llama3 rope parameters out of range (factor \(factor), low_freq_factor \(low), high_freq_factor \(high), original_max_position_embeddings \(original))")
                }
                rotaryScaling = .llama3(factor: factor, lowFrequencyFactor: low, highFrequencyFactor: high,
                                        originalMaxPositions: original)
            default:
                throw ModelError.unsupported("rope type \"\(p.kind)\" (supported: default, llama3)")
            }
        }
        if let partial = try c.decodeIfPresent(Double.self, forKey: .partialRotaryFactor), partial != 1 {
            throw ModelError.unsupported("partial_rotary_factor \(partial) (only full rotation is supported)")
        }
        if let act = try c.decodeIfPresent(String.self, forKey: .hiddenAct), act != "silu" {
            throw ModelError.unsupported("hidden_act \"\(act)\" (only silu is supported)")
        }
        if try c.decodeIfPresent(Bool.self, forKey: .useSlidingWindow) == true {
            throw ModelError.unsupported("use_sliding_window = true (only full attention is supported)")
        }
        if let types = try c.decodeIfPresent([String].self, forKey: .layerTypes),
            let other = types.first(where: { $0 != "full_attention" })
        {
            throw ModelError.unsupported("layer type \"\(other)\" (only full_attention is supported)")
        }
        if let classes = try? c.decodeIfPresent([String].self, forKey: .architectures),
            let other = classes.first(where: { $0.hasSuffix("ForCausalLM") && $0 != family.causalLMClass })
        {
            throw ModelError.unsupported("architectures \"\(other)\" with model_type \"\(modelType)\"")
        }
        try validate()
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode([family.causalLMClass], forKey: .architectures)
        try c.encode(family.rawValue, forKey: .modelType)
        try c.encode(vocabSize, forKey: .vocabSize)
        try c.encode(hiddenSize, forKey: .hiddenSize)
        try c.encode(intermediateSize, forKey: .intermediateSize)
        try c.encode(numLayers, forKey: .numLayers)
        try c.encode(numHeads, forKey: .numHeads)
        try c.encode(numKVHeads, forKey: .numKVHeads)
        try c.encode(headDim, forKey: .headDim)
        try c.encode(maxPositionEmbeddings, forKey: .maxPositionEmbeddings)
        try c.encode(rmsNormEps, forKey: .rmsNormEps)
        try c.encode(ropeTheta, forKey: .ropeTheta)
        if case let .llama3(factor, low, high, original) = rotaryScaling {
            try c.encode(
                RopeParameters(ropeType: "llama3", factor: factor, lowFreqFactor: low, highFreqFactor: high,
                               originalMaxPositionEmbeddings: original),
                forKey: .ropeScaling)
        }
        try c.encode(tieWordEmbeddings, forKey: .tieWordEmbeddings)
        try c.encode(dtype, forKey: .torchDtype)
        try c.encode("silu", forKey: .hiddenAct)
        switch family {
        case .qwen3: try c.encode(architecture.qkvBias, forKey: .attentionBias)
        case .qwen2: break
        case .llama:
            try c.encode(architecture.qkvBias, forKey: .attentionBias)
            try c.encode(architecture.mlpBias, forKey: .mlpBias)
        }
        if family != .llama { try c.encode(false, forKey: .useSlidingWindow) }
        try c.encodeIfPresent(bosTokenId, forKey: .bosTokenId)
        try c.encodeIfPresent(eosTokenId, forKey: .eosTokenId)
    }

    /// Checks the sizes agree with each other (the decoder relies on every one of these), and that the
    /// architecture is one a config.json of this family can express (so a saved folder reloads as itself).
    public func validate() throws {
        func check(_ ok: Bool, _ message: String) throws {
            if !ok { throw ModelError.invalidConfig(message) }
        }
        try check(vocabSize > 0, "vocab_size must be positive (got \(vocabSize))")
        try check(hiddenSize > 0, "hidden_size must be positive (got \(hiddenSize))")
        try check(intermediateSize > 0, "intermediate_size must be positive (got \(intermediateSize))")
        try check(numLayers > 0, "num_hidden_layers must be positive (got \(numLayers))")
        try check(numHeads > 0, "num_attention_heads must be positive (got \(numHeads))")
        try check(numKVHeads > 0, "num_key_value_heads must be positive (got \(numKVHeads))")
        try check(
            numHeads % numKVHeads == 0,
            "num_attention_heads (\(numHeads)) must be a multiple of num_key_value_heads (\(numKVHeads))")
        try check(headDim > 0 && headDim % 2 == 0, "head_dim must be positive and even (got \(headDim))")
        try check(rmsNormEps > 0, "rms_norm_eps must be positive")
        try check(ropeTheta > 0, "rope_theta must be positive")
        try check(maxPositionEmbeddings > 0, "max_position_embeddings must be positive")
        // Guard against configs whose parameter count would overflow or exhaust memory absurdly.
        let perLayer = hiddenSize.multipliedReportingOverflow(by: intermediateSize + 4 * numHeads * headDim)
        try check(!perLayer.overflow && perLayer.partialValue < 1 << 36, "layer sizes are implausibly large")
        let a = architecture
        let expressible: Bool
        switch family {
        case .qwen3: expressible = a.qkNorm && a.qkvBias == a.outputBias && !a.mlpBias
        case .qwen2: expressible = !a.qkNorm && a.qkvBias && !a.outputBias && !a.mlpBias
        case .llama: expressible = !a.qkNorm && a.qkvBias == a.outputBias
        }
        try check(expressible, "the architecture \(a) is not one a \(family.causalLMClass) config can describe")
    }
}
