import Foundation
import Logging
import RZModel
import RZTensor
import RZSampling
import RZTokenizer
import RZTraining

/// The model-side state of a host: trainer (and its model), continuous batcher, tokenizer, versions.
/// Owned by the worker thread; never shared.
final class Engine {
    private(set) var trainer: PolicyTrainer
    private(set) var batcher: ContinuousBatcher
    let tokenizer: Tokenizer?
    let checkpointsDir: String
    let logger: Logger
    /// Increases by one whenever the weights change (an applied training step, a checkpoint load).
    private(set) var modelVersion = 0 {
        // The served snapshot describes one version; its file goes when the weights move on.
        didSet { if let cached = weightsCache, cached.version != modelVersion { replaceWeightsCache(with: nil) } }
    }
    private(set) var referenceVersion: Int?
    let instanceId = UUID().uuidString.lowercased()
    /// Responses of the most recent applied steps by idempotency key, so a client that retries a
    /// step (its first attempt may or may not have arrived) never trains twice.
    private var recentSteps: [String: TrainResult] = [:]
    private var recentStepOrder: [String] = []
    static let rememberedSteps = 256
    /// The serialised weights of the current version, kept while replicas pull them.
    var weightsCache: WeightsSnapshot?

    /// Files of the model folder that are not weights (tokenizer, generation config), copied into every
    /// checkpoint so that a checkpoint is a model folder the CLI and transformers can use on its own.
    let companionFiles: [String]

    /// The memory parts and the last step's plan.
    private(set) var memory: MemoryPlan

    /// The folder the (frozen, under LoRA) base weights came from: what adapter checkpoints and snapshots name.
    let baseModelDir: String?

    /// The precision the batcher samples in (`DecoderModel.samplingPrecision`); every trainer's model gets it.
    let samplingPrecision: SamplingPrecision

    init(trainer: PolicyTrainer, tokenizer: Tokenizer?, checkpointsDir: String, companionFiles: [String] = [],
         memoryLimitBytes: Int? = nil, baseModelDir: String? = nil, samplingPrecision: SamplingPrecision = .float32, logger: Logger) {
        self.samplingPrecision = samplingPrecision
        trainer.model.samplingPrecision = samplingPrecision
        trainer.model.prepareSampling()
        self.trainer = trainer
        memory = Self.memoryPlan(trainer, limitBytes: memoryLimitBytes)
        self.baseModelDir = baseModelDir
        referenceVersion = trainer.referenceIsBase ? 0 : nil
        self.companionFiles = companionFiles
        self.batcher = ContinuousBatcher(model: trainer.model)
        self.tokenizer = tokenizer
        self.checkpointsDir = checkpointsDir
        self.logger = logger
    }

    var model: DecoderModel { trainer.model }

    static func memoryPlan(_ trainer: PolicyTrainer, limitBytes: Int?) -> MemoryPlan {
        MemoryPlan(config: trainer.model.config, parameterCount: trainer.model.parameterCount, trainableCount: trainer.model.trainableCount,
                   referenceIsBase: trainer.referenceIsBase, samplingPrecision: trainer.model.samplingPrecision, limitBytes: limitBytes)
    }

    /// Takes `new` as the trainer (a checkpoint load, adapters adopted): the batcher, the memory parts and
    /// the reference's version follow it.
    func adoptTrainer(_ new: PolicyTrainer) {
        replaceTrainer(new)
        referenceVersion = new.referenceIsBase ? 0 : nil
    }

    private func replaceTrainer(_ new: PolicyTrainer) {
        new.model.samplingPrecision = samplingPrecision
        new.model.prepareSampling()
        trainer = new
        batcher = ContinuousBatcher(model: new.model)
        memory = Self.memoryPlan(new, limitBytes: memory.limitBytes)
    }

    func info(role: Role) -> ModelInfo {
        ModelInfo(role: role, config: model.config, modelVersion: modelVersion, instanceId: instanceId, parameterCount: model.parameterCount,
                  referenceVersion: referenceVersion, step: trainer.optimizer.step, hasTokenizer: tokenizer != nil,
                  eosTokenIds: eosTokenIds, trainerSettings: trainer.settings, memory: memory,
                  lora: model.adapters.map { ($0.config, $0.layout.count) }, samplingPrecision: samplingPrecision)
    }

    /// End-of-turn and end-of-text ids from the tokenizer, else the config's eos_token_id.
    var eosTokenIds: [Int32] {
        if let tokenizer {
            return Array(Set(ChatFormat(tokenizer: tokenizer).stopTokenIds + [tokenizer.eosTokenId].compactMap { $0 })).sorted()
        }
        return [model.config.eosTokenId].compactMap { $0 }.filter { $0 >= 0 && $0 < model.config.vocabSize }.map { Int32($0) }
    }

    /// Maps engine-level errors (bad ids, bad shapes, bad sampling parameters) to client errors.
    static func clientError(_ error: any Error) -> any Error {
        switch error {
        case let e as HostError: return e
        case let e as ModelError: return HostError.invalidRequest(e.description)
        case let e as SamplingError: return HostError.invalidRequest(e.description)
        case let e as GRPOError: return HostError.invalidRequest(e.description)
        case let e as TokenizerError: return HostError.invalidRequest("\(e)")
        default: return error
        }
    }

    // MARK: Prompts

    func tokenize(_ p: PromptInput) throws -> [Int32] {
        switch p {
        case .tokenIds(let ids):
            return ids
        case .text(let s):
            guard let tokenizer else { throw HostError.invalidRequest("this model has no tokenizer.json; send token_ids") }
            return tokenizer.encode(s)
        case .messages(let m):
            guard let tokenizer else { throw HostError.invalidRequest("this model has no tokenizer.json; send token_ids") }
            guard !m.isEmpty else { throw HostError.invalidRequest("messages must not be empty") }
            return ChatFormat(tokenizer: tokenizer).promptIds(m)
        }
    }

    // MARK: Generation

    /// A tokenized generate request and the KV cache it will hold while in flight.
    struct PreparedRequest {
        let request: GenerateRequest
        let ids: [[Int32]]
        let cacheBytes: Int
    }

    /// The KV cache all requests in flight may hold together: the memory limit less the weights, the training state
    /// and the BF16 copy (nil without a limit). A request whose cache alone exceeds it is refused; one that only
    /// does not fit beside those in flight waits for them (`WorkerLoop`).
    var kvCacheBudgetBytes: Int? {
        guard let limit = memory.limitBytes else { return nil }
        let fixed = memory.weightsBytes + memory.gradientsBytes + memory.optimizerBytes + memory.referenceBytes
            + memory.samplingWeightsBytes
        return max(0, limit - fixed)
    }

    /// Bytes of KV cache held by the requests in flight.
    var kvCacheBytesInFlight: Int { batcher.cacheBytes }

    /// Tokenizes a request and sizes its KV cache (every sample's slot at full capacity, as the batcher allocates it).
    func prepare(_ request: GenerateRequest) throws -> PreparedRequest {
        let ids = try request.prompts.map(tokenize)
        guard ids.allSatisfy({ !$0.isEmpty }) else { throw HostError.invalidRequest("a prompt tokenizes to nothing") }
        let capacity = KVCache.capacity(longestPrompt: ids.map(\.count).max() ?? 0, maxTokens: request.parameters.maxTokens,
                                        config: model.config)
        let bytes = ids.count * request.parameters.n * capacity * memory.kvCacheBytesPerToken
        if let budget = kvCacheBudgetBytes, bytes > budget {
            throw HostError.insufficientMemory(
                "this request's KV cache needs \(MemoryPlan.gigabytes(bytes)) (\(ids.count) prompts × n \(request.parameters.n) × "
                    + "\(capacity) tokens × \(memory.kvCacheBytesPerToken) bytes); beside its weights and training state the service "
                    + "holds at most \(MemoryPlan.gigabytes(budget)): ask for fewer prompts, samples or tokens per request")
        }
        return PreparedRequest(request: request, ids: ids, cacheBytes: bytes)
    }

    /// Tokenizes and admits a request; default stop tokens are the tokenizer's end-of-text and chat end.
    func submit(_ request: GenerateRequest) throws -> (id: Int, promptIds: [[Int32]]) {
        try submit(prepare(request))
    }

    /// Admits a prepared request; `onToken` is told each token as it is drawn.
    func submit(_ prepared: PreparedRequest, onToken: ((TokenEvent) -> Void)? = nil) throws -> (id: Int, promptIds: [[Int32]]) {
        let request = prepared.request, ids = prepared.ids
        var params = request.parameters
        if !request.ignoreEOS {
            params.stopTokens = Array(Set(params.stopTokens + eosTokenIds)).sorted()
        }
        let detokenize: (([Int32]) -> String)? = tokenizer.map { t in { ids in t.decode(ids) } }
        if !params.stopStrings.isEmpty && detokenize == nil {
            throw HostError.invalidRequest("stop strings need a tokenizer; this model has none")
        }
        let id = try batcher.submit(prompts: ids, parameters: params, detokenize: detokenize, onToken: onToken)
        return (id, ids)
    }

    func result(_ request: GenerateRequest, promptIds: [[Int32]], generations: [[Generation]], version: Int) -> GenerateResult {
        GenerateResult(
            modelVersion: version, promptTokenIds: promptIds,
            samples: generations.map { gens in
                gens.map { g in GeneratedSample(text: tokenizer.map { $0.decode(g.tokens, skipSpecialTokens: true) }, generation: g) }
            })
    }

    // MARK: Scoring

    func logprobs(_ items: [LogprobsItem], model which: ScoringModel, limits: HostLimits) throws -> LogprobsResult {
        if which == .reference && !trainer.hasReference {
            throw HostError.noReference("no reference model yet: POST /v1/reference/reset first")
        }
        let trainer = self.trainer
        let score: ([[Int32]]) throws -> [[Float]] = which == .policy
            ? { try trainer.model.forward($0).logprobs } : { try trainer.referenceForward($0).logprobs }
        var out: [(promptTokenIds: [Int32], responseTokenIds: [Int32], logprobs: [Float])] = []
        var sequences: [[Int32]] = []
        for item in items {
            let p = try tokenize(item.prompt)
            let r: [Int32]
            switch item.response {
            case .tokenIds(let ids): r = ids
            case .text(let s):
                guard let tokenizer else { throw HostError.invalidRequest("this model has no tokenizer.json; send response_token_ids") }
                r = tokenizer.encode(s, addSpecialTokens: false)
            }
            guard !p.isEmpty, !r.isEmpty else { throw HostError.invalidRequest("prompt and response must both be non-empty") }
            guard p.count + r.count <= limits.maxTokensPerSequence else {
                throw HostError.invalidRequest("a sequence of \(p.count + r.count) tokens exceeds \(limits.maxTokensPerSequence)")
            }
            out.append((p, r, []))
            sequences.append(p + r)
        }
        do {
            // Bounded passes: score in groups of about 8192 tokens.
            var start = 0
            while start < sequences.count {
                var end = start, tokens = 0
                while end < sequences.count && (end == start || tokens + sequences[end].count <= 8192) {
                    tokens += sequences[end].count
                    end += 1
                }
                let lp = try score(Array(sequences[start..<end]))
                for i in start..<end { out[i].logprobs = Array(lp[i - start][(out[i].promptTokenIds.count - 1)...]) }
                start = end
            }
            trainer.model.releaseActivations()
            trainer.reference?.releaseActivations()
        } catch { throw Self.clientError(error) }
        return LogprobsResult(modelVersion: which == .policy ? modelVersion : (referenceVersion ?? 0), items: out)
    }

    // MARK: Training

    /// Fits the coming step over sequences of `lengths` into the memory limit: may turn on recomputation or
    /// shrink micro-batches for this step (the trainer's settings are restored after it), or refuse it.
    func planStep(lengths: [Int], klTerm: Bool) throws {
        let (settings, plan) = try memory.fit(lengths: lengths, settings: trainer.settings,
                                              withReference: klTerm || trainer.reference != nil, model: model)
        trainer.settings = settings
        memory.lastStep = plan
    }

    func checkLengths(_ lengths: [Int], limits: HostLimits) throws {
        if let long = lengths.first(where: { $0 > limits.maxTokensPerSequence }) {
            throw HostError.invalidRequest("a sequence of \(long) tokens exceeds \(limits.maxTokensPerSequence)")
        }
    }

    /// Runs one step with `settings` for this step only (nil: the host's settings).
    func train(settings: TrainerSettings?, idempotencyKey: String? = nil,
               _ body: (PolicyTrainer) throws -> StepMetrics) throws -> TrainResult {
        if let idempotencyKey, let done = recentSteps[idempotencyKey] { return done }
        let result = try trainOnce(settings: settings, body)
        if let idempotencyKey {
            recentSteps[idempotencyKey] = result
            recentStepOrder.append(idempotencyKey)
            if recentStepOrder.count > Self.rememberedSteps { recentSteps[recentStepOrder.removeFirst()] = nil }
        }
        return result
    }

    private func trainOnce(settings: TrainerSettings?, _ body: (PolicyTrainer) throws -> StepMetrics) throws -> TrainResult {
        let saved = trainer.settings
        if let settings { trainer.settings = settings }
        defer { trainer.settings = saved }
        let hadReference = trainer.reference != nil
        let versionBefore = modelVersion
        do {
            let m = try body(trainer)
            // A GRPO step with KL freezes the current weights as the reference if there was none.
            if !hadReference && trainer.reference != nil { referenceVersion = versionBefore }
            if !m.skipped { modelVersion += 1 }
            return TrainResult(metrics: m, modelVersion: modelVersion)
        } catch {
            throw Self.clientError(error)
        }
    }

    /// Freezes the current weights as the reference; under LoRA the reference is the base, always version 0.
    func resetReference() throws -> Int {
        try trainer.resetReference()
        if !trainer.referenceIsBase { referenceVersion = modelVersion }
        return referenceVersion ?? modelVersion
    }

    // MARK: Checkpoints

    func save(name: String, overwrite: Bool) throws -> CheckpointInfo {
        if !overwrite && FileManager.default.fileExists(atPath: checkpointsDir + "/" + name) {
            throw HostError.alreadyExists("a checkpoint named \(name) exists; send overwrite: true to replace it")
        }
        try TrainerCheckpoint.save(trainer, to: checkpointsDir + "/" + name,
                                   metadata: ["model_version": String(modelVersion), "reference_version": referenceVersion.map(String.init) ?? ""],
                                   companionFiles: companionFiles, baseModel: baseModelDir)
        return CheckpointInfo(name: name, modelVersion: modelVersion, step: trainer.optimizer.step,
                              sizeBytes: AtomicFolder.size(checkpointsDir + "/" + name))
    }

    /// After the weights were replaced from outside (a replica adopting its trainer's weights): take the
    /// source's version, and forget what described the old weights.
    func setVersionAfterExternalChange(_ version: Int) {
        modelVersion = version
        recentSteps.removeAll()
        recentStepOrder.removeAll()
    }

    func load(name: String) throws -> CheckpointInfo {
        let dir = checkpointsDir + "/" + name
        guard FileManager.default.fileExists(atPath: dir + "/" + TrainerCheckpoint.stateName) else {
            throw HostError.notFound("no checkpoint named \(name)")
        }
        // Adapters over this very base (frozen since it was loaded) replace ours without reading the base again.
        var reuseBase = false
        if model.adapters != nil, TrainerCheckpoint.isAdapterCheckpoint(dir), let baseModelDir,
            let named = try? ModelFolder.adapterBasePath(dir), named == baseModelDir
        {
            reuseBase = true
        }
        let loaded: PolicyTrainer
        do { loaded = try TrainerCheckpoint.load(from: dir, base: reuseBase ? model : nil) } catch { throw Self.clientError(error) }
        guard loaded.model.config == model.config else {
            throw HostError.invalidRequest("checkpoint \(name) is for a different model architecture")
        }
        replaceTrainer(loaded)
        modelVersion += 1
        referenceVersion = loaded.referenceIsBase ? 0 : loaded.reference == nil ? nil : modelVersion
        // Remembered steps were applied to the weights just replaced: a step retried now must be applied anew.
        recentSteps.removeAll()
        recentStepOrder.removeAll()
        return CheckpointInfo(name: name, modelVersion: modelVersion, step: loaded.optimizer.step, referenceVersion: referenceVersion)
    }

    /// Sets the trainable weights to `Σ weights[i] · checkpoint i`: the weights under full fine-tuning, the adapters' A and B
    /// under LoRA (an adapter soup: it differs from averaging the merged weights by w(1 − w)·ΔB·ΔA for two checkpoints,
    /// second order in how far they are apart). Depends only on the checkpoints, so a repeat gives the same weights; the
    /// optimizer state and the reference stay; the version moves on.
    func average(checkpoints names: [String], weights: [Double]) throws -> CheckpointInfo {
        for name in names where !FileManager.default.fileExists(atPath: checkpointsDir + "/" + name + "/" + TrainerCheckpoint.stateName) {
            throw HostError.notFound("no checkpoint named \(name)")
        }
        // Every checkpoint is checked against this model (each tensor there with its shape, in a file whose header and
        // sizes are valid) before the weights are touched; then the sum is written over them tensor by tensor, holding only
        // one tensor's scratch beside them. Once the checks pass nothing is left that can fail part way.
        var files: [[String: SafetensorsFile]] = []
        for name in names {
            do { files.append(try checkedTrainableFiles(checkpointsDir + "/" + name)) } catch let error as HostError { throw error } catch {
                throw HostError.invalidRequest("checkpoint \(name) does not fit this model: \(error)")
            }
        }
        let tensors = model.adapters?.layout.tensors ?? model.layout.tensors
        try ModelFolder.writeWeightedSum(of: files, weights: weights.map { Float($0) }, tensors: tensors, into: model.trainableParameters.base)
        model.invalidateSamplingWeights()
        model.prepareSampling()
        modelVersion += 1
        // Remembered steps were applied to the weights just replaced.
        recentSteps.removeAll()
        recentStepOrder.removeAll()
        return CheckpointInfo(name: names.joined(separator: "+"), modelVersion: modelVersion, step: trainer.optimizer.step)
    }

    /// The files holding a checkpoint's trainable tensors, checked against this model: its weights under full fine-tuning;
    /// under LoRA its adapters, which must be over this very base with the same rank, alpha and modules.
    func checkedTrainableFiles(_ dir: String) throws -> [String: SafetensorsFile] {
        guard let adapters = model.adapters else { return try ModelFolder.checkedWeightFiles(dir, for: model) }
        let name = (dir as NSString).lastPathComponent
        guard TrainerCheckpoint.isAdapterCheckpoint(dir) else {
            throw HostError.invalidRequest("checkpoint \(name) holds full weights; this service trains LoRA adapters")
        }
        guard let baseModelDir, (try? ModelFolder.adapterBasePath(dir)) == baseModelDir else {
            throw HostError.invalidRequest("checkpoint \(name) adapts another base model than this service's")
        }
        let (lora, _) = try AdapterFolder.loadConfig(dir)
        guard lora == adapters.config else {
            throw HostError.invalidRequest("checkpoint \(name) has other LoRA settings (rank, alpha or modules) than this service's")
        }
        let file = try SafetensorsFile(path: dir + "/" + AdapterFolder.weightsName)
        try file.readTensors(adapters.layout.tensors, into: nil)
        return Dictionary(uniqueKeysWithValues: adapters.layout.tensors.map { ($0.name, file) })
    }

    /// Deletes a checkpoint (renamed aside first, so a listing never sees half of it); returns the bytes freed.
    func deleteCheckpoint(name: String) throws -> Int {
        let dir = checkpointsDir + "/" + name
        guard FileManager.default.fileExists(atPath: dir + "/" + TrainerCheckpoint.stateName) else {
            throw HostError.notFound("no checkpoint named \(name)")
        }
        let size = AtomicFolder.size(dir)
        let aside = checkpointsDir + "/.deleting-\(name)-\(UUID().uuidString)"
        guard rename(dir, aside) == 0 else { throw HostError.unavailable("cannot delete checkpoint \(name): \(String(cString: strerror(errno)))") }
        try? FileManager.default.removeItem(atPath: aside)
        return size
    }

    /// Where exports go: beside the checkpoints, in a folder no checkpoint name can take.
    var exportsDir: String { checkpointsDir + "/" + Self.exportsFolder }
    static let exportsFolder = "exports"

    /// Writes the current model (adapters merged) as a model folder for other tools.
    func export(name: String, dtype: String?, overwrite: Bool) throws -> ExportInfo {
        let dir = exportsDir + "/" + name
        if !overwrite && FileManager.default.fileExists(atPath: dir) {
            throw HostError.alreadyExists("an export named \(name) exists; send overwrite: true to replace it")
        }
        let written: String
        do {
            written = try ModelExport.write(model, to: dir, dtype: dtype, companionFiles: companionFiles,
                                            metadata: ["model_version": String(modelVersion)])
        } catch { throw Self.clientError(error) }
        return ExportInfo(name: name, path: dir, dtype: written, modelVersion: modelVersion, sizeBytes: AtomicFolder.size(dir))
    }

    func listCheckpoints() -> [CheckpointInfo] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: checkpointsDir)) ?? []
        return names.filter { !$0.hasPrefix(".") }.sorted().compactMap { name in
            let dir = checkpointsDir + "/" + name
            guard let s = try? TrainerCheckpoint.summary(of: dir) else { return nil }
            let created = (try? FileManager.default.attributesOfItem(atPath: dir + "/" + TrainerCheckpoint.stateName))?[.modificationDate] as? Date
            return CheckpointInfo(name: name, modelVersion: s.metadata["model_version"].flatMap { Int($0) }, step: s.step, createdAt: created,
                                  sizeBytes: AtomicFolder.size(dir))
        }
    }
}
