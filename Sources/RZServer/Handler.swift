import Foundation
import HTTPTypes
import Logging
import CoreMetrics
import Metrics
import OpenAPIRuntime
import Prometheus
import RZAPI
import RZHost
import RZModel
import RZSampling
import RZTokenizer
import RZTraining

/// Metrics of one server process, created once with fixed dimensions (role, operation).
package struct ServerMetrics: Sendable {
    package let registry: PrometheusCollectorRegistry
    let factory: PrometheusMetricsFactory
    let role: String

    package init(role: Role, registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        factory = PrometheusMetricsFactory(registry: registry)
        self.role = role.rawValue
    }

    func requests(_ operation: String) -> CoreMetrics.Counter {
        CoreMetrics.Counter(label: "rzero_requests_total", dimensions: [("role", role), ("operation", operation)], factory: factory)
    }
    func duration(_ operation: String) -> Metrics.Timer {
        Metrics.Timer(label: "rzero_request_duration_seconds", dimensions: [("role", role), ("operation", operation)], factory: factory)
    }
    var generatedTokens: CoreMetrics.Counter { CoreMetrics.Counter(label: "rzero_generate_tokens_total", dimensions: [("role", role)], factory: factory) }
    var trainSteps: CoreMetrics.Counter { CoreMetrics.Counter(label: "rzero_train_steps_total", dimensions: [("role", role)], factory: factory) }
}

/// Implements the generated `APIProtocol` on top of a `ModelHost`. Wire types are mapped to core types
/// here and nowhere else; every client mistake becomes an `APIError` (4xx JSON).
package struct Handler: APIProtocol {
    package let host: ModelHost
    package let metrics: ServerMetrics
    package let maxBodyBytes: Int

    /// Pulls weights from other services for `syncWeights`.
    package let weightsFetcher: WeightsFetcher

    /// Where `syncWeights` may pull from (`rzero serve --weights-source`).
    package let weightsSources: [WeightsSource]

    /// How the OpenAI-compatible routes name the model.
    package let openAI: OpenAIServing

    package init(host: ModelHost, metrics: ServerMetrics, maxBodyBytes: Int, upstreamToken: String? = nil,
                 weightsSources: [WeightsSource] = [], openAI: OpenAIServing? = nil) {
        self.host = host
        self.metrics = metrics
        self.maxBodyBytes = maxBodyBytes
        self.weightsSources = weightsSources
        self.openAI = openAI ?? OpenAIServing(servedModelName: OpenAIServing.defaultName(modelDir: host.modelDir))
        // A snapshot is this model's weights (or adapters) in float32 at most, plus its safetensors header.
        self.weightsFetcher = WeightsFetcher(token: upstreamToken, maxBytes: host.info.memory.weightsBytes + (64 << 20))
    }

    /// Counts and times an operation; maps host errors to API errors.
    func measured<T>(_ operation: String, _ body: () async throws -> T) async throws -> T {
        metrics.requests(operation).increment()
        let start = DispatchTime.now().uptimeNanoseconds
        defer { metrics.duration(operation).recordNanoseconds(Int64(DispatchTime.now().uptimeNanoseconds - start)) }
        do {
            return try await body()
        } catch {
            throw Self.apiError(error)
        }
    }

    /// A host error as the API error it stands for (other errors unchanged).
    static func apiError(_ error: any Error) -> any Error {
        guard let e = error as? HostError else { return error }
        switch e {
        case .invalidRequest(let m): return APIError.invalidRequest(m)
        case .notFound(let m): return APIError.notFound(m)
        case .alreadyExists(let m): return APIError(.alreadyExists, m)
        case .noReference(let m): return APIError(.noReference, m)
        case .unavailable(let m): return APIError(.shuttingDown, m)
        case .insufficientMemory(let m): return APIError(.insufficientMemory, m)
        case .overloaded(let m, let seconds): return APIError(.rateLimited, m, retryAfterSeconds: seconds)
        }
    }

    private func prompt(_ p: Components.Schemas.Prompt) -> PromptInput {
        switch p {
        case .TextPrompt(let t): return .text(t.text)
        case .ChatPrompt(let c): return .messages(c.messages.map { ChatMessage(role: $0.role.rawValue, content: $0.content) })
        case .TokenPrompt(let t): return .tokenIds(t.tokenIds)
        }
    }

    // MARK: Generation and scoring

    package func generate(_ input: Operations.Generate.Input) async throws -> Operations.Generate.Output {
        guard case .json(let body) = input.body else { throw APIError(.unsupportedMediaType, "expected application/json") }
        try body.validate()
        return try await measured(Operations.Generate.id) {
            let seed = body.seed.map { UInt64($0) } ?? UInt64.random(in: 0...UInt64(Int64.max))
            let params = SamplingParameters(
                temperature: body.temperature ?? APIDefaults.temperature, topP: body.topP ?? APIDefaults.topP,
                topK: body.topK ?? APIDefaults.topK, maxTokens: body.maxTokens ?? APIDefaults.maxTokens, n: body.n ?? APIDefaults.n,
                stopTokens: body.stopTokenIds ?? [], stopStrings: body.stop ?? [], seed: seed,
                returnSamplingLogprobs: body.returnSamplingLogprobs ?? APIDefaults.returnSamplingLogprobs)
            let r = try await host.generate(GenerateRequest(prompts: body.prompts.map(prompt), parameters: params,
                                                            ignoreEOS: body.ignoreEos ?? APIDefaults.ignoreEOS))
            metrics.generatedTokens.increment(by: r.completionTokens)
            let results = zip(r.promptTokenIds, r.samples).map { ids, samples in
                Components.Schemas.PromptResult(promptTokenIds: ids, samples: samples.map { s in
                    Components.Schemas.Sample(
                        text: s.text ?? "", tokenIds: s.generation.tokens, logprobs: s.generation.logprobs,
                        samplingLogprobs: s.generation.samplingLogprobs,
                        finishReason: s.generation.finishReason == .stop ? .stop : .length, stop: s.generation.stopString)
                })
            }
            return .ok(.init(body: .json(.init(
                modelVersion: Int64(r.modelVersion), instanceId: host.info.instanceId, seed: Int64(seed), results: results,
                usage: .init(promptTokens: r.promptTokens, completionTokens: r.completionTokens)))))
        }
    }

    package func computeLogprobs(_ input: Operations.ComputeLogprobs.Input) async throws -> Operations.ComputeLogprobs.Output {
        guard case .json(let body) = input.body else { throw APIError(.unsupportedMediaType, "expected application/json") }
        try body.validate()
        return try await measured(Operations.ComputeLogprobs.id) {
            let which = body.model ?? APIDefaults.scoringModel
            let items = body.items.map { item in
                LogprobsItem(prompt: prompt(item.prompt),
                             response: item.responseTokenIds.map { .tokenIds($0) } ?? .text(item.responseText ?? ""))
            }
            let r = try await host.logprobs(items, model: which == .reference ? .reference : .policy)
            let info = host.info
            return .ok(.init(body: .json(.init(
                modelVersion: Int64(info.modelVersion), model: which, referenceVersion: info.referenceVersion.map(Int64.init),
                results: r.items.map { .init(promptTokenIds: $0.promptTokenIds, responseTokenIds: $0.responseTokenIds, logprobs: $0.logprobs) }))))
        }
    }

    // MARK: Training

    /// The host's settings with the request's overrides applied.
    private func settings(_ o: Components.Schemas.TrainingSettings?) -> TrainerSettings {
        var s = host.info.trainerSettings
        guard let o else { return s }
        if let v = o.clipRatioLow { s.loss.clip.low = v }
        if let v = o.clipRatioHigh { s.loss.clip.high = v }
        if let v = o.clipRatioDual { s.loss.clip.dual = v }
        if let v = o.klPenalty {
            switch v {
            case .kl: s.loss.klPenalty = .kl
            case .abs: s.loss.klPenalty = .abs
            case .mse: s.loss.klPenalty = .mse
            case .lowVarKl: s.loss.klPenalty = .lowVarKL
            case .disabled: s.loss.klPenalty = nil
            }
        }
        if let v = o.klCoef { s.loss.klCoef = v }
        if let v = o.aggregation { s.loss.aggregation = v == .tokenMean ? .tokenMean : .seqMeanTokenMean }
        if let v = o.advantageEpsilon { s.loss.advantageEpsilon = v }
        if let v = o.learningRate { s.optimizer.learningRate = v }
        if let v = o.adamEpsilon { s.optimizer.epsilon = v }
        if let v = o.weightDecay { s.optimizer.weightDecay = v }
        if let v = o.lrSchedule {
            switch v.kind {
            case .constant: s.optimizer.schedule = .constant
            case .linearWarmup: s.optimizer.schedule = .linearWarmup(warmupSteps: v.warmupSteps ?? 0)
            case .cosine:
                s.optimizer.schedule = .cosine(warmupSteps: v.warmupSteps ?? 0, totalSteps: v.totalSteps ?? 1, minRatio: v.minRatio ?? 0)
            }
        }
        if let v = o.maxGradNorm { s.maxGradNorm = v }
        if let v = o.microBatchTokens { s.microBatchTokens = v }
        if let v = o.recomputeActivations { s.recomputeActivations = v }
        if let v = o.referenceDtype { s.referenceInBFloat16 = v == .bfloat16 }
        return s
    }

    private func response(_ r: TrainResult) -> Components.Schemas.TrainResponse {
        let m = r.metrics
        func finite(_ x: Double) -> Double? { x.isFinite ? x : nil }
        if !m.skipped { metrics.trainSteps.increment() }
        return .init(modelVersion: Int64(r.modelVersion), instanceId: host.info.instanceId, metrics: .init(
            loss: finite(m.loss), policyLoss: finite(m.policyLoss), kl: finite(m.kl),
            clipFractionHigher: m.clipFractionHigher, clipFractionLower: m.clipFractionLower, gradNorm: finite(m.gradNorm),
            meanReward: m.meanReward, meanAdvantage: m.meanAdvantage, entropy: finite(m.entropy), tokens: m.tokens,
            sequences: m.sequences, learningRate: m.learningRate, skipped: m.skipped, step: m.step))
    }

    package func trainGRPO(_ input: Operations.TrainGRPO.Input) async throws -> Operations.TrainGRPO.Output {
        guard case .json(let body) = input.body else { throw APIError(.unsupportedMediaType, "expected application/json") }
        try body.validate()
        return try await measured(Operations.TrainGRPO.id) {
            let samples = body.samples.map {
                GRPOSample(prompt: $0.promptTokenIds, response: $0.responseTokenIds, oldLogProbs: $0.oldLogprobs,
                           refLogProbs: $0.refLogprobs, reward: $0.reward, group: $0.group)
            }
            return .ok(.init(body: .json(response(try await host.trainGRPO(samples, settings: settings(body.settings),
                                                                                 idempotencyKey: input.headers.idempotencyKey)))))
        }
    }

    package func trainSFT(_ input: Operations.TrainSFT.Input) async throws -> Operations.TrainSFT.Output {
        guard case .json(let body) = input.body else { throw APIError(.unsupportedMediaType, "expected application/json") }
        try body.validate()
        return try await measured(Operations.TrainSFT.id) {
            let samples = body.samples.map { SFTSample(prompt: $0.promptTokenIds, target: $0.targetTokenIds) }
            return .ok(.init(body: .json(response(try await host.trainSFT(samples, settings: settings(body.settings),
                                                                                idempotencyKey: input.headers.idempotencyKey)))))
        }
    }

    // MARK: Checkpoints and reference

    package func listCheckpoints(_ input: Operations.ListCheckpoints.Input) async throws -> Operations.ListCheckpoints.Output {
        try await measured(Operations.ListCheckpoints.id) {
            let list = try await host.listCheckpoints()
            return .ok(.init(body: .json(.init(checkpoints: list.map {
                .init(name: $0.name, createdAt: $0.createdAt, modelVersion: $0.modelVersion.map(Int64.init), step: $0.step,
                      sizeBytes: $0.sizeBytes.map(Int64.init))
            }))))
        }
    }

    package func saveCheckpoint(_ input: Operations.SaveCheckpoint.Input) async throws -> Operations.SaveCheckpoint.Output {
        guard case .json(let body) = input.body else { throw APIError(.unsupportedMediaType, "expected application/json") }
        try body.validate()
        return try await measured(Operations.SaveCheckpoint.id) {
            let r = try await host.saveCheckpoint(name: body.name, overwrite: body.overwrite ?? APIDefaults.overwrite)
            return .created(.init(body: .json(.init(name: r.name, modelVersion: Int64(r.modelVersion ?? 0), step: r.step ?? 0,
                                                    sizeBytes: r.sizeBytes.map(Int64.init)))))
        }
    }

    package func deleteCheckpoint(_ input: Operations.DeleteCheckpoint.Input) async throws -> Operations.DeleteCheckpoint.Output {
        try await measured(Operations.DeleteCheckpoint.id) {
            let freed = try await host.deleteCheckpoint(name: input.path.name)
            return .ok(.init(body: .json(.init(name: input.path.name, freedBytes: Int64(freed)))))
        }
    }

    package func exportModel(_ input: Operations.ExportModel.Input) async throws -> Operations.ExportModel.Output {
        guard case .json(let body) = input.body else { throw APIError(.unsupportedMediaType, "expected application/json") }
        try body.validate()
        return try await measured(Operations.ExportModel.id) {
            let r = try await host.exportModel(name: body.name, dtype: body.dtype?.rawValue, overwrite: body.overwrite ?? APIDefaults.overwrite)
            return .created(.init(body: .json(.init(name: r.name, path: r.path, dtype: r.dtype, modelVersion: Int64(r.modelVersion),
                                                    sizeBytes: Int64(r.sizeBytes)))))
        }
    }

    package func loadCheckpoint(_ input: Operations.LoadCheckpoint.Input) async throws -> Operations.LoadCheckpoint.Output {
        try await measured(Operations.LoadCheckpoint.id) {
            let r = try await host.loadCheckpoint(name: input.path.name)
            return .ok(.init(body: .json(.init(name: r.name, modelVersion: Int64(r.modelVersion ?? 0), step: r.step ?? 0,
                                               referenceVersion: r.referenceVersion.map(Int64.init)))))
        }
    }

    package func resetReference(_ input: Operations.ResetReference.Input) async throws -> Operations.ResetReference.Output {
        try await measured(Operations.ResetReference.id) {
            .ok(.init(body: .json(.init(referenceVersion: Int64(try await host.resetReference())))))
        }
    }

    // MARK: Weights (replicas)

    package func getWeights(_ input: Operations.GetWeights.Input) async throws -> Operations.GetWeights.Output {
        try await measured(Operations.GetWeights.id) {
            guard input.path.version >= 0, input.path.version <= Int64(Int.max) else { throw APIError.invalidRequest("version must be ≥ 0") }
            let w = try await host.weights(version: Int(input.path.version))
            let body: HTTPBody
            switch w.storage {
            case .memory(let data): body = HTTPBody(data)
            case .file(let path):
                // Opened now, so the response keeps its bytes even if a new version replaces the file meanwhile.
                guard let handle = FileHandle(forReadingAtPath: path) else {
                    throw APIError.notFound("the weights at version \(w.version) are no longer served")
                }
                body = HTTPBody(FileChunks(handle: handle), length: .known(Int64(w.byteCount)), iterationBehavior: .single)
            }
            return .ok(.init(headers: .init(xWeightsSha256: w.sha256, xModelVersion: Int64(w.version)), body: .binary(body)))
        }
    }

    package func averageWeights(_ input: Operations.AverageWeights.Input) async throws -> Operations.AverageWeights.Output {
        guard case .json(let body) = input.body else { throw APIError(.unsupportedMediaType, "expected application/json") }
        try body.validate()
        return try await measured(Operations.AverageWeights.id) {
            let r = try await host.averageCheckpoints(body.checkpoints, weights: body.weights)
            return .ok(.init(body: .json(.init(modelVersion: Int64(r.modelVersion ?? 0), step: r.step ?? 0))))
        }
    }

    package func syncWeights(_ input: Operations.SyncWeights.Input) async throws -> Operations.SyncWeights.Output {
        guard case .json(let body) = input.body else { throw APIError.invalidJSON("expected JSON") }
        return try await measured(Operations.SyncWeights.id) {
            guard let source = URL(string: body.source), let scheme = source.scheme, ["http", "https"].contains(scheme), source.host != nil else {
                throw APIError.invalidRequest("source must be an http(s) URL")
            }
            // Only configured sources are contacted (and sent the token): a token holder cannot point the service elsewhere.
            guard weightsSources.contains(where: { $0.covers(source) }) else {
                throw APIError.invalidRequest(weightsSources.isEmpty
                    ? "this service takes weights from no source: start it with --weights-source <trainer URL> (or RZERO_WEIGHTS_SOURCES)"
                    : "\(body.source) is not one of this service's weights sources (\(weightsSources.map(\.description).joined(separator: ", ")))")
            }
            guard body.version >= 0, body.version <= Int64(Int.max) else { throw APIError.invalidRequest("version must be ≥ 0") }
            let version = Int(body.version)
            let started = DispatchTime.now().uptimeNanoseconds
            let fetched = try await weightsFetcher.fetch(from: source, version: version)
            let changed: Bool
            do { changed = try await host.adoptWeights(fetched) } catch let e as HostError {
                if case .invalidRequest(let m) = e { throw APIError(.upstreamFailed, "\(body.source): \(m)") }
                throw e
            }
            return .ok(.init(body: .json(.init(modelVersion: Int64(version), sha256: fetched.sha256, bytes: Int64(fetched.byteCount),
                                               seconds: Self.seconds(since: started), changed: changed))))
        }
    }

    private static func seconds(since start: UInt64) -> Double { Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 }

    // MARK: Introspection

    package func getModel(_ input: Operations.GetModel.Input) async throws -> Operations.GetModel.Output {
        let i = host.info
        let c = i.config
        let t = i.trainerSettings
        let schedule: Components.Schemas.LRSchedule
        switch t.optimizer.schedule {
        case .constant: schedule = .init(kind: .constant)
        case .linearWarmup(let w): schedule = .init(kind: .linearWarmup, warmupSteps: w)
        case .cosine(let w, let total, let minRatio): schedule = .init(kind: .cosine, warmupSteps: w, totalSteps: total, minRatio: minRatio)
        }
        let kl: Components.Schemas.KLPenalty
        switch t.loss.klPenalty {
        case nil: kl = .disabled
        case .kl?: kl = .kl
        case .abs?: kl = .abs
        case .mse?: kl = .mse
        case .lowVarKL?: kl = .lowVarKl
        }
        return .ok(.init(body: .json(.init(
            role: i.role == .challenger ? .challenger : .solver,
            config: .init(modelType: c.family.rawValue, vocabSize: c.vocabSize, hiddenSize: c.hiddenSize, intermediateSize: c.intermediateSize,
                          numHiddenLayers: c.numLayers, numAttentionHeads: c.numHeads, numKeyValueHeads: c.numKVHeads, headDim: c.headDim,
                          maxPositionEmbeddings: c.maxPositionEmbeddings, rmsNormEps: c.rmsNormEps, ropeTheta: c.ropeTheta,
                          tieWordEmbeddings: c.tieWordEmbeddings, bosTokenId: c.bosTokenId, eosTokenId: c.eosTokenId),
            modelVersion: Int64(i.modelVersion), referenceVersion: i.referenceVersion.map(Int64.init),
            instanceId: i.instanceId, parameterCount: Int64(i.parameterCount), step: i.step, eosTokenIds: i.eosTokenIds, maxBodyBytes: maxBodyBytes,
            trainerSettings: .init(
                clipRatioLow: t.loss.clip.low, clipRatioHigh: t.loss.clip.high, clipRatioDual: t.loss.clip.dual, klPenalty: kl,
                klCoef: t.loss.klCoef, aggregation: t.loss.aggregation == .tokenMean ? .tokenMean : .seqMeanTokenMean,
                advantageEpsilon: t.loss.advantageEpsilon, learningRate: t.optimizer.learningRate, adamEpsilon: t.optimizer.epsilon,
                weightDecay: t.optimizer.weightDecay, lrSchedule: schedule, maxGradNorm: t.maxGradNorm,
                microBatchTokens: t.microBatchTokens, recomputeActivations: t.recomputeActivations,
                referenceDtype: t.referenceInBFloat16 ? .bfloat16 : .float32),
            memory: memoryPlan(i.memory),
            lora: i.lora.map {
                .init(rank: $0.config.rank, alpha: $0.config.alpha,
                      targetModules: $0.config.targetModules.compactMap { .init(rawValue: $0.rawValue) },
                      useRslora: $0.config.useRSLoRA, trainableParameterCount: Int64($0.parameterCount))
            },
            generationBudget: .init(maxRequestTokens: Int64(host.limits.maxRequestTokens), maxTokensInFlight: Int64(host.limits.maxTokensInFlight)),
            samplingPrecision: .init(rawValue: i.samplingPrecision.rawValue)))))
    }

    private func memoryPlan(_ m: MemoryPlan) -> Components.Schemas.MemoryPlan {
        .init(limitBytes: m.limitBytes.map(Int64.init), weightsBytes: Int64(m.weightsBytes), gradientsBytes: Int64(m.gradientsBytes),
              optimizerBytes: Int64(m.optimizerBytes), referenceBytes: Int64(m.referenceBytes),
              referenceBfloat16Bytes: Int64(m.referenceBF16Bytes),
              kvCacheBytesPerToken: Int64(m.kvCacheBytesPerToken),
              samplingWeightsBytes: m.samplingWeightsBytes > 0 ? Int64(m.samplingWeightsBytes) : nil,
              lastStep: m.lastStep.map {
                  .init(microBatchTokens: Int64($0.microBatchTokens), recomputeActivations: $0.recomputeActivations,
                        workingBytes: Int64($0.workingBytes), peakBytes: Int64($0.peakBytes))
              })
    }

    package func getHealth(_ input: Operations.GetHealth.Input) async throws -> Operations.GetHealth.Output {
        .ok(.init(body: .json(.init(status: .ok))))
    }

    package func getReadiness(_ input: Operations.GetReadiness.Input) async throws -> Operations.GetReadiness.Output {
        guard host.isAccepting else { throw APIError(.shuttingDown, "the server is shutting down") }
        return .ok(.init(body: .json(.init(status: .ok))))
    }

    package func getMetrics(_ input: Operations.GetMetrics.Input) async throws -> Operations.GetMetrics.Output {
        .ok(.init(body: .plainText(HTTPBody(metrics.registry.emitToString()))))
    }
}

/// An open file read in 4 MB pieces, as a response body (one iteration: it reads from the descriptor).
struct FileChunks: AsyncSequence, Sendable {
    typealias Element = ArraySlice<UInt8>
    let handle: FileHandle

    struct Iterator: AsyncIteratorProtocol {
        let handle: FileHandle
        mutating func next() async throws -> ArraySlice<UInt8>? {
            guard let piece = try handle.read(upToCount: 4 << 20), !piece.isEmpty else {
                try? handle.close()
                return nil
            }
            return ArraySlice(piece)
        }
    }

    func makeAsyncIterator() -> Iterator { Iterator(handle: handle) }
}
