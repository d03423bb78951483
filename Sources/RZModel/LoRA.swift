import Foundation
import RZTensor

// LoRA (Hu et al. 2021) with PEFT's conventions: a targeted linear layer y = x Wᵀ (+ b) becomes
//   y = x Wᵀ (+ b) + s · (x Aᵀ) Bᵀ,   A (r, in), B (out, r), s = alpha / r (alpha / √r with rsLoRA),
// A initialised like PEFT's default (kaiming-uniform with a = √5, i.e. U(−1/√in, 1/√in)) and B zero, so a fresh
// adapter changes nothing. The base stays frozen and is the KL reference; only A and B get gradients and AdamW
// state. Adapters are applied unmerged everywhere (training, scoring, sampling): at r = 16 on a 1024-wide model
// they add about 3 % to a linear layer's work, and merging would need a second copy of the weights.

/// A linear layer LoRA can target, by PEFT's module name.
public enum LoRAModule: String, CaseIterable, Codable, Sendable {
    case q = "q_proj", k = "k_proj", v = "v_proj", o = "o_proj"
    case gate = "gate_proj", up = "up_proj", down = "down_proj"

    /// The module's path inside a decoder layer (`model.layers.<l>.` + this).
    public var path: String {
        switch self {
        case .q, .k, .v, .o: return "self_attn." + rawValue
        case .gate, .up, .down: return "mlp." + rawValue
        }
    }

    /// (in features, out features) of the layer in `config`.
    public func features(_ config: DecoderConfig) -> (inF: Int, outF: Int) {
        let C = config.hiddenSize, F = config.intermediateSize
        let QD = config.numHeads * config.headDim, KD = config.numKVHeads * config.headDim
        switch self {
        case .q: return (C, QD)
        case .k, .v: return (C, KD)
        case .o: return (QD, C)
        case .gate, .up: return (C, F)
        case .down: return (F, C)
        }
    }
}

extension LayerOffsets {
    /// Where `module`'s weight (out, in) sits in the parameter layout.
    public func weight(_ module: LoRAModule) -> Int {
        switch module {
        case .q: return q
        case .k: return k
        case .v: return v
        case .o: return o
        case .gate: return gate
        case .up: return up
        case .down: return down
        }
    }
}

/// What the adapters are: rank, scaling and which layers they sit on (PEFT's `LoraConfig` subset that rzero
/// trains: dropout 0, no bias, the same modules in every layer).
public struct LoRAConfig: Codable, Sendable, Equatable {
    public var rank: Int
    public var alpha: Double
    /// In `LoRAModule.allCases` order, without repeats.
    public var targetModules: [LoRAModule]
    /// rsLoRA's scaling alpha / √r instead of alpha / r.
    public var useRSLoRA: Bool

    public init(rank: Int, alpha: Double? = nil, targetModules: [LoRAModule] = LoRAModule.allCases, useRSLoRA: Bool = false) {
        self.rank = rank
        self.alpha = alpha ?? Double(2 * rank)
        self.targetModules = LoRAModule.allCases.filter(targetModules.contains)
        self.useRSLoRA = useRSLoRA
    }

    /// The factor s in y += s · (x Aᵀ) Bᵀ.
    public var scale: Float {
        Float(useRSLoRA ? alpha / Double(rank).squareRoot() : alpha / Double(rank))
    }

    public func validate() throws {
        guard rank >= 1 && rank <= 4096 else { throw ModelError.invalidInput("LoRA rank must be in 1...4096 (got \(rank))") }
        guard alpha.isFinite && alpha > 0 else { throw ModelError.invalidInput("LoRA alpha must be a positive number (got \(alpha))") }
        guard !targetModules.isEmpty else { throw ModelError.invalidInput("LoRA needs at least one target module") }
    }

    /// Parses a comma-separated module list (`q_proj,v_proj`) or `all-linear` (PEFT's spelling: every linear
    /// layer of the decoder, not the LM head).
    public static func parseModules(_ text: String) throws -> [LoRAModule] {
        if text == "all-linear" { return LoRAModule.allCases }
        var modules: [LoRAModule] = []
        for name in text.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) {
            guard let m = LoRAModule(rawValue: name) else {
                throw ModelError.invalidInput(
                    "unknown LoRA target module \(name) (use all-linear or some of \(LoRAModule.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            modules.append(m)
        }
        return LoRAModule.allCases.filter(modules.contains)
    }
}

/// Where each adapter factor lives in the adapters' flat buffer, with PEFT's tensor names
/// (`base_model.model.model.layers.<l>.self_attn.q_proj.lora_A.weight`).
public struct AdapterLayout: Sendable {
    /// One targeted layer's factors: A (rank, inF) at `a`, B (outF, rank) at `b`.
    public struct Factors: Sendable {
        public let a: Int, b: Int, inF: Int, outF: Int
    }
    public static let namePrefix = "base_model.model."

    public let tensors: [TensorSpec]
    /// Per decoder layer, per `LoRAModule.allCases` index: the factors, or nil where the module has no adapter.
    public let layers: [[Factors?]]
    public let count: Int

    public init(config: DecoderConfig, lora: LoRAConfig) {
        var builder = FlatLayoutBuilder()
        var layers: [[Factors?]] = []
        for l in 0..<config.numLayers {
            var row: [Factors?] = Array(repeating: nil, count: LoRAModule.allCases.count)
            for (i, m) in LoRAModule.allCases.enumerated() where lora.targetModules.contains(m) {
                let (inF, outF) = m.features(config)
                let p = Self.namePrefix + "model.layers.\(l)." + m.path
                let a = builder.add(p + ".lora_A.weight", [lora.rank, inF])
                let b = builder.add(p + ".lora_B.weight", [outF, lora.rank])
                row[i] = Factors(a: a, b: b, inF: inF, outF: outF)
            }
            layers.append(row)
        }
        self.layers = layers
        tensors = builder.specs
        count = builder.count
    }
}

/// One targeted layer's adapter during a pass: its factors (parameters or their gradients) and the scale.
struct LoRAFactors {
    let a: FloatPointer  // (rank, inF)
    let b: FloatPointer  // (outF, rank)
    let rank: Int
    let scale: Float
}

/// One decoder layer's adapters, by module (nil: no adapter there).
struct LayerAdapters {
    let q, k, v, o, gate, up, down: LoRAFactors?
    /// (rows, 2·rank) scratch for x Aᵀ and dy B.
    let scratch: FloatPointer
}

/// A model's LoRA adapters: parameters, and their gradients once a step needs them.
public final class LoRAAdapters {
    public let config: LoRAConfig
    public let layout: AdapterLayout
    public let parameters: FloatBuffer
    public private(set) var gradients: FloatBuffer?
    private var scratch: FloatBuffer

    public init(config: LoRAConfig, model: DecoderConfig) throws {
        try config.validate()
        self.config = config
        layout = AdapterLayout(config: model, lora: config)
        parameters = FloatBuffer(count: layout.count)
        scratch = FloatBuffer(count: 0)
    }

    /// PEFT's default: A ~ U(−1/√in, 1/√in) (kaiming-uniform, a = √5), B = 0.
    public func initialize(seed: UInt64) {
        var rng = SeededRandom(seed: seed)
        for row in layout.layers {
            for case let f? in row {
                let bound = 1 / Float(f.inF).squareRoot()
                let a = parameters.base + f.a
                for i in 0..<(config.rank * f.inF) { a[i] = (2 * rng.nextUniformFloat() - 1) * bound }
                (parameters.base + f.b).update(repeating: 0, count: f.outF * config.rank)
            }
        }
    }

    @discardableResult
    func ensureGradients() -> FloatBuffer {
        if let g = gradients { return g }
        let g = FloatBuffer(count: layout.count)
        gradients = g
        return g
    }

    /// Scratch of at least `rows` · 2 · rank floats (grows, never shrinks).
    func scratch(rows: Int) -> FloatPointer {
        let need = rows * 2 * config.rank
        if scratch.count < need { scratch = FloatBuffer(count: need) }
        return scratch.base
    }

    /// Layer `l`'s adapters in `buffer` (the parameters or the gradients), with scratch for `rows` rows.
    func layer(_ l: Int, in buffer: FloatBuffer, rows: Int) -> LayerAdapters {
        let row = layout.layers[l]
        let r = config.rank, s = config.scale
        func at(_ m: LoRAModule) -> LoRAFactors? {
            guard let index = LoRAModule.allCases.firstIndex(of: m), let f = row[index] else { return nil }
            return LoRAFactors(a: buffer.base + f.a, b: buffer.base + f.b, rank: r, scale: s)
        }
        return LayerAdapters(q: at(.q), k: at(.k), v: at(.v), o: at(.o), gate: at(.gate), up: at(.up), down: at(.down),
                             scratch: scratch(rows: rows))
    }

    /// `weight` (outF, inF) += s · B · A for the factors `f`: the adapter folded into its layer's weight.
    func merge(_ f: AdapterLayout.Factors, into weight: FloatPointer) {
        gemm(.none, .none, M: f.outF, N: f.inF, K: config.rank, alpha: config.scale, A: parameters.base + f.b, lda: config.rank,
             B: parameters.base + f.a, ldb: f.inF, beta: 1, C: weight, ldc: f.inF)
    }
}

// MARK: - The adapted linear layer

/// `out += s · (inp Aᵀ) Bᵀ`; `u` is (N, rank) scratch.
func loraForward(out: FloatPointer, inp: UnsafePointer<Float>, _ f: LoRAFactors, u: FloatPointer, N: Int, inF: Int, outF: Int) {
    gemm(.none, .transposed, M: N, N: f.rank, K: inF, A: inp, lda: inF, B: f.a, ldb: inF, C: u, ldc: f.rank)
    gemm(.none, .transposed, M: N, N: outF, K: f.rank, alpha: f.scale, A: u, lda: f.rank, B: f.b, ldb: f.rank,
         beta: 1, C: out, ldc: outF)
}

/// Backward of `loraForward` given dOut (N, outF): accumulates dA += s·(dOut B)ᵀ inp and dB += s·dOutᵀ (inp Aᵀ),
/// and adds s·(dOut B) A to `dInp`. `scratch` is (N, 2·rank).
func loraBackward(dInp: FloatPointer, grad g: LoRAFactors, dOut: UnsafePointer<Float>, inp: UnsafePointer<Float>,
                  _ f: LoRAFactors, scratch: FloatPointer, N: Int, inF: Int, outF: Int) {
    let r = f.rank
    let u = scratch, dU = scratch + N * r
    gemm(.none, .transposed, M: N, N: r, K: inF, A: inp, lda: inF, B: f.a, ldb: inF, C: u, ldc: r)
    gemm(.none, .none, M: N, N: r, K: outF, A: dOut, lda: outF, B: f.b, ldb: r, C: dU, ldc: r)
    gemm(.transposed, .none, M: outF, N: r, K: N, alpha: f.scale, A: dOut, lda: outF, B: u, ldb: r, beta: 1, C: g.b, ldc: r)
    gemm(.transposed, .none, M: r, N: inF, K: N, alpha: f.scale, A: dU, lda: r, B: inp, ldb: inF, beta: 1, C: g.a, ldc: inF)
    gemm(.none, .none, M: N, N: inF, K: r, alpha: f.scale, A: dU, lda: r, B: f.a, ldb: inF, beta: 1, C: dInp, ldc: inF)
}
