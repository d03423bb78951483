import Foundation
import Logging
import RZModel
import RZSampling
import RZTokenizer
import RZTraining

/// Hosts one model for one role. All model compute runs on a dedicated worker thread, never on the
/// caller's threads (HTTP event loops, the cooperative pool): callers enqueue jobs and await them.
/// Generate requests are admitted into a `ContinuousBatcher` between decode steps, so concurrent
/// requests share forward passes. Jobs that change the weights (training, checkpoint load, reference
/// reset) wait until in-flight generations finish, and generations queued behind them wait in turn, so
/// no request ever mixes model versions.
public final class ModelHost: Sendable {
    public let role: Role
    public let limits: HostLimits
    /// The model's tokenizer (nil: the folder has no tokenizer.json; prompts must be token ids).
    public let tokenizer: Tokenizer?
    /// The folder the model was loaded from.
    public let modelDir: String
    /// Where named checkpoints are saved.
    public let checkpointsDirectory: String
    private let queue: JobQueue
    private let snapshot: Snapshot
    private let budget: TokenBudget

    /// Loads `modelDir` (HF folder, with `tokenizer.json` if text prompts are wanted; or a PEFT adapter folder
    /// over a local base) and starts the worker. With `lora`, fresh adapters (PEFT's init, `loraSeed`) go on the
    /// model and training trains only them.
    public init(modelDir: String, role: Role, checkpointsDir: String, limits: HostLimits = HostLimits(),
                settings: TrainerSettings = TrainerSettings(), lora: LoRAConfig? = nil, loraSeed: UInt64 = 0,
                samplingPrecision: SamplingPrecision? = nil, logger: Logger) throws {
        let model = try ModelFolder.load(modelDir)
        let isAdapterFolder = model.adapters != nil
        let baseDir = isAdapterFolder ? try ModelFolder.adapterBasePath(modelDir) : ModelFolder.absolutePath(modelDir)
        if let lora {
            guard !isAdapterFolder else {
                throw HostError.invalidRequest("\(modelDir) is an adapter folder already: leave out the LoRA settings to train it further")
            }
            let adapters = try LoRAAdapters(config: lora, model: model.config)
            adapters.initialize(seed: loraSeed)
            try model.attachAdapters(adapters)
        }
        // The tokenizer and companions: the folder's own, else (an adapter folder) its base's.
        let companions = ModelFolder.companionFiles(of: modelDir, fallback: baseDir)
        let tokenizer: Tokenizer? = try companions.first { $0.hasSuffix("/tokenizer.json") }.map { try Tokenizer(contentsOfFile: $0) }
        if let tokenizer, tokenizer.vocabularySize > model.config.vocabSize {
            throw HostError.invalidRequest("tokenizer.json has \(tokenizer.vocabularySize) tokens, the model only \(model.config.vocabSize)")
        }
        try FileManager.default.createDirectory(atPath: checkpointsDir, withIntermediateDirectories: true)
        self.role = role
        self.limits = limits
        self.tokenizer = tokenizer
        self.modelDir = ModelFolder.absolutePath(modelDir)
        self.checkpointsDirectory = checkpointsDir
        let engine = Engine(trainer: PolicyTrainer(model: model, settings: settings), tokenizer: tokenizer,
                            checkpointsDir: checkpointsDir, companionFiles: companions,
                            memoryLimitBytes: limits.memoryLimitBytes, baseModelDir: baseDir,
                            samplingPrecision: samplingPrecision ?? .preferred(parameterCount: model.parameterCount), logger: logger)
        let snapshot = Snapshot(engine.info(role: role))
        let queue = JobQueue()
        self.queue = queue
        self.snapshot = snapshot
        self.budget = TokenBudget(limit: limits.maxTokensInFlight)
        // The engine (model, trainer, batcher: non-Sendable) is handed to the worker thread here and
        // touched by no other thread afterwards.
        nonisolated(unsafe) let owned = engine
        let thread = Thread {
            WorkerLoop(engine: owned, queue: queue, snapshot: snapshot, role: role).run()
        }
        thread.name = "rzero-model-\(role.rawValue)"
        thread.stackSize = 8 << 20
        thread.start()
    }

    /// Current model information (answered without waiting for the worker).
    public var info: ModelInfo { snapshot.value }

    /// True until `shutdown()` is called.
    public var isAccepting: Bool { !queue.isShuttingDown }

    // MARK: Operations

    /// Samples a request on the shared batcher. `onToken` is told each token as it is drawn (on the worker thread). A
    /// caller that is cancelled while waiting takes its request out of the batch (its slots stop computing) and gets
    /// `CancellationError`.
    public func generate(_ request: GenerateRequest, onToken: (@Sendable (TokenEvent) -> Void)? = nil) async throws -> GenerateResult {
        let reserved = try admit(request)
        return try await run(request, reserved: reserved, onToken: onToken)
    }

    /// The same as `generate`, as a stream of tokens and then the result. The request is checked and admitted to the
    /// token budget before this returns (so refusals are thrown here, not from the stream); ending the stream's
    /// iteration early cancels the request.
    public func generateStream(_ request: GenerateRequest) throws -> GenerationStream {
        let reserved = try admit(request)
        let (stream, continuation) = AsyncThrowingStream.makeStream(of: GenerationUpdate.self)
        let task = Task {
            do {
                let result = try await self.run(request, reserved: reserved, onToken: { continuation.yield(.token($0)) })
                continuation.yield(.finished(result))
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
        }
        continuation.onTermination = { _ in task.cancel() }
        return GenerationStream(updates: stream, task: task)
    }

    /// The tokens the request may generate, checked against the per-request limit and reserved in the service's budget.
    private func admit(_ request: GenerateRequest) throws -> Int {
        try validate(request)
        let tokens = request.prompts.count * request.parameters.n * request.parameters.maxTokens
        guard tokens <= limits.maxRequestTokens else {
            throw HostError.invalidRequest("this request asks for \(tokens) tokens (prompts × n × max_tokens), more than the "
                                           + "\(limits.maxRequestTokens) one request may: split it, or lower n or max_tokens")
        }
        try budget.reserve(tokens)
        return tokens
    }

    private func run(_ request: GenerateRequest, reserved: Int, onToken: (@Sendable (TokenEvent) -> Void)?) async throws -> GenerateResult {
        let cancellation = CancellationFlag()
        var generated = 0
        defer { budget.release(reserved, generated: generated) }
        let result = try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<GenerateResult, any Error>) in
                let ticket = GenerationTicket(continuation: continuation, onToken: onToken, cancellation: cancellation)
                queue.enqueue(.generate(request, ticket), continuation: continuation)
            }
        } onCancel: {
            cancellation.set()
        }
        generated = result.completionTokens
        return result
    }

    /// Tokens reserved by accepted, unfinished generation requests.
    public var generationTokensInFlight: Int { budget.reserved }

    public func logprobs(_ items: [LogprobsItem], model: ScoringModel = .policy) async throws -> LogprobsResult {
        guard !items.isEmpty, items.count <= limits.maxPrompts else {
            throw HostError.invalidRequest("items must hold 1…\(limits.maxPrompts) entries")
        }
        let limits = self.limits
        return try await run(mutating: false) { engine in try engine.logprobs(items, model: model, limits: limits) }
    }

    /// One GRPO step. A step whose `idempotencyKey` was among the last applied steps is not applied
    /// again: its earlier result is returned.
    public func trainGRPO(_ samples: [GRPOSample], settings: TrainerSettings? = nil,
                          idempotencyKey: String? = nil) async throws -> TrainResult {
        try await train(lengths: samples.map { $0.prompt.count + $0.response.count }, settings: settings,
                        idempotencyKey: idempotencyKey, referenceScored: samples.contains { $0.refLogProbs == nil }) {
            try $0.grpoStep(samples)
        }
    }

    public func trainSFT(_ samples: [SFTSample], settings: TrainerSettings? = nil,
                         idempotencyKey: String? = nil) async throws -> TrainResult {
        try await train(lengths: samples.map { $0.prompt.count + $0.target.count }, settings: settings,
                        idempotencyKey: idempotencyKey) { try $0.sftStep(samples) }
    }

    /// One training step on the worker after the batch-size and sequence-length limits are checked.
    private func train(
        lengths: [Int], settings: TrainerSettings?, idempotencyKey: String?, referenceScored: Bool = false,
        _ step: @escaping @Sendable (PolicyTrainer) throws -> StepMetrics
    ) async throws -> TrainResult {
        guard !lengths.isEmpty, lengths.count <= limits.maxTrainSamples else {
            throw HostError.invalidRequest("samples must hold 1…\(limits.maxTrainSamples) entries")
        }
        let limits = self.limits
        return try await run(mutating: true) { engine in
            try engine.train(settings: settings, idempotencyKey: idempotencyKey) { t in
                try engine.checkLengths(lengths, limits: limits)
                // `referenceScored`: some samples need the reference's log-probs, which a KL term then computes.
                try engine.planStep(lengths: lengths, klTerm: referenceScored && t.settings.loss.klPenalty != nil)
                return try step(t)
            }
        }
    }

    public func saveCheckpoint(name: String, overwrite: Bool = false) async throws -> CheckpointInfo {
        try Self.validateCheckpointName(name)
        return try await run(mutating: false) { engine in try engine.save(name: name, overwrite: overwrite) }
    }

    public func loadCheckpoint(name: String) async throws -> CheckpointInfo {
        try Self.validateCheckpointName(name)
        return try await run(mutating: true) { engine in try engine.load(name: name) }
    }

    /// Sets the weights to a weighted average of checkpoints (weights ≥ 0 summing to 1), after in-flight generations.
    public func averageCheckpoints(_ names: [String], weights: [Double]) async throws -> CheckpointInfo {
        guard !names.isEmpty, names.count == weights.count else { throw HostError.invalidRequest("one weight per checkpoint, at least one") }
        for name in names { try Self.validateCheckpointName(name) }
        guard weights.allSatisfy({ $0.isFinite && $0 >= 0 }), abs(weights.reduce(0, +) - 1) <= 1e-6 else {
            throw HostError.invalidRequest("weights must be ≥ 0 and sum to 1")
        }
        return try await run(mutating: true) { engine in try engine.average(checkpoints: names, weights: weights) }
    }

    /// Deletes a checkpoint; returns the bytes freed.
    public func deleteCheckpoint(name: String) async throws -> Int {
        try Self.validateCheckpointName(name)
        return try await run(mutating: false) { engine in try engine.deleteCheckpoint(name: name) }
    }

    /// Writes the current model as a folder other tools load (`<checkpoints>/exports/<name>`).
    public func exportModel(name: String, dtype: String? = nil, overwrite: Bool = false) async throws -> ExportInfo {
        try Self.validateCheckpointName(name)
        if let dtype, ModelExport.dtypes[dtype] == nil {
            throw HostError.invalidRequest("dtype must be one of \(ModelExport.dtypes.keys.sorted().joined(separator: ", "))")
        }
        return try await run(mutating: false) { engine in try engine.export(name: name, dtype: dtype, overwrite: overwrite) }
    }

    /// The current weights as safetensors bytes with their SHA-256, if `version` is the current version.
    public func weights(version: Int) async throws -> WeightsSnapshot {
        try await run(mutating: false) { engine in try engine.weights(version: version) }
    }

    /// Adopts another service's weights (a safetensors file for this architecture, checksum verified)
    /// and their version, after in-flight generations finish. Returns false when they were already in place.
    public func adoptWeights(_ weights: WeightsSnapshot) async throws -> Bool {
        try await run(mutating: true) { engine in try engine.adoptWeights(weights) }
    }

    public func listCheckpoints() async throws -> [CheckpointInfo] {
        try await run(mutating: false) { engine in engine.listCheckpoints() }
    }

    /// Freezes the current weights as the KL reference; returns the reference's model version.
    public func resetReference() async throws -> Int {
        try await run(mutating: true) { engine in try engine.resetReference() }
    }

    /// Stops accepting work, lets queued and in-flight jobs finish, and stops the worker.
    public func shutdown() async {
        queue.beginShutdown()
        while !queue.isStopped { try? await Task.sleep(nanoseconds: 5_000_000) }
    }

    // MARK: Helpers

    private func run<T: Sendable>(mutating: Bool, _ body: @escaping @Sendable (Engine) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let snapshot = self.snapshot, role = self.role
            let job = Job.exclusive(mutating: mutating) { engine in
                let result = Result { try body(engine) }
                // Before the caller resumes: whoever reads `info` after this call sees its effect.
                snapshot.set(engine.info(role: role))
                continuation.resume(with: result)
            }
            queue.enqueue(job, continuation: continuation)
        }
    }

    private func validate(_ r: GenerateRequest) throws {
        guard !r.prompts.isEmpty, r.prompts.count <= limits.maxPrompts else {
            throw HostError.invalidRequest("prompts must hold 1…\(limits.maxPrompts) entries")
        }
        guard (1...limits.maxSamplesPerPrompt).contains(r.parameters.n) else {
            throw HostError.invalidRequest("n must be in 1…\(limits.maxSamplesPerPrompt)")
        }
        guard (1...limits.maxNewTokens).contains(r.parameters.maxTokens) else {
            throw HostError.invalidRequest("max_tokens must be in 1…\(limits.maxNewTokens)")
        }
        do { try r.parameters.validate() } catch let e as SamplingError { throw HostError.invalidRequest(e.description) }
    }

    /// Names become folder names: letters, digits, '.', '_', '-', not starting with '.', at most 128.
    public static func validateCheckpointName(_ name: String) throws {
        let ok = !name.isEmpty && name.count <= 128 && name.first != "." && name.first != "-"
            && name.unicodeScalars.allSatisfy { CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-").contains($0) }
        guard ok else {
            throw HostError.invalidRequest("checkpoint name must match ^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$ (got \"\(name.prefix(64))\")")
        }
        guard name != Engine.exportsFolder else { throw HostError.invalidRequest("\(name) is reserved for the exports folder") }
    }
}

// MARK: - Worker

enum Job: Sendable {
    case generate(GenerateRequest, GenerationTicket)
    /// Runs on the worker with exclusive access; `mutating` jobs wait for in-flight generations to finish.
    case exclusive(mutating: Bool, @Sendable (Engine) -> Void)

    var mutatesWeights: Bool {
        if case .exclusive(let m, _) = self { return m }
        return false
    }
}

/// The worker's inbox. All state is guarded by `condition`, which is why it can be shared.
final class JobQueue: @unchecked Sendable {
    private let condition = NSCondition()
    private var jobs: [Job] = []
    private var shuttingDown = false
    private var stopped = false

    var isShuttingDown: Bool { condition.lock(); defer { condition.unlock() }; return shuttingDown }
    var isStopped: Bool { condition.lock(); defer { condition.unlock() }; return stopped }

    func enqueue<T>(_ job: Job, continuation: CheckedContinuation<T, any Error>) {
        condition.lock()
        if shuttingDown {
            condition.unlock()
            continuation.resume(throwing: HostError.unavailable("the server is shutting down"))
            return
        }
        jobs.append(job)
        condition.signal()
        condition.unlock()
    }

    func beginShutdown() {
        condition.lock()
        shuttingDown = true
        condition.signal()
        condition.unlock()
    }

    /// Takes the jobs that may start now: everything up to (not past) the first weight-changing job,
    /// and that job itself only when nothing is in flight. Blocks while there is nothing to do.
    func take(busy: Bool) -> (jobs: [Job], finish: Bool) {
        condition.lock()
        defer { condition.unlock() }
        while jobs.isEmpty && !busy && !shuttingDown { condition.wait() }
        var taken: [Job] = []
        while let first = jobs.first {
            if first.mutatesWeights {
                if busy || !taken.isEmpty { break }
                taken.append(jobs.removeFirst())
                break
            }
            taken.append(jobs.removeFirst())
        }
        return (taken, shuttingDown && jobs.isEmpty && taken.isEmpty && !busy)
    }

    func markStopped() {
        condition.lock()
        stopped = true
        condition.unlock()
    }
}

/// Model information readable from any thread without asking the worker.
final class Snapshot: @unchecked Sendable {
    // Guarded by `lock`.
    private let lock = NSLock()
    private var current: ModelInfo
    init(_ info: ModelInfo) { current = info }
    var value: ModelInfo { lock.lock(); defer { lock.unlock() }; return current }
    func set(_ info: ModelInfo) { lock.lock(); current = info; lock.unlock() }
}

struct WorkerLoop {
    let engine: Engine
    let queue: JobQueue
    let snapshot: Snapshot
    let role: Role

    func run() {
        var waiting: [Int: (request: GenerateRequest, ids: [[Int32]], ticket: GenerationTicket, version: Int)] = [:]
        // Requests whose KV cache does not fit beside those in flight, in arrival order; admitted as caches are freed.
        var deferred: [(Engine.PreparedRequest, GenerationTicket)] = []
        func admit(_ prepared: Engine.PreparedRequest, _ ticket: GenerationTicket) {
            do {
                let (id, ids) = try engine.submit(prepared, onToken: ticket.onToken)
                waiting[id] = (prepared.request, ids, ticket, engine.modelVersion)
            } catch {
                ticket.continuation.resume(throwing: Engine.clientError(error))
            }
        }
        /// Requests whose callers gave up leave the batch (and the queue of deferred ones) at once.
        func dropCancelled() {
            for (id, entry) in waiting where entry.ticket.isCancelled {
                engine.batcher.cancel(id: id)
                waiting[id] = nil
                entry.ticket.continuation.resume(throwing: CancellationError())
            }
            deferred.removeAll { _, ticket in
                guard ticket.isCancelled else { return false }
                ticket.continuation.resume(throwing: CancellationError())
                return true
            }
        }
        /// Whether `bytes` more of KV cache fit now (always, when nothing is in flight: a request larger than the
        /// budget was refused when it was prepared).
        func fits(_ bytes: Int) -> Bool {
            guard let budget = engine.kvCacheBudgetBytes, engine.batcher.hasWork else { return true }
            return engine.kvCacheBytesInFlight + bytes <= budget
        }
        while true {
            dropCancelled()
            while let (prepared, ticket) = deferred.first, fits(prepared.cacheBytes) {
                deferred.removeFirst()
                admit(prepared, ticket)
            }
            let (jobs, finish) = queue.take(busy: engine.batcher.hasWork || !deferred.isEmpty)
            if finish {
                for (_, ticket) in deferred { ticket.continuation.resume(throwing: HostError.unavailable("the service is shutting down")) }
                break
            }
            for job in jobs {
                switch job {
                case .generate(let request, let ticket):
                    if ticket.isCancelled {
                        ticket.continuation.resume(throwing: CancellationError())
                        continue
                    }
                    do {
                        let prepared = try engine.prepare(request)
                        if deferred.isEmpty && fits(prepared.cacheBytes) {
                            admit(prepared, ticket)
                        } else {
                            deferred.append((prepared, ticket))
                        }
                    } catch {
                        ticket.continuation.resume(throwing: Engine.clientError(error))
                    }
                case .exclusive(_, let body):
                    body(engine)  // updates the snapshot itself, before resuming its caller
                }
            }
            if engine.batcher.hasWork {
                do {
                    for done in try engine.batcher.step() {
                        guard let entry = waiting.removeValue(forKey: done.id) else { continue }
                        entry.ticket.continuation.resume(returning: engine.result(entry.request, promptIds: entry.ids,
                                                                                  generations: done.generations, version: entry.version))
                    }
                } catch {
                    // Inputs were validated on admission, so this is a bug: fail everything in flight.
                    engine.logger.error("generation step failed", metadata: ["error": "\(error)"])
                    for (id, entry) in waiting {
                        engine.batcher.cancel(id: id)
                        entry.ticket.continuation.resume(throwing: error)
                    }
                    waiting.removeAll()
                }
            }
        }
        queue.markStopped()
    }
}
