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
            if role == .challenger || config.solver.reference == .phaseStart || iteration == 1 {
                try await service.resetReference()
            }
            try await checkpoint(role, name: "\(state.runId)-\(role.rawValue)-it\(iteration)", iteration: iteration)
            if role == .solver && config.stabilisers.probeGuard {
                try directory.append(try await measureProbe(iteration: iteration, point: "start", items: probeItems(before: iteration)), to: "probe")
            }
        case .endPhase(let role, let iteration):
            _ = try await trainerReady(role)
            if role == .solver && config.stabilisers.rollbackWithoutProgress { try await checkProgress(iteration: iteration) }
            if role == .solver && config.solver.averageWithPhaseStart > 0 { try await averageWithPhaseStart(iteration: iteration) }
            if role == .solver && config.stabilisers.probeGuard { try await guardWithProbe(iteration: iteration) }
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
    func exportFinal() async throws {
        var exports: [ExportRecord] = []
        for role in [WorkUnit.Role.challenger, .solver] {
            let service = try await trainerReady(role)
            let name = "\(state.runId)-\(role.rawValue)-final"
            let dtype = config.checkpoints.exportDtype == .source ? nil : config.checkpoints.exportDtype.rawValue
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
    func checkProgress(iteration: Int) async throws {
        let rewards = try directory.readJournal(StepRecord.self, "train")
            .filter { $0.role == "solver" && $0.iteration == iteration && !$0.skipped }.map(\.meanReward)
        let w = min(config.stabilisers.progressWindow, rewards.count / 2)
        guard w >= 1 else { return }
        let early = rewards.prefix(w).reduce(0, +) / Double(w)
        let late = rewards.suffix(w).reduce(0, +) / Double(w)
        let rollBack = late <= early + config.stabilisers.progressMargin
        if rollBack {
            try await rollBackSolverPhase(iteration: iteration)
            logger.warning("Solver phase made no progress; rolled back", metadata: [
                "iteration": "\(iteration)", "early_reward": "\(early)", "late_reward": "\(late)", "step": "\(steps(.solver))"])
        }
        try directory.append(HealthRecord(iteration: iteration, earlyReward: early, lateReward: late, rolledBack: rollBack,
                                          solverStep: steps(.solver)), to: "health")
    }

    /// Discards the Solver phase of `iteration`: the Solver reloads the phase's starting checkpoint (weights, optimizer
    /// state and reference).
    func rollBackSolverPhase(iteration: Int) async throws {
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
    }

    /// The probe: the questions kept in iterations before `iteration` with the pseudo-labels they were kept with. Only the
    /// run's own pool decisions go into it (no held-out answer can).
    func probeItems(before iteration: Int) throws -> [DatasetItem] {
        iteration > 1 ? try keptQuestions(newest: iteration - 1, oldest: 1) : []
    }

    /// The Solver's greedy agreement with the probe's pseudo-labels, as a record for `point` ("start" or "end").
    func measureProbe(iteration: Int, point: String, items: [DatasetItem]) async throws -> ProbeRecord {
        let solver = try await trainerReady(.solver)
        let texts = try await solver.generateTexts(
            prompts: items.map { config.prompts.solverPrompt(question: $0.question) }, n: 1,
            sampling: SamplingConfig(temperature: 0, topP: 1, topK: 0, maxTokens: config.votes.sampling.maxTokens),
            chunk: 256, seedOf: { UnitSeed.derive(self.config.seed, 12, UInt64(iteration), UInt64($0)) }, expect: observed[solver.name])
        let agreed = zip(items, texts).map { item, t in equivalent(t.first.flatMap { BoxedAnswer.last(in: $0) }, item.pseudoLabel) }
        let agreeing = agreed.filter { $0 }.count
        return ProbeRecord(iteration: iteration, point: point, count: items.count, agreeing: agreeing,
                           accuracy: items.isEmpty ? 0 : Double(agreeing) / Double(items.count), agreed: agreed, solverStep: steps(.solver))
    }

    /// The probe guard: a phase whose end agrees with the probe less than its start did (by more than the margin) is
    /// discarded. The start's measurement is the one recorded when the phase began; a re-run of this unit repeats the same
    /// decision (the end's weights are recomputed from checkpoints before it).
    func guardWithProbe(iteration: Int) async throws {
        guard let start = try directory.readJournal(ProbeRecord.self, "probe").last(where: { $0.iteration == iteration && $0.point == "start" })
        else { throw ConfigError("no probe measurement at the start of iteration \(iteration)'s Solver phase") }
        let items = try probeItems(before: iteration)
        guard !items.isEmpty else {
            try directory.append(ProbeRecord(iteration: iteration, point: "end", count: 0, agreeing: 0, accuracy: 0, rolledBack: false,
                                             solverStep: steps(.solver)), to: "probe")
            return
        }
        var end = try await measureProbe(iteration: iteration, point: "end", items: items)
        let rollBack = ProbeRecord.discards(start: start, end: end, margin: config.stabilisers.probeMargin, z: config.stabilisers.probeZ)
        if rollBack {
            try await rollBackSolverPhase(iteration: iteration)
            logger.warning("Solver phase lost ground on the probe; rolled back", metadata: [
                "iteration": "\(iteration)", "start": "\(start.accuracy)", "end": "\(end.accuracy)", "probe": "\(items.count)"])
        }
        end.rolledBack = rollBack
        end.solverStep = steps(.solver)
        try directory.append(end, to: "probe")
    }

    /// The Solver becomes `w · start + (1 − w) · trained`. The trained weights are saved first (once: a re-run of the unit
    /// finds them and does not overwrite them with the average), and the average is computed from the two checkpoints
    /// alone, so re-running the unit gives the same weights.
    func averageWithPhaseStart(iteration: Int) async throws {
        let solver = trainer(.solver)
        let start = "\(state.runId)-solver-it\(iteration)", trained = "\(state.runId)-solver-it\(iteration)-trained"
        if !(try await solver.checkpointNames()).contains(trained) {
            try await checkpoint(.solver, name: trained, iteration: iteration)
        } else if !state.checkpoints.contains(where: { $0.name == trained }) {
            state.checkpoints.append(CheckpointRecord(role: "solver", name: trained, step: steps(.solver), iteration: iteration, sizeBytes: nil))
        }
        let w = config.solver.averageWithPhaseStart
        guard try await solver.averageWeights([start, trained], weights: [w, 1 - w]) == steps(.solver) else {
            throw ServiceChanged(service: solver.name, detail: "averaging changed the optimizer step")
        }
        observed[solver.name] = try await solver.state()
    }

    func trainer(_ role: WorkUnit.Role) -> RoleService {
        role == .challenger ? services.challenger : services.solvers[0]
    }

    /// Records where both services start and checkpoints them, so they can always be restored.
    func startRun() async throws {
        for role in [WorkUnit.Role.challenger, .solver] {
            let service = trainer(role)
            let s = try await service.state()
            state.steps[role.rawValue] = s.step
            state.instances[service.name] = s.instanceId
            try await checkpoint(role, name: "\(state.runId)-\(role.rawValue)-base", iteration: 0)
        }
    }

    func checkpoint(_ role: WorkUnit.Role, name: String, iteration: Int) async throws {
        let (step, size) = try await trainer(role).saveCheckpoint(name)
        guard step == steps(role) else {
            throw ServiceChanged(service: trainer(role).name, detail: "saved \(name) at step \(step), expected \(steps(role))")
        }
        state.checkpoints.removeAll { $0.name == name }
        state.checkpoints.append(CheckpointRecord(role: role.rawValue, name: name, step: step, iteration: iteration, sizeBytes: size))
        publishDisk()
    }

}

/// The on-disk wrapper of a training batch.
struct TrainingBatchFile: Codable {
    var batch: TrainingBatch
}
