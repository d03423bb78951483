import Testing
@testable import RZRewards

/// Hostile inputs: every case must return its expected verdict (the mathematically correct one
/// within the limits, false beyond them) without crashing. Timing lives in RewardsBenchmark.
@Suite("Adversarial inputs")
struct AdversarialTests {
    @Test("each benchmark case returns its expected verdict in both argument orders",
          arguments: RewardsBenchmark.adversarialCases().map(\.name))
    func adversarialCase(_ name: String) throws {
        let testCase = try #require(RewardsBenchmark.adversarialCases().first { $0.name == name })
        let grader = MathGrader()
        #expect(grader.equivalent(testCase.a, testCase.b) == testCase.expected)
        #expect(grader.equivalent(testCase.b, testCase.a) == testCase.expected)
    }

    @Test("box extraction and challenger parsing survive a megabyte of nested or unbalanced braces")
    func hugeResponses() {
        let nested = String(repeating: "\\boxed{", count: 50_000) + "5" + String(repeating: "}", count: 50_000)
        #expect(BoxedAnswer.last(in: nested) == "5")
        let unbalanced = "\\boxed{1} " + String(repeating: "{", count: 1_000_000)
        #expect(BoxedAnswer.last(in: unbalanced) == "1")
        let closers = String(repeating: "}", count: 1_000_000) + "\\boxed{2}"
        #expect(BoxedAnswer.last(in: closers) == "2")
        let openTags = String(repeating: "<question>", count: 100_000)
        #expect(ChallengerOutput.parse(openTags) == .failure(.unclosedQuestionTag))
        let megabyteQuestion = "<question>" + String(repeating: "a ", count: 500_000) + "</question> \\boxed{1}"
        #expect(ChallengerOutput.parse(megabyteQuestion) == .failure(.questionTooLong))
    }

    @Test("majority vote over huge and hostile answers finishes and counts them")
    func hostileVote() {
        let huge = "\\boxed{" + String(repeating: "9", count: 1_000_000) + "}"
        let deep = "\\boxed{" + String(repeating: "\\frac{1}{", count: 5_000) + "1" + String(repeating: "}", count: 5_000) + "}"
        let vote = MajorityVote.vote(responses: [huge, huge, deep, "\\boxed{10^{10^{10}}}", "\\boxed{10^{10^{10}}}", "\\boxed{10^{10^{10}}}"])
        #expect(vote.clusterSizes == [2, 1, 3])
        #expect(vote.majorityAnswer == "10^{10^{10}}")
        #expect(vote.majorityShare == 0.5)
    }
}
