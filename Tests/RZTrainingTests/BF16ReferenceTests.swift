import Foundation
import Testing
import RZModel
import RZTensor
import RZTestSupport
import RZTraining

@Suite("A frozen reference held in BF16")
struct BF16ReferenceTests {
    /// A model large enough that each layer spans whole pages (so releasing them is observable).
    func model() throws -> DecoderModel {
        let config = DecoderConfig(vocabSize: 300, hiddenSize: 128, intermediateSize: 384, numLayers: 2, numHeads: 4, numKVHeads: 2,
                                   headDim: 32, tieWordEmbeddings: true)
        let m = try DecoderModel(config: config)
        m.initializeRandom(seed: 4, std: 0.1)
        return m
    }

    @Test("its forward equals a float32 model of the rounded weights, to the bit; it is forward-only; used pages are released")
    func forward() throws {
        let m = try model()
        let seqs: [[Int32]] = [[1, 5, 9, 200, 7], [3, 3]]
        let weights = BF16Weights(m.parameters)
        let frozen = try DecoderModel.frozenBFloat16(config: m.config, weights: weights)
        let rounded = try DecoderModel(config: m.config)
        weights.widen(0..<weights.count, into: rounded.parameters.base)
        #expect(rounded.parameters.toArray() != m.parameters.toArray(), "BF16 rounds")
        #expect(try frozen.forward(seqs, returnLogits: true).logits == rounded.forward(seqs, returnLogits: true).logits)
        #expect(try frozen.forward(seqs).logprobs == rounded.forward(seqs).logprobs, "and again, after the release")
        // The middle of layer 0's gate weight is no longer resident in float32 (reads as zero).
        let gate = m.layout.layers[0].gate
        let F = m.config.intermediateSize, C = m.config.hiddenSize
        #expect((gate..<(gate + F * C)).filter { frozen.parameters.base[$0] != 0 }.count < 2 * 1024, "at most the boundary pages")
        #expect(throws: ModelError.self) { try frozen.backward(weights: [[0, 0, 0, 0], [0]]) }
        let cache = KVCache(config: m.config, slots: 1, capacity: 8)
        #expect(throws: ModelError.self) { _ = try frozen.forwardCached(slots: [0], tokens: [[1]], cache: cache) }
    }

    @Test("a trainer with reference_dtype bfloat16 holds it so, measures KL against it, and checkpoints keep it")
    func trainer() throws {
        var settings = TrainerSettings()
        settings.optimizer.learningRate = 1e-3
        settings.referenceInBFloat16 = true
        let trainer = PolicyTrainer(model: try model(), settings: settings)
        let samples = [GRPOSample(prompt: [1, 2, 3], response: [4, 5, 6], reward: 1, group: 0),
                       GRPOSample(prompt: [1, 2, 3], response: [7, 8], reward: 0, group: 0)]
        let first = try trainer.grpoStep(samples)
        let ref = try #require(trainer.reference)
        #expect(ref.bf16Parameters != nil)
        // At the first step the policy is the reference up to BF16 rounding: a small, non-zero KL.
        #expect(first.kl > 0 && first.kl < 1e-3)
        let dir = NSTemporaryDirectory() + "rzero-bf16ref-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try TrainerCheckpoint.save(trainer, to: dir)
        let file = try SafetensorsFile(path: dir + "/" + TrainerCheckpoint.referenceName)
        #expect(file.entries.values.allSatisfy { $0.dtype == .bf16 })
        let loaded = try TrainerCheckpoint.load(from: dir)
        let loadedRef = try #require(loaded.reference)
        #expect(loadedRef.bf16Parameters != nil)
        let seqs = samples.map { $0.prompt + $0.response }
        #expect(try loadedRef.forward(seqs).logprobs == ref.forward(seqs).logprobs)
        let next = try trainer.grpoStep(samples), again = try loaded.grpoStep(samples)
        #expect(next.loss == again.loss && next.kl == again.kl)
        // Switching the setting off widens the same values back: the KL does not move.
        loaded.settings.referenceInBFloat16 = false
        let widened = try loaded.grpoStep(samples)
        #expect(loaded.reference?.bf16Parameters == nil)
        #expect(widened.kl == (try trainer.grpoStep(samples)).kl)
    }
}
