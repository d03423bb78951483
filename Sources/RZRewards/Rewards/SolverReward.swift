/// Which questions are informative enough to train the Solver on.
public enum InformativeBand: Codable, Sendable, Equatable {
    /// Paper: |p̂ − ½| ≤ δ (δ = 0.25), inclusive.
    case distanceFromHalf(maximum: Double)
    /// Reference script: low ≤ p̂ ≤ high (0.3 and 0.8), inclusive.
    case shareRange(low: Double, high: Double)

    /// |p̂ − ½| ≤ 0.25.
    public static let paper = InformativeBand.distanceFromHalf(maximum: 0.25)
    /// 0.3 ≤ p̂ ≤ 0.8.
    public static let reference = InformativeBand.shareRange(low: 0.3, high: 0.8)

    /// Shares are ratios k/m in floating point, so the bounds are widened by 1e-12 to keep
    /// boundary values such as 3/12 inside whatever rounding the division does.
    private static let slack = 1e-12

    /// Whether a question with majority share `share` is kept.
    public func contains(_ share: Double) -> Bool {
        switch self {
        case .distanceFromHalf(let maximum):
            return abs(share - 0.5) <= maximum + InformativeBand.slack
        case .shareRange(let low, let high):
            return share >= low - InformativeBand.slack && share <= high + InformativeBand.slack
        }
    }
}

/// A question kept for Solver training, with its pseudo-label.
public struct SolverTrainingExample: Sendable, Equatable {
    /// The question text (the Solver's user message).
    public var question: String
    /// The majority answer ŷ.
    public var pseudoLabel: String
    /// p̂ of the vote that produced the pseudo-label.
    public var majorityShare: Double

    public init(question: String, pseudoLabel: String, majorityShare: Double) {
        self.question = question
        self.pseudoLabel = pseudoLabel
        self.majorityShare = majorityShare
    }
}

/// The Solver side of R-Zero: choosing training questions and rewarding answers.
public enum SolverReward {
    /// Keeps the questions that have a valid majority answer and whose p̂ lies in `band`, in
    /// their original order.
    public static func trainingExamples(
        questions: [(question: String, vote: MajorityVote)],
        band: InformativeBand = .paper
    ) -> [SolverTrainingExample] {
        questions.compactMap { question, vote in
            guard let label = vote.majorityAnswer, band.contains(vote.majorityShare) else { return nil }
            return SolverTrainingExample(question: question, pseudoLabel: label, majorityShare: vote.majorityShare)
        }
    }

    /// 1 when the last box of `response` is equivalent to `pseudoLabel`, else 0. (The reference
    /// adds 0.1 for a `<think>` format it never asks for; that is not copied.)
    public static func reward(response: String, pseudoLabel: String, grader: MathGrader = MathGrader()) -> Double {
        guard let answer = BoxedAnswer.last(in: response) else { return 0 }
        return grader.equivalent(answer, pseudoLabel) ? 1 : 0
    }
}
