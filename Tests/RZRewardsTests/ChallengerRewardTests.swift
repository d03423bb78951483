import Testing
@testable import RZRewards

@Suite("Challenger reward")
struct ChallengerRewardTests {
    @Test("uncertainty for p̂ = 0.0, 0.1, ..., 1.0 in both variants (hand-derived)")
    func uncertaintyTable() {
        let paper = [0.0, 0.2, 0.4, 0.6, 0.8, 1.0, 0.8, 0.6, 0.4, 0.2, 0.0]
        let reference = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.4, 0.3, 0.2, 0.1, 0.0]
        for step in 0...10 {
            let share = Double(step) / 10
            #expect(abs(UncertaintyReward.oneMinusTwiceDistanceFromHalf.reward(majorityShare: share) - paper[step]) < 1e-12)
            #expect(abs(UncertaintyReward.minimumOfShareAndComplement.reward(majorityShare: share) - reference[step]) < 1e-12)
        }
    }

    // Identical questions of ≥ 4 tokens are at distance 0; these three share no token (distance 1).
    static let repeated = "Find the sum of all primes below 100."
    static let other = "Compute 7 times 8 exactly."
    static let third = "How many ways exist to tile boards?"

    static func sample(_ question: String, share: Double) -> ChallengerSample {
        ChallengerSample(parsed: .success(ChallengerOutput(question: question, answer: "1")), majorityShare: share)
    }

    @Test("forms: numbers become one placeholder and symbols words of their own")
    func forms() {
        #expect(ChallengerReward.form(of: "92+35*2") == "0 + 0 * 0")
        #expect(ChallengerReward.form(of: "(4.5 - 12)/3") == "( 0 - 0 ) / 0")
        #expect(ChallengerReward.form(of: "Mia has 43 books.  How many?") == "Mia has 0 books . How many ?")
        #expect(ChallengerReward.form(of: "3x+5=20") == "0 x + 0 = 0")
    }

    @Test("by form, same-form arithmetic clusters and is penalised; by text (the paper) it never clusters")
    func repetitionByForm() {
        let batch = ["92+35", "47+18", "8*9", "6+71"].map { Self.sample($0, share: 0.5) }
        let byText = ChallengerReward.rewards(for: batch, settings: .paper)
        #expect(byText.map(\.clusterLabel) == [0, 1, 2, 3])
        #expect(byText.allSatisfy { abs($0.repetitionPenalty - 0.25) < 1e-12 && abs($0.reward - 0.75) < 1e-12 })
        var settings = ChallengerRewardSettings.paper
        settings.repetitionUnit = .form
        let byForm = ChallengerReward.rewards(for: batch, settings: settings)
        #expect(byForm.map(\.clusterLabel) == [0, 0, 1, 0])
        // The three "0 + 0" questions share λ·3/4; the one product keeps λ·1/4.
        #expect(zip(byForm.map(\.reward), [0.25, 0.25, 0.75, 0.25]).allSatisfy { abs($0 - $1) < 1e-12 })
    }

    @Test("known clusters give r_rep = λ|C|/B; paper clips at zero, reference does not")
    func knownClusters() {
        let batch = [Self.sample(Self.repeated, share: 0.5), Self.sample(Self.other, share: 0.5), Self.sample(Self.repeated, share: 0.5),
                     Self.sample(Self.repeated, share: 0.9), Self.sample(Self.third, share: 0.5), Self.sample(Self.repeated, share: 0.5)]
        let paper = ChallengerReward.rewards(for: batch, settings: .paper)
        #expect(paper.map(\.clusterLabel) == [0, 1, 0, 0, 2, 0])
        let expectedPenalties = [4.0, 1, 4, 4, 1, 4].map { $0 / 6 }
        for (breakdown, penalty) in zip(paper, expectedPenalties) {
            #expect(abs(breakdown.repetitionPenalty - penalty) < 1e-12)
        }
        // r_unc = 1 at p̂ = 0.5 and 0.2 at p̂ = 0.9.
        let expectedPaper = [1 - 4.0 / 6, 1 - 1.0 / 6, 1 - 4.0 / 6, 0, 1 - 1.0 / 6, 1 - 4.0 / 6]
        for (breakdown, value) in zip(paper, expectedPaper) { #expect(abs(breakdown.reward - value) < 1e-12) }

        let reference = ChallengerReward.rewards(for: batch, settings: .reference)
        // r_unc = 0.5 at p̂ = 0.5 and 0.1 at p̂ = 0.9, no clipping.
        let expectedReference = [0.5 - 4.0 / 6, 0.5 - 1.0 / 6, 0.5 - 4.0 / 6, 0.1 - 4.0 / 6, 0.5 - 1.0 / 6, 0.5 - 4.0 / 6]
        for (breakdown, value) in zip(reference, expectedReference) { #expect(abs(breakdown.reward - value) < 1e-12) }

        var unclippedPaper = ChallengerRewardSettings.paper
        unclippedPaper.clipping = .unclipped
        #expect(abs(ChallengerReward.rewards(for: batch, settings: unclippedPaper)[3].reward - (0.2 - 4.0 / 6)) < 1e-12)

        var doubleWeight = ChallengerRewardSettings.paper
        doubleWeight.repetitionWeight = 2
        #expect(abs(ChallengerReward.rewards(for: batch, settings: doubleWeight)[1].reward - (1 - 2.0 / 6)) < 1e-12)
    }

    @Test("format failures: 0 (paper) or −1 − r_rep (reference); they count in B as singletons")
    func formatFailures() {
        let malformed = ChallengerSample(parsed: .failure(.noQuestionBlock), majorityShare: 0.5)
        let batch = [Self.sample(Self.repeated, share: 0.5), malformed, Self.sample(Self.repeated, share: 0.5),
                     Self.sample(Self.repeated, share: 0.5), malformed]
        let paper = ChallengerReward.rewards(for: batch, settings: .paper)
        #expect(paper.map(\.clusterLabel) == [0, 1, 0, 0, 2])
        #expect(paper[1].reward == 0 && paper[1].uncertainty == nil && paper[1].formatFailure == .noQuestionBlock)
        #expect(abs(paper[0].reward - (1 - 3.0 / 5)) < 1e-12)
        let reference = ChallengerReward.rewards(for: batch, settings: .reference)
        #expect(abs(reference[1].reward - (-1 - 1.0 / 5)) < 1e-12)
        #expect(abs(reference[4].reward - (-1 - 1.0 / 5)) < 1e-12)
        var custom = ChallengerRewardSettings.paper
        custom.formatFailure = .constant(-0.5)
        #expect(ChallengerReward.rewards(for: batch, settings: custom)[4].reward == -0.5)
    }

    @Test("the distance threshold decides whether near-duplicates share a cluster")
    func threshold() {
        let a = "Find the number of positive integers n below 1000 such that n squared ends in 9"
        let b = "Find the number of positive integers n below 2000 such that n squared ends in 9"
        let distance = 1 - SentenceBLEU.score(hypothesis: a, reference: b)
        #expect(distance > 0.1 && distance < 0.5)
        #expect(ChallengerReward.repetitionClusters(questions: [a, b], distanceThreshold: 0.5) == [0, 0])
        #expect(ChallengerReward.repetitionClusters(questions: [a, b], distanceThreshold: distance) == [0, 1])
        #expect(ChallengerReward.rewards(for: []).isEmpty)
    }

    @Test("settings round-trip through JSON and the presets differ exactly where the reference does")
    func settingsCodable() throws {
        let encoded = try JSONEncoder().encode(ChallengerRewardSettings.reference)
        #expect(try JSONDecoder().decode(ChallengerRewardSettings.self, from: encoded) == .reference)
        let paper = ChallengerRewardSettings.paper
        #expect(paper.repetitionWeight == 1 && paper.distanceThreshold == 0.5)
        #expect(paper.uncertainty == .oneMinusTwiceDistanceFromHalf && paper.clipping == .clipAtZero && paper.formatFailure == .constant(0))
        let reference = ChallengerRewardSettings.reference
        #expect(reference.uncertainty == .minimumOfShareAndComplement && reference.clipping == .unclipped)
        #expect(reference.formatFailure == .minusOneMinusRepetition)
    }

    @Test("a target share moves the peak of r_unc; ½ is the paper's form (hand-derived values)")
    func targetShare() {
        let paper = UncertaintyReward.oneMinusTwiceDistanceFromHalf
        for step in 0...10 {
            let p = Double(step) / 10
            #expect(abs(paper.reward(majorityShare: p, target: 0.5) - paper.reward(majorityShare: p)) < 1e-12)
        }
        // Target 0.7: a tent, p/0.7 below the peak and (1 − p)/0.3 above it.
        #expect(abs(paper.reward(majorityShare: 0.7, target: 0.7) - 1) < 1e-12)
        #expect(abs(paper.reward(majorityShare: 0.35, target: 0.7) - 0.5) < 1e-12)
        #expect(abs(paper.reward(majorityShare: 0.9, target: 0.7) - 1.0 / 3.0) < 1e-12)
        #expect(abs(paper.reward(majorityShare: 1.0, target: 0.7)) < 1e-12 && abs(paper.reward(majorityShare: 0, target: 0.7)) < 1e-12)
        var settings = ChallengerRewardSettings()
        settings.targetShare = 0.7
        settings.repetitionWeight = 0
        let out = ChallengerOutput(question: "1+1", answer: nil)
        let rewards = ChallengerReward.rewards(for: [ChallengerSample(parsed: .success(out), majorityShare: 0.9)], settings: settings)
        #expect(abs(rewards[0].reward - 1.0 / 3.0) < 1e-12)
    }
}

import Foundation
