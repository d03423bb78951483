import Foundation
import Testing
import RZModel
import RZTensor
import RZTestSupport
@testable import RZTraining

/// step.json from scripts/make_grpo_fixtures.py.
struct StepFixture: Decodable {
    struct Sample: Decodable {
        let prompt: [Int32], response: [Int32], group: Int, reward: Double, old_logprobs: [Float]
        var grpo: GRPOSample { GRPOSample(prompt: prompt, response: response, oldLogProbs: old_logprobs, reward: reward, group: group) }
    }
    struct SFT: Decodable { let prompt: [Int32]; let target: [Int32] }
    struct Metrics: Decodable {
        let loss: Double, kl: Double, grad_norm: Double, clip_fraction_higher: Double, clip_fraction_lower: Double
    }
    let magic: String, version: Int
    let lr: Double, weight_decay: Double, kl_coef: Double, max_grad_norm: Double
    let batch1: [Sample], batch2: [Sample], metrics1: Metrics, metrics2: Metrics, sft: [SFT]

    static let dir = Fixtures.path("grpo/step")
    static func load() throws -> StepFixture {
        let f = try JSONDecoder().decode(StepFixture.self, from: Data(contentsOf: URL(fileURLWithPath: dir + "/step.json")))
        guard f.magic == "rzero-grpo-fixture", f.version == 1 else {
            throw GRPOError.invalidValue("stale step.json: re-run scripts/make_grpo_fixtures.py")
        }
        return f
    }

    var settings: TrainerSettings {
        var s = TrainerSettings()
        s.optimizer = AdamWSettings(learningRate: lr, weightDecay: weight_decay)
        s.loss.klCoef = kl_coef
        s.maxGradNorm = max_grad_norm
        return s
    }

    func trainer(microBatchTokens: Int = 8192) throws -> PolicyTrainer {
        var s = settings
        s.microBatchTokens = microBatchTokens
        let t = PolicyTrainer(model: try ModelFolder.load(Self.dir + "/model"), settings: s)
        try t.setReference(parameters: try ModelFolder.load(Self.dir + "/ref").parameters)
        return t
    }
}

/// How far the model's weights are from `expected.safetensors` entries `<prefix><name>`, per tensor:
/// the worst norm-relative error of the weights, of the update (θ − θ₀) and the largest absolute
/// difference of any element. Adam's first steps move every weight by ≈ lr·sign(g), so elements with
/// near-zero gradients amplify float32-vs-float64 rounding; the absolute bound (a fraction of lr) is the
/// meaningful per-element check, the norms check the whole update.
struct WeightComparison {
    var weights = 0.0, update = 0.0, maxAbs = 0.0
    var worstTensor = ""
}

func compareWeights(_ model: DecoderModel, initial: DecoderModel, prefix: String) throws -> WeightComparison {
    let expected = try SafetensorsFile(path: StepFixture.dir + "/expected.safetensors")
    var c = WeightComparison()
    for spec in model.layout.tensors {
        let mine = Array(UnsafeBufferPointer(start: model.parameters.base + spec.offset, count: spec.count))
        let start = Array(UnsafeBufferPointer(start: initial.parameters.base + spec.offset, count: spec.count))
        let ref = try expected.floats(prefix + spec.name)
        let w = TestData.relativeNormError(mine, ref)
        let u = TestData.relativeNormError(zip(mine, start).map { $0 - $1 }, zip(ref, start).map { $0 - $1 })
        if u > c.update { c.worstTensor = spec.name }
        c.weights = max(c.weights, w)
        c.update = max(c.update, u)
        c.maxAbs = max(c.maxAbs, TestData.maxAbsError(mine, ref))
    }
    return c
}

@Suite("GRPO and SFT steps on a model")
struct TrainerTests {
    @Test("two GRPO steps (KL to a reference, ratio clipping, grad-norm clipping, AdamW) match PyTorch")
    func grpoParity() throws {
        let fx = try StepFixture.load()
        let t = try fx.trainer()
        let initial = try ModelFolder.load(StepFixture.dir + "/model")
        let m1 = try t.grpoStep(fx.batch1.map(\.grpo))
        let c1 = try compareWeights(t.model, initial: initial, prefix: "grpo1.")
        #expect(c1.weights < 1e-4 && c1.update < 1e-2 && c1.maxAbs < 0.1 * fx.lr, "after step 1: \(c1)")
        #expect(abs(m1.loss - fx.metrics1.loss) < 1e-4 && abs(m1.kl - fx.metrics1.kl) < 1e-4)
        #expect(abs(m1.gradNorm - fx.metrics1.grad_norm) < 1e-4 * fx.metrics1.grad_norm)
        #expect(abs(m1.clipFractionHigher - fx.metrics1.clip_fraction_higher) < 1e-9)
        #expect(m1.gradNorm > 1, "the fixture should exercise gradient clipping")
        let m2 = try t.grpoStep(fx.batch2.map(\.grpo))
        let c2 = try compareWeights(t.model, initial: initial, prefix: "grpo2.")
        #expect(c2.weights < 1e-4 && c2.update < 1e-2 && c2.maxAbs < 0.1 * fx.lr, "after step 2: \(c2)")
        #expect(abs(m2.loss - fx.metrics2.loss) < 1e-4 && m2.step == 2)
    }

    @Test("one SFT step matches PyTorch")
    func sftParity() throws {
        let fx = try StepFixture.load()
        let t = try fx.trainer()
        let m = try t.sftStep(fx.sft.map { SFTSample(prompt: $0.prompt, target: $0.target) })
        let c = try compareWeights(t.model, initial: try ModelFolder.load(StepFixture.dir + "/model"), prefix: "sft.")
        #expect(c.weights < 1e-4 && c.update < 1e-2 && c.maxAbs < 0.1 * fx.lr, "\(c)")
        #expect(m.loss > 0 && m.step == 1)
    }

    @Test("micro-batching does not change the loss or the gradient")
    func microBatchInvariance() throws {
        // Compare the (clipped) gradients themselves: micro-batching only changes summation order there,
        // while Adam's first step would amplify that order noise on near-zero gradient elements.
        let fx = try StepFixture.load()
        let whole = try fx.trainer()
        let split = try fx.trainer(microBatchTokens: 9)
        whole.settings.optimizer.learningRate = 0
        split.settings.optimizer.learningRate = 0
        #expect(split.microBatches(fx.batch1.map { $0.prompt.count + $0.response.count }).count > 3)
        let a = try whole.grpoStep(fx.batch1.map(\.grpo)), b = try split.grpoStep(fx.batch1.map(\.grpo))
        #expect(abs(a.loss - b.loss) < 1e-6 && abs(a.gradNorm - b.gradNorm) < 1e-5 * a.gradNorm)
        let ga = try #require(whole.model.gradients).toArray(), gb = try #require(split.model.gradients).toArray()
        #expect(TestData.relativeMaxError(gb, ga) < 1e-5)
    }

    @Test("activation recomputation gives the same GRPO and SFT steps (policy and reference); old settings decode without it")
    func recomputation() throws {
        let fx = try StepFixture.load()
        let stored = try fx.trainer(), recomputed = try fx.trainer()
        recomputed.settings.recomputeActivations = true
        for batch in [fx.batch1, fx.batch2] {
            let a = try stored.grpoStep(batch.map(\.grpo)), b = try recomputed.grpoStep(batch.map(\.grpo))
            #expect(a == b)
        }
        #expect(recomputed.model.recomputeActivations && recomputed.reference?.recomputeActivations == true)
        #expect(recomputed.model.parameters.toArray() == stored.model.parameters.toArray())
        let sft = fx.sft.map { SFTSample(prompt: $0.prompt, target: $0.target) }
        #expect(try stored.sftStep(sft) == recomputed.sftStep(sft))
        // A checkpoint's settings written before the field existed.
        var json = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(TrainerSettings())) as? [String: Any])
        json.removeValue(forKey: "recomputeActivations")
        let old = try JSONDecoder().decode(TrainerSettings.self, from: JSONSerialization.data(withJSONObject: json))
        #expect(old == TrainerSettings())
    }

    @Test("a non-finite gradient skips the update and leaves the weights alone")
    func skipNonFinite() throws {
        let fx = try StepFixture.load()
        let t = try fx.trainer()
        let spec = try #require(t.model.layout.spec(named: "model.layers.0.mlp.up_proj.weight"))
        t.model.parameters[spec.offset] = .infinity
        let before = t.model.parameters.toArray()
        let m = try t.sftStep(fx.sft.map { SFTSample(prompt: $0.prompt, target: $0.target) })
        #expect(m.skipped && m.step == 0)
        #expect(t.model.parameters.toArray().elementsEqual(before) { $0 == $1 || ($0.isNaN && $1.isNaN) })
    }

    @Test("bad batches are errors")
    func badBatches() throws {
        let t = try StepFixture.load().trainer()
        #expect(throws: GRPOError.self) { try t.grpoStep([]) }
        #expect(throws: GRPOError.self) { try t.grpoStep([GRPOSample(prompt: [1], response: [2], reward: 1, group: 0)]) }
        #expect(throws: GRPOError.self) {
            try t.grpoStep([GRPOSample(prompt: [1], response: [2, 3], oldLogProbs: [-1], reward: 1, group: 0),
                            GRPOSample(prompt: [1], response: [2], reward: 0, group: 0)])
        }
        #expect(throws: GRPOError.self) {
            try t.grpoStep([GRPOSample(prompt: [], response: [2], reward: 1, group: 0),
                            GRPOSample(prompt: [1], response: [2], reward: 0, group: 0)])
        }
        #expect(throws: ModelError.self) {
            try t.grpoStep([GRPOSample(prompt: [1], response: [999], reward: 1, group: 0),
                            GRPOSample(prompt: [1], response: [2], reward: 0, group: 0)])
        }
    }
}
