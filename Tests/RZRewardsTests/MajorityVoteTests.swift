import Testing
@testable import RZRewards

@Suite("Majority vote")
struct MajorityVoteTests {
    @Test("clusters by equivalence; unboxed and empty answers count in m but never vote")
    func clusters() {
        let responses = [
            "so \\boxed{5}", "\\boxed{5.0}", "\\boxed{6}", "I think it is 6", "\\boxed{\\frac{10}{2}}",
            "\\boxed{6}", "\\boxed{}", "\\boxed{7}", "first \\boxed{5}, no wait \\boxed{6}", "\\boxed{6.0}",
        ]
        let vote = MajorityVote.vote(responses: responses)
        #expect(vote.sampleCount == 10)
        #expect(vote.clusters == [[0, 1, 4], [2, 5, 8, 9], [7]])
        #expect(vote.clusterSizes == [3, 4, 1])
        #expect(vote.majorityAnswer == "6")
        #expect(vote.majorityShare == 0.4)
        #expect(vote.agreeingResponses == [2, 5, 8, 9])
        #expect(vote.answers[3] == nil && vote.answers[6] == nil)
    }

    @Test("ties go to the cluster whose first answer came first")
    func ties() {
        let vote = MajorityVote.vote(responses: ["\\boxed{1}", "\\boxed{2}", "\\boxed{2}", "\\boxed{1}"])
        #expect(vote.majorityAnswer == "1")
        #expect(vote.majorityShare == 0.5)
        let reversed = MajorityVote.vote(responses: ["\\boxed{2}", "\\boxed{1}", "\\boxed{1}", "\\boxed{2}"])
        #expect(reversed.majorityAnswer == "2")
    }

    @Test("without any boxed answer there is no majority and p̂ = 0")
    func noMajority() {
        let vote = MajorityVote.vote(responses: ["None", "None", "the answer is 3", ""])
        #expect(!vote.hasMajority)
        #expect(vote.majorityAnswer == nil)
        #expect(vote.majorityShare == 0)
        #expect(vote.agreeingResponses.isEmpty)
        #expect(MajorityVote.vote(responses: []).majorityShare == 0)
    }

    @Test("reference flaws are not copied: 'None' does not vote and 'no ...' answers are not all equal")
    func referenceFlaws() {
        let vote = MajorityVote.vote(responses: ["None", "None", "None", "\\boxed{4}"])
        #expect(vote.majorityAnswer == "4")
        #expect(vote.majorityShare == 0.25)
        let noAnswers = MajorityVote.vote(answers: ["no solution", "no real roots", "no solution"])
        #expect(noAnswers.clusterSizes == [2, 1])
    }

    @Test("p̂ over m = 10 from 0 to 10 agreeing answers")
    func shares() {
        for agreeing in 0...10 {
            let answers: [String?] = (0..<10).map { $0 < agreeing ? "42" : nil }
            let vote = MajorityVote.vote(answers: answers)
            #expect(abs(vote.majorityShare - Double(agreeing) / 10) < 1e-15)
            #expect(vote.hasMajority == (agreeing > 0))
        }
    }

    @Test("either-direction matching gives the same clusters with the symmetric grader")
    func eitherDirection() {
        let answers: [String?] = ["1/2", "0.5", "\\frac12", "2", nil]
        #expect(MajorityVote.vote(answers: answers, rule: .eitherDirection) == MajorityVote.vote(answers: answers))
    }
}
