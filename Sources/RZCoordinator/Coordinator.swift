import Foundation
import Logging
import RZAPI
import RZModel
import RZRewards

/// The services of a run: one or more Challengers and one or more Solvers. The first of each role
/// trains; the others are replicas that pull its weights by version and share its sampling.
public struct ServiceSet: Sendable {
    public var challenger: RoleService
    public var challengerReplicas: [RoleService]
    public var solvers: [RoleService]

    public init(challenger: RoleService, challengerReplicas: [RoleService] = [], solvers: [RoleService]) {
        self.challenger = challenger
        self.challengerReplicas = challengerReplicas
        self.solvers = solvers
    }

    /// The role's services, trainer first.
    public func all(_ role: WorkUnit.Role) -> [RoleService] {
        role == .challenger ? [challenger] + challengerReplicas : solvers
    }
}

/// Runs (or resumes) an R-Zero run: the plan's units in order, committing the run directory after each.
public final class Coordinator {
    public let config: RunConfig
    public let directory: RunDirectory
    public let services: ServiceSet
    public let status: StatusBoard
    let logger: Logger
    let evaluator: HeldOutEvaluator
    let plan: [WorkUnit]
    var state: RunState
    let grader = MathGrader()
    /// What each service was (process and model version) when the current unit checked it; every
    /// response is held to it, so a service that restarts under a unit is caught, not trusted.
    var observed: [String: ServiceState] = [:]
    /// What interrupted the current unit (recorded with its event).
    var unitNotes: [String] = []
    /// Times a unit is re-run after a service changed under it before the run stops.
    static let unitAttempts = 5
    /// Which trainer weights (`instance@version`) each replica was last synced to, in this process.
    var syncedFrom: [String: String] = [:]
    /// Replicas that failed, and until when they are left out (then probed again).
    var replicaDownUntil: [String: Date] = [:]

    /// Probes left-out replicas at the next vote instead of waiting out their back-off.
    public func retryReplicasNow() { replicaDownUntil = [:] }

    /// Opens `directory`: creates a new run with `config`, or resumes the run there, which must have
    /// been created with the same configuration (`config` nil: use the recorded one).
    public init(config: RunConfig?, directory: RunDirectory, services: ServiceSet, status: StatusBoard = StatusBoard(),
                logger: Logger) throws {
        let resolved: RunConfig
        if directory.exists {
            let recorded = try directory.loadConfig()
            // Where the services run may change between attempts; what the run computes may not.
            if let config {
                var comparable = config
                comparable.services = recorded.services
                if comparable != recorded {
                    throw ConfigError("\(directory.path) holds a run with a different configuration; use a new run directory "
                                      + "(or resume without --config)")
                }
            }
            resolved = recorded
            state = try directory.loadState()
            try directory.openJournals(lengths: state.journalLengths)
        } else {
            guard let config else { throw ConfigError("\(directory.path) holds no run; give --config to start one") }
            resolved = config
            state = RunState(runId: String(UUID().uuidString.lowercased().prefix(8)))
            try directory.create(config: config, state: state)
        }
        self.config = resolved
        self.directory = directory
        self.services = services
        self.status = status
        self.logger = logger
        self.evaluator = try HeldOutEvaluator(settings: resolved.evaluation, prompts: resolved.prompts)
        self.plan = resolved.plan()
        let runId = state.runId
        let count = plan.count
        let iterations = resolved.iterations
        status.update {
            $0.runId = runId
            $0.unitCount = count
            $0.iterations = iterations
        }
    }

    public var isFinished: Bool { state.nextUnit >= plan.count }

    /// Runs every remaining unit (or at most `maxUnits`). Safe to call again after a failure or a
    /// kill: it continues from the last committed unit.
    public func run(maxUnits: Int? = nil) async throws {
        status.update { $0.state = "running" }
        publishDisk()
        logger.info("run", metadata: ["run": "\(state.runId)", "unit": "\(state.nextUnit)/\(plan.count)",
                                      "challenger": "\(services.challenger.url)", "solvers": "\(services.solvers.map(\.url))"])
        var unitSeconds: [String: [Double]] = [:]
        var done = 0
        // A run resumed by a new coordinator process says so on its first unit (the report's timeline shows it).
        unitNotes = state.nextUnit > 0 ? ["run resumed at unit \(state.nextUnit)"] : []
        while state.nextUnit < plan.count {
            if let maxUnits, done >= maxUnits { status.update { $0.state = "paused" }; return }
            done += 1
            let unit = plan[state.nextUnit]
            let started = Date()
            updateProgress(unit, unitSeconds: unitSeconds)
            var attempt = 1
            while true {
                do {
                    observed = [:]
                    try await perform(unit)
                    break
                } catch let changed as ServiceChanged where attempt < Self.unitAttempts {
                    // Back to the last commit (state and journals), then the unit again: it restores the service.
                    logger.warning("service changed during the unit; re-running it",
                                   metadata: ["unit": "\(unit)", "attempt": "\(attempt)", "detail": "\(changed)"])
                    unitNotes.append("re-run (attempt \(attempt + 1)): \(changed)")
                    attempt += 1
                    state = try directory.loadState()
                    try directory.openJournals(lengths: state.journalLengths)
                } catch {
                    status.update { $0.state = "failed"; $0.error = "\(unit): \(error)" }
                    throw error
                }
            }
            let seconds = Date().timeIntervalSince(started)
            unitSeconds[kind(unit), default: []].append(seconds)
            try directory.append(EventRecord(unit: state.nextUnit, name: unit.description, seconds: seconds, finishedAt: Date(),
                                             notes: unitNotes.isEmpty ? nil : unitNotes),
                                 to: "events")
            unitNotes = []
            state.nextUnit += 1
            if state.nextUnit == plan.count { state.finishedAt = Date() }
            try directory.commit(state)
            try await pruneCheckpoints()
            logger.info("unit done", metadata: ["unit": "\(unit)", "index": "\(state.nextUnit)/\(plan.count)",
                                                "seconds": "\(String(format: "%.1f", seconds))"])
        }
        status.update { $0.state = "finished"; $0.unitIndex = self.plan.count; $0.phaseEtaSeconds = 0; $0.runEtaSeconds = 0 }
    }

    private func kind(_ unit: WorkUnit) -> String {
        switch unit {
        case .train(let r, _, _): return "train-\(r.rawValue)"
        default: return String(unit.description.prefix { $0 != "[" })
        }
    }

    private func updateProgress(_ unit: WorkUnit, unitSeconds: [String: [Double]]) {
        let index = state.nextUnit
        let phase = unit.phase
        let iteration = unit.iteration
        var lo = index
        while lo > 0 && plan[lo - 1].phase == phase && plan[lo - 1].iteration == iteration { lo -= 1 }
        var hi = index
        while hi + 1 < plan.count && plan[hi + 1].phase == phase && plan[hi + 1].iteration == iteration { hi += 1 }
        func estimate(_ range: ClosedRange<Int>) -> Double? {
            var total = 0.0
            for i in range {
                guard let seen = unitSeconds[kind(plan[i])], !seen.isEmpty else { return nil }
                total += seen.reduce(0, +) / Double(seen.count)
            }
            return total
        }
        let phaseEta = index <= hi ? estimate(index...hi) : 0
        let runEta = estimate(index...(plan.count - 1))
        let metrics = state.lastMetrics
        status.update {
            $0.iteration = iteration
            $0.phase = phase
            $0.unit = unit.description
            $0.unitIndex = index
            $0.phaseDone = index - lo
            $0.phaseTotal = hi - lo + 1
            $0.phaseEtaSeconds = phaseEta
            $0.runEtaSeconds = runEta
            $0.lastMetrics = metrics
        }
    }

    // MARK: Units

    func perform(_ unit: WorkUnit) async throws {
        switch unit {
        case .start:
            try await startRun()
        case .evaluate(let iteration):
            let solver = try await trainerReady(.solver)
            try await evaluator.run(iteration: iteration, solver: solver, expect: observed[solver.name], solverStep: steps(.solver),
                                    seed: UnitSeed.derive(config.seed, 1, UInt64(iteration)), directory: directory, status: status)
        case .beginPhase(let role, let iteration):
            let service = try await trainerReady(role)
            // With a base reference the Solver's reference is frozen once, at the start of iteration 1.
            if role == .challenger || config.solver.reference == "phase_start" || iteration == 1 {
                try await service.resetReference()
            }
            try await checkpoint(role, name: "\(state.runId)-\(role.rawValue)-it\(iteration)", iteration: iteration)
        case .endPhase(let role, let iteration):
            _ = try await trainerReady(role)
            if role == .solver && config.stabilisers.rollbackWithoutProgress { try await checkProgress(iteration: iteration) }
            try await checkpoint(role, name: "\(state.runId)-\(role.rawValue)-it\(iteration)-end", iteration: iteration)
        case .challengerSample(let iteration, let step):
            try await challengerSample(iteration: iteration, step: step)
        case .train(let role, let iteration, let step):
            try await train(role, iteration: iteration, step: step)
        case .poolChunk(let iteration, let chunk):
            try await poolChunk(iteration: iteration, chunk: chunk)
        case .buildDataset(let iteration):
            try buildDataset(iteration: iteration)
        case .solverSample(let iteration, let step):
            try await solverSample(iteration: iteration, step: step)
        case .finish:
            try await exportFinal()
        }
    }

    /// Writes each role's trained model as a complete model folder on its service's host.
    private func exportFinal() async throws {
        var exports: [ExportRecord] = []
        for role in [WorkUnit.Role.challenger, .solver] {
            let service = try await trainerReady(role)
            let name = "\(state.runId)-\(role.rawValue)-final"
            let dtype = config.checkpoints.exportDtype == "source" ? nil : config.checkpoints.exportDtype
            let r = try await service.exportModel(name, dtype: dtype)
            exports.append(ExportRecord(role: role.rawValue, name: name, path: r.path, dtype: r.dtype, sizeBytes: r.bytes, step: steps(role)))
            logger.info("exported", metadata: ["role": "\(role.rawValue)", "path": "\(r.path)", "dtype": "\(r.dtype)", "bytes": "\(r.bytes)"])
        }
        state.exports = exports
        publishDisk()
    }

    /// Deletes each role's checkpoints beyond the newest `checkpoints.keep_last`, after the state that no longer
    /// needs them is committed; a checkpoint that cannot be deleted now is left for the next time.
    func pruneCheckpoints() async throws {
        let keep = config.checkpoints.keepLast
        guard keep > 0 else { return }
        var changed = false
        for role in [WorkUnit.Role.challenger, .solver] {
            let mine = state.checkpoints.filter { $0.role == role.rawValue }
            for old in mine.dropLast(keep) {
                do {
                    let freed = try await trainer(role).deleteCheckpoint(old.name)
                    state.checkpoints.removeAll { $0.name == old.name }
                    state.deletedCheckpointBytes = (state.deletedCheckpointBytes ?? 0) + freed
                    changed = true
                } catch {
                    logger.warning("cannot delete an old checkpoint now", metadata: ["checkpoint": "\(old.name)", "error": "\(error)"])
                }
            }
        }
        if changed {
            try directory.commit(state)
            publishDisk()
        }
    }

    /// Disk use for /status: the kept checkpoints per role and the exports.
    func publishDisk() {
        var bytes: [String: Int] = [:]
        for c in state.checkpoints { bytes[c.role, default: 0] += c.sizeBytes ?? 0 }
        let exports = state.exports ?? []
        status.update {
            $0.checkpointBytes = bytes
            $0.exports = exports
        }
    }

    func steps(_ role: WorkUnit.Role) -> Int { state.steps[role.rawValue] ?? 0 }

    /// The rollback stabiliser: a Solver phase whose reward did not rise is discarded by loading the
    /// phase's starting checkpoint (weights, optimizer state and reference).
    private func checkProgress(iteration: Int) async throws {
        let rewards = try directory.readJournal(StepRecord.self, "train")
            .filter { $0.role == "solver" && $0.iteration == iteration && !$0.skipped }.map(\.meanReward)
        let w = min(config.stabilisers.progressWindow, rewards.count / 2)
        guard w >= 1 else { return }
        let early = rewards.prefix(w).reduce(0, +) / Double(w)
        let late = rewards.suffix(w).reduce(0, +) / Double(w)
        let rollBack = late <= early + config.stabilisers.progressMargin
        if rollBack {
            let name = "\(state.runId)-solver-it\(iteration)"
            guard let start = state.checkpoints.first(where: { $0.name == name }) else {
                throw ConfigError("no checkpoint \(name) to roll the Solver back to")
            }
            let solver = trainer(.solver)
            guard try await solver.loadCheckpoint(name) == start.step else {
                throw ServiceChanged(service: solver.name, detail: "loading \(name) did not give step \(start.step)")
            }
            state.steps["solver"] = start.step
            observed[solver.name] = try await solver.state()
            logger.warning("Solver phase made no progress; rolled back", metadata: [
                "iteration": "\(iteration)", "early_reward": "\(early)", "late_reward": "\(late)", "step": "\(start.step)"])
        }
        try directory.append(HealthRecord(iteration: iteration, earlyReward: early, lateReward: late, rolledBack: rollBack,
                                          solverStep: steps(.solver)), to: "health")
    }

    func trainer(_ role: WorkUnit.Role) -> RoleService {
        role == .challenger ? services.challenger : services.solvers[0]
    }

    /// Records where both services start and checkpoints them, so they can always be restored.
    private func startRun() async throws {
        for role in [WorkUnit.Role.challenger, .solver] {
            let service = trainer(role)
            let s = try await service.state()
            state.steps[role.rawValue] = s.step
            state.instances[service.name] = s.instanceId
            try await checkpoint(role, name: "\(state.runId)-\(role.rawValue)-base", iteration: 0)
        }
    }

    private func checkpoint(_ role: WorkUnit.Role, name: String, iteration: Int) async throws {
        let (step, size) = try await trainer(role).saveCheckpoint(name)
        guard step == steps(role) else {
            throw ServiceChanged(service: trainer(role).name, detail: "saved \(name) at step \(step), expected \(steps(role))")
        }
        state.checkpoints.removeAll { $0.name == name }
        state.checkpoints.append(CheckpointRecord(role: role.rawValue, name: name, step: step, iteration: iteration, sizeBytes: size))
        publishDisk()
    }

    // MARK: Service state

    /// The role's trainer, brought to the step the run expects (restoring it from the run's latest
    /// checkpoint and replaying the recorded training batches after a restart).
    /// `pendingStep`: the unit is that training step, so the service may already be one step ahead
    /// (the step was applied but the coordinator stopped before recording it).
    @discardableResult
    func trainerReady(_ role: WorkUnit.Role, pendingStep: Bool = false) async throws -> RoleService {
        let service = trainer(role)
        let expected = steps(role)
        let s = try await service.state()
        if s.instanceId == state.instances[service.name] && (s.step == expected || (pendingStep && s.step == expected + 1)) {
            observed[service.name] = s
            return service
        }
        logger.warning("service is not where the run left it; restoring",
                       metadata: ["service": "\(service.name)", "step": "\(s.step)", "expected": "\(expected)",
                                  "restarted": "\(s.instanceId != state.instances[service.name])"])
        let restored = try await restore(role, service: service, to: expected)
        unitNotes.append("\(service.name) restored to step \(expected)"
                         + (s.instanceId != state.instances[service.name] ? " after a restart" : " (it was at step \(s.step))"))
        state.instances[service.name] = restored.instanceId
        observed[service.name] = restored
        return service
    }

    /// Loads the role's latest checkpoint at or before `expected` and replays the recorded batches
    /// after it; returns the service's state afterwards.
    private func restore(_ role: WorkUnit.Role, service: RoleService, to expected: Int) async throws -> ServiceState {
        guard let base = state.checkpoints.last(where: { $0.role == role.rawValue && $0.step <= expected }) else {
            throw ConfigError("cannot restore \(service.name): the run has no checkpoint of the \(role.rawValue)")
        }
        guard let loaded = try await service.loadCheckpoint(base.name) else {
            throw ConfigError("cannot restore \(service.name): it has no checkpoint \(base.name) (is it using the run's checkpoint directory?)")
        }
        guard loaded == base.step else { throw ConfigError("checkpoint \(base.name) on \(service.name) is at step \(loaded), expected \(base.step)") }
        for k in base.step..<expected {
            let batch = try readBatch(role, k)
            guard let request = batch.request else { continue }
            _ = try await service.trainGRPO(request, key: key(role, k))
        }
        let now = try await service.state()
        guard now.step == expected else { throw ConfigError("restoring \(service.name) reached step \(now.step), expected \(expected)") }
        logger.info("restored", metadata: ["service": "\(service.name)", "checkpoint": "\(base.name)", "replayed": "\(expected - base.step)"])
        return now
    }

    /// Brings a replica to its trainer's current weights: it pulls them by version from the trainer
    /// (`POST /v1/weights/sync`), so replicas need no shared storage. Needs `trainerReady(role)` first.
    private func sync(_ replica: RoleService, role: WorkUnit.Role) async throws {
        let trainer = trainer(role)
        guard let t = observed[trainer.name] else { throw ConfigError("internal: replica sync before the trainer was checked") }
        let source = "\(t.instanceId)@\(t.modelVersion)"
        var s = try await replica.state()
        if syncedFrom[replica.name] != source || s.instanceId != state.instances[replica.name] || s.modelVersion != t.modelVersion {
            _ = try await replica.syncWeights(source: trainer.url, version: t.modelVersion)
            s = try await replica.state()
        }
        guard s.modelVersion == t.modelVersion else {
            throw ConfigError("\(replica.name) reports version \(s.modelVersion) after syncing to \(t.modelVersion)")
        }
        syncedFrom[replica.name] = source
        state.instances[replica.name] = s.instanceId
        observed[replica.name] = s
    }

    /// The role's services that hold its trainer's current weights (the trainer first). A replica that
    /// cannot be reached or synced is left out for `services.replica_retry_interval_seconds`, then tried again.
    func samplers(_ role: WorkUnit.Role) async throws -> [RoleService] {
        var ready = [try await trainerReady(role)]
        for replica in services.all(role).dropFirst() {
            if let until = replicaDownUntil[replica.name], until > Date() { continue }
            do {
                try await sync(replica, role: role)
                ready.append(replica)
                if replicaDownUntil.removeValue(forKey: replica.name) != nil {
                    logger.info("replica is back", metadata: ["service": "\(replica.name)"])
                }
            } catch {
                replicaDownUntil[replica.name] = Date().addingTimeInterval(config.services.replicaRetryIntervalSeconds)
                logger.warning("replica unavailable; sampling without it", metadata: ["service": "\(replica.name)", "error": "\(brief(error))"])
            }
        }
        return ready
    }

    typealias Sampled = [(promptTokenIds: [Int32], samples: [SampledResponse])]

    /// `n` samples for each prompt, in fixed requests of `perRequest` prompts (request c drawn with
    /// `seedOf(c)`) spread over `services` with failover. What a request returns depends only on its
    /// prompts and seed, so the result does not depend on how many services there are. A trainer that
    /// changed under the unit aborts it (`ServiceChanged`); a failing replica's request goes to another.
    func fanOut(_ prompts: [Components.Schemas.Prompt], n: Int, sampling: SamplingConfig, perRequest: Int,
                seedOf: @escaping @Sendable (Int) -> UInt64, services: [RoleService]) async throws -> Sampled {
        if prompts.isEmpty { return [] }
        let size = max(1, perRequest)
        let chunks = stride(from: 0, to: prompts.count, by: size).map { Array(prompts[$0..<min($0 + size, prompts.count)]) }
        let concurrency = config.services.concurrentRequests * services.count
        let logger = self.logger
        let expected = observed
        let trainerName = services[0].name
        var out = Sampled(repeating: ([], []), count: prompts.count)
        try await withThrowingTaskGroup(of: (Int, Sampled).self) { group in
            var next = 0
            func launch(_ c: Int) {
                let chunk = chunks[c]
                group.addTask {
                    var lastError: (any Error)?
                    // The assigned service first, then the others if it fails: they all hold the same weights.
                    for attempt in 0..<services.count {
                        let service = services[(c + attempt) % services.count]
                        do {
                            return (c, try await service.generate(prompts: chunk, n: n, sampling: sampling, seed: seedOf(c),
                                                                  expect: expected[service.name]))
                        } catch let changed as ServiceChanged where service.name == trainerName {
                            throw changed  // the trainer restarted: the unit starts over
                        } catch {
                            logger.warning("sampling request failed", metadata: ["service": "\(service.name)", "error": "\(brief(error))"])
                            lastError = error
                        }
                    }
                    throw lastError ?? ConfigError("no service answered")
                }
            }
            while next < min(concurrency, chunks.count) { launch(next); next += 1 }
            for try await (c, results) in group {
                for (j, r) in results.enumerated() { out[c * size + j] = r }
                if next < chunks.count { launch(next); next += 1 }
            }
        }
        return out
    }

    func key(_ role: WorkUnit.Role, _ serviceStep: Int) -> String { "\(state.runId)/\(role.rawValue)/\(serviceStep)" }

    // MARK: Training

    private func train(_ role: WorkUnit.Role, iteration: Int, step: Int) async throws {
        let serviceStep = steps(role)
        guard let request = try readBatch(role, serviceStep).request else {
            logger.info("nothing to train on; step skipped", metadata: ["role": "\(role.rawValue)", "iteration": "\(iteration)"])
            return
        }
        let service = try await trainerReady(role, pendingStep: true)
        let started = Date()
        let response = try await service.trainGRPO(request, key: key(role, serviceStep))
        let m = response.metrics
        guard response.instanceId == observed[service.name]?.instanceId, m.step == serviceStep + 1 || m.skipped else {
            throw ServiceChanged(service: service.name, detail: "step \(serviceStep + 1) came back as step \(m.step) from instance \(response.instanceId)")
        }
        let record = StepRecord(
            role: role.rawValue, iteration: iteration, step: step, serviceStep: m.step, modelVersion: Int(response.modelVersion),
            loss: m.loss, policyLoss: m.policyLoss, kl: m.kl, gradNorm: m.gradNorm, entropy: m.entropy,
            clipFractionHigher: m.clipFractionHigher, clipFractionLower: m.clipFractionLower, meanReward: m.meanReward,
            tokens: m.tokens, sequences: m.sequences, learningRate: m.learningRate, skipped: m.skipped,
            seconds: Date().timeIntervalSince(started))
        try directory.append(record, to: "train")
        state.lastMetrics[role.rawValue] = record
        state.steps[role.rawValue] = m.step
        logger.info("trained", metadata: ["role": "\(role.rawValue)", "iteration": "\(iteration)", "step": "\(step)",
                                          "reward": "\(String(format: "%.3f", m.meanReward))", "kl": "\(m.kl ?? 0)"])
    }

    func readBatch(_ role: WorkUnit.Role, _ serviceStep: Int) throws -> TrainingBatch {
        let path = directory.batchPath(role: role.rawValue, step: serviceStep)
        guard let data = FileManager.default.contents(atPath: path) else { throw ConfigError("missing training batch \(path)") }
        return try TrainingBatch.decoder.decode(TrainingBatchFile.self, from: data).batch
    }

    func settings(_ o: OptimizerConfig) -> Components.Schemas.TrainingSettings { Self.trainingSettings(o) }

    /// The service's training settings for a run's optimizer section. `kl_penalty: "none"` is sent as `disabled`, so the
    /// service switches the KL term (and its reference forward) off rather than applying its default estimator.
    static func trainingSettings(_ o: OptimizerConfig) -> Components.Schemas.TrainingSettings {
        let kl: Components.Schemas.KLPenalty = switch o.klPenalty {
        case "kl": .kl
        case "mse": .mse
        case "abs": .abs
        case "none": .disabled
        default: .lowVarKl
        }
        return .init(clipRatioLow: o.clipRatioLow, clipRatioHigh: o.clipRatioHigh, clipRatioDual: o.clipRatioDual,
                     klPenalty: kl, klCoef: kl == .disabled ? 0 : o.klCoef,
                     aggregation: o.aggregation == "token_mean" ? .tokenMean : .seqMeanTokenMean,
                     learningRate: o.learningRate, weightDecay: o.weightDecay, lrSchedule: .init(kind: .constant),
                     maxGradNorm: o.maxGradNorm, referenceDtype: o.referenceDtype == "bfloat16" ? .bfloat16 : nil)
    }

    func writeBatch(_ role: WorkUnit.Role, iteration: Int, step: Int, samples: [Components.Schemas.GRPOSample]?,
                    optimizer: OptimizerConfig) throws {
        let serviceStep = steps(role)
        let request = samples.map { Components.Schemas.GRPORequest(samples: $0, settings: settings(optimizer)) }
        let batch = TrainingBatch(role: role.rawValue, iteration: iteration, step: step, serviceStep: serviceStep, request: request)
        try AtomicFile.write(TrainingBatch.encoder.encode(TrainingBatchFile(batch: batch)),
                             to: directory.batchPath(role: role.rawValue, step: serviceStep))
    }

    // MARK: Voting

    struct VoteOutcome {
        var responses: [String]
        var vote: MajorityVote
    }

    /// m Solver answers for each question, fanned out over the voting Solvers in fixed chunks (so the
    /// answers do not depend on how many Solvers there are), and their majority votes.
    /// `by`: the role whose model answers (the Challenger's for the second opinion), always with the Solver's prompt.
    func vote(_ questions: [String], seed: UInt64, by role: WorkUnit.Role = .solver) async throws -> [VoteOutcome] {
        if questions.isEmpty { return [] }
        let voters = try await samplers(role)
        let results = try await fanOut(questions.map { config.prompts.solverPrompt(question: $0) }, n: config.votes.samples,
                                       sampling: config.votes.sampling, perRequest: config.votes.questionsPerRequest,
                                       seedOf: { UnitSeed.derive(seed, UInt64($0)) }, services: voters)
        let grader = self.grader
        return results.map { r in
            let texts = r.samples.map(\.text)
            return VoteOutcome(responses: texts, vote: MajorityVote.vote(responses: texts, grader: grader))
        }
    }

    // MARK: Challenger phase

    private func challengerSample(iteration: Int, step: Int) async throws {
        let cfg = config.challenger
        let challengers = try await samplers(.challenger)
        let seed = UnitSeed.derive(config.seed, 2, UInt64(iteration), UInt64(step))
        let generated = try await fanOut(
            Array(repeating: config.prompts.challengerPromptValue(), count: cfg.groupsPerStep), n: cfg.groupSize,
            sampling: cfg.sampling, perRequest: Self.splitSize(cfg.groupsPerStep, into: cfg.splitRequests),
            seedOf: { $0 == 0 ? seed : UnitSeed.derive(seed, 9, UInt64($0)) }, services: challengers)
        let rules = ChallengerFormatRules()
        var flat: [(group: Int, prompt: [Int32], sample: SampledResponse, parsed: Result<ChallengerOutput, ChallengerFormatFailure>)] = []
        for (g, r) in generated.enumerated() {
            for s in r.samples { flat.append((g, r.promptTokenIds, s, ChallengerOutput.parse(s.text, rules: rules))) }
        }
        let valid = flat.indices.filter { if case .success = flat[$0].parsed { return true } else { return false } }
        let questions = valid.map { i -> String in if case .success(let o) = flat[i].parsed { return o.question } else { return "" } }
        let outcomes = try await vote(questions, seed: UnitSeed.derive(seed, 3))
        var outcomeOf: [Int: VoteOutcome] = [:]
        for (k, i) in valid.enumerated() { outcomeOf[i] = outcomes[k] }
        let batch = flat.indices.map { ChallengerSample(parsed: flat[$0].parsed, majorityShare: outcomeOf[$0]?.vote.majorityShare ?? 0) }
        let breakdowns = ChallengerReward.rewards(for: batch, settings: rewardSettings())
        var clusterSize: [Int: Int] = [:]
        for b in breakdowns { clusterSize[b.clusterLabel, default: 0] += 1 }
        var samples: [Components.Schemas.GRPOSample] = []
        for (i, item) in flat.enumerated() {
            let b = breakdowns[i]
            var reward = b.reward
            var output: ChallengerOutput? = nil
            if case .success(let o) = item.parsed { output = o }
            let outcome = outcomeOf[i]
            var agrees: Bool? = nil
            if config.stabilisers.challengerAnswerAgreement, let output {
                agrees = equivalent(output.answer, outcome?.vote.majorityAnswer)
                if agrees == false { reward = min(reward, 0) }
            }
            try directory.append(ChallengerRecord(
                iteration: iteration, step: step, index: i, group: item.group, text: item.sample.text, question: output?.question,
                challengerAnswer: output?.answer, formatFailure: b.formatFailure?.rawValue, responses: outcome?.responses ?? [],
                answers: outcome?.vote.answers ?? [], clusterSizes: outcome?.vote.clusterSizes ?? [],
                majorityAnswer: outcome?.vote.majorityAnswer, majorityShare: outcome?.vote.majorityShare ?? 0,
                uncertainty: b.uncertainty, repetitionPenalty: b.repetitionPenalty, repetitionCluster: b.clusterLabel,
                repetitionClusterSize: clusterSize[b.clusterLabel] ?? 1, answerAgrees: agrees, reward: reward), to: "challenger")
            samples.append(.init(promptTokenIds: item.prompt, responseTokenIds: item.sample.tokenIds,
                                 oldLogprobs: cfg.optimizer.oldLogprobs == "sampler" ? item.sample.logprobs : nil,
                                 reward: reward, group: item.group))
        }
        try writeBatch(.challenger, iteration: iteration, step: step, samples: samples, optimizer: cfg.optimizer)
    }

    /// Prompts per request when `count` prompts are split into `parts` requests (1: one request).
    static func splitSize(_ count: Int, into parts: Int) -> Int { max(1, (count + max(1, parts) - 1) / max(1, parts)) }

    func rewardSettings() -> ChallengerRewardSettings {
        let r = config.challenger.reward
        var settings = ChallengerRewardSettings(
            uncertainty: r.uncertainty == "reference" ? .minimumOfShareAndComplement : .oneMinusTwiceDistanceFromHalf,
            repetitionWeight: r.repetitionWeight, distanceThreshold: r.distanceThreshold,
            clipping: r.clipAtZero ? .clipAtZero : .unclipped,
            formatFailure: r.formatFailure == "zero" ? .constant(0) : .minusOneMinusRepetition)
        settings.targetShare = r.targetShare
        return settings
    }

    // MARK: Pool and dataset

    private func poolChunk(iteration: Int, chunk: Int) async throws {
        let cfg = config.pool
        let start = chunk * cfg.questionsPerRequest
        let count = min(cfg.questionsPerRequest, cfg.questions - start)
        let seed = UnitSeed.derive(config.seed, 4, UInt64(iteration), UInt64(chunk))
        let challengers = try await samplers(.challenger)
        let generated = try await fanOut(
            Array(repeating: config.prompts.challengerPromptValue(), count: count), n: 1, sampling: config.challenger.sampling,
            perRequest: Self.splitSize(count, into: config.challenger.splitRequests),
            seedOf: { $0 == 0 ? seed : UnitSeed.derive(seed, 9, UInt64($0)) }, services: challengers)
        var seen = Set(try directory.readJournal(PoolRecord.self, "pool").filter { $0.iteration == iteration }.compactMap(\.question))
        var records: [PoolRecord] = []
        var toVote: [Int] = []
        for (j, r) in generated.enumerated() {
            let text = r.samples.first?.text ?? ""
            var record = PoolRecord(iteration: iteration, index: start + j, text: text, question: nil, challengerAnswer: nil,
                                    formatFailure: nil, duplicate: false, responses: [], answers: [], clusterSizes: [],
                                    majorityAnswer: nil, majorityShare: 0, kept: false)
            switch ChallengerOutput.parse(text) {
            case .success(let o):
                record.question = o.question
                record.challengerAnswer = o.answer
                if cfg.dropDuplicates && seen.contains(o.question) {
                    record.duplicate = true
                } else {
                    seen.insert(o.question)
                    toVote.append(j)
                }
            case .failure(let f):
                record.formatFailure = f.rawValue
            }
            records.append(record)
        }
        let questions = toVote.map { records[$0].question ?? "" }
        let outcomes = try await vote(questions, seed: UnitSeed.derive(seed, 5))
        let secondOpinions = config.stabilisers.secondOpinion
            ? try await vote(questions, seed: UnitSeed.derive(seed, 11), by: .challenger) : []
        let band = informativeBand()
        for (k, j) in toVote.enumerated() {
            let o = outcomes[k]
            records[j].responses = o.responses
            records[j].answers = o.vote.answers
            records[j].clusterSizes = o.vote.clusterSizes
            records[j].majorityAnswer = o.vote.majorityAnswer
            records[j].majorityShare = o.vote.majorityShare
            var kept = o.vote.majorityAnswer != nil && (band?.contains(o.vote.majorityShare) ?? true)
            if kept && config.stabilisers.challengerAnswerAgreement {
                kept = equivalent(records[j].challengerAnswer, o.vote.majorityAnswer)
            }
            if config.stabilisers.secondOpinion {
                let second = secondOpinions[k].vote
                records[j].secondOpinion = second.majorityAnswer
                records[j].secondOpinionShare = second.majorityShare
                if kept { kept = equivalent(second.majorityAnswer, o.vote.majorityAnswer) }
            }
            records[j].kept = kept
        }
        for r in records { try directory.append(r, to: "pool") }
    }

    /// Whether two answers are equivalent; false when either is missing.
    func equivalent(_ a: String?, _ b: String?) -> Bool {
        guard let a, let b else { return false }
        return grader.equivalent(a, b)
    }

    func informativeBand() -> InformativeBand? { config.informativeBand }

    private func buildDataset(iteration: Int) throws {
        let kept = try directory.readJournal(PoolRecord.self, "pool").filter { $0.iteration == iteration && $0.kept }
        let items = kept.compactMap { r -> DatasetItem? in
            guard let q = r.question, let label = r.majorityAnswer else { return nil }
            return DatasetItem(question: q, pseudoLabel: label, majorityShare: r.majorityShare)
        }
        try directory.writeLines(items, to: directory.datasetPath(iteration: iteration))
        logger.info("dataset", metadata: ["iteration": "\(iteration)", "kept": "\(items.count)", "pool": "\(config.pool.questions)"])
    }

    // MARK: Solver phase

    private func solverSample(iteration: Int, step: Int) async throws {
        let cfg = config.solver
        let items = try directory.readLines(DatasetItem.self, from: directory.datasetPath(iteration: iteration))
        guard !items.isEmpty else {
            try writeBatch(.solver, iteration: iteration, step: step, samples: nil, optimizer: cfg.optimizer)
            return
        }
        // A fixed shuffled order per iteration; steps take consecutive slices, wrapping around.
        var order = Array(items.indices)
        var rng = UnitSeed.derive(config.seed, 6, UInt64(iteration))
        for i in stride(from: order.count - 1, to: 0, by: -1) {
            rng = UnitSeed.mix(rng)
            order.swapAt(i, Int(rng % UInt64(i + 1)))
        }
        let picked = (0..<cfg.questionsPerStep).map { items[order[(step * cfg.questionsPerStep + $0) % order.count]] }
        let solver = try await trainerReady(.solver)
        let generated = try await solver.generate(
            prompts: picked.map { config.prompts.solverPrompt(question: $0.question) }, n: cfg.groupSize,
            sampling: cfg.sampling, seed: UnitSeed.derive(config.seed, 8, UInt64(iteration), UInt64(step)), expect: observed[solver.name])
        var samples: [Components.Schemas.GRPOSample] = []
        for (g, r) in generated.enumerated() {
            for s in r.samples {
                let answer = BoxedAnswer.last(in: s.text)
                let reward = SolverReward.reward(response: s.text, pseudoLabel: picked[g].pseudoLabel, grader: grader)
                try directory.append(SolverRecord(iteration: iteration, step: step, group: g, question: picked[g].question,
                                                  pseudoLabel: picked[g].pseudoLabel, response: s.text, answer: answer, reward: reward),
                                     to: "solver")
                samples.append(.init(promptTokenIds: r.promptTokenIds, responseTokenIds: s.tokenIds,
                                     oldLogprobs: cfg.optimizer.oldLogprobs == "sampler" ? s.logprobs : nil, reward: reward, group: g))
            }
        }
        try writeBatch(.solver, iteration: iteration, step: step, samples: samples, optimizer: cfg.optimizer)
    }
}

/// The on-disk wrapper of a training batch.
struct TrainingBatchFile: Codable {
    var batch: TrainingBatch
}
