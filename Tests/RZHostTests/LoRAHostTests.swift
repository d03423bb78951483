import Foundation
import Logging
import Testing
import RZHost
import RZModel
import RZTestSupport
import RZTraining

@Suite("A service training LoRA adapters: reference, checkpoints, replicas, memory")
struct LoRAHostTests {
    func loraHost(_ dir: String = Fixtures.path("engine/tied"), checkpoints: String? = nil) throws -> ModelHost {
        try ModelHost(modelDir: dir, role: .solver, checkpointsDir: checkpoints ?? temporaryDirectory() + "/checkpoints",
                      lora: LoRAConfig(rank: 4, alpha: 8), loraSeed: 1, logger: Logger(label: "rzero.test"))
    }

    static let samples = [GRPOSample(prompt: [1, 2], response: [3, 4], reward: 1, group: 0),
                          GRPOSample(prompt: [1, 2], response: [5], reward: 0, group: 0)]
    static var settings: TrainerSettings {
        var s = TrainerSettings()
        s.optimizer.learningRate = 1e-2
        s.loss.klCoef = 0.1
        return s
    }

    @Test("steps train the adapters; the base is the reference; an adapter checkpoint is small and restores the step")
    func trainAndCheckpoint() async throws {
        let host = try loraHost()
        let info = host.info
        let lora = try #require(info.lora)
        #expect(lora.config.rank == 4 && lora.config.targetModules == LoRAModule.allCases && info.referenceVersion == 0)
        #expect(info.memory.gradientsBytes == 4 * lora.parameterCount && info.memory.referenceBytes == 0)
        let item = LogprobsItem(prompt: .tokenIds([1, 2]), response: .tokenIds([3, 4]))
        let base = try await makeHost().logprobs([item]).items[0].logprobs
        // A fresh adapter is the identity: policy = reference = base.
        #expect(try await host.logprobs([item]).items[0].logprobs == base)
        #expect(try await host.logprobs([item], model: .reference).items[0].logprobs == base)
        _ = try await host.trainGRPO(Self.samples, settings: Self.settings)
        let second = try await host.trainGRPO(Self.samples, settings: Self.settings)
        #expect(host.info.memory.lastStep?.microBatchTokens == MemoryPlan.adapterPassTokens, "LoRA passes are held short")
        #expect(second.metrics.kl > 0, "the adapters moved away from the base, which the KL term measures")
        let trained = try await host.logprobs([item]).items[0].logprobs
        #expect(trained != base)
        #expect(try await host.logprobs([item], model: .reference).items[0].logprobs == base)
        #expect(try await host.resetReference() == 0)

        let saved = try await host.saveCheckpoint(name: "lora")
        #expect(saved.step == 2)
        let third = try await host.trainGRPO(Self.samples, settings: Self.settings)
        #expect(third.metrics.step == 3)
        _ = try await host.loadCheckpoint(name: "lora")
        #expect(try await host.logprobs([item]).items[0].logprobs == trained)
        #expect(host.info.step == 2)
        // The same next step as before the load (AdamW moments restored).
        let again = try await host.trainGRPO(Self.samples, settings: Self.settings)
        #expect(again.metrics.loss == third.metrics.loss && again.metrics.gradNorm == third.metrics.gradNorm)
        await host.shutdown()
    }

    @Test("averaging adapter checkpoints: A and B become the weighted sums; the served model follows; full-weight checkpoints are refused")
    func average() async throws {
        let checkpoints = temporaryDirectory() + "/checkpoints"
        let host = try loraHost(checkpoints: checkpoints)
        _ = try await host.trainGRPO(Self.samples, settings: Self.settings)
        _ = try await host.saveCheckpoint(name: "a")
        let item = LogprobsItem(prompt: .tokenIds([1, 2]), response: .tokenIds([3, 4]))
        let atA = try await host.logprobs([item]).items[0].logprobs
        _ = try await host.trainGRPO(Self.samples, settings: Self.settings)
        _ = try await host.trainGRPO(Self.samples, settings: Self.settings)
        _ = try await host.saveCheckpoint(name: "b")
        let config = try ModelFolder.load(Fixtures.path("engine/tied")).config
        func adapter(_ name: String) throws -> [Float] { try AdapterFolder.load(checkpoints + "/" + name, for: config).parameters.toArray() }
        let a = try adapter("a"), b = try adapter("b")
        #expect(a != b)
        let r = try await host.averageCheckpoints(["a", "b"], weights: [0.25, 0.75])
        #expect(r.step == 3 && host.info.step == 3)
        _ = try await host.saveCheckpoint(name: "avg")
        let avg = try adapter("avg")
        var worst = 0.0
        for i in avg.indices { worst = max(worst, abs(Double(avg[i]) - (0.25 * Double(a[i]) + 0.75 * Double(b[i])))) }
        #expect(worst < 1e-6)
        // All weight on a: the service computes what it computed at a.
        _ = try await host.averageCheckpoints(["a"], weights: [1])
        #expect(try await host.logprobs([item]).items[0].logprobs == atA)
        // A checkpoint of full weights (another service's, same base) is not an adapter: refused, nothing changes.
        let full = try makeHost(); _ = try await full.saveCheckpoint(name: "full"); await full.shutdown()
        try FileManager.default.copyItem(atPath: full.checkpointsDirectory + "/full", toPath: checkpoints + "/full")
        await #expect(throws: HostError.self) { try await host.averageCheckpoints(["b", "full"], weights: [0.5, 0.5]) }
        #expect(try await host.logprobs([item]).items[0].logprobs == atA)
        await host.shutdown()
    }

    @Test("the checkpoint folder is a PEFT adapter folder that loads over its base, with tokenizer and optimizer")
    func checkpointFolder() async throws {
        let checkpoints = temporaryDirectory() + "/checkpoints"
        let host = try loraHost(checkpoints: checkpoints)
        _ = try await host.trainGRPO(Self.samples, settings: Self.settings)
        _ = try await host.saveCheckpoint(name: "c")
        let dir = checkpoints + "/c"
        let files = Set(try FileManager.default.contentsOfDirectory(atPath: dir))
        #expect(files.isSuperset(of: [AdapterFolder.configName, AdapterFolder.weightsName, TrainerCheckpoint.optimizerName,
                                      TrainerCheckpoint.stateName]))
        #expect(!files.contains(ModelFolder.weightsName) && !files.contains(TrainerCheckpoint.referenceName))
        let size = (try FileManager.default.attributesOfItem(atPath: dir + "/" + AdapterFolder.weightsName)[.size] as? NSNumber)?.intValue ?? 0
        let model = try ModelFolder.load(dir)  // base via base_model_name_or_path
        #expect(size < model.parameterCount, "adapters only: under a quarter of the fp32 weights")
        #expect(ModelFolder.absolutePath(try ModelFolder.adapterBasePath(dir)) == ModelFolder.absolutePath(Fixtures.path("engine/tied")))
        let item = LogprobsItem(prompt: .tokenIds([1, 2]), response: .tokenIds([3, 4]))
        let served = try await host.logprobs([item]).items[0].logprobs
        let out = try model.forward([[1, 2, 3, 4]]).logprobs[0]
        #expect(Array(out[1...]) == served)
        // A service started on the checkpoint folder trains it further.
        let resumed = try ModelHost(modelDir: dir, role: .solver, checkpointsDir: temporaryDirectory(), logger: Logger(label: "t"))
        #expect(resumed.info.lora?.config.rank == 4)
        #expect(try await resumed.logprobs([item]).items[0].logprobs == served)
        #expect(throws: HostError.self) { _ = try loraHost(dir) }
        await host.shutdown()
        await resumed.shutdown()
    }

    @Test("exports are complete model folders; checkpoints are listed with their size and can be deleted")
    func exportAndDelete() async throws {
        let checkpoints = temporaryDirectory() + "/checkpoints"
        let host = try loraHost(Fixtures.path("engine/llama_bf16"), checkpoints: checkpoints)
        _ = try await host.trainGRPO(Self.samples, settings: Self.settings)
        let export = try await host.exportModel(name: "final")
        #expect(export.dtype == "bfloat16" && export.path == checkpoints + "/exports/final" && export.modelVersion == 1)
        let exported = try ModelFolder.load(export.path)
        #expect(exported.adapters == nil && exported.config.family == .llama)
        await #expect(throws: HostError.self) { try await host.exportModel(name: "final") }
        _ = try await host.exportModel(name: "final", dtype: "float32", overwrite: true)
        let item = LogprobsItem(prompt: .tokenIds([1, 2]), response: .tokenIds([3, 4]))
        let served = try await host.logprobs([item]).items[0].logprobs
        let f32 = try ModelFolder.load(export.path).forward([[1, 2, 3, 4]]).logprobs[0]
        #expect(TestData.maxAbsError(Array(f32[1...]), served) < 1e-5)
        await #expect(throws: HostError.self) { try await host.saveCheckpoint(name: "exports") }

        _ = try await host.saveCheckpoint(name: "a")
        let listed = try await host.listCheckpoints()
        #expect(listed.map(\.name) == ["a"], "the exports folder is not a checkpoint")
        let size = try #require(listed.first?.sizeBytes)
        #expect(size > 0)
        #expect(try await host.deleteCheckpoint(name: "a") == size)
        #expect(try await host.listCheckpoints().isEmpty)
        await #expect(throws: HostError.notFound("no checkpoint named a")) { try await host.deleteCheckpoint(name: "a") }
        await host.shutdown()
    }

    @Test("weights sync ships only the adapters; a plain replica adopts them and scores like the trainer")
    func replicas() async throws {
        let host = try loraHost()
        _ = try await host.trainGRPO(Self.samples, settings: Self.settings)
        let snapshot = try await host.weights(version: 1)
        let model = try ModelFolder.load(Fixtures.path("engine/tied"))
        #expect(snapshot.byteCount < model.parameterCount, "adapters only")
        let replica = try makeHost()
        #expect(try await replica.adoptWeights(WeightsSnapshot(version: 1, data: try snapshot.bytes(), sha256: snapshot.sha256)))
        #expect(replica.info.lora?.config == host.info.lora?.config && replica.info.modelVersion == 1)
        let item = LogprobsItem(prompt: .tokenIds([7, 1, 2]), response: .tokenIds([3, 9]))
        #expect(try await replica.logprobs([item]).items[0].logprobs == host.logprobs([item]).items[0].logprobs)
        // Whole weights cannot replace adapters.
        let full = try await makeHost().weights(version: 0)
        await #expect(throws: HostError.self) {
            _ = try await replica.adoptWeights(WeightsSnapshot(version: 5, data: try full.bytes(), sha256: full.sha256))
        }
        await host.shutdown()
        await replica.shutdown()
    }
}
