import Foundation
import RZAPI

/// One Challenger sample of a Challenger GRPO step (a line of challenger.jsonl).
public struct ChallengerRecord: Codable, Sendable, Equatable {
    public var iteration: Int
    public var step: Int
    public var index: Int
    public var group: Int
    public var text: String
    public var question: String?
    /// The Challenger's own boxed answer, if it wrote one.
    public var challengerAnswer: String?
    public var formatFailure: String?
    /// The Solver's m responses and the answers extracted from them (nil: no box).
    public var responses: [String]
    public var answers: [String?]
    public var clusterSizes: [Int]
    public var majorityAnswer: String?
    public var majorityShare: Double
    public var uncertainty: Double?
    public var repetitionPenalty: Double
    public var repetitionCluster: Int
    public var repetitionClusterSize: Int
    /// Whether the Challenger's answer agrees with the Solver majority (nil: not checked).
    public var answerAgrees: Bool?
    /// With `challenger.reward.second_opinion`: the Challenger model's majority answer as a Solver, its share, and
    /// whether it reaches the Solver's majority (nil: not asked).
    public var secondOpinion: String? = nil
    public var secondOpinionShare: Double? = nil
    public var secondOpinionAgrees: Bool? = nil
    public var reward: Double
}

/// One pool question (a line of pool.jsonl).
public struct PoolRecord: Codable, Sendable, Equatable {
    public var iteration: Int
    public var index: Int
    public var text: String
    public var question: String?
    public var challengerAnswer: String?
    public var formatFailure: String?
    public var duplicate: Bool
    public var responses: [String]
    public var answers: [String?]
    public var clusterSizes: [Int]
    public var majorityAnswer: String?
    public var majorityShare: Double
    public var kept: Bool
    /// With `stabilisers.second_opinion`: the Challenger model's majority answer as a Solver, and its share.
    public var secondOpinion: String?
    public var secondOpinionShare: Double?
}

/// A kept question and its pseudo-label (a line of datasets/iteration-N.jsonl).
public struct DatasetItem: Codable, Sendable, Equatable {
    public var question: String
    public var pseudoLabel: String
    public var majorityShare: Double
}

/// One Solver training sample (a line of solver.jsonl).
public struct SolverRecord: Codable, Sendable, Equatable {
    public var iteration: Int
    public var step: Int
    public var group: Int
    public var question: String
    public var pseudoLabel: String
    public var response: String
    public var answer: String?
    public var reward: Double
}

/// The metrics of one GRPO step (a line of train.jsonl).
public struct StepRecord: Codable, Sendable, Equatable {
    public var role: String
    public var iteration: Int
    /// Step within the phase.
    public var step: Int
    /// The service's optimizer step after this one.
    public var serviceStep: Int
    public var modelVersion: Int
    public var loss: Double?
    public var policyLoss: Double?
    public var kl: Double?
    public var gradNorm: Double?
    public var entropy: Double?
    public var clipFractionHigher: Double
    public var clipFractionLower: Double
    public var meanReward: Double
    public var tokens: Int
    public var sequences: Int
    public var learningRate: Double
    public var skipped: Bool
    public var seconds: Double
}

/// Held-out accuracy of the Solver after an iteration (a line of eval.jsonl; 0 = the base Solver).
public struct EvalRecord: Codable, Sendable, Equatable {
    public struct Slice: Codable, Sendable, Equatable {
        public var name: String
        public var count: Int
        public var greedyCorrect: Int
        public var majorityCorrect: Int?
    }
    public var iteration: Int
    public var dataset: String
    public var count: Int
    public var greedyAccuracy: Double
    public var majorityAccuracy: Double?
    public var byFamily: [Slice]
    public var byDifficulty: [Slice]
    public var solverStep: Int
}

/// One held-out question's evaluation (a line of eval/iteration-N-<set>.jsonl).
public struct EvalDetail: Codable, Sendable, Equatable {
    public var question: String
    public var answer: String
    public var family: String?
    public var difficulty: Int?
    public var greedyResponse: String
    public var greedyAnswer: String?
    public var greedyCorrect: Bool
    public var majorityAnswer: String?
    public var majorityCorrect: Bool?
}

/// A completed unit (a line of events.jsonl).
/// The label-free health check at the end of a Solver phase (a line of health.jsonl).
public struct HealthRecord: Codable, Sendable, Equatable {
    public var iteration: Int
    /// Mean Solver reward over the phase's first and last `progress_window` steps.
    public var earlyReward: Double
    public var lateReward: Double
    /// Whether the phase's Solver training was discarded (the Solver went back to the phase's start).
    public var rolledBack: Bool
    /// The Solver's optimizer step after the check.
    public var solverStep: Int
}

/// The probe guard's measurement of one Solver phase (a line of probe.jsonl): at the phase's start (`point`
/// "start") or its end ("end", with the verdict).
public struct ProbeRecord: Codable, Sendable, Equatable {
    public var iteration: Int
    public var point: String
    /// Probe questions (kept in earlier iterations) and how many the Solver's greedy answer matches the pseudo-label of.
    public var count: Int
    public var agreeing: Int
    public var accuracy: Double
    /// Per probe question, in probe order: whether the greedy answer matched its pseudo-label.
    public var agreed: [Bool]? = nil
    /// At the end: whether the phase was discarded (the Solver went back to the phase's start).
    public var rolledBack: Bool? = nil
    public var solverStep: Int

    public init(iteration: Int, point: String, count: Int, agreeing: Int, accuracy: Double, agreed: [Bool]? = nil,
                rolledBack: Bool? = nil, solverStep: Int) {
        self.iteration = iteration
        self.point = point
        self.count = count
        self.agreeing = agreeing
        self.accuracy = accuracy
        self.agreed = agreed
        self.rolledBack = rolledBack
        self.solverStep = solverStep
    }

    /// Whether a phase whose probe went from `start` to `end` is discarded: its accuracy fell by more than `margin`, and the
    /// questions it lost outnumber those it gained by at least `z` · √(lost + gained) (with `z` 0, the margin alone).
    public static func discards(start: ProbeRecord, end: ProbeRecord, margin: Double, z: Double) -> Bool {
        guard end.accuracy < start.accuracy - margin - 1e-12 else { return false }
        guard z > 0 else { return true }
        guard let before = start.agreed, let after = end.agreed, before.count == after.count else { return true }
        let lost = zip(before, after).filter { $0 && !$1 }.count
        let gained = zip(before, after).filter { !$0 && $1 }.count
        return Double(lost - gained) >= z * Double(lost + gained).squareRoot() - 1e-12
    }
}

public struct EventRecord: Codable, Sendable, Equatable {
    public var unit: Int
    public var name: String
    public var seconds: Double
    public var finishedAt: Date
    /// What interrupted the unit, if anything: the run resumed here, a service restored, the unit re-run
    /// (absent when the unit ran straight through).
    public var notes: [String]? = nil
}

/// The exact request of one training step, kept so a restarted service can be brought back to
/// where the run is by replaying it. Coded with the generated types' own keys.
public struct TrainingBatch: Codable, Sendable {
    public var role: String
    public var iteration: Int
    public var step: Int
    /// The service's optimizer step this batch applies to (before the step).
    public var serviceStep: Int
    /// nil: nothing to train on (an empty dataset); the step is skipped.
    package var request: Components.Schemas.GRPORequest?

    static let encoder = JSONEncoder()
    static let decoder = JSONDecoder()
}
