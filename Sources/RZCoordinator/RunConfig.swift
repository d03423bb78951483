import Foundation
import RZRewards

/// Every setting of an R-Zero run, in one JSON file (keys in snake_case). A file may give any subset:
/// missing keys take the defaults below, unknown keys are an error (a typo must not silently fall back
/// to a default). The resolved configuration is written into the run directory, and a run directory
/// only resumes under the configuration that created it.
///
/// Defaults are the paper's method (spec §1–5) scaled to the built-in model on a 2-core CPU: the same
/// rewards, band, vote count and loss, with fewer and smaller steps. docs/run-config.md lists every key.
public struct RunConfig: Codable, Sendable, Equatable {
    /// Seeds every sampling request and the Solver's question order.
    public var seed: UInt64 = 1
    /// R-Zero iterations (Challenger phase, then Solver phase).
    public var iterations: Int = 3
    public var services = ServicesConfig()
    public var prompts = PromptsConfig()
    public var challenger = ChallengerPhaseConfig()
    public var votes = VoteConfig()
    public var pool = PoolConfig()
    public var solver = SolverPhaseConfig()
    public var evaluation = EvaluationConfig()
    public var stabilisers = StabiliserConfig()
    public var checkpoints = CheckpointConfig()

    public init() {}
}

/// What the run keeps on the services' disks.
public struct CheckpointConfig: Codable, Sendable, Equatable {
    /// Checkpoints of each role kept, newest first; older ones are deleted from the service once a newer one is
    /// committed. Resuming needs only a role's latest (and a rolled-back Solver phase its start, which is the
    /// latest while the phase runs), so 1 is enough to resume; 0 keeps every checkpoint.
    public var keepLast = 2
    /// When the run ends, write the Challenger's and the Solver's models as complete model folders
    /// (`POST /v1/exports`, named `<run id>-<role>-final`, on each service's host).
    public var exportFinal = true
    /// The exports' dtype: `source` (the checkpoint the service loaded), float32, bfloat16 or float16.
    public var exportDtype = ExportDTypeChoice.source

    public init() {}
}

/// Where the two roles are served.
public struct ServicesConfig: Codable, Sendable, Equatable {
    /// Base URL of the Challenger service (its trainer).
    public var challenger = "http://127.0.0.1:8101"
    /// Base URLs of Challenger replicas: they pull the Challenger's weights by version and share its
    /// sampling when `challenger.split_requests` > 1.
    public var challengerReplicas: [String] = []
    /// Base URLs of the Solver services. The first is the trainer; all of them sample votes. The
    /// others are replicas: before they vote they pull the trainer's current weights by version
    /// (`POST /v1/weights/sync`), so they must be able to reach the trainer at this URL.
    public var solvers = ["http://127.0.0.1:8102"]
    /// Name of the environment variable holding the bearer token for training calls (unset: none).
    public var tokenEnv = "RZERO_TOKEN"
    public var connectTimeoutSeconds: Double = 5
    /// Per attempt; a whole training step or a large sampling request must fit in it.
    public var requestTimeoutSeconds: Double = 900
    /// How long a call keeps retrying a service that is down or restarting before the run stops.
    public var retryForSeconds: Double = 300
    /// How long a call to a Solver replica keeps retrying before the replica is left out (for 30 s,
    /// then probed again). Trainers use `retry_for_seconds`: the run waits for them.
    public var replicaRetryForSeconds: Double = 3
    /// Per attempt, for replicas: a replica that is cut off mid-request is given up after this long and
    /// its votes are asked of another Solver (a vote request on a 2-core CPU takes seconds, not minutes).
    public var replicaRequestTimeoutSeconds: Double = 120
    /// How long a replica that failed is left out before it is probed again.
    public var replicaRetryIntervalSeconds: Double = 30
    /// Sampling requests in flight per Solver service (the service batches them together).
    public var concurrentRequests = 4

    public init() {}
}

/// How prompts are written for each role.
public struct PromptsConfig: Codable, Sendable, Equatable {
    public enum Kind: String, ConfigChoice {
        /// Plain text prompts (the built-in model's format).
        case completion
        /// Chat messages rendered by the service's chat template (Qwen3 and other chat models).
        case chat
    }
    public var kind: Kind = .completion
    /// `completion`: the Solver prompt; `{question}` is replaced by the question.
    public var solverTemplate = "Q:{question}\nA:"
    /// `completion`: the Challenger's whole prompt.
    public var challengerPrompt = "Write a question:"
    /// `chat`: the Solver's system message (the user message is the question).
    public var solverSystem = "Please reason step by step, and put your final answer within \\boxed{}."
    /// `chat`: the Challenger's system and user messages (defaults: R-Zero's, see RolePrompts).
    public var challengerSystem = ""
    public var challengerUser = ""

    public init() {}
}

/// GRPO settings common to both roles.
public struct OptimizerConfig: Codable, Sendable, Equatable {
    public var learningRate: Double = 1e-4
    /// `low_var_kl` (k3, the reference), `kl` (k1), `mse` (k2), `abs`, or `none`.
    public var klPenalty = KLPenaltyChoice.lowVarKL
    public var klCoef: Double = 0.01
    public var clipRatioLow: Double = 0.2
    public var clipRatioHigh: Double = 0.3
    public var clipRatioDual: Double = 3.0
    public var maxGradNorm: Double = 1.0
    public var weightDecay: Double = 0.01
    /// `token_mean` or `seq_mean_token_mean`.
    public var aggregation = AggregationChoice.tokenMean
    /// Where GRPO's old log-probabilities come from: `recompute` (the trainer's forward pass at the
    /// step, as verl/EasyR1's actor does; the same weights sampled the batch, so the ratio starts at 1)
    /// or `sampler` (the log-probabilities the sampling request returned). `recompute` keeps a step
    /// independent of how the sampling requests were batched on the service, which makes resumed runs
    /// bit-identical to uninterrupted ones.
    public var oldLogprobs = OldLogprobsChoice.recompute
    /// How the service holds the frozen KL reference: `float32`, or `bfloat16` (half its memory; weights rounded).
    public var referenceDtype = ReferenceDTypeChoice.float32

    public init() {}
}

/// Sampling settings of one kind of generation request.
public struct SamplingConfig: Codable, Sendable, Equatable {
    public var temperature: Double = 1.0
    public var topP: Double = 0.99
    public var topK: Int = 0
    public var maxTokens: Int = 96

    public init(temperature: Double = 1.0, topP: Double = 0.99, topK: Int = 0, maxTokens: Int = 96) {
        self.temperature = temperature
        self.topP = topP
        self.topK = topK
        self.maxTokens = maxTokens
    }
}

/// Phase 1: Challenger GRPO against the frozen Solver.
public struct ChallengerPhaseConfig: Codable, Sendable, Equatable {
    /// GRPO steps per iteration (reference: 5).
    public var steps = 5
    /// GRPO groups per step; every group is `group_size` samples of the one fixed prompt.
    public var groupsPerStep = 16
    /// Samples per group (reference: 4).
    public var groupSize = 4
    /// Set to false for the "base Challenger" ablation: the Challenger is never trained.
    public var train = true
    /// Each Challenger sampling unit (a step's groups, a pool chunk) is sent as this many requests, so
    /// Challenger replicas can share it. Results depend on this number, not on how many services serve.
    public var splitRequests = 1
    public var sampling = SamplingConfig(temperature: 1.0, topP: 0.99, maxTokens: 64)
    public var optimizer = OptimizerConfig()
    public var reward = ChallengerRewardConfig()

    public init() {}
}

/// The Challenger reward (spec §2).
public struct ChallengerRewardConfig: Codable, Sendable, Equatable {
    /// `paper`: 1 − 2·|p̂ − ½|; `reference`: min(p̂, 1 − p̂).
    public var uncertainty = UncertaintyChoice.paper
    /// λ in r_rep = λ·|C_k|/B; 0 turns the repetition penalty off.
    public var repetitionWeight: Double = 1
    /// τ: clusters merge while the average BLEU distance is below it.
    public var distanceThreshold: Double = 0.5
    /// true: max(0, r_unc − r_rep) (paper); false: no clip (reference).
    public var clipAtZero = true
    /// `zero` (paper) or `minus_one_minus_repetition` (reference).
    public var formatFailure = FormatFailureChoice.zero
    /// The majority share p̂ at which r_unc peaks: ½ is the paper's 1 − 2·|p̂ − ½|; above ½ the reward
    /// is a tent that asks for questions the Solver mostly agrees on (a label-free stabiliser).
    public var targetShare: Double = 0.5
    /// Reward only questions the pool could keep: the Challenger's model, asked as a Solver (m votes, as
    /// `stabilisers.second_opinion` does for the pool, with its `second_opinion_min_share`), must reach the Solver's
    /// majority answer, else the reward is at most 0. The plain reward also pays for questions the Solver is unsure
    /// of because its answers are wrong in several ways; those are the ones the pool's second opinion then drops.
    public var secondOpinion = false
    /// What the repetition penalty clusters: `text` (the paper) or `form` (numbers as one placeholder, symbols as words),
    /// so a Challenger that collapses into one form of question ("0 + 0 * 0" with new numbers) is penalised for it.
    public var repetitionUnit = RepetitionUnitChoice.text

    public init() {}
}

/// How the Solver's answers to one question are sampled and voted on.
public struct VoteConfig: Codable, Sendable, Equatable {
    /// m, answers per question (paper: 10).
    public var samples = 10
    public var sampling = SamplingConfig(temperature: 1.0, topP: 1.0, topK: 40, maxTokens: 96)
    /// Questions per sampling request (fixed, so results do not depend on how many Solvers serve).
    public var questionsPerRequest = 16

    public init() {}
}

/// Phase 2: the question pool and its pseudo-labels.
public struct PoolConfig: Codable, Sendable, Equatable {
    /// N, questions the trained Challenger writes (reference: 8000).
    public var questions = 256
    /// Challenger samples per pool request.
    public var questionsPerRequest = 64
    /// `distance_from_half` (paper, keeps |p̂ − ½| ≤ delta) or `share_range` (reference, low ≤ p̂ ≤ high)
    /// or `none` (the "no band filter" ablation: every question with a majority is kept).
    public var band = BandChoice.distanceFromHalf
    public var delta: Double = 0.25
    public var low: Double = 0.3
    public var high: Double = 0.8
    /// Drop exact duplicate questions before voting (the reference keeps them).
    public var dropDuplicates = true

    public init() {}
}

/// Phase 3: Solver GRPO on the kept questions.
public struct SolverPhaseConfig: Codable, Sendable, Equatable {
    /// GRPO steps per iteration (reference: 15).
    public var steps = 15
    /// Questions per step; each is a group.
    public var questionsPerStep = 16
    /// Samples per question (reference: 5).
    public var groupSize = 5
    public var sampling = SamplingConfig(temperature: 1.0, topP: 0.99, maxTokens: 96)
    public var optimizer = OptimizerConfig()
    /// The KL reference of each Solver phase: `phase_start` (reference: the weights the phase starts
    /// from) or `base` (the base Solver for the whole run, so the KL term bounds the total drift of
    /// self-training, not one phase's; a label-free stabiliser).
    public var reference = SolverReferenceChoice.phaseStart
    /// Also train each Solver phase on the kept questions (with their pseudo-labels of then) of up to this many earlier
    /// iterations (0: only the current one, as the paper). A label-free stabiliser against forgetting.
    public var replayIterations = 0
    /// At the end of each Solver phase, the Solver becomes `w · (the phase's start) + (1 − w) · (what the phase trained)`
    /// (0: off). Keeps part of what earlier iterations learned, as weight averaging across fine-tunes does.
    public var averageWithPhaseStart: Double = 0

    public init() {}
}

/// Held-out evaluation of the Solver (labels are read only by the evaluator; see Evaluation.swift).
public struct EvaluationConfig: Codable, Sendable, Equatable {
    /// JSONL files of `{"question", "answer"}` lines (optional `family`, `difficulty`), relative to
    /// the working directory. Empty: no evaluation.
    public var datasets: [String] = []
    /// Greedy decoding accuracy (always) plus majority-of-m when > 1.
    public var majoritySamples = 0
    public var maxTokens = 96
    /// Evaluate the base Solver before iteration 1.
    public var evaluateBase = true

    public init() {}
}

/// Label-free additions to the reference design (all off reproduces the paper).
public struct StabiliserConfig: Codable, Sendable, Equatable {
    /// The Challenger's own boxed answer must agree with the Solver majority, else its reward is 0.
    public var challengerAnswerAgreement = false
    /// A pool question is kept only if the Challenger's model, asked as a Solver (the Solver's prompt,
    /// m votes), reaches the same majority answer. Its weights never learn from the pseudo-labels, so
    /// errors the Solver acquires from its own wrong labels do not pass this check.
    public var secondOpinion = false
    /// With `second_opinion`: the second opinion's own majority must also reach this share of its votes (0: any
    /// majority). A label both models agree on and the unchanged one is sure of stays right as the Solver sharpens.
    public var secondOpinionMinShare: Double = 0
    /// Roll the Solver back to the start of its phase when the phase made no learning progress: the
    /// mean reward (agreement with the pseudo-labels) of its last `progress_window` steps is not above
    /// that of its first `progress_window` steps by more than `progress_margin`. Label-free: it reads
    /// only the run's own rewards.
    public var rollbackWithoutProgress = false
    /// Keep a Solver phase only if it does not lose ground on the probe: the questions kept in earlier iterations, with
    /// their pseudo-labels of then (label-free). The Solver's greedy answers are checked against them at the phase's
    /// start and at its end (after averaging); an end more than `probe_margin` below the start is discarded (the Solver
    /// reloads the phase's starting checkpoint). Recorded in `probe.jsonl`.
    public var probeGuard = false
    /// The largest drop in probe accuracy (a fraction, 0.01 = one point) a phase may cause and still be kept.
    public var probeMargin: Double = 0
    /// With `probe_guard`: a phase is discarded only if its loss is also beyond noise: questions it newly gets wrong minus
    /// those it newly gets right ≥ `probe_z` · √(both), a one-sided sign test over the probe's questions (0: the margin
    /// alone decides).
    public var probeZ: Double = 0
    public var progressWindow = 5
    public var progressMargin: Double = 0

    public init() {}
}

// MARK: - Loading

public struct ConfigError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

extension RunConfig {
    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.keyEncodingStrategy = .convertToSnakeCase
        e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return e
    }()

    static let decoder: JSONDecoder = {
        let d = JSONDecoder()
        d.keyDecodingStrategy = .convertFromSnakeCase
        return d
    }()

    /// Reads a configuration file: the defaults overlaid with the file's keys.
    public static func load(path: String) throws -> RunConfig {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigError("cannot read the configuration file \(path)")
        }
        return try parse(data, source: path)
    }

    /// Parses a JSON configuration (any subset of the keys) over the defaults.
    public static func parse(_ data: Data, source: String = "configuration") throws -> RunConfig {
        let user: Any
        do { user = try JSONSerialization.jsonObject(with: data) } catch {
            throw ConfigError("\(source) is not valid JSON: \(error.localizedDescription)")
        }
        guard let userObject = user as? [String: Any] else { throw ConfigError("\(source) must hold a JSON object") }
        let defaults = try JSONSerialization.jsonObject(with: encoder.encode(RunConfig())) as? [String: Any] ?? [:]
        let merged = try overlay(userObject, on: defaults, path: "")
        let config: RunConfig
        do {
            config = try decoder.decode(RunConfig.self, from: JSONSerialization.data(withJSONObject: merged))
        } catch DecodingError.dataCorrupted(let context) where !context.codingPath.isEmpty {
            // A variant setting with an unknown name (`ConfigChoice` says which names there are).
            throw ConfigError("\(source): \(Self.settingName(context.codingPath)) \(context.debugDescription)")
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.dataCorrupted(context) {
            throw ConfigError("\(source): wrong type at \(Self.settingName(context.codingPath))")
        } catch {
            throw ConfigError("\(source): \(error)")
        }
        try config.validate()
        return config
    }

    /// A decoding path as the setting's name in the file (`solver.optimizer.kl_penalty`).
    static func settingName(_ path: [any CodingKey]) -> String {
        path.map { key in key.intValue.map { "[\($0)]" } ?? key.stringValue.snakeCased }.joined(separator: ".")
    }

    /// `user`'s keys over `defaults`, recursively; a key the defaults do not have is an error.
    private static func overlay(_ user: [String: Any], on defaults: [String: Any], path: String) throws -> [String: Any] {
        var result = defaults
        for (key, value) in user {
            let name = path.isEmpty ? key : path + "." + key
            guard let base = defaults[key] else {
                throw ConfigError("unknown setting \"\(name)\" (see docs/run-config.md)")
            }
            if let baseObject = base as? [String: Any] {
                guard let valueObject = value as? [String: Any] else { throw ConfigError("setting \"\(name)\" must be an object") }
                result[key] = try overlay(valueObject, on: baseObject, path: name)
            } else {
                result[key] = value
            }
        }
        return result
    }

    /// The resolved configuration as written into the run directory.
    public func encoded() throws -> Data { try Self.encoder.encode(self) }

    /// Rejects settings that cannot run, with the setting's name.
    public func validate() throws {
        func check(_ ok: Bool, _ message: String) throws { if !ok { throw ConfigError(message) } }
        try check(iterations >= 1 && iterations <= 1000, "iterations must be 1…1000")
        try check(!services.solvers.isEmpty, "services.solvers must name at least one Solver")
        for url in [services.challenger] + services.challengerReplicas + services.solvers {
            try check(URL(string: url)?.host != nil && (url.hasPrefix("http://") || url.hasPrefix("https://")),
                      "service URL \"\(url)\" is not an http(s) URL")
        }
        try check(services.connectTimeoutSeconds > 0 && services.requestTimeoutSeconds > 0 && services.retryForSeconds >= 0
                  && services.replicaRetryForSeconds >= 0 && services.replicaRequestTimeoutSeconds > 0
                  && services.replicaRetryIntervalSeconds >= 0,
                  "services timeouts must be positive")
        try check(services.concurrentRequests >= 1 && services.concurrentRequests <= 64, "services.concurrent_requests must be 1…64")
        try check(prompts.kind == .chat || prompts.solverTemplate.contains("{question}"),
                  "prompts.solver_template must contain {question}")
        try check(challenger.steps >= 0 && challenger.groupsPerStep >= 1 && challenger.groupSize >= 2,
                  "challenger: steps ≥ 0, groups_per_step ≥ 1, group_size ≥ 2")
        try check(challenger.groupsPerStep <= 256 && challenger.groupSize <= 64, "challenger: at most 256 groups of 64")
        try check(challenger.splitRequests >= 1 && challenger.splitRequests <= 256, "challenger.split_requests must be 1…256")
        try check(votes.samples >= 1 && votes.samples <= 64, "votes.samples (m) must be 1…64")
        try check(votes.questionsPerRequest >= 1 && votes.questionsPerRequest * votes.samples <= 1024,
                  "votes.questions_per_request × votes.samples must be 1…1024")
        try check(pool.questions >= 1 && pool.questionsPerRequest >= 1 && pool.questionsPerRequest <= 1024,
                  "pool.questions ≥ 1 and pool.questions_per_request 1…1024")
        try check(solver.steps >= 0 && solver.questionsPerStep >= 1 && solver.groupSize >= 2 && solver.questionsPerStep * solver.groupSize <= 1024,
                  "solver: steps ≥ 0, questions_per_step ≥ 1, group_size ≥ 2, at most 1024 samples a step")
        try check(solver.averageWithPhaseStart >= 0 && solver.averageWithPhaseStart < 1, "solver.average_with_phase_start must be in [0, 1)")
        try check(solver.replayIterations >= 0 && solver.replayIterations <= 1000, "solver.replay_iterations must be 0…1000")
        try check(checkpoints.keepLast >= 0, "checkpoints.keep_last must be ≥ 0 (0 keeps every checkpoint)")
        try check(stabilisers.probeMargin >= 0 && stabilisers.probeMargin < 1, "stabilisers.probe_margin must be in [0, 1)")
        try check(stabilisers.probeZ >= 0 && stabilisers.probeZ.isFinite, "stabilisers.probe_z must be a finite number ≥ 0")
        try check(challenger.reward.targetShare > 0 && challenger.reward.targetShare < 1, "challenger.reward.target_share must be in (0, 1)")
        for (name, o) in [("challenger", challenger.optimizer), ("solver", solver.optimizer)] {
            try check(o.learningRate > 0 && o.learningRate < 1, "\(name).optimizer.learning_rate must be in (0, 1)")
        }
        for (name, s) in [("challenger", challenger.sampling), ("votes", votes.sampling), ("solver", solver.sampling)] {
            try check(s.temperature >= 0 && s.topP > 0 && s.topP <= 1 && s.maxTokens >= 1 && s.maxTokens <= 4096,
                      "\(name).sampling: temperature ≥ 0, 0 < top_p ≤ 1, max_tokens 1…4096")
        }
        try check(stabilisers.secondOpinionMinShare >= 0 && stabilisers.secondOpinionMinShare <= 1,
                  "stabilisers.second_opinion_min_share must be in [0, 1]")
        try check(stabilisers.progressWindow >= 1, "stabilisers.progress_window must be ≥ 1")
        try check(evaluation.majoritySamples >= 0 && evaluation.majoritySamples <= 64 && evaluation.maxTokens >= 1,
                  "evaluation: majority_samples 0…64, max_tokens ≥ 1")
    }
}

extension RunConfig {
    /// The band of majority shares whose questions the Solver trains on (nil: `pool.band: none`, every question with a
    /// majority answer).
    public var informativeBand: InformativeBand? {
        switch pool.band {
        case .shareRange: return .shareRange(low: pool.low, high: pool.high)
        case .none: return nil
        case .distanceFromHalf: return .distanceFromHalf(maximum: pool.delta)
        }
    }
}

extension String {
    /// `klPenalty` → `kl_penalty` (the file's spelling of a decoding key).
    var snakeCased: String {
        var out = ""
        for c in self {
            if c.isUppercase { out += "_" + c.lowercased() } else { out.append(c) }
        }
        return out
    }
}
