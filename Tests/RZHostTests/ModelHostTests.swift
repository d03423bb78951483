import Foundation
import Logging
import Testing
import RZHost
import RZModel
import RZSampling
import RZTestSupport
import RZTraining


func makeHost(modelDir: String = Fixtures.path("engine/tied")) throws -> ModelHost {
    try ModelHost(modelDir: modelDir, role: .solver, checkpointsDir: temporaryDirectory() + "/checkpoints",
                  logger: Logger(label: "rzero.test"))
}

@Suite("Model host: one worker thread, continuous batching, versions, errors")
struct ModelHostTests {
    @Test("64 concurrent generate requests all get the samples they would get alone")
    func concurrent() async throws {
        let host = try makeHost()
        let model = try ModelFolder.load(Fixtures.path("engine/tied"))
        let requests = (0..<64).map { i in
            GenerateRequest(prompts: [.tokenIds([Int32(i % 90 + 1), 5, 7])],
                            parameters: SamplingParameters(temperature: 1, maxTokens: 6 + i % 5, n: 1 + i % 3, seed: UInt64(i)))
        }
        let results = try await withThrowingTaskGroup(of: (Int, GenerateResult).self) { group in
            for (i, r) in requests.enumerated() { group.addTask { (i, try await host.generate(r)) } }
            var out: [Int: GenerateResult] = [:]
            for try await (i, r) in group { out[i] = r }
            return out
        }
        for (i, r) in requests.enumerated() {
            guard case .tokenIds(let p) = r.prompts[0] else { continue }
            let alone = try generate(model: model, prompts: [p], parameters: r.parameters)[0]
            let got = try #require(results[i]).samples[0].map(\.generation)
            #expect(got.map(\.tokens) == alone.map(\.tokens), "request \(i)")
        }
        await host.shutdown()
    }

    @Test("a GRPO step bumps the version that generation reports; bad batches leave the model untouched")
    func trainingAndVersions() async throws {
        let host = try makeHost()
        #expect(host.info.modelVersion == 0)
        let samples = [GRPOSample(prompt: [1, 2], response: [3, 4], reward: 1, group: 0),
                       GRPOSample(prompt: [1, 2], response: [5], reward: 0, group: 0)]
        var settings = TrainerSettings()
        settings.optimizer.learningRate = 1e-3
        let r = try await host.trainGRPO(samples, settings: settings)
        #expect(r.modelVersion == 1 && r.metrics.step == 1 && host.info.modelVersion == 1)
        let g = try await host.generate(GenerateRequest(prompts: [.tokenIds([1])], parameters: SamplingParameters(maxTokens: 2)))
        #expect(g.modelVersion == 1)
        let before = try await host.logprobs([LogprobsItem(prompt: .tokenIds([1, 2]), response: .tokenIds([3, 4]))])
        for bad in [[GRPOSample(prompt: [1], response: [2], reward: 1, group: 0)],  // group of one
                    [GRPOSample(prompt: [1], response: [999], reward: 1, group: 0), GRPOSample(prompt: [1], response: [2], reward: 0, group: 0)],
                    [GRPOSample(prompt: [1], response: [2, 3], oldLogProbs: [-1], reward: 1, group: 0),
                     GRPOSample(prompt: [1], response: [2], reward: 0, group: 0)]] {
            await #expect(throws: HostError.self) { try await host.trainGRPO(bad) }
        }
        let after = try await host.logprobs([LogprobsItem(prompt: .tokenIds([1, 2]), response: .tokenIds([3, 4]))])
        #expect(after.items[0].logprobs == before.items[0].logprobs && host.info.modelVersion == 1)
        await host.shutdown()
    }

    @Test("a step retried with the same idempotency key is applied once and answered with the first result")
    func idempotentSteps() async throws {
        let host = try makeHost()
        let samples = [GRPOSample(prompt: [1, 2], response: [3, 4], reward: 1, group: 0),
                       GRPOSample(prompt: [1, 2], response: [5], reward: 0, group: 0)]
        var settings = TrainerSettings()
        settings.optimizer.learningRate = 1e-3
        let first = try await host.trainGRPO(samples, settings: settings, idempotencyKey: "run/solver/0")
        let scored = try await host.logprobs([LogprobsItem(prompt: .tokenIds([1, 2]), response: .tokenIds([3, 4]))])
        let again = try await host.trainGRPO(samples, settings: settings, idempotencyKey: "run/solver/0")
        #expect(again.modelVersion == 1 && again.metrics == first.metrics && host.info.step == 1)
        let rescored = try await host.logprobs([LogprobsItem(prompt: .tokenIds([1, 2]), response: .tokenIds([3, 4]))])
        #expect(rescored.items[0].logprobs == scored.items[0].logprobs)
        let next = try await host.trainGRPO(samples, settings: settings, idempotencyKey: "run/solver/1")
        #expect(next.modelVersion == 2 && host.info.step == 2)
        let unkeyed = try await host.trainSFT([SFTSample(prompt: [1], target: [2])], settings: settings)
        #expect(unkeyed.modelVersion == 3)
        // A checkpoint load replaces the weights the remembered steps were applied to: the key applies anew.
        _ = try await host.saveCheckpoint(name: "k")
        _ = try await host.loadCheckpoint(name: "k")
        let replayed = try await host.trainGRPO(samples, settings: settings, idempotencyKey: "run/solver/0")
        #expect(replayed.modelVersion == 5 && host.info.step == 4)
        await host.shutdown()
    }

    @Test("bad generate requests are client errors")
    func badGenerate() async throws {
        let host = try makeHost()
        let cases: [GenerateRequest] = [
            GenerateRequest(prompts: [], parameters: SamplingParameters()),
            GenerateRequest(prompts: [.tokenIds([])], parameters: SamplingParameters()),
            GenerateRequest(prompts: [.tokenIds([1, 500])], parameters: SamplingParameters()),
            GenerateRequest(prompts: [.text("hello")], parameters: SamplingParameters()),  // no tokenizer.json
            GenerateRequest(prompts: [.tokenIds([1])], parameters: SamplingParameters(n: 65)),
            GenerateRequest(prompts: [.tokenIds([1])], parameters: SamplingParameters(maxTokens: 5000)),
            GenerateRequest(prompts: [.tokenIds([1])], parameters: SamplingParameters(topP: 2)),
        ]
        for c in cases { await #expect(throws: HostError.self) { try await host.generate(c) } }
        await host.shutdown()
    }

    @Test("checkpoints: save, list, load round trip; unknown names and bad names are refused")
    func checkpoints() async throws {
        let host = try makeHost()
        let item = LogprobsItem(prompt: .tokenIds([1, 2]), response: .tokenIds([3]))
        let original = try await host.logprobs([item]).items[0].logprobs
        let saved = try await host.saveCheckpoint(name: "start")
        #expect(saved.modelVersion == 0)
        var settings = TrainerSettings()
        settings.optimizer.learningRate = 1e-2
        _ = try await host.trainSFT([SFTSample(prompt: [1, 2], target: [3])], settings: settings)
        #expect(try await host.logprobs([item]).items[0].logprobs != original)
        let list = try await host.listCheckpoints()
        #expect(list.map(\.name) == ["start"])
        let loaded = try await host.loadCheckpoint(name: "start")
        #expect(loaded.modelVersion == 2)
        #expect(try await host.logprobs([item]).items[0].logprobs == original)
        await #expect(throws: HostError.notFound("no checkpoint named nope")) { try await host.loadCheckpoint(name: "nope") }
        for bad in ["../etc", ".hidden", "", "a/b", String(repeating: "x", count: 200)] {
            await #expect(throws: HostError.self) { try await host.saveCheckpoint(name: bad) }
        }
        await host.shutdown()
    }

    @Test("averaging checkpoints: the weights become the weighted sum, repeatably; the step stays; bad requests are refused")
    func average() async throws {
        let host = try makeHost()
        _ = try await host.saveCheckpoint(name: "a")
        var settings = TrainerSettings()
        settings.optimizer.learningRate = 1e-2
        _ = try await host.trainSFT([SFTSample(prompt: [1, 2], target: [3])], settings: settings)
        _ = try await host.saveCheckpoint(name: "b")
        let a = try ModelFolder.load(host.checkpointsDirectory + "/a").parameters.toArray()
        let b = try ModelFolder.load(host.checkpointsDirectory + "/b").parameters.toArray()
        #expect(a != b)
        let versionBefore = host.info.modelVersion
        let r = try await host.averageCheckpoints(["a", "b"], weights: [0.25, 0.75])
        #expect(r.step == 1 && r.modelVersion == versionBefore + 1 && host.info.step == 1)
        _ = try await host.saveCheckpoint(name: "avg")
        let avg = try ModelFolder.load(host.checkpointsDirectory + "/avg").parameters.toArray()
        var worst = 0.0
        for i in avg.indices {
            let expected: Double = 0.25 * Double(a[i]) + 0.75 * Double(b[i])
            worst = max(worst, abs(Double(avg[i]) - expected))
        }
        #expect(worst < 1e-6)
        // Again: the same weights (it depends only on the checkpoints).
        _ = try await host.averageCheckpoints(["a", "b"], weights: [0.25, 0.75])
        _ = try await host.saveCheckpoint(name: "avg", overwrite: true)
        #expect(try ModelFolder.load(host.checkpointsDirectory + "/avg").parameters.toArray() == avg)
        // A weight of 1 on one checkpoint is that checkpoint.
        _ = try await host.averageCheckpoints(["a"], weights: [1])
        _ = try await host.saveCheckpoint(name: "avg", overwrite: true)
        #expect(try ModelFolder.load(host.checkpointsDirectory + "/avg").parameters.toArray() == a)
        await #expect(throws: HostError.notFound("no checkpoint named nope")) { try await host.averageCheckpoints(["a", "nope"], weights: [0.5, 0.5]) }
        await #expect(throws: HostError.self) { try await host.averageCheckpoints(["a", "b"], weights: [0.5, 0.6]) }
        await #expect(throws: HostError.self) { try await host.averageCheckpoints(["a", "b"], weights: [1]) }
        // A damaged checkpoint second in the list: refused before any weight changes (the sum is written in place).
        let bad = host.checkpointsDirectory + "/bad"
        try FileManager.default.copyItem(atPath: host.checkpointsDirectory + "/b", toPath: bad)
        let file = try #require(FileHandle(forUpdatingAtPath: bad + "/model.safetensors"))
        try file.truncate(atOffset: try file.seekToEnd() / 2)
        try file.close()
        await #expect(throws: HostError.self) { try await host.averageCheckpoints(["b", "bad"], weights: [0.5, 0.5]) }
        _ = try await host.saveCheckpoint(name: "after", overwrite: true)
        #expect(try ModelFolder.load(host.checkpointsDirectory + "/after").parameters.toArray() == a)
        await host.shutdown()
    }

    @Test("reference scoring needs a reset; after it, reference and policy agree until a step")
    func reference() async throws {
        let host = try makeHost()
        let item = LogprobsItem(prompt: .tokenIds([4, 5]), response: .tokenIds([6, 7]))
        await #expect(throws: HostError.self) { try await host.logprobs([item], model: .reference) }
        #expect(try await host.resetReference() == 0 && host.info.referenceVersion == 0)
        let ref = try await host.logprobs([item], model: .reference)
        let pol = try await host.logprobs([item], model: .policy)
        #expect(ref.items[0].logprobs == pol.items[0].logprobs)
        await host.shutdown()
    }

    @Test("shutdown finishes in-flight work, then refuses new work")
    func shutdown() async throws {
        let host = try makeHost()
        let inflight = Task { try await host.generate(GenerateRequest(prompts: [.tokenIds([1])], parameters: SamplingParameters(maxTokens: 200))) }
        try await Task.sleep(nanoseconds: 20_000_000)
        await host.shutdown()
        let r = try await inflight.value
        #expect(r.samples[0][0].generation.tokens.count == 200)
        #expect(!host.isAccepting)
        await #expect(throws: HostError.unavailable("the server is shutting down")) {
            try await host.generate(GenerateRequest(prompts: [.tokenIds([1])], parameters: SamplingParameters(maxTokens: 2)))
        }
    }
}
