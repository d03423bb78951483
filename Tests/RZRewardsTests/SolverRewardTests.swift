import Testing
@testable import RZRewards

@Suite("Solver side: informative band, filtering, reward")
struct SolverRewardTests {
    @Test("paper band |p̂ − ½| ≤ 0.25 and reference band 0.3 ≤ p̂ ≤ 0.8, both inclusive")
    func bands() {
        let paperKept = (0...10).filter { InformativeBand.paper.contains(Double($0) / 10) }
        #expect(paperKept == [3, 4, 5, 6, 7])
        let referenceKept = (0...10).filter { InformativeBand.reference.contains(Double($0) / 10) }
        #expect(referenceKept == [3, 4, 5, 6, 7, 8])
        #expect(InformativeBand.paper.contains(0.25) && InformativeBand.paper.contains(0.75))
        #expect(InformativeBand.paper.contains(3.0 / 12) && !InformativeBand.paper.contains(2.0 / 12))
        #expect(!InformativeBand.paper.contains(0.76))
    }

    @Test("questions without a valid majority or outside the band are dropped")
    func filtering() {
        let informative = MajorityVote.vote(answers: ["3", "3", "3", "4", "5", nil, "3", "4", "4", "3"])  // p̂ = 0.5
        let easy = MajorityVote.vote(answers: Array(repeating: "1", count: 10))  // p̂ = 1
        let unanswered = MajorityVote.vote(answers: Array(repeating: nil, count: 10))
        let kept = SolverReward.trainingExamples(questions: [("Q1", informative), ("Q2", easy), ("Q3", unanswered)])
        #expect(kept == [SolverTrainingExample(question: "Q1", pseudoLabel: "3", majorityShare: 0.5)])
    }

    @Test("reward is 1 for an equivalent last box, else 0")
    func reward() {
        #expect(SolverReward.reward(response: "... so \\boxed{\\frac{1}{2}}", pseudoLabel: "0.5") == 1)
        #expect(SolverReward.reward(response: "\\boxed{0.5} wait, \\boxed{0.25}", pseudoLabel: "0.5") == 0)
        #expect(SolverReward.reward(response: "the answer is 0.5", pseudoLabel: "0.5") == 0)
        #expect(SolverReward.reward(response: "<think>x</think> \\boxed{2}", pseudoLabel: "2") == 1)
    }
}
