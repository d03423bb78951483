/// One named tensor inside the flat parameter buffer.
public struct TensorSpec: Sendable, Equatable {
    /// The Hugging Face checkpoint key, e.g. `model.layers.0.self_attn.q_proj.weight`.
    public let name: String
    public let shape: [Int]
    /// Offset into the flat buffer, in floats.
    public let offset: Int
    public var count: Int { shape.reduce(1, *) }
}

/// Hands out consecutive offsets in one flat buffer to named tensors, in the order they are added.
struct FlatLayoutBuilder {
    private(set) var specs: [TensorSpec] = []
    private(set) var count = 0

    /// Appends a tensor and returns its offset.
    mutating func add(_ name: String, _ shape: [Int]) -> Int {
        let spec = TensorSpec(name: name, shape: shape, offset: count)
        specs.append(spec)
        count += spec.count
        return spec.offset
    }
}

/// Offsets of one decoder layer's tensors in the flat buffer (weights stored (out, in) as in PyTorch).
/// Tensors the architecture does not have are nil.
public struct LayerOffsets: Sendable {
    public let inputNorm: Int  // (C)
    public let q: Int  // (NH*HD, C)
    public let k: Int  // (NKV*HD, C)
    public let v: Int  // (NKV*HD, C)
    public let o: Int  // (C, NH*HD)
    public let qBias: Int?, kBias: Int?, vBias: Int?  // (NH*HD), (NKV*HD), (NKV*HD)
    public let oBias: Int?  // (C)
    public let qNorm: Int?  // (HD)
    public let kNorm: Int?  // (HD)
    public let postNorm: Int  // (C)
    public let gate: Int  // (F, C)
    public let up: Int  // (F, C)
    public let down: Int  // (C, F)
    public let gateBias: Int?, upBias: Int?  // (F)
    public let downBias: Int?  // (C)

    /// This layer's matrices in a BF16 copy of the parameters (same layout).
    func matrices(_ bits: UnsafePointer<UInt16>) -> LayerMatricesBF16 {
        LayerMatricesBF16(q: bits + q, k: bits + k, v: bits + v, o: bits + o, gate: bits + gate, up: bits + up, down: bits + down)
    }

    /// Pointers to this layer's tensors in a buffer of this layout (the parameters or their gradients).
    func pointers(_ base: UnsafeMutablePointer<Float>) -> LayerTensors {
        func at(_ o: Int?) -> UnsafeMutablePointer<Float>? { o.map { base + $0 } }
        return LayerTensors(
            inputNorm: base + inputNorm, q: base + q, k: base + k, v: base + v, o: base + o,
            qBias: at(qBias), kBias: at(kBias), vBias: at(vBias), oBias: at(oBias), qNorm: at(qNorm), kNorm: at(kNorm),
            postNorm: base + postNorm, gate: base + gate, up: base + up, down: base + down,
            gateBias: at(gateBias), upBias: at(upBias), downBias: at(downBias))
    }
}

/// The layout of every parameter in one flat Float32 buffer (llm.c's `ParameterTensors`).
/// Gradients and optimizer moments use the same layout, so updates and checkpoints are flat loops.
/// Checkpoint key names appear only here.
public struct ParameterLayout: Sendable {
    public let tensors: [TensorSpec]
    public let embed: Int  // (V, C)
    public let finalNorm: Int  // (C)
    /// (V, C); equal to `embed` when the embeddings are tied.
    public let lmHead: Int
    public let layers: [LayerOffsets]
    public let count: Int
    private let indexByName: [String: Int]

    public init(config: DecoderConfig) {
        let C = config.hiddenSize, V = config.vocabSize, F = config.intermediateSize
        let QD = config.numHeads * config.headDim, KD = config.numKVHeads * config.headDim, HD = config.headDim
        var builder = FlatLayoutBuilder()
        func add(_ name: String, _ shape: [Int]) -> Int { builder.add(name, shape) }
        embed = add("model.embed_tokens.weight", [V, C])
        var layers: [LayerOffsets] = []
        let arch = config.architecture
        for l in 0..<config.numLayers {
            let p = "model.layers.\(l)."
            // Each weight is followed by its bias, if the architecture has one.
            let inputNorm = add(p + "input_layernorm.weight", [C])
            let q = add(p + "self_attn.q_proj.weight", [QD, C])
            let qBias = arch.qkvBias ? add(p + "self_attn.q_proj.bias", [QD]) : nil
            let k = add(p + "self_attn.k_proj.weight", [KD, C])
            let kBias = arch.qkvBias ? add(p + "self_attn.k_proj.bias", [KD]) : nil
            let v = add(p + "self_attn.v_proj.weight", [KD, C])
            let vBias = arch.qkvBias ? add(p + "self_attn.v_proj.bias", [KD]) : nil
            let o = add(p + "self_attn.o_proj.weight", [C, QD])
            let oBias = arch.outputBias ? add(p + "self_attn.o_proj.bias", [C]) : nil
            let qNorm = arch.qkNorm ? add(p + "self_attn.q_norm.weight", [HD]) : nil
            let kNorm = arch.qkNorm ? add(p + "self_attn.k_norm.weight", [HD]) : nil
            let postNorm = add(p + "post_attention_layernorm.weight", [C])
            let gate = add(p + "mlp.gate_proj.weight", [F, C])
            let gateBias = arch.mlpBias ? add(p + "mlp.gate_proj.bias", [F]) : nil
            let up = add(p + "mlp.up_proj.weight", [F, C])
            let upBias = arch.mlpBias ? add(p + "mlp.up_proj.bias", [F]) : nil
            let down = add(p + "mlp.down_proj.weight", [C, F])
            let downBias = arch.mlpBias ? add(p + "mlp.down_proj.bias", [C]) : nil
            layers.append(
                LayerOffsets(
                    inputNorm: inputNorm, q: q, k: k, v: v, o: o, qBias: qBias, kBias: kBias, vBias: vBias, oBias: oBias,
                    qNorm: qNorm, kNorm: kNorm, postNorm: postNorm, gate: gate, up: up, down: down,
                    gateBias: gateBias, upBias: upBias, downBias: downBias))
        }
        self.layers = layers
        finalNorm = add("model.norm.weight", [C])
        lmHead = config.tieWordEmbeddings ? embed : add("lm_head.weight", [V, C])
        tensors = builder.specs
        count = builder.count
        indexByName = Dictionary(uniqueKeysWithValues: builder.specs.enumerated().map { ($0.element.name, $0.offset) })
    }

    public func spec(named name: String) -> TensorSpec? {
        indexByName[name].map { tensors[$0] }
    }

    /// Name of the untied LM head key, which a tied checkpoint may still carry (and we then drop).
    public static let lmHeadName = "lm_head.weight"
}
