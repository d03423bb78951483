import Foundation
import Logging
import RZAPI
import RZModel
import RZRewards

/// Phase 1: the Challenger's questions, the Solver's votes on them, and the Challenger's rewards.
extension Coordinator {
    // MARK: Challenger phase

    func challengerSample(iteration: Int, step: Int) async throws {
        let cfg = config.challenger
        let challengers = try await samplers(.challenger)
        let seed = UnitSeed.derive(config.seed, 2, UInt64(iteration), UInt64(step))
        let generated = try await fanOut(
            Array(repeating: config.prompts.challengerPromptValue(), count: cfg.groupsPerStep), n: cfg.groupSize,
            sampling: cfg.sampling, perRequest: Self.splitSize(cfg.groupsPerStep, into: cfg.splitRequests),
            seedOf: { $0 == 0 ? seed : UnitSeed.derive(seed, 9, UInt64($0)) }, services: challengers)
        let rules = ChallengerFormatRules()
        var flat: [(group: Int, prompt: [Int32], sample: SampledResponse, parsed: Result<ChallengerOutput, ChallengerFormatFailure>)] = []
        for (g, r) in generated.enumerated() {
            for s in r.samples { flat.append((g, r.promptTokenIds, s, ChallengerOutput.parse(s.text, rules: rules))) }
        }
        let valid = flat.indices.filter { if case .success = flat[$0].parsed { return true } else { return false } }
        let questions = valid.map { i -> String in if case .success(let o) = flat[i].parsed { return o.question } else { return "" } }
        let outcomes = try await vote(questions, seed: UnitSeed.derive(seed, 3))
        let secondOpinions = cfg.reward.secondOpinion
            ? try await vote(questions, seed: UnitSeed.derive(seed, 11), by: .challenger) : []
        var outcomeOf: [Int: VoteOutcome] = [:]
        var secondOpinionOf: [Int: MajorityVote] = [:]
        for (k, i) in valid.enumerated() {
            outcomeOf[i] = outcomes[k]
            if cfg.reward.secondOpinion { secondOpinionOf[i] = secondOpinions[k].vote }
        }
        let batch = flat.indices.map { ChallengerSample(parsed: flat[$0].parsed, majorityShare: outcomeOf[$0]?.vote.majorityShare ?? 0) }
        let breakdowns = ChallengerReward.rewards(for: batch, settings: rewardSettings())
        var clusterSize: [Int: Int] = [:]
        for b in breakdowns { clusterSize[b.clusterLabel, default: 0] += 1 }
        var samples: [Components.Schemas.GRPOSample] = []
        for (i, item) in flat.enumerated() {
            let b = breakdowns[i]
            var reward = b.reward
            var output: ChallengerOutput? = nil
            if case .success(let o) = item.parsed { output = o }
            let outcome = outcomeOf[i]
            var agrees: Bool? = nil
            if config.stabilisers.challengerAnswerAgreement, let output {
                agrees = equivalent(output.answer, outcome?.vote.majorityAnswer)
                if agrees == false { reward = min(reward, 0) }
            }
            let second = secondOpinionOf[i]
            var secondAgrees: Bool? = nil
            if let second, let majority = outcome?.vote.majorityAnswer {
                secondAgrees = secondOpinionReaches(second, majority: majority)
                if secondAgrees == false { reward = min(reward, 0) }
            }
            try directory.append(ChallengerRecord(
                iteration: iteration, step: step, index: i, group: item.group, text: item.sample.text, question: output?.question,
                challengerAnswer: output?.answer, formatFailure: b.formatFailure?.rawValue, responses: outcome?.responses ?? [],
                answers: outcome?.vote.answers ?? [], clusterSizes: outcome?.vote.clusterSizes ?? [],
                majorityAnswer: outcome?.vote.majorityAnswer, majorityShare: outcome?.vote.majorityShare ?? 0,
                uncertainty: b.uncertainty, repetitionPenalty: b.repetitionPenalty, repetitionCluster: b.clusterLabel,
                repetitionClusterSize: clusterSize[b.clusterLabel] ?? 1, answerAgrees: agrees,
                secondOpinion: second?.majorityAnswer, secondOpinionShare: second?.majorityShare,
                secondOpinionAgrees: secondAgrees, reward: reward), to: "challenger")
            samples.append(.init(promptTokenIds: item.prompt, responseTokenIds: item.sample.tokenIds,
                                 oldLogprobs: cfg.optimizer.oldLogprobs == .sampler ? item.sample.logprobs : nil,
                                 reward: reward, group: item.group))
        }
        try writeBatch(.challenger, iteration: iteration, step: step, samples: samples, optimizer: cfg.optimizer)
    }

    /// Prompts per request when `count` prompts are split into `parts` requests (1: one request).
    static func splitSize(_ count: Int, into parts: Int) -> Int { max(1, (count + max(1, parts) - 1) / max(1, parts)) }

    func rewardSettings() -> ChallengerRewardSettings {
        let r = config.challenger.reward
        var settings = ChallengerRewardSettings(
            uncertainty: r.uncertainty == .reference ? .minimumOfShareAndComplement : .oneMinusTwiceDistanceFromHalf,
            repetitionWeight: r.repetitionWeight, distanceThreshold: r.distanceThreshold,
            clipping: r.clipAtZero ? .clipAtZero : .unclipped,
            formatFailure: r.formatFailure == .zero ? .constant(0) : .minusOneMinusRepetition)
        settings.targetShare = r.targetShare
        settings.repetitionUnit = r.repetitionUnit == .form ? .form : .text
        return settings
    }
}
