import Foundation

/// A run setting that picks one of a fixed set of variants. It decodes only from one of its names and otherwise says
/// which names there are (the parse error carries the setting's path), so no list of allowed strings is kept anywhere
/// else, and the coordinator switches over cases instead of comparing strings.
public protocol ConfigChoice: RawRepresentable, CaseIterable, Codable, Sendable, Equatable where RawValue == String {}

extension ConfigChoice {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let name = try container.decode(String.self)
        guard let value = Self(rawValue: name) else {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "must be one of \(Self.allCases.map(\.rawValue).joined(separator: ", ")) (got \"\(name)\")")
        }
        self = value
    }
}

/// `pool.band`: which majority shares the Solver trains on.
public enum BandChoice: String, ConfigChoice {
    /// Paper: |p̂ − ½| ≤ `delta`.
    case distanceFromHalf = "distance_from_half"
    /// Reference script: `low` ≤ p̂ ≤ `high`.
    case shareRange = "share_range"
    /// The "no band filter" ablation: every question with a majority answer.
    case none
}

/// `solver.reference`: the KL reference of each Solver phase.
public enum SolverReferenceChoice: String, ConfigChoice {
    /// The weights the phase starts from (reference).
    case phaseStart = "phase_start"
    /// The base Solver for the whole run.
    case base
}

/// `checkpoints.export_dtype`: the final model folders' weight type.
public enum ExportDTypeChoice: String, ConfigChoice {
    /// As the loaded model's folder.
    case source
    case float32
    case bfloat16
    case float16
}

/// `challenger.reward.uncertainty`.
public enum UncertaintyChoice: String, ConfigChoice {
    /// 1 − 2·|p̂ − ½|.
    case paper
    /// min(p̂, 1 − p̂) scaled (the reference script).
    case reference
}

/// `challenger.reward.repetition_unit`: what the repetition penalty clusters.
public enum RepetitionUnitChoice: String, ConfigChoice {
    /// The question texts (the paper).
    case text
    /// The questions' forms (numbers as one placeholder, symbols as words).
    case form
}

/// `challenger.reward.format_failure`: the reward of a question that breaks the format.
public enum FormatFailureChoice: String, ConfigChoice {
    case zero
    case minusOneMinusRepetition = "minus_one_minus_repetition"
}

/// `optimizer.kl_penalty`: the KL estimator, or none (no KL term and no reference forward).
public enum KLPenaltyChoice: String, ConfigChoice {
    case lowVarKL = "low_var_kl"
    case kl
    case mse
    case abs
    case none
}

/// `optimizer.aggregation`: how token losses are averaged.
public enum AggregationChoice: String, ConfigChoice {
    case tokenMean = "token_mean"
    case seqMeanTokenMean = "seq_mean_token_mean"
}

/// `optimizer.old_logprobs`: where GRPO's old log-probabilities come from.
public enum OldLogprobsChoice: String, ConfigChoice {
    /// The trainer's forward pass at the step.
    case recompute
    /// What the sampling request returned.
    case sampler
}

/// `optimizer.reference_dtype`: how the service holds the frozen KL reference.
public enum ReferenceDTypeChoice: String, ConfigChoice {
    case float32
    case bfloat16
}
