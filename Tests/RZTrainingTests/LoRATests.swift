import Foundation
import Testing
import RZModel
import RZTensor
import RZTestSupport
import RZTraining

/// One case of scripts/make_lora_fixtures.py: a base fixture folder, a PEFT adapter folder and what
/// transformers + peft computed with them.
struct LoRAFixture {
    struct Meta: Decodable {
        struct AdamW: Decodable {
            let lr: Double
            let betas: [Double]
            let eps: Double
            let weight_decay: Double
        }
        let magic: String
        let version: Int
        let base: String
        let sequences: [[Int32]]
        let weights: [[Float]]
        let adamw: AdamW
    }

    let dir: String
    let meta: Meta
    let reference: SafetensorsFile

    init(_ name: String) throws {
        dir = Fixtures.path("engine/lora_" + name)
        meta = try JSONDecoder().decode(Meta.self, from: Data(contentsOf: URL(fileURLWithPath: dir + "/reference.json")))
        guard meta.magic == "rzero-lora-fixture", meta.version == 1 else {
            throw ModelError.invalidInput("stale fixture lora_\(name): re-run scripts/make_lora_fixtures.py")
        }
        reference = try SafetensorsFile(path: dir + "/reference.safetensors")
    }

    /// The base with the fixture's adapter attached (the base path given: the saved one is the generating machine's).
    func model() throws -> DecoderModel {
        try ModelFolder.loadAdapted(dir + "/adapter", base: Fixtures.path("engine/" + meta.base))
    }
}

@Suite("LoRA: PEFT's adapters, checked against transformers + peft")
struct LoRATests {
    static let cases = ["qwen3_all", "llama_some"]

    @Test("logits, adapter gradients and one AdamW step equal peft's (frozen base: no base gradients)", arguments: cases)
    func parity(name: String) throws {
        let fx = try LoRAFixture(name)
        let model = try fx.model()
        let adapters = try #require(model.adapters)
        let out = try model.forward(fx.meta.sequences, returnLogits: true)
        let logits = try #require(out.logits)
        for s in fx.meta.sequences.indices {
            let e = TestData.maxAbsError(logits[s], try fx.reference.floats("logits_\(s)"))
            #expect(e < 1e-4, "\(name): logits of sequence \(s) differ by \(e)")
        }
        try model.backward(weights: fx.meta.weights)
        let grads = try #require(model.gradients)
        #expect(grads.count == adapters.layout.count, "only the adapters have gradients")
        for spec in adapters.layout.tensors {
            let mine = Array(UnsafeBufferPointer(start: grads.base + spec.offset, count: spec.count))
            let e = TestData.relativeMaxError(mine, try fx.reference.floats("grad." + spec.name))
            #expect(e < 1e-3, "\(name): gradient of \(spec.name) has relative error \(e)")
        }
        // The trainer minimises −objective: AdamW on the negated gradients, as the fixture's torch.optim.AdamW.
        scaleInPlace(grads.base, -1, count: grads.count)
        let a = fx.meta.adamw
        let state = AdamWState(parameterCount: model.trainableCount)
        state.update(params: model.trainableParameters, grads: grads,
                     settings: AdamWSettings(learningRate: a.lr, beta1: a.betas[0], beta2: a.betas[1], epsilon: a.eps, weightDecay: a.weight_decay))
        for spec in adapters.layout.tensors {
            let mine = Array(UnsafeBufferPointer(start: adapters.parameters.base + spec.offset, count: spec.count))
            let e = TestData.maxAbsError(mine, try fx.reference.floats("after_step." + spec.name))
            #expect(e < 1e-5, "\(name): \(spec.name) after one AdamW step differs by \(e)")
        }
    }

    @Test("the base without adapters, the cached path with them, and the merged model agree", arguments: cases)
    func paths(name: String) throws {
        let fx = try LoRAFixture(name)
        let model = try fx.model()
        let base = try ModelFolder.load(Fixtures.path("engine/" + fx.meta.base))
        let seqs = fx.meta.sequences
        let V = model.config.vocabSize
        // Without its adapters the model is its base, to the bit.
        #expect(try model.forward(seqs, returnLogits: true, useAdapters: false).logits == base.forward(seqs, returnLogits: true).logits)
        let adapted = try #require(try model.forward(seqs, returnLogits: true).logits)
        #expect(TestData.maxAbsError(adapted[1], try #require(base.forward(seqs, returnLogits: true).logits)[1]) > 1e-2,
                "the adapter changes the logits")
        // KV cache: prefill then token by token.
        let cache = KVCache(config: model.config, slots: seqs.count, capacity: 16)
        _ = try model.forwardCached(slots: Array(seqs.indices), tokens: seqs.map { Array($0.prefix(2)) }, cache: cache)
        for s in seqs.indices {
            for t in 2..<seqs[s].count {
                let logits = try model.forwardCached(slots: [s], tokens: [[seqs[s][t]]], cache: cache)[0]
                #expect(TestData.maxAbsError(logits, Array(adapted[s][(t * V)..<((t + 1) * V)])) < 1e-5, "\(name) cached \(s) \(t)")
            }
        }
        // Sampling in BF16 (base weights and KV cache in BF16, adapters float32) stays near the float32 logits, and
        // the adapters still act (the BF16 logits are nearer the adapted model's than the base's).
        model.samplingPrecision = .bfloat16
        let cache16 = KVCache(config: model.config, slots: seqs.count, capacity: 16, precision: .bfloat16)
        let last = try model.forwardCached(slots: Array(seqs.indices), tokens: seqs, cache: cache16)
        let baseLogits = try #require(try base.forward(seqs, returnLogits: true).logits)
        for s in seqs.indices {
            let n = seqs[s].count, ref = Array(adapted[s][((n - 1) * V)..<(n * V)]), plain = Array(baseLogits[s][((n - 1) * V)..<(n * V)])
            let scale = Double(ref.map(abs).max() ?? 1)
            #expect(TestData.maxAbsError(last[s], ref) < 0.03 * scale, "\(name) bf16 \(s)")
            #expect(TestData.maxAbsError(last[s], ref) < TestData.maxAbsError(last[s], plain), "\(name) bf16 adapters \(s)")
        }
        model.samplingPrecision = .float32
        // Merging folds the adapters into the weights: same logits, no adapters left.
        model.mergeAdapters()
        #expect(model.adapters == nil)
        let merged = try #require(try model.forward(seqs, returnLogits: true).logits)
        for s in seqs.indices { #expect(TestData.maxAbsError(merged[s], adapted[s]) < 1e-4, "\(name) merged \(s)") }
    }

    @Test("a fresh adapter (PEFT's init: B = 0) leaves the model's outputs bit-identical")
    func freshAdapterIsIdentity() throws {
        let model = try ModelFolder.load(Fixtures.path("engine/llama_bf16"))
        let seqs: [[Int32]] = [[1, 2, 3, 4, 5], [7, 8]]
        let before = try model.forward(seqs, returnLogits: true).logits
        let adapters = try LoRAAdapters(config: LoRAConfig(rank: 8), model: model.config)
        adapters.initialize(seed: 3)
        try model.attachAdapters(adapters)
        #expect(try model.forward(seqs, returnLogits: true).logits == before)
        // A's entries follow U(−1/√in, 1/√in).
        let spec = try #require(adapters.layout.tensors.first { $0.name.hasSuffix("q_proj.lora_A.weight") })
        let a = UnsafeBufferPointer(start: adapters.parameters.base + spec.offset, count: spec.count)
        let bound = 1 / Float(spec.shape[1]).squareRoot()
        #expect(a.allSatisfy { abs($0) <= bound } && a.contains { abs($0) > bound / 2 })
    }

    @Test("saved adapter folders reload to the same values; PEFT configs rzero cannot apply are refused by name")
    func folders() throws {
        let fx = try LoRAFixture("llama_some")
        let model = try fx.model()
        let adapters = try #require(model.adapters)
        let dir = NSTemporaryDirectory() + "rzero-lora-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try AdapterFolder.save(adapters, to: dir, baseModel: Fixtures.path("engine/" + fx.meta.base))
        let reloaded = try ModelFolder.load(dir)  // via base_model_name_or_path
        let again = try #require(reloaded.adapters)
        #expect(again.config == adapters.config)
        #expect(again.parameters.toArray() == adapters.parameters.toArray())

        let configPath = dir + "/" + AdapterFolder.configName
        let original = try Data(contentsOf: URL(fileURLWithPath: configPath))
        for (key, value, message) in [("use_dora", "true", "DoRA"), ("target_modules", "\"q_proj|v_proj\"", "pattern"),
                                      ("rank_pattern", "{\"q_proj\": 4}", "rank_pattern"), ("bias", "\"all\"", "bias"),
                                      ("peft_type", "\"IA3\"", "LORA"), ("r", "0", "rank")] as [(String, String, String)] {
            var obj = try #require(try JSONSerialization.jsonObject(with: original) as? [String: Any])
            obj[key] = try JSONSerialization.jsonObject(with: Data(value.utf8), options: .fragmentsAllowed)
            try JSONSerialization.data(withJSONObject: obj).write(to: URL(fileURLWithPath: configPath))
            #expect { _ = try ModelFolder.load(dir) } throws: { "\($0)".contains(message) }
        }
        try original.write(to: URL(fileURLWithPath: configPath))
        // A tensor of the wrong rank is named.
        let other = try LoRAAdapters(config: LoRAConfig(rank: 5, targetModules: [.q, .v, .down]), model: model.config)
        try SafetensorsFile.write(path: dir + "/" + AdapterFolder.weightsName, tensors: AdapterFolder.tensors(other.layout, other.parameters))
        #expect { _ = try ModelFolder.load(dir) } throws: { "\($0)".contains("lora_A.weight has shape [5") }
    }

    @Test("an export merges the adapters without changing the model; float32 holds the merged bits, bfloat16 their rounding")
    func export() throws {
        let fx = try LoRAFixture("llama_some")
        let model = try fx.model()
        let before = try #require(model.adapters).parameters.toArray()
        let dir = NSTemporaryDirectory() + "rzero-export-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try ModelExport.write(model, to: dir + "/f32", dtype: "float32")
        try ModelExport.write(model, to: dir + "/source")  // the base fixture is stored in BF16
        #expect(try #require(model.adapters).parameters.toArray() == before, "the model keeps its adapters")
        let f32 = try ModelFolder.load(dir + "/f32")
        let bf16 = try ModelFolder.load(dir + "/source")
        #expect(f32.adapters == nil && f32.config.dtype == "float32" && bf16.config.dtype == "bfloat16")
        #expect(FileManager.default.fileExists(atPath: dir + "/f32/generation_config.json"))
        model.mergeAdapters()
        let merged = model.parameters.toArray()
        #expect(f32.parameters.toArray() == merged)
        let rounded = merged.map { Float(bitPattern: (($0.bitPattern &+ 0x7FFF &+ (($0.bitPattern >> 16) & 1)) >> 16) << 16) }
        #expect(bf16.parameters.toArray() == rounded)
        #expect(throws: ModelError.self) { try ModelExport.write(model, to: dir + "/bad", dtype: "int8") }
    }

    @Test("a GRPO step under LoRA trains only the adapters, with the frozen base as the KL reference")
    func grpoStep() throws {
        let fx = try LoRAFixture("qwen3_all")
        let model = try fx.model()
        let baseBefore = model.parameters.toArray()
        let adaptersBefore = try #require(model.adapters).parameters.toArray()
        var settings = TrainerSettings()
        settings.optimizer.learningRate = 1e-3
        let trainer = PolicyTrainer(model: model, settings: settings)
        #expect(trainer.referenceIsBase && trainer.hasReference && trainer.reference == nil)
        let samples = [
            GRPOSample(prompt: [1, 2, 3], response: [4, 5, 6], reward: 1, group: 0),
            GRPOSample(prompt: [1, 2, 3], response: [7, 8], reward: 0, group: 0),
        ]
        // The KL term at the first step is against the base: non-zero, since the fixture's adapter is not zero.
        let m = try trainer.grpoStep(samples)
        #expect(m.kl > 0 && m.gradNorm > 0 && !m.skipped)
        #expect(model.parameters.toArray() == baseBefore, "the base is frozen")
        #expect(try #require(model.adapters).parameters.toArray() != adaptersBefore)
        let adapterCount = try #require(model.adapters).layout.count
        #expect(trainer.optimizer.parameterCount == adapterCount)
        // The reference log-probs are the base's.
        let base = try ModelFolder.load(Fixtures.path("engine/" + fx.meta.base))
        let seqs = samples.map { $0.prompt + $0.response }
        #expect(try trainer.referenceForward(seqs).logprobs == base.forward(seqs).logprobs)
    }
}
