import Foundation
import Logging
import Testing
@testable import RZHost
import RZModel
import RZSampling
import RZTestSupport
import RZTraining

@Suite("Memory plan: parts, exact working sizes, steps fitted into the limit or refused")
struct MemoryPlanTests {
    let dir = Fixtures.path("engine/llama_bf16")

    func host(limit: Int?) throws -> ModelHost {
        var limits = HostLimits()
        limits.memoryLimitBytes = limit
        return try ModelHost(modelDir: dir, role: .solver, checkpointsDir: temporaryDirectory() + "/checkpoints", limits: limits,
                             logger: Logger(label: "rzero.test"))
    }

    /// Two groups of four, 40 tokens each: several micro-batches at small sizes.
    var samples: [GRPOSample] {
        (0..<8).map { i in
            GRPOSample(prompt: [1, 2, 3, 4], response: (0..<36).map { Int32(($0 * 7 + i) % 90 + 3) }, reward: Double(i % 2), group: i / 4)
        }
    }

    var settings: TrainerSettings {
        var s = TrainerSettings()
        s.optimizer.learningRate = 1e-3
        return s
    }

    @Test("the working estimate is what forward and backward allocate, with and without recomputation")
    func workingFloatsAreExact() throws {
        let model = try ModelFolder.load(dir)
        let seqs: [[Int32]] = [[1, 2, 3, 4, 5, 6, 7], [8, 9, 10], [11, 12, 13, 14, 15]]
        for recompute in [false, true] {
            model.recomputeActivations = recompute
            model.releaseActivations()
            let out = try model.forward(seqs)
            try model.backward(weights: out.logprobs.map { $0.map { _ in 1 } })
            #expect(model.workingFloats(lengths: seqs.map(\.count), recompute: recompute)
                    == model.activationFloats + model.backwardScratchFloats)
            #expect(model.workingFloats(lengths: seqs.map(\.count), recompute: recompute, backward: false) == model.activationFloats)
        }
    }

    @Test("the parts follow the parameter count; GET /v1/model's view reports them")
    func parts() throws {
        let h = try host(limit: 1 << 30)
        let m = h.info.memory
        let P = h.info.parameterCount * 4
        #expect(m.weightsBytes == P && m.gradientsBytes == P && m.optimizerBytes == 2 * P && m.referenceBytes == P)
        let c = h.info.config
        #expect(m.kvCacheBytesPerToken == 2 * c.numLayers * c.numKVHeads * c.headDim * 4)
        #expect(m.limitBytes == 1 << 30 && m.lastStep == nil)
        #expect(m.samplingWeightsBytes == 0 && h.info.samplingPrecision == .float32)
    }

    @Test("generation: a request whose KV cache cannot fit is refused (413); ones that fit only one or two at a time wait and finish")
    func kvCacheBudget() async throws {
        let probe = try host(limit: nil)
        let m = probe.info.memory
        await probe.shutdown()
        let fixed = m.weightsBytes + m.gradientsBytes + m.optimizerBytes + m.referenceBytes + m.samplingWeightsBytes
        // One request: a 3-token prompt, n 4, 8 new tokens: 4 slots of 11 tokens.
        let one = 4 * 11 * m.kvCacheBytesPerToken
        let h = try host(limit: fixed + one * 5 / 2)
        let model = try ModelFolder.load(dir)
        let requests = (0..<6).map { i in
            GenerateRequest(prompts: [.tokenIds([Int32(i + 3), 5, 7])],
                            parameters: SamplingParameters(temperature: 1, maxTokens: 8, n: 4, seed: UInt64(i)), ignoreEOS: true)
        }
        let results = try await withThrowingTaskGroup(of: (Int, GenerateResult).self) { group in
            for (i, r) in requests.enumerated() { group.addTask { (i, try await h.generate(r)) } }
            var out: [Int: GenerateResult] = [:]
            for try await (i, r) in group { out[i] = r }
            return out
        }
        for (i, r) in requests.enumerated() {
            guard case .tokenIds(let p) = r.prompts[0] else { continue }
            let alone = try generate(model: model, prompts: [p], parameters: r.parameters)[0]
            #expect(try #require(results[i]).samples[0].map(\.generation.tokens) == alone.map(\.tokens), "request \(i)")
        }
        let tooLarge = GenerateRequest(prompts: [.tokenIds([3, 5, 7])], parameters: SamplingParameters(maxTokens: 8, n: 12))
        await #expect(throws: HostError.self) { _ = try await h.generate(tooLarge) }
        do {
            _ = try await h.generate(tooLarge)
        } catch let e as HostError {
            #expect(e.code == "insufficient_memory" && e.message.contains("KV cache"))
        }
        await h.shutdown()
    }

    @Test("sampling in BF16: half-size KV cache per token, and the BF16 weights count in a LoRA step's fixed part only")
    func bf16Sampling() throws {
        let c = DecoderConfig(vocabSize: 50, hiddenSize: 16, intermediateSize: 32, numLayers: 3, numHeads: 4, numKVHeads: 2, headDim: 4)
        let P = 1000, T = 100
        let full = MemoryPlan(config: c, parameterCount: P, samplingPrecision: .bfloat16, limitBytes: nil)
        let lora = MemoryPlan(config: c, parameterCount: P, trainableCount: T, referenceIsBase: true, samplingPrecision: .bfloat16,
                              limitBytes: nil)
        let f32 = MemoryPlan(config: c, parameterCount: P, trainableCount: T, referenceIsBase: true, limitBytes: nil)
        #expect(full.kvCacheBytesPerToken == 2 * c.numLayers * c.numKVHeads * c.headDim * 2)
        #expect(full.samplingWeightsBytes == 2 * P && lora.samplingWeightsBytes == 2 * P && f32.samplingWeightsBytes == 0)
        #expect(full.fixedBytes(withReference: false) == full.weightsBytes + full.gradientsBytes + full.optimizerBytes)
        #expect(lora.fixedBytes(withReference: false) == f32.fixedBytes(withReference: false) + 2 * P)
    }

    @Test("a step that fits runs as asked; tighter limits turn on recomputation, then shrink micro-batches; the result is the same")
    func fitting() async throws {
        let model = try ModelFolder.load(dir)
        let P = model.parameterCount * 4
        let fixed = 5 * P  // weights, gradients, AdamW, reference (the default KL term needs it)
        let lengths = samples.map { $0.prompt.count + $0.response.count }
        func working(_ tokens: Int, _ recompute: Bool) -> Int {
            PolicyTrainer.microBatches(lengths, maxTokens: tokens).map { r in
                let chunk = Array(lengths[r])
                return 4 * (model.workingFloats(lengths: chunk, recompute: recompute)
                            + model.workingFloats(lengths: chunk, recompute: recompute, backward: false))
            }.max() ?? 0
        }
        let stored = fixed + working(8192, false), recomputed = fixed + working(8192, true)
        let halved = fixed + working(4096, true), single = fixed + working(40, true)
        #expect(recomputed < stored && single < recomputed)

        let reference = try host(limit: nil)
        let expected = try await reference.trainGRPO(samples, settings: settings)
        #expect(reference.info.memory.lastStep?.peakBytes == stored)
        for (limit, tokens, recompute) in [(stored, 8192, false), (stored - 1, 8192, true), (recomputed - 1, halved <= recomputed - 1 ? 4096 : 0, true)] {
            let h = try host(limit: limit)
            let r = try await h.trainGRPO(samples, settings: settings)
            let plan = try #require(h.info.memory.lastStep)
            #expect(plan.recomputeActivations == recompute && plan.peakBytes <= limit)
            if tokens > 0 { #expect(plan.microBatchTokens == tokens) } else { #expect(plan.microBatchTokens < 8192) }
            #expect(h.info.trainerSettings == reference.info.trainerSettings, "the plan applies to the step, not to the settings")
            #expect(abs(r.metrics.loss - expected.metrics.loss) < 1e-6 && abs(r.metrics.gradNorm - expected.metrics.gradNorm) < 1e-4 * expected.metrics.gradNorm)
            await h.shutdown()
        }
        await reference.shutdown()
    }

    @Test("a step that cannot fit is refused naming the parts, before any compute; the model is untouched")
    func refusal() async throws {
        let h = try host(limit: 4096)
        let before = try await h.logprobs([LogprobsItem(prompt: .tokenIds([1, 2]), response: .tokenIds([3, 4]))])
        do {
            _ = try await h.trainGRPO(samples, settings: settings)
            Issue.record("a step over the limit ran")
        } catch let e as HostError {
            guard case .insufficientMemory(let m) = e else { Issue.record("\(e)"); return }
            #expect(e.code == "insufficient_memory")
            for part in ["weights", "gradients", "AdamW", "reference", "activations", "memory limit"] { #expect(m.contains(part), "\(m)") }
            #expect(m.contains("(40-token passes, recomputed)"), "the least it could need: one 40-token sequence per pass: \(m)")
        }
        let after = try await h.logprobs([LogprobsItem(prompt: .tokenIds([1, 2]), response: .tokenIds([3, 4]))])
        #expect(before.items[0].logprobs == after.items[0].logprobs && h.info.modelVersion == 0)
        await h.shutdown()
    }

    @Test("sizes on the command line", arguments: [("20G", 20 << 30), ("1500M", 1500 << 20), ("8GiB", 8 << 30), ("2GB", 2_000_000_000),
                                                   ("123456", 123456), ("0.5G", 1 << 29)])
    func parse(text: String, bytes: Int) { #expect(MemoryPlan.parseBytes(text) == bytes) }

    @Test("bad sizes are nil", arguments: ["", "G", "-1G", "abc", "12X", "0", "1e30G"])
    func parseBad(text: String) { #expect(MemoryPlan.parseBytes(text) == nil) }
}
