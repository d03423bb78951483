/// How the Solver's agreement p̂ becomes the Challenger's uncertainty reward.
public enum UncertaintyReward: String, Codable, Sendable, Equatable, CaseIterable {
    /// Paper: r_unc = 1 − 2·|p̂ − ½| (1 at p̂ = ½, 0 at p̂ ∈ {0, 1}).
    case oneMinusTwiceDistanceFromHalf = "1-2|p-1/2|"
    /// Reference code (`caller_penalty.py`): min(p̂, 1 − p̂), half the paper's value, which
    /// effectively doubles the weight of the repetition penalty.
    case minimumOfShareAndComplement = "min(p,1-p)"

    /// r_unc for the Solver's majority share p̂, with its peak moved to p̂ = `target` (½ is the paper's):
    /// p̂ is first mapped piecewise-linearly so that 0, `target` and 1 go to 0, ½ and 1, making the paper's
    /// form a tent that is 1 at `target` and 0 at p̂ ∈ {0, 1}.
    public func reward(majorityShare p: Double, target: Double) -> Double {
        let t = min(max(target, 0.01), 0.99)
        let share = p <= t ? 0.5 * p / t : 0.5 + 0.5 * (p - t) / (1 - t)
        return reward(majorityShare: share)
    }

    /// r_unc for the Solver's majority share p̂.
    public func reward(majorityShare share: Double) -> Double {
        switch self {
        case .oneMinusTwiceDistanceFromHalf: return 1 - 2 * abs(share - 0.5)
        case .minimumOfShareAndComplement: return min(share, 1 - share)
        }
    }
}

/// Whether the final Challenger reward is clipped at zero.
public enum ChallengerRewardClipping: String, Codable, Sendable, Equatable, CaseIterable {
    /// Paper: max(0, r_unc − r_rep).
    case clipAtZero = "max(0,r)"
    /// Reference code: r_unc − r_rep, which can be negative.
    case unclipped = "none"
}

/// The reward of a Challenger output that fails the format check.
public enum FormatFailureReward: Codable, Sendable, Equatable {
    /// A fixed value; the paper gives 0.
    case constant(Double)
    /// Reference code: −1 − r_rep, where r_rep is the output's own repetition penalty
    /// (a malformed output is a singleton cluster, so this is −1 − λ/B).
    case minusOneMinusRepetition
}

/// Settings of the Challenger reward (paper defaults; `.reference` matches R-Zero's code).
public struct ChallengerRewardSettings: Codable, Sendable, Equatable {
    /// How p̂ becomes r_unc.
    public var uncertainty: UncertaintyReward
    /// λ, the weight of the repetition penalty.
    public var repetitionWeight: Double
    /// τ: clusters merge while their average BLEU distance is below this.
    public var distanceThreshold: Double
    /// Whether max(0, ·) is applied.
    public var clipping: ChallengerRewardClipping
    /// The reward of a malformed output.
    public var formatFailure: FormatFailureReward
    /// The majority share at which r_unc peaks (paper: ½). A label-free stabiliser: above ½ it asks for
    /// questions the Solver mostly agrees on, whose majority answers are more often right.
    public var targetShare: Double = 0.5
    /// What the repetition penalty compares: the question texts (paper) or their forms (`ChallengerReward.form`).
    public var repetitionUnit: RepetitionUnit = .text
    /// What counts as malformed: the rules to pass to `ChallengerOutput.parse` when building
    /// each `ChallengerSample`, kept here so a run records them with the other settings.
    public var format: ChallengerFormatRules

    public init(
        uncertainty: UncertaintyReward = .oneMinusTwiceDistanceFromHalf,
        repetitionWeight: Double = 1,
        distanceThreshold: Double = 0.5,
        clipping: ChallengerRewardClipping = .clipAtZero,
        formatFailure: FormatFailureReward = .constant(0),
        format: ChallengerFormatRules = ChallengerFormatRules()
    ) {
        self.uncertainty = uncertainty
        self.repetitionWeight = repetitionWeight
        self.distanceThreshold = distanceThreshold
        self.clipping = clipping
        self.formatFailure = formatFailure
        self.format = format
    }

    /// The paper's method (arXiv 2508.05004 §3.2).
    public static let paper = ChallengerRewardSettings()

    /// R-Zero's `examples/reward_function/caller_penalty.py`.
    public static let reference = ChallengerRewardSettings(
        uncertainty: .minimumOfShareAndComplement,
        clipping: .unclipped,
        formatFailure: .minusOneMinusRepetition
    )
}

/// One Challenger output of a batch, with the Solver's agreement on its question.
public struct ChallengerSample: Sendable, Equatable {
    /// The parsed output, or why it failed the format check.
    public var parsed: Result<ChallengerOutput, ChallengerFormatFailure>
    /// p̂ of the Solver's majority vote on the question (0 when no Solver answer had a box);
    /// ignored for malformed outputs.
    public var majorityShare: Double

    public init(parsed: Result<ChallengerOutput, ChallengerFormatFailure>, majorityShare: Double) {
        self.parsed = parsed
        self.majorityShare = majorityShare
    }
}

/// What the Challenger's repetition penalty clusters.
public enum RepetitionUnit: String, Codable, Sendable, Equatable, CaseIterable {
    /// The question texts, as the paper does. Two arithmetic questions written without spaces ("92+35", "47+18") are
    /// one word each, share no n-gram and never cluster, however alike they are.
    case text
    /// The questions' forms: every number one placeholder and every symbol a word of its own ("0 + 0"), so questions of
    /// the same form cluster and a Challenger that writes one form over and over is penalised for it.
    case form
}

/// The reward of one Challenger output and how it was made up.
public struct ChallengerRewardBreakdown: Sendable, Equatable {
    /// The final reward r_i.
    public var reward: Double
    /// r_unc; nil for a malformed output.
    public var uncertainty: Double?
    /// r_rep = λ·|C_k|/B.
    public var repetitionPenalty: Double
    /// The output's repetition cluster (labels numbered by first member).
    public var clusterLabel: Int
    /// Why the output is malformed; nil when well-formed.
    public var formatFailure: ChallengerFormatFailure?
}

/// The Challenger reward of R-Zero: uncertainty minus a BLEU-cluster repetition penalty.
public enum ChallengerReward {
    /// Rewards for a batch of B outputs.
    ///
    /// The repetition penalty clusters the question texts (the trimmed content of
    /// `<question>`, what the Solver sees) of the whole batch, B including malformed outputs, as
    /// the reference does: a malformed output enters with an empty text, whose BLEU with anything
    /// is 0 (distance 1), so it is always a singleton and never changes other clusters, but it
    /// counts in B.
    public static func rewards(for batch: [ChallengerSample], settings: ChallengerRewardSettings = .paper) -> [ChallengerRewardBreakdown] {
        let questions = batch.map { sample -> String in
            guard case .success(let output) = sample.parsed else { return "" }
            return settings.repetitionUnit == .form ? form(of: output.question) : output.question
        }
        let clusters = repetitionClusters(questions: questions, distanceThreshold: settings.distanceThreshold)
        var sizes: [Int: Int] = [:]
        for label in clusters { sizes[label, default: 0] += 1 }
        let batchSize = Double(batch.count)

        return zip(batch, clusters).map { sample, label in
            let penalty = settings.repetitionWeight * Double(sizes[label] ?? 1) / batchSize
            switch sample.parsed {
            case .failure(let failure):
                let reward: Double
                switch settings.formatFailure {
                case .constant(let value): reward = value
                case .minusOneMinusRepetition: reward = -1 - penalty
                }
                return ChallengerRewardBreakdown(reward: reward, uncertainty: nil, repetitionPenalty: penalty,
                                                 clusterLabel: label, formatFailure: failure)
            case .success:
                let uncertainty = settings.targetShare == 0.5 ? settings.uncertainty.reward(majorityShare: sample.majorityShare)
                    : settings.uncertainty.reward(majorityShare: sample.majorityShare, target: settings.targetShare)
                var reward = uncertainty - penalty
                if settings.clipping == .clipAtZero { reward = max(0, reward) }
                return ChallengerRewardBreakdown(reward: reward, uncertainty: uncertainty, repetitionPenalty: penalty,
                                                 clusterLabel: label, formatFailure: nil)
            }
        }
    }

    /// A question's form: each run of digits (with its decimal point) becomes "0", each character that is neither a
    /// letter, a digit nor a space becomes a word of its own, and runs of spaces become one: "92+35*2" → "0 + 0 * 0",
    /// "Mia has 43 books." → "Mia has 0 books .".
    public static func form(of question: String) -> String {
        var words: [String] = []
        var word = ""
        var inNumber = false
        func flush() {
            if !word.isEmpty { words.append(word) }
            word = ""
            inNumber = false
        }
        for c in question {
            if c.isNumber || (inNumber && c == ".") {
                if !inNumber { flush(); inNumber = true; word = "0" }
            } else if c.isLetter {
                if inNumber { flush() }
                word.append(c)
            } else if c.isWhitespace {
                flush()
            } else {
                flush()
                words.append(String(c))
            }
        }
        flush()
        return words.joined(separator: " ")
    }

    /// Cluster labels of the questions under 1 − BLEU distances (R-Zero's
    /// `cluster_share_per_problem`), numbered in order of each cluster's first question.
    public static func repetitionClusters(questions: [String], distanceThreshold: Double) -> [Int] {
        let corpus = BLEUCorpus(sentences: questions)
        return AverageLinkageClustering.labels(
            condensed: corpus.condensedDistanceMatrix(), count: questions.count, threshold: distanceThreshold)
    }
}
