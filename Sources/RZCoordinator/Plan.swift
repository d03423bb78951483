/// The units of work of a run, in order. A unit is the grain of resumption: the state file is
/// committed after each one, and a unit re-run after a crash produces the same records because every
/// random choice is seeded from (run seed, unit) and every service is first brought to the model
/// version the unit expects.
public enum WorkUnit: Equatable, Sendable, CustomStringConvertible {
    /// Save both roles' starting weights so a restarted service can always be restored.
    case start
    /// Held-out evaluation of the Solver after `iteration` (0: the base Solver).
    case evaluate(iteration: Int)
    /// Freeze the role's KL reference and checkpoint it: the start of a GRPO phase.
    case beginPhase(role: Role, iteration: Int)
    /// Challenger samples, Solver votes, Challenger rewards; writes the step's training batch.
    case challengerSample(iteration: Int, step: Int)
    /// One GRPO step on the role's trainer from the batch the previous unit wrote.
    case train(role: Role, iteration: Int, step: Int)
    /// Checkpoint the role at the end of its phase (the Solver's replicas load it).
    case endPhase(role: Role, iteration: Int)
    /// Challenger writes a slice of the question pool; the Solvers vote on it.
    case poolChunk(iteration: Int, chunk: Int)
    /// Band filter and pseudo-labels: the iteration's Solver dataset.
    case buildDataset(iteration: Int)
    /// Solver samples answers to a slice of the dataset and is rewarded against the pseudo-labels.
    case solverSample(iteration: Int, step: Int)
    /// The run's end: the final Challenger and Solver written as complete model folders.
    case finish(iteration: Int)

    public enum Role: String, Sendable, Codable { case challenger, solver }

    public var description: String {
        switch self {
        case .start: return "start"
        case .evaluate(let i): return "evaluate[\(i)]"
        case .beginPhase(let r, let i): return "begin-\(r.rawValue)[\(i)]"
        case .challengerSample(let i, let s): return "challenger-sample[\(i).\(s)]"
        case .train(let r, let i, let s): return "train-\(r.rawValue)[\(i).\(s)]"
        case .endPhase(let r, let i): return "end-\(r.rawValue)[\(i)]"
        case .poolChunk(let i, let c): return "pool[\(i).\(c)]"
        case .buildDataset(let i): return "dataset[\(i)]"
        case .solverSample(let i, let s): return "solver-sample[\(i).\(s)]"
        case .finish: return "finish"
        }
    }

    /// The phase a unit belongs to, for progress reporting.
    public var phase: String {
        switch self {
        case .start: return "start"
        case .evaluate: return "evaluate"
        case .beginPhase(let r, _), .endPhase(let r, _): return r.rawValue
        case .challengerSample: return "challenger"
        case .train(let r, _, _): return r.rawValue
        case .poolChunk, .buildDataset: return "pool"
        case .solverSample: return "solver"
        case .finish: return "finish"
        }
    }

    public var iteration: Int {
        switch self {
        case .start: return 0
        case .finish(let i): return i
        case .evaluate(let i), .beginPhase(_, let i), .endPhase(_, let i), .buildDataset(let i): return i
        case .challengerSample(let i, _), .train(_, let i, _), .poolChunk(let i, _), .solverSample(let i, _): return i
        }
    }
}

extension RunConfig {
    /// Every unit of the run, in order. Depends only on the configuration.
    public func plan() -> [WorkUnit] {
        var units: [WorkUnit] = [.start]
        let evaluating = !evaluation.datasets.isEmpty
        if evaluating && evaluation.evaluateBase { units.append(.evaluate(iteration: 0)) }
        let poolChunks = (pool.questions + pool.questionsPerRequest - 1) / pool.questionsPerRequest
        for it in 1...iterations {
            if challenger.train && challenger.steps > 0 {
                units.append(.beginPhase(role: .challenger, iteration: it))
                for s in 0..<challenger.steps {
                    units.append(.challengerSample(iteration: it, step: s))
                    units.append(.train(role: .challenger, iteration: it, step: s))
                }
                units.append(.endPhase(role: .challenger, iteration: it))
            }
            for c in 0..<poolChunks { units.append(.poolChunk(iteration: it, chunk: c)) }
            units.append(.buildDataset(iteration: it))
            if solver.steps > 0 {
                units.append(.beginPhase(role: .solver, iteration: it))
                for s in 0..<solver.steps {
                    units.append(.solverSample(iteration: it, step: s))
                    units.append(.train(role: .solver, iteration: it, step: s))
                }
                units.append(.endPhase(role: .solver, iteration: it))
            }
            if evaluating { units.append(.evaluate(iteration: it)) }
        }
        if checkpoints.exportFinal { units.append(.finish(iteration: iterations)) }
        return units
    }
}

/// Seeds derived from the run seed and a unit's coordinates (splitmix64 over the parts), so a
/// re-run unit draws exactly what the first attempt drew.
public enum UnitSeed {
    public static func derive(_ seed: UInt64, _ parts: UInt64...) -> UInt64 {
        var x = seed
        for p in parts { x = mix(x ^ mix(p &+ 0x9E37_79B9_7F4A_7C15)) }
        return x & 0x7fff_ffff_ffff_ffff
    }

    static func mix(_ z0: UInt64) -> UInt64 {
        var z = z0 &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
