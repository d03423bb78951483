import Foundation
import Testing
import RZModel
import RZSampling
import RZTensor
import RZTestSupport

func fixtureModel() throws -> DecoderModel { try ModelFolder.load(Fixtures.path("engine/tied")) }

@Suite("KV-cache generation")
struct GenerationTests {
    @Test("cached prefill + decode give the logits of a full recompute (1e-5), several slots at once")
    func cacheMatchesRecompute() throws {
        let model = try fixtureModel()
        let seqs: [[Int32]] = [[5, 9, 1, 44, 3, 70, 12, 8], [2, 3], [99, 98, 97, 96, 95]]
        let full = try #require(try model.forward(seqs, returnLogits: true).logits)
        let V = model.config.vocabSize
        let cache = KVCache(config: model.config, slots: 4, capacity: 16)
        // Prefill different prompt lengths together (slots 3, 0, 1), then decode one token at a time.
        let prefixLengths = [3, 1, 2]
        let slots = [3, 0, 1]
        let first = try model.forwardCached(slots: slots, tokens: seqs.indices.map { Array(seqs[$0].prefix(prefixLengths[$0])) },
                                            cache: cache, allLogits: true)
        for s in seqs.indices {
            #expect(TestData.maxAbsError(first[s], Array(full[s][0..<(prefixLengths[s] * V)])) < 1e-5)
        }
        var position = prefixLengths
        while true {
            let live = seqs.indices.filter { position[$0] < seqs[$0].count }
            if live.isEmpty { break }
            let logits = try model.forwardCached(slots: live.map { slots[$0] }, tokens: live.map { [seqs[$0][position[$0]]] }, cache: cache)
            for (i, s) in live.enumerated() {
                let expected = Array(full[s][(position[s] * V)..<((position[s] + 1) * V)])
                #expect(TestData.maxAbsError(logits[i], expected) < 1e-5, "sequence \(s) position \(position[s])")
                position[s] += 1
            }
        }
    }

    @Test("returned logprobs equal scoring the finished sequence (1e-4); sampling logprobs on request")
    func logprobsMatchScore() throws {
        let model = try fixtureModel()
        let prompts: [[Int32]] = [[1, 2, 3], [40, 41], [7, 7, 7, 7, 7]]
        let params = SamplingParameters(temperature: 0.8, topP: 0.9, topK: 20, maxTokens: 9, n: 3, seed: 42,
                                        returnSamplingLogprobs: true)
        let out = try generate(model: model, prompts: prompts, parameters: params)
        #expect(out.count == 3 && out.allSatisfy { $0.count == 3 })
        for (p, gens) in zip(prompts, out) {
            for g in gens {
                #expect(g.tokens.count == 9 && g.finishReason == .length)
                let scored = try model.forward([p + g.tokens]).logprobs[0]
                #expect(TestData.maxAbsError(g.logprobs, Array(scored[(p.count - 1)...])) < 1e-4)
                // Truncation and temperature < 1 sharpen the distribution: never less likely than under T = 1.
                let sampling = try #require(g.samplingLogprobs)
                #expect(zip(sampling, g.logprobs).allSatisfy { $0 >= $1 - 1e-5 })
            }
        }
    }

    @Test("same seed same output; a different seed differs; batching does not change a prompt's samples")
    func reproducible() throws {
        let model = try fixtureModel()
        let prompts: [[Int32]] = [[1, 2, 3], [50, 60, 70, 80]]
        let params = SamplingParameters(temperature: 1, maxTokens: 12, n: 2, seed: 7)
        let a = try generate(model: model, prompts: prompts, parameters: params)
        let b = try generate(model: model, prompts: prompts, parameters: params)
        #expect(a == b)
        var other = params
        other.seed = 8
        #expect(try generate(model: model, prompts: prompts, parameters: other) != a)
        // Alone, the prompt gets the same tokens; logprobs agree to rounding (GEMM blocking depends on batch size).
        let alone = try generate(model: model, prompts: [prompts[0]], parameters: params)
        for (x, y) in zip(alone[0], a[0]) {
            #expect(x.tokens == y.tokens)
            #expect(TestData.maxAbsError(x.logprobs, y.logprobs) < 1e-5)
        }
        #expect(a[0][0].tokens != a[0][1].tokens, "two samples of one prompt differ")
    }

    @Test("temperature 0 is greedy: the argmax chain of full recomputation")
    func greedy() throws {
        let model = try fixtureModel()
        let prompt: [Int32] = [10, 20, 30]
        let out = try generate(model: model, prompts: [prompt], parameters: SamplingParameters(temperature: 0, maxTokens: 8))
        var seq = prompt
        let V = model.config.vocabSize
        for _ in 0..<8 {
            let logits = try #require(try model.forward([seq], returnLogits: true).logits)[0]
            let last = Array(logits[((seq.count - 1) * V)...])
            seq.append(Int32(last.indices.max { last[$0] < last[$1] || (last[$0] == last[$1] && $0 > $1) } ?? 0))
        }
        #expect(out[0][0].tokens == Array(seq[prompt.count...]))
    }

    @Test("a temperature below 1e-5 is greedy (a denormal one gave NaN log-probabilities and arbitrary tokens)")
    func tinyTemperatures() throws {
        let model = try fixtureModel()
        let greedy = try generate(model: model, prompts: [[10, 20, 30]], parameters: SamplingParameters(temperature: 0, maxTokens: 8))[0][0]
        for t in [1e-323, 1e-9, 9.9e-6] {
            let g = try generate(model: model, prompts: [[10, 20, 30]],
                                 parameters: SamplingParameters(temperature: t, topP: 1e-300, maxTokens: 8, n: 2, returnSamplingLogprobs: true))[0]
            #expect(g.allSatisfy { $0.tokens == greedy.tokens }, "T = \(t)")
            #expect(g.allSatisfy { ($0.samplingLogprobs ?? []).allSatisfy(\.isFinite) && $0.logprobs.allSatisfy(\.isFinite) })
        }
    }

    @Test("stop tokens, stop strings and max tokens end samples with the right reason")
    func stopping() throws {
        let model = try fixtureModel()
        let greedy = try generate(model: model, prompts: [[10, 20, 30]], parameters: SamplingParameters(temperature: 0, maxTokens: 8))[0][0]
        let stopAt = greedy.tokens[3]
        let firstHit = try #require(greedy.tokens.firstIndex(of: stopAt))
        let stopped = try generate(model: model, prompts: [[10, 20, 30]],
                                   parameters: SamplingParameters(temperature: 0, maxTokens: 8, stopTokens: [stopAt]))[0][0]
        #expect(stopped.finishReason == .stop && stopped.tokens == Array(greedy.tokens[...firstHit]))
        // Stop strings through a detokenizer that spells each id as "<id>".
        let text = { (ids: [Int32]) in ids.map { "<\($0)>" }.joined() }
        let marker = "<\(greedy.tokens[2])>"
        let byString = try generate(model: model, prompts: [[10, 20, 30]],
                                    parameters: SamplingParameters(temperature: 0, maxTokens: 8, stopStrings: [marker]), detokenize: text)[0][0]
        #expect(byString.finishReason == .stop && byString.stopString == marker && text(byString.tokens).hasSuffix(marker))
        #expect(greedy.finishReason == .length && greedy.tokens.count == 8)
    }

    @Test("invalid parameters are errors", arguments: [
        SamplingParameters(temperature: -1), SamplingParameters(topP: 0), SamplingParameters(topP: 1.5),
        SamplingParameters(topK: -2), SamplingParameters(maxTokens: 0), SamplingParameters(n: 0),
        SamplingParameters(stopStrings: [""]),
    ])
    func invalid(params: SamplingParameters) throws {
        let model = try fixtureModel()
        #expect(throws: SamplingError.self) { try generate(model: model, prompts: [[1]], parameters: params) }
    }

    @Test("bad prompts are errors")
    func badPrompts() throws {
        let model = try fixtureModel()
        #expect(throws: SamplingError.self) { try generate(model: model, prompts: [], parameters: SamplingParameters()) }
        #expect(throws: SamplingError.self) { try generate(model: model, prompts: [[]], parameters: SamplingParameters()) }
        #expect(throws: ModelError.self) { try generate(model: model, prompts: [[1, 500]], parameters: SamplingParameters()) }
        #expect(throws: SamplingError.self) {
            try generate(model: model, prompts: [[1]], parameters: SamplingParameters(stopStrings: ["x"]))
        }
    }
}

@Suite("Samplers")
struct SamplerTests {
    let logits: [Float] = [2.0, 1.0, 0.5, 0.0, -1.0]
    var probs: [Double] {
        let e = logits.map { exp(Double($0)) }
        let z = e.reduce(0, +)
        return e.map { $0 / z }
    }

    func frequencies(_ sampler: any LogitSampler, draws: Int = 40_000) -> [Double] {
        var rng = SeededRandom(seed: 1)
        var counts = [Double](repeating: 0, count: logits.count)
        logits.withUnsafeBufferPointer { buf in
            for _ in 0..<draws { counts[Int(sampler.sample(logits: buf.baseAddress!, vocabularySize: logits.count, rng: &rng).token)] += 1 }
        }
        return counts.map { $0 / Double(draws) }
    }

    @Test("temperature 1 draws the softmax distribution")
    func categorical() {
        let f = frequencies(TemperatureSampler(temperature: 1))
        for (a, b) in zip(f, probs) { #expect(abs(a - b) < 0.01, "\(f) vs \(probs)") }
    }

    @Test("temperature 2 flattens: softmax(logits / 2)")
    func temperature() {
        let e = logits.map { exp(Double($0) / 2) }, z = e.reduce(0, +)
        let f = frequencies(TemperatureSampler(temperature: 2))
        for (a, b) in zip(f, e.map { $0 / z }) { #expect(abs(a - b) < 0.01) }
    }

    @Test("top-k keeps the k most likely, renormalised")
    func topK() {
        let f = frequencies(TemperatureSampler(temperature: 1, topK: 2))
        let z = probs[0] + probs[1]
        #expect(abs(f[0] - probs[0] / z) < 0.01 && abs(f[1] - probs[1] / z) < 0.01 && f[2...].allSatisfy { $0 == 0 })
    }

    @Test("top-p keeps the smallest prefix reaching p (here the top 3), renormalised")
    func topP() {
        // probs ≈ [.565, .208, .126, .076, .028]: the top 2 hold .773 < .8, so the third is kept too.
        let f = frequencies(TemperatureSampler(temperature: 1, topP: 0.8))
        let z = probs[0] + probs[1] + probs[2]
        for i in 0..<3 { #expect(abs(f[i] - probs[i] / z) < 0.01) }
        #expect(f[3] == 0 && f[4] == 0)
        // A tiny p still keeps the most likely token.
        #expect(frequencies(TemperatureSampler(temperature: 1, topP: 0.01), draws: 100)[0] == 1)
    }

    @Test("greedy picks the argmax with log-probability 0")
    func greedy() {
        var rng = SeededRandom(seed: 0)
        let r = logits.withUnsafeBufferPointer { GreedySampler().sample(logits: $0.baseAddress!, vocabularySize: 5, rng: &rng) }
        #expect(r.token == 0 && r.logprob == 0)
    }
}

@Suite("Top-k without a full sort")
struct TopKSelectionTests {
    @Test("the heap selection gives exactly the first k of a full sort, ties by lower id", arguments: [1, 2, 5, 40, 299, 300])
    func bestMatchesSort(k: Int) {
        var rng = SeededRandom(seed: UInt64(k))
        // Few distinct values, so ties are everywhere.
        let probs = (0..<300).map { _ in Double(rng.next() % 7) / 7 }
        func before(_ a: Int, _ b: Int) -> Bool { probs[a] > probs[b] || (probs[a] == probs[b] && a < b) }
        #expect(TemperatureSampler.best(k, of: probs.count, ranksBefore: before) == Array(Array(0..<300).sorted(by: before).prefix(k)))
    }

    @Test("the radix ranking is the comparison sort's order (ties by lower id, zeros, the values a softmax gives)")
    func rankedMatchesSort() {
        var rng = SeededRandom(seed: 21)
        let cases: [[Double]] = [
            (0..<500).map { _ in Double(rng.next() % 5) / 4 },
            (0..<20000).map { _ in Foundation.exp(rng.nextNormal() * 4 - 8) },
            (0..<3000).map { i in i % 3 == 0 ? 0 : Foundation.exp(-Double(i % 97)) },
            [0.5], [],
        ]
        for probs in cases {
            func before(_ a: Int, _ b: Int) -> Bool { probs[a] > probs[b] || (probs[a] == probs[b] && a < b) }
            #expect(TemperatureSampler.ranked(probs) == Array(0..<probs.count).sorted(by: before), "n \(probs.count)")
        }
    }

    @Test("sampling with top-k draws what the full-sort sampler drew (same generator, same tokens and log-probs)")
    func samplerUnchanged() {
        // A reference draw with a full sort, written out here: softmax, the k best by sort, renormalise, draw.
        var rng = SeededRandom(seed: 9)
        let V = 5000
        let logits = (0..<V).map { _ in Float(rng.nextNormal() * 3) }
        for k in [1, 7, 40, V] {
            var a = SeededRandom(seed: UInt64(k)), b = SeededRandom(seed: UInt64(k))
            // k = V: no top-k, so top-p ranks the whole vocabulary (the radix path).
            let sampler = TemperatureSampler(temperature: 0.7, topK: k == V ? 0 : k, topP: 0.9)
            for _ in 0..<50 {
                let got = logits.withUnsafeBufferPointer { sampler.sample(logits: $0.baseAddress!, vocabularySize: V, rng: &a) }
                let maxv = logits.map { Double($0) / 0.7 }.max()!
                let probs = logits.map { Foundation.exp(Double($0) / 0.7 - maxv) }
                let order = Array(0..<V).sorted { probs[$0] > probs[$1] || (probs[$0] == probs[$1] && $0 < $1) }
                let massK = order[0..<k].reduce(0.0) { $0 + probs[$1] }
                var above = 0.0, keep = 0
                for j in 0..<k {
                    if j > 0 && above >= 0.9 * massK { break }
                    above += probs[order[j]]
                    keep += 1
                }
                let mass = order[0..<keep].reduce(0.0) { $0 + probs[$1] }
                var u = b.nextUniformDouble() * mass
                var want = order[keep - 1]
                for j in 0..<keep {
                    u -= probs[order[j]]
                    if u < 0 { want = order[j]; break }
                }
                #expect(got.token == Int32(want) && got.logprob == Float(Foundation.log(probs[want] / mass)), "k \(k)")
            }
        }
    }
}

@Suite("The draw gives the model log-probability at temperature 1")
struct ModelLogprobFromDrawTests {
    @Test("at T = 1 it is log-softmax computed as before (same bits); at other temperatures there is none",
          arguments: [(0, 1.0), (40, 1.0), (0, 0.9), (5, 0.5)])
    func sameBits(topK: Int, topP: Double) {
        var gen = SeededRandom(seed: 3)
        let V = 3000
        let logits = (0..<V).map { _ in Float(gen.nextNormal() * 2) }
        var maxv = -Double.infinity
        for x in logits { maxv = max(maxv, Double(x)) }
        var z = 0.0
        for x in logits { z += Foundation.exp(Double(x) - maxv) }
        var rng = SeededRandom(seed: 11), plain = SeededRandom(seed: 11)
        for _ in 0..<20 {
            let d = logits.withUnsafeBufferPointer {
                TemperatureSampler(temperature: 1, topK: topK, topP: topP).sampleWithModelLogprob(logits: $0.baseAddress!, vocabularySize: V, rng: &rng)
            }
            let s = logits.withUnsafeBufferPointer {
                TemperatureSampler(temperature: 1, topK: topK, topP: topP).sample(logits: $0.baseAddress!, vocabularySize: V, rng: &plain)
            }
            #expect(d.token == s.token && d.logprob == s.logprob)
            #expect(d.modelLogprob == Float(Double(logits[Int(d.token)]) - maxv - Foundation.log(z)))
        }
        let hot = logits.withUnsafeBufferPointer {
            TemperatureSampler(temperature: 0.7, topK: topK, topP: topP).sampleWithModelLogprob(logits: $0.baseAddress!, vocabularySize: V, rng: &rng)
        }
        #expect(hot.modelLogprob == nil)
    }
}
