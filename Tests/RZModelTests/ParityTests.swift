import Foundation
import Testing
import RZModel
import RZTestSupport

/// One PyTorch/transformers reference case written by scripts/make_fixtures.py.
struct EngineFixture {
    struct Meta: Decodable {
        let magic: String
        let version: Int
        let sequences: [[Int32]]
        let weights: [[Float]]
    }

    static let magic = "rzero-engine-fixture"
    static let version = 1

    let dir: String
    let meta: Meta
    let reference: SafetensorsFile

    init(_ name: String) throws {
        dir = Fixtures.path("engine/" + name)
        meta = try JSONDecoder().decode(Meta.self, from: Data(contentsOf: URL(fileURLWithPath: dir + "/reference.json")))
        guard meta.magic == Self.magic, meta.version == Self.version else {
            throw ModelError.invalidInput(
                "stale fixture \(name) (magic \(meta.magic), version \(meta.version)): re-run scripts/make_fixtures.py")
        }
        reference = try SafetensorsFile(path: dir + "/reference.safetensors")
    }
}

@Suite("Parity with transformers' Qwen3, Qwen2 and Llama ForCausalLM (fixtures from scripts/make_fixtures.py)")
struct ParityTests {
    /// Logits within 1e-4 absolute, log-probs likewise, every parameter gradient within 1e-3 relative.
    func check(_ name: String, logitBudget: Int? = nil) throws {
        let fx = try EngineFixture(name)
        let model = try ModelFolder.load(fx.dir)
        if let b = logitBudget { model.logitBudget = b }
        let out = try model.forward(fx.meta.sequences, returnLogits: true)
        let logits = try #require(out.logits)
        for s in fx.meta.sequences.indices {
            let refLogits = try fx.reference.floats("logits_\(s)")
            let e = TestData.maxAbsError(logits[s], refLogits)
            #expect(e < 1e-4, "\(name): logits of sequence \(s) differ by \(e)")
            let refLogp = try fx.reference.floats("logprobs_\(s)")
            #expect(TestData.maxAbsError(out.logprobs[s], refLogp) < 1e-4, "\(name): logprobs of sequence \(s)")
        }
        let objective = zip(out.logprobs, fx.meta.weights).reduce(0.0) { acc, pair in
            acc + zip(pair.0, pair.1).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        }
        let refObjective = try Double(fx.reference.floats("objective")[0])
        #expect(abs(objective - refObjective) < 1e-4 * max(1, abs(refObjective)))

        model.zeroGradients()
        try model.backward(weights: fx.meta.weights)
        let grads = try #require(model.gradients)
        for spec in model.layout.tensors {
            let mine = Array(UnsafeBufferPointer(start: grads.base + spec.offset, count: spec.count))
            let ref = try fx.reference.floats("grad." + spec.name)
            let e = TestData.relativeMaxError(mine, ref)
            #expect(e < 1e-3, "\(name): gradient of \(spec.name) has relative error \(e)")
        }
    }

    @Test("tied embeddings, newer config.json (rope_parameters, dtype)")
    func tied() throws { try check("tied") }

    @Test("untied LM head, older config.json (rope_theta, torch_dtype), sharded checkpoint")
    func untied() throws { try check("untied") }

    @Test("BF16 checkpoint gives the logits transformers computes from it")
    func bf16() throws { try check("bf16") }

    @Test("F16 checkpoint gives the logits transformers computes from it")
    func f16() throws { try check("f16") }

    @Test("Llama: llama3 rope scaling, GQA, untied, attention and MLP biases, no head_dim, BF16 checkpoint")
    func llama() throws { try check("llama_bf16") }

    @Test("Llama: tied, no biases, older config.json (rope_scaling, rope_theta, torch_dtype)")
    func llamaOlderConfig() throws { try check("llama_old") }

    @Test("Qwen2: q/k/v biases, no q/k norm, tied, one kv head")
    func qwen2() throws { try check("qwen2_tied") }

    @Test("LM head computed in row chunks (large-vocabulary path) gives the same results")
    func chunkedLMHead() throws {
        try check("tied", logitBudget: 3 * 101)
        try check("untied", logitBudget: 131)
        try check("llama_bf16", logitBudget: 2 * 97)
    }

    @Test("backward twice accumulates twice the gradient; zeroGradients resets")
    func accumulation() throws {
        let fx = try EngineFixture("tied")
        let model = try ModelFolder.load(fx.dir)
        _ = try model.forward(fx.meta.sequences)
        try model.backward(weights: fx.meta.weights)
        let once = try #require(model.gradients).toArray()
        try model.backward(weights: fx.meta.weights)
        let twice = try #require(model.gradients).toArray()
        #expect(TestData.relativeMaxError(twice, once.map { 2 * $0 }) < 1e-6)
        model.zeroGradients()
        #expect(model.gradients?.toArray().allSatisfy { $0 == 0 } == true)
    }

    @Test("bad batches are errors, not crashes")
    func badInput() throws {
        let model = try ModelFolder.load(EngineFixture("tied").dir)
        #expect(throws: ModelError.self) { try model.forward([]) }
        #expect(throws: ModelError.self) { try model.forward([[1, 2], []]) }
        #expect(throws: ModelError.self) { try model.forward([[1, 101]]) }
        #expect(throws: ModelError.self) { try model.forward([[-1]]) }
        _ = try model.forward([[1, 2, 3]])
        #expect(throws: ModelError.self) { try model.backward(weights: [[1, 1, 1]]) }
        #expect(throws: ModelError.self) { try model.backward(weights: [[1], [1]]) }
    }
}
