import Foundation
import Testing
import RZModel
import RZTestSupport

/// Every family's fixture: the cached path, finite differences through each block, and folders that reload
/// as the same architecture.
@Suite("Decoder families: one block definition for training, scoring and the KV cache")
struct FamilyTests {
    static let families = ["tied", "untied", "llama_bf16", "llama_old", "qwen2_tied"]

    @Test("cached prefill + decode equal a full recompute (1e-5)", arguments: families)
    func cacheMatchesRecompute(name: String) throws {
        let model = try ModelFolder.load(Fixtures.path("engine/" + name))
        let V = model.config.vocabSize
        let seqs: [[Int32]] = [[5, 9, 1, 44, 3, 70, 12, 8, 60, 61, 62, 63, 64], [2, 3], [33, 34, 35, 36, 37]]
        let full = try #require(try model.forward(seqs, returnLogits: true).logits)
        let cache = KVCache(config: model.config, slots: 3, capacity: 16)
        let prefill = [4, 1, 3]
        let first = try model.forwardCached(slots: [2, 0, 1], tokens: seqs.indices.map { Array(seqs[$0].prefix(prefill[$0])) },
                                            cache: cache, allLogits: true)
        for s in seqs.indices {
            #expect(TestData.maxAbsError(first[s], Array(full[s][0..<(prefill[s] * V)])) < 1e-5, "\(name) prefill \(s)")
        }
        var position = prefill
        let slotOf = [2, 0, 1]
        while case let live = seqs.indices.filter({ position[$0] < seqs[$0].count }), !live.isEmpty {
            let logits = try model.forwardCached(slots: live.map { slotOf[$0] }, tokens: live.map { [seqs[$0][position[$0]]] }, cache: cache)
            for (i, s) in live.enumerated() {
                let expected = Array(full[s][(position[s] * V)..<((position[s] + 1) * V)])
                #expect(TestData.maxAbsError(logits[i], expected) < 1e-5, "\(name): sequence \(s) position \(position[s])")
                position[s] += 1
            }
        }
    }

    /// Central differences in Float32 through the whole model, on the coordinates of each of a layer's
    /// tensors where the analytic gradient is largest (rounding noise swamps the small ones in Float32).
    @Test("every tensor of each block (norms, projections, biases) agrees with finite differences", arguments: families)
    func finiteDifferences(name: String) throws {
        let model = try ModelFolder.load(Fixtures.path("engine/" + name))
        let seqs: [[Int32]] = [[3, 1, 4, 1, 5, 9, 2, 6], [5, 3, 5, 8, 9]]
        let weights: [[Float]] = seqs.map { s in (1..<s.count).map { Float($0 % 3) - 0.7 } }
        func objective() throws -> Double {
            let lp = try model.forward(seqs).logprobs
            return zip(lp, weights).reduce(0.0) { acc, p in acc + zip(p.0, p.1).reduce(0.0) { $0 + Double($1.0) * Double($1.1) } }
        }
        _ = try objective()
        model.zeroGradients()
        try model.backward(weights: weights)
        let grads = try #require(model.gradients)
        let h: Float = 1e-2
        var checked = 0
        for spec in model.layout.tensors where spec.name.hasPrefix("model.layers.") {
            let g = UnsafeBufferPointer(start: grads.base + spec.offset, count: spec.count)
            let top = g.indices.sorted { abs(g[$0]) > abs(g[$1]) }.prefix(2)
            for i in top {
                let p = model.parameters.base + spec.offset + i
                let saved = p.pointee
                p.pointee = saved + h
                let plus = try objective()
                p.pointee = saved - h
                let minus = try objective()
                p.pointee = saved
                let numeric = (plus - minus) / Double(2 * h)
                let analytic = Double(g[i])
                let rel = abs(numeric - analytic) / max(1e-3, abs(numeric) + abs(analytic))
                #expect(rel < 2e-2, "\(name): \(spec.name)[\(i)] analytic \(analytic) numeric \(numeric)")
                checked += 1
            }
        }
        let arch = model.config.architecture
        let perLayer = 9 + (arch.qkNorm ? 2 : 0) + (arch.qkvBias ? 3 : 0) + (arch.outputBias ? 1 : 0) + (arch.mlpBias ? 3 : 0)
        #expect(checked == 2 * perLayer * model.config.numLayers)
    }

    @Test("activation recomputation gives the stored path's log-probs and gradients (1e-6 relative), with less memory",
          arguments: families)
    func recomputation(name: String) throws {
        let model = try ModelFolder.load(Fixtures.path("engine/" + name))
        let seqs: [[Int32]] = [[3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5], [5, 3, 5, 8, 9], [7]]
        let weights: [[Float]] = seqs.map { s in (0..<(s.count - 1)).map { Float($0 % 4) - 1.3 } }
        func run(recompute: Bool) throws -> (logprobs: [[Float]], gradients: [Float], activationFloats: Int) {
            model.recomputeActivations = recompute
            model.zeroGradients()
            let out = try model.forward(seqs)
            try model.backward(weights: weights)
            // A second backward from the same forward must see the same values (the recomputed ones).
            try model.backward(weights: weights)
            return (out.logprobs, try #require(model.gradients).toArray(), model.activationFloats)
        }
        let stored = try run(recompute: false)
        let recomputed = try run(recompute: true)
        #expect(recomputed.logprobs == stored.logprobs)
        #expect(TestData.relativeMaxError(recomputed.gradients, stored.gradients) < 1e-6)
        #expect(recomputed.activationFloats < stored.activationFloats)
    }

    @Test("a saved folder reloads as the same family, architecture, rotary scaling and weights", arguments: families)
    func saveReload(name: String) throws {
        let model = try ModelFolder.load(Fixtures.path("engine/" + name))
        let dir = temporaryDirectory()
        try ModelFolder.save(model, to: dir)
        let again = try ModelFolder.load(dir)
        var expected = model.config
        expected.dtype = "float32"
        #expect(again.config == expected)
        #expect(again.parameters.toArray() == model.parameters.toArray())
        let json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/config.json"))) as? [String: Any])
        #expect(json["model_type"] as? String == model.config.family.rawValue)
        #expect((json["architectures"] as? [String]) == [model.config.family.causalLMClass])
    }

    @Test("the families' architectures and rotary variants are read from config.json")
    func architectures() throws {
        let llama = try ModelFolder.loadConfig(Fixtures.path("engine/llama_bf16"))
        #expect(llama.family == .llama && llama.headDim == 8)
        #expect(llama.architecture == DecoderArchitecture(qkNorm: false, qkvBias: true, outputBias: true, mlpBias: true))
        #expect(llama.rotaryScaling == .llama3(factor: 8, lowFrequencyFactor: 1, highFrequencyFactor: 4, originalMaxPositions: 32))
        let old = try ModelFolder.loadConfig(Fixtures.path("engine/llama_old"))
        #expect(old.rotaryScaling == .llama3(factor: 32, lowFrequencyFactor: 1, highFrequencyFactor: 4, originalMaxPositions: 8192))
        #expect(old.ropeTheta == 500_000 && old.tieWordEmbeddings)
        let qwen2 = try ModelFolder.loadConfig(Fixtures.path("engine/qwen2_tied"))
        #expect(qwen2.family == .qwen2 && qwen2.architecture == DecoderArchitecture(qkNorm: false, qkvBias: true))
        #expect(qwen2.headDim == 10 && qwen2.rotaryScaling == .none)
    }

    /// transformers' `_compute_llama3_parameters` by hand for head_dim 8, theta 10000, factor 8, low 1,
    /// high 4, original 32: wavelengths 2π·10000^(i/4) = 6.28, 62.8, 628, 6283; only the first is below
    /// 32/4 = 8 (kept) and the rest above 32 (divided by 8). With theta 100, head_dim 4: wavelengths 6.28
    /// (kept) and 62.8; original 64 puts 62.8 in the band: smooth = (64/62.83 − 1)/3 = 0.00620.
    @Test("llama3 rotary frequencies equal hand-derived values")
    func llama3Frequencies() {
        let f = RotaryScaling.llama3(factor: 8, lowFrequencyFactor: 1, highFrequencyFactor: 4, originalMaxPositions: 32)
            .inverseFrequencies(headDim: 8, theta: 10_000)
        let expected = [1.0, 0.1 / 8, 0.01 / 8, 0.001 / 8]
        for (a, b) in zip(f, expected) { #expect(abs(a - b) < 1e-12 * max(1, b)) }
        let band = RotaryScaling.llama3(factor: 8, lowFrequencyFactor: 1, highFrequencyFactor: 4, originalMaxPositions: 64)
            .inverseFrequencies(headDim: 4, theta: 100)
        let smooth = (64 / (2 * Double.pi / 0.1) - 1) / 3
        #expect(band[0] == 1)
        #expect(abs(band[1] - ((1 - smooth) * 0.1 / 8 + smooth * 0.1)) < 1e-15)
        #expect(abs(smooth - 0.006197) < 1e-5)
    }
}
