import Foundation
import Testing
import RZModel
import RZTensor
import RZTestSupport
@testable import RZTraining

/// Samples `length` tokens after each prompt at temperature 1 by recomputing the whole sequence each
/// token (test-only: the real generator with a KV cache lives in the sampling module). Returns the
/// responses and their log-probabilities under the sampling policy.
func sampleByRecompute(_ model: DecoderModel, prompts: [[Int32]], length: Int, rng: inout SeededRandom)
    throws -> [(response: [Int32], logprobs: [Float])]
{
    var seqs = prompts
    var logps = [[Float]](repeating: [], count: prompts.count)
    let V = model.config.vocabSize
    for _ in 0..<length {
        let out = try model.forward(seqs, returnLogits: true)
        let logits = try #require(out.logits)
        for s in seqs.indices {
            let row = logits[s][(logits[s].count - V)...].map(Double.init)
            let m = row.max() ?? 0
            let z = row.reduce(0) { $0 + exp($1 - m) }
            var u = rng.nextUniformDouble() * z, pick = V - 1
            for (v, x) in row.enumerated() {
                u -= exp(x - m)
                if u <= 0 { pick = v; break }
            }
            seqs[s].append(Int32(pick))
            logps[s].append(Float(row[pick] - m - log(z)))
        }
    }
    return zip(prompts, zip(seqs, logps)).map { p, sl in (Array(sl.0[p.count...]), sl.1) }
}

func tinyModel(seed: UInt64) throws -> DecoderModel {
    let config = DecoderConfig(vocabSize: 16, hiddenSize: 32, intermediateSize: 64, numLayers: 2, numHeads: 2,
                             numKVHeads: 1, headDim: 16, tieWordEmbeddings: true)
    let m = try DecoderModel(config: config)
    m.initializeRandom(seed: seed)
    return m
}

@Suite("GRPO learns; checkpoints resume exactly")
struct LearningAndCheckpointTests {
    @Test("GRPO raises a toy reward from chance to ≥ 0.9 with finite KL to the reference")
    func learnsToyReward() throws {
        // Reward 1 when the 4 sampled tokens contain token 7: chance is 1 − (15/16)⁴ ≈ 0.23 for a uniform policy.
        var settings = TrainerSettings()
        settings.optimizer = AdamWSettings(learningRate: 3e-3, weightDecay: 0)
        let trainer = PolicyTrainer(model: try tinyModel(seed: 5), settings: settings)
        try trainer.resetReference()
        var rng = SeededRandom(seed: 11)
        let prompts: [[Int32]] = (1...8).map { [Int32($0), 0] }
        var history: [Double] = []
        var lastKL = 0.0
        for _ in 0..<60 {
            let groupPrompts = prompts.flatMap { [[Int32]](repeating: $0, count: 8) }
            let samples = try sampleByRecompute(trainer.model, prompts: groupPrompts, length: 4, rng: &rng)
            let batch = zip(groupPrompts.indices, samples).map { i, s in
                GRPOSample(prompt: groupPrompts[i], response: s.response, oldLogProbs: s.logprobs,
                           reward: s.response.contains(7) ? 1 : 0, group: i / 8)
            }
            let m = try trainer.grpoStep(batch)
            history.append(m.meanReward)
            lastKL = m.kl
            #expect(m.kl.isFinite && !m.skipped)
            if history.suffix(3).count == 3 && history.suffix(3).allSatisfy({ $0 >= 0.9 }) { break }
        }
        #expect(history[0] < 0.5, "starts near chance: \(history[0])")
        #expect(history.suffix(3).allSatisfy { $0 >= 0.9 }, "reward history \(history)")
        #expect(lastKL > 0 && lastKL.isFinite, "KL to the reference is reported: \(lastKL)")
    }

    @Test("save → load → continue is bit-identical to not stopping")
    func resumeIsExact() throws {
        let fx = try StepFixture.load()
        let straight = try fx.trainer()
        _ = try straight.grpoStep(fx.batch1.map(\.grpo))
        let resumed = try fx.trainer()
        _ = try resumed.grpoStep(fx.batch1.map(\.grpo))
        let dir = temporaryDirectory() + "/ckpt"
        try TrainerCheckpoint.save(resumed, to: dir)
        try TrainerCheckpoint.save(resumed, to: dir)  // overwriting an existing checkpoint is atomic too
        let loaded = try TrainerCheckpoint.load(from: dir)
        #expect(loaded.optimizer.step == 1 && loaded.settings == straight.settings)
        let a = try straight.grpoStep(fx.batch2.map(\.grpo)), b = try loaded.grpoStep(fx.batch2.map(\.grpo))
        #expect(a == b)
        #expect(straight.model.parameters.toArray() == loaded.model.parameters.toArray())
        #expect(straight.optimizer.v.toArray() == loaded.optimizer.v.toArray())
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: URL(fileURLWithPath: dir).deletingLastPathComponent().path)
        #expect(leftovers == ["ckpt"], "no temporary folders remain: \(leftovers)")
    }

    @Test("gradients and AdamW moments are allocated by the first step, not before; an untrained checkpoint round-trips without them")
    func lazyTrainingState() throws {
        let fx = try StepFixture.load()
        let fresh = try fx.trainer()
        #expect(!fresh.optimizer.isAllocated && fresh.model.gradients == nil)
        let dir = temporaryDirectory() + "/ckpt"
        try TrainerCheckpoint.save(fresh, to: dir)
        #expect(!fresh.optimizer.isAllocated, "saving an untrained checkpoint writes zero moments without allocating them")
        let loaded = try TrainerCheckpoint.load(from: dir)
        #expect(!loaded.optimizer.isAllocated && loaded.model.gradients == nil)
        let stored = try SafetensorsFile(path: dir + "/" + TrainerCheckpoint.optimizerName)
        let name = try #require(fresh.model.layout.tensors.last?.name)
        #expect(try stored.floats("exp_avg_sq." + name).allSatisfy { $0 == 0 })
        // Training from the loaded checkpoint is training from the fresh trainer.
        let a = try fresh.grpoStep(fx.batch1.map(\.grpo)), b = try loaded.grpoStep(fx.batch1.map(\.grpo))
        #expect(a == b && fresh.optimizer.isAllocated && loaded.optimizer.isAllocated)
        #expect(fresh.model.parameters.toArray() == loaded.model.parameters.toArray())
    }

    @Test("a checkpoint whose optimizer file does not match the model is refused with a clear error")
    func mismatchedOptimizer() throws {
        let fx = try StepFixture.load()
        let t = try fx.trainer()
        let dir = temporaryDirectory() + "/ckpt"
        try TrainerCheckpoint.save(t, to: dir)
        // An optimizer file from a differently shaped model.
        let other = PolicyTrainer(model: try tinyModel(seed: 1))
        let otherDir = temporaryDirectory() + "/other"
        try TrainerCheckpoint.save(other, to: otherDir)
        try FileManager.default.removeItem(atPath: dir + "/optimizer.safetensors")
        try FileManager.default.copyItem(atPath: otherDir + "/optimizer.safetensors", toPath: dir + "/optimizer.safetensors")
        do {
            _ = try TrainerCheckpoint.load(from: dir)
            Issue.record("loaded a mismatched optimizer file")
        } catch let e as ModelError {
            #expect(e.description.contains("optimizer.safetensors does not match the model"), "\(e)")
        }
        // Missing state file, truncated optimizer file.
        #expect(throws: ModelError.self) { try TrainerCheckpoint.load(from: temporaryDirectory()) }
        let data = try Data(contentsOf: URL(fileURLWithPath: otherDir + "/optimizer.safetensors"))
        try data.prefix(100).write(to: URL(fileURLWithPath: otherDir + "/optimizer.safetensors"))
        #expect(throws: ModelError.self) { try TrainerCheckpoint.load(from: otherDir) }
    }
}

