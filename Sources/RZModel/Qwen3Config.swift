/// The fields of a Hugging Face `Qwen3ForCausalLM` config.json that the decoder needs.
///
/// Reads what both older and newer transformers write: `rope_theta` at the top level or inside a
/// `rope_parameters` object (transformers ≥ 4.56/5), and `torch_dtype` or `dtype`.
/// Writes the older spelling (top-level `rope_theta`, `torch_dtype`), which every version reads.
public struct Qwen3Config: Codable, Sendable, Equatable {
    public var modelType: String = "qwen3"
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
    public var tieWordEmbeddings: Bool = false
    /// The dtype the checkpoint was saved in ("float32", "bfloat16", ...). Informational: weights are
    /// always converted to Float32 on load.
    public var dtype: String = "float32"
    public var bosTokenId: Int?
    public var eosTokenId: Int?

    public init(
        vocabSize: Int, hiddenSize: Int, intermediateSize: Int, numLayers: Int, numHeads: Int, numKVHeads: Int,
        headDim: Int, maxPositionEmbeddings: Int = 32_768, rmsNormEps: Double = 1e-6, ropeTheta: Double = 10_000,
        tieWordEmbeddings: Bool = false, bosTokenId: Int? = nil, eosTokenId: Int? = nil
    ) {
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
        self.tieWordEmbeddings = tieWordEmbeddings
        self.bosTokenId = bosTokenId
        self.eosTokenId = eosTokenId
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
        case hiddenAct = "hidden_act"
        case useSlidingWindow = "use_sliding_window"
        case layerTypes = "layer_types"
        case architectures
    }

    private struct RopeParameters: Decodable {
        var ropeTheta: Double?
        var ropeType: String?
        var type: String?
        enum CodingKeys: String, CodingKey {
            case ropeTheta = "rope_theta"
            case ropeType = "rope_type"
            case type
        }
    }

    /// eos_token_id may be an int or a list of ints in HF configs; we keep the first.
    private static func decodeTokenId(_ c: KeyedDecodingContainer<CodingKeys>, _ key: CodingKeys) -> Int? {
        if let v = try? c.decodeIfPresent(Int.self, forKey: key) { return v }
        if let v = try? c.decodeIfPresent([Int].self, forKey: key) { return v.first }
        return nil
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        modelType = try c.decodeIfPresent(String.self, forKey: .modelType) ?? "qwen3"
        guard modelType == "qwen3" else {
            throw ModelError.unsupported("model_type \"\(modelType)\" (only \"qwen3\" is supported)")
        }
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
        headDim = try c.decodeIfPresent(Int.self, forKey: .headDim) ?? (numHeads > 0 ? hiddenSize / numHeads : 0)
        maxPositionEmbeddings = try c.decodeIfPresent(Int.self, forKey: .maxPositionEmbeddings) ?? 32_768
        rmsNormEps = try c.decodeIfPresent(Double.self, forKey: .rmsNormEps) ?? 1e-6
        tieWordEmbeddings = try c.decodeIfPresent(Bool.self, forKey: .tieWordEmbeddings) ?? false
        dtype =
            try c.decodeIfPresent(String.self, forKey: .dtype)
            ?? c.decodeIfPresent(String.self, forKey: .torchDtype) ?? "float32"
        bosTokenId = Self.decodeTokenId(c, .bosTokenId)
        eosTokenId = Self.decodeTokenId(c, .eosTokenId)

        let ropeParameters = try c.decodeIfPresent(RopeParameters.self, forKey: .ropeParameters)
        let ropeScaling = try c.decodeIfPresent(RopeParameters.self, forKey: .ropeScaling)
        ropeTheta = try c.decodeIfPresent(Double.self, forKey: .ropeTheta) ?? ropeParameters?.ropeTheta ?? 10_000
        for p in [ropeParameters, ropeScaling].compactMap({ $0 }) {
            let kind = p.ropeType ?? p.type ?? "default"
            if kind != "default" {
                throw ModelError.unsupported("rope type \"\(kind)\" (only default RoPE is supported)")
            }
        }
        if try c.decodeIfPresent(Bool.self, forKey: .attentionBias) == true {
            throw ModelError.unsupported("attention_bias = true (Qwen3 has no attention biases)")
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
        try validate()
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(["Qwen3ForCausalLM"], forKey: .architectures)
        try c.encode(modelType, forKey: .modelType)
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
        try c.encode(tieWordEmbeddings, forKey: .tieWordEmbeddings)
        try c.encode(dtype, forKey: .torchDtype)
        try c.encode("silu", forKey: .hiddenAct)
        try c.encode(false, forKey: .attentionBias)
        try c.encode(false, forKey: .useSlidingWindow)
        try c.encodeIfPresent(bosTokenId, forKey: .bosTokenId)
        try c.encodeIfPresent(eosTokenId, forKey: .eosTokenId)
    }

    /// Checks the sizes agree with each other (the decoder relies on every one of these).
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
    }
}
