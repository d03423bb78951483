import Foundation
import Testing
import RZModel
import RZSampling
import RZTestSupport

@Suite("Continuous batching")
struct ContinuousBatcherTests {
    @Test("requests arriving mid-flight get the samples they would get alone")
    func interleaved() throws {
        let model = try fixtureModel()
        let a = (prompts: [[Int32]]([[1, 2, 3], [9]]), params: SamplingParameters(temperature: 1, maxTokens: 10, n: 2, seed: 1))
        let b = (prompts: [[Int32]]([[70, 71, 72, 73]]), params: SamplingParameters(temperature: 0.7, topK: 5, maxTokens: 6, n: 3, seed: 2))
        let c = (prompts: [[Int32]]([[5, 5]]), params: SamplingParameters(temperature: 0, maxTokens: 12))
        let batcher = ContinuousBatcher(model: model)
        var finished: [Int: [[Generation]]] = [:]
        let idA = try batcher.submit(prompts: a.prompts, parameters: a.params)
        for _ in 0..<3 { for f in try batcher.step() { finished[f.id] = f.generations } }
        let idB = try batcher.submit(prompts: b.prompts, parameters: b.params)
        #expect(batcher.inFlight == 2)
        for f in try batcher.step() { finished[f.id] = f.generations }
        let idC = try batcher.submit(prompts: c.prompts, parameters: c.params)
        while batcher.hasWork { for f in try batcher.step() { finished[f.id] = f.generations } }
        for (id, req) in [(idA, a), (idB, b), (idC, c)] {
            let alone = try generate(model: model, prompts: req.prompts, parameters: req.params)
            let together = try #require(finished[id])
            for (x, y) in zip(alone.joined(), together.joined()) {
                #expect(x.tokens == y.tokens && x.finishReason == y.finishReason)
                #expect(x.logprobs.map(\.bitPattern) == y.logprobs.map(\.bitPattern))
            }
        }
    }

    @Test("a cancelled request disappears; the others finish")
    func cancel() throws {
        let model = try fixtureModel()
        let batcher = ContinuousBatcher(model: model)
        let keep = try batcher.submit(prompts: [[1, 2]], parameters: SamplingParameters(maxTokens: 5))
        let drop = try batcher.submit(prompts: [[3, 4]], parameters: SamplingParameters(maxTokens: 50))
        _ = try batcher.step()
        batcher.cancel(id: drop)
        var ids: [Int] = []
        while batcher.hasWork { ids += try batcher.step().map(\.id) }
        #expect(ids == [keep])
    }
}

@Suite("Batch invariance: a seeded request's tokens do not depend on what else is in flight or where it runs")
struct BatchInvarianceTests {
    /// 63 other sequences: 9 prompts × n 7 with their own seeds and settings.
    static func others(_ batcher: ContinuousBatcher) throws {
        for p in 0..<9 {
            let prompt = (0..<(3 + p % 5)).map { Int32(($0 * 31 + p * 17) % 90 + 1) }
            _ = try batcher.submit(prompts: [prompt], parameters: SamplingParameters(temperature: 0.9, topK: p % 2 == 0 ? 0 : 20,
                                                                                      maxTokens: 5 + p, n: 7, seed: UInt64(100 + p)))
        }
    }

    static func run(_ batcher: ContinuousBatcher, _ prompts: [[Int32]], _ params: SamplingParameters, withOthers: Bool,
                    othersFirst: Bool) throws -> [Generation] {
        if withOthers && othersFirst { try others(batcher) }
        let id = try batcher.submit(prompts: prompts, parameters: params)
        if withOthers && !othersFirst { try others(batcher) }
        var result: [Generation]?
        while batcher.hasWork {
            for f in try batcher.step() where f.id == id { result = Array(f.generations.joined()) }
        }
        return try #require(result)
    }

    @Test("alone, among 63 others (before or after it), and on a second replica: identical tokens and log-probs",
          arguments: SamplingPrecision.allCases)
    func invariant(precision: SamplingPrecision) throws {
        let primary = try fixtureModel(), replica = try fixtureModel()
        primary.samplingPrecision = precision
        replica.samplingPrecision = precision
        let prompts: [[Int32]] = [[1, 2, 3, 4, 5], [9, 8]]
        let params = SamplingParameters(temperature: 1, maxTokens: 24, n: 3, seed: 7, returnSamplingLogprobs: true)
        let alone = try Self.run(ContinuousBatcher(model: primary), prompts, params, withOthers: false, othersFirst: false)
        let crowdedAfter = try Self.run(ContinuousBatcher(model: primary), prompts, params, withOthers: true, othersFirst: false)
        let crowdedBefore = try Self.run(ContinuousBatcher(model: replica), prompts, params, withOthers: true, othersFirst: true)
        #expect(alone.allSatisfy { $0.tokens.count > 1 })
        for other in [crowdedAfter, crowdedBefore] {
            #expect(other.map(\.tokens) == alone.map(\.tokens))
            #expect(other.map { $0.logprobs.map(\.bitPattern) } == alone.map { $0.logprobs.map(\.bitPattern) })
            #expect(other.map { $0.samplingLogprobs?.map(\.bitPattern) } == alone.map { $0.samplingLogprobs?.map(\.bitPattern) })
        }
    }

    @Test("BF16 sampling stays close to float32 (logits), and follows the weights after they change")
    func bf16Sampling() throws {
        let model = try fixtureModel()
        let V = model.config.vocabSize
        func logits() throws -> [Float] {
            let cache = KVCache(config: model.config, slots: 1, capacity: 8)
            return try model.forwardCached(slots: [0], tokens: [[3, 1, 4, 1, 5]], cache: cache)[0]
        }
        let f32 = try logits()
        model.samplingPrecision = .bfloat16
        let b16 = try logits()
        #expect(b16 != f32)
        let scale = f32.map(abs).max() ?? 1
        #expect(TestData.maxAbsError(b16, f32) < 0.02 * Double(scale))
        #expect(b16.count == V)
        // A change to the weights reaches BF16 sampling once the copy is invalidated (as the trainer does after a step).
        model.parameters.base[model.layout.finalNorm] *= 3
        model.invalidateSamplingWeights()
        let changed = try logits()
        #expect(TestData.maxAbsError(changed, b16) > 1e-3)
        model.samplingPrecision = .float32
        #expect(TestData.maxAbsError(try logits(), changed) < 0.02 * Double(changed.map(abs).max() ?? 1))
    }
}
