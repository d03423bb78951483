/// When two answers count as the same answer for voting.
public enum ClusterMatchRule: String, Codable, Sendable, Equatable {
    /// `equivalent(a, b) && equivalent(b, a)` (this codebase's default; `MathGrader` is
    /// symmetric, so this costs nothing but guards against a future asymmetric grader).
    case bothDirections = "both_directions"
    /// `grade_answer(a, b) || grade_answer(b, a)`, as R-Zero's `question_evaluate/evaluate.py`.
    case eitherDirection = "either_direction"
}

/// The outcome of a majority vote over m sampled Solver responses to one question.
///
/// Each response's answer is its last balanced `\boxed{...}`. Responses without a box, or with an
/// empty one, never vote but still count in m (the reference counted the string "None" as an
/// answer, a flaw not copied). Answers are clustered greedily in response order: an answer joins
/// the first cluster whose first member it matches, else starts a new cluster. The majority
/// cluster is the largest; among equally large clusters the one whose first member came first
/// wins (as Python's `max` over an insertion-ordered dict in the reference).
public struct MajorityVote: Sendable, Equatable {
    /// m: the number of responses, boxed or not.
    public var sampleCount: Int
    /// The extracted answer of each response; nil when it has no (non-empty) box.
    public var answers: [String?]
    /// Response indices of each cluster, clusters in order of their first member.
    public var clusters: [[Int]]
    /// Index into `clusters` of the majority cluster; nil when no response has an answer.
    public var majorityClusterIndex: Int?

    /// The pseudo-label: the majority cluster's first answer.
    public var majorityAnswer: String? {
        guard let index = majorityClusterIndex, let first = clusters[index].first else { return nil }
        return answers[first]
    }

    /// p̂ = |majority cluster| / m, and 0 without a valid majority.
    public var majorityShare: Double {
        guard let index = majorityClusterIndex, sampleCount > 0 else { return 0 }
        return Double(clusters[index].count) / Double(sampleCount)
    }

    /// Sizes of the clusters, in cluster order.
    public var clusterSizes: [Int] { clusters.map(\.count) }

    /// Indices of the responses whose answer is in the majority cluster.
    public var agreeingResponses: [Int] {
        guard let index = majorityClusterIndex else { return [] }
        return clusters[index]
    }

    /// Whether at least one response had an answer (a valid majority exists).
    public var hasMajority: Bool { majorityClusterIndex != nil }

    /// Votes over full responses (the last box of each is its answer).
    public static func vote(
        responses: [String],
        grader: MathGrader = MathGrader(),
        rule: ClusterMatchRule = .bothDirections
    ) -> MajorityVote {
        vote(answers: responses.map { BoxedAnswer.last(in: $0) }, grader: grader, rule: rule)
    }

    /// Votes over already extracted answers; nil or empty answers do not vote but count in m.
    public static func vote(
        answers rawAnswers: [String?],
        grader: MathGrader = MathGrader(),
        rule: ClusterMatchRule = .bothDirections
    ) -> MajorityVote {
        let answers = rawAnswers.map { answer -> String? in
            guard let answer, !trimmingWhitespace(answer).isEmpty else { return nil }
            return answer
        }
        var clusters: [[Int]] = []
        for (index, answer) in answers.enumerated() {
            guard let answer else { continue }
            let match = clusters.firstIndex { cluster in
                guard let first = cluster.first, let representative = answers[first] else { return false }
                if representative == answer { return true }
                switch rule {
                case .bothDirections:
                    return grader.equivalent(answer, representative) && grader.equivalent(representative, answer)
                case .eitherDirection:
                    return grader.equivalent(answer, representative) || grader.equivalent(representative, answer)
                }
            }
            if let match {
                clusters[match].append(index)
            } else {
                clusters.append([index])
            }
        }
        var majority: Int?
        for (index, cluster) in clusters.enumerated() where majority.map({ cluster.count > clusters[$0].count }) ?? true {
            majority = index
        }
        return MajorityVote(sampleCount: answers.count, answers: answers, clusters: clusters, majorityClusterIndex: majority)
    }
}
