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
                #expect(TestData.maxAbsError(x.logprobs, y.logprobs) < 1e-5)
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
