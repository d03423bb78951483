import Foundation
import Logging
import RZAPI
import RZModel
import RZRewards

/// Phase 2: the question pool, its votes and band filter, and the Solver's dataset.
extension Coordinator {
    // MARK: Pool and dataset

    func poolChunk(iteration: Int, chunk: Int) async throws {
        let cfg = config.pool
        let start = chunk * cfg.questionsPerRequest
        let count = min(cfg.questionsPerRequest, cfg.questions - start)
        let seed = UnitSeed.derive(config.seed, 4, UInt64(iteration), UInt64(chunk))
        let challengers = try await samplers(.challenger)
        let generated = try await fanOut(
            Array(repeating: config.prompts.challengerPromptValue(), count: count), n: 1, sampling: config.challenger.sampling,
            perRequest: Self.splitSize(count, into: config.challenger.splitRequests),
            seedOf: { $0 == 0 ? seed : UnitSeed.derive(seed, 9, UInt64($0)) }, services: challengers)
        var seen = Set(try directory.readJournal(PoolRecord.self, "pool").filter { $0.iteration == iteration }.compactMap(\.question))
        var records: [PoolRecord] = []
        var toVote: [Int] = []
        for (j, r) in generated.enumerated() {
            let text = r.samples.first?.text ?? ""
            var record = PoolRecord(iteration: iteration, index: start + j, text: text, question: nil, challengerAnswer: nil,
                                    formatFailure: nil, duplicate: false, responses: [], answers: [], clusterSizes: [],
                                    majorityAnswer: nil, majorityShare: 0, kept: false)
            switch ChallengerOutput.parse(text) {
            case .success(let o):
                record.question = o.question
                record.challengerAnswer = o.answer
                if cfg.dropDuplicates && seen.contains(o.question) {
                    record.duplicate = true
                } else {
                    seen.insert(o.question)
                    toVote.append(j)
                }
            case .failure(let f):
                record.formatFailure = f.rawValue
            }
            records.append(record)
        }
        let questions = toVote.map { records[$0].question ?? "" }
        let outcomes = try await vote(questions, seed: UnitSeed.derive(seed, 5))
        let secondOpinions = config.stabilisers.secondOpinion
            ? try await vote(questions, seed: UnitSeed.derive(seed, 11), by: .challenger) : []
        let band = informativeBand()
        for (k, j) in toVote.enumerated() {
            let o = outcomes[k]
            records[j].responses = o.responses
            records[j].answers = o.vote.answers
            records[j].clusterSizes = o.vote.clusterSizes
            records[j].majorityAnswer = o.vote.majorityAnswer
            records[j].majorityShare = o.vote.majorityShare
            var kept = o.vote.majorityAnswer != nil && (band?.contains(o.vote.majorityShare) ?? true)
            if kept && config.stabilisers.challengerAnswerAgreement {
                kept = equivalent(records[j].challengerAnswer, o.vote.majorityAnswer)
            }
            if config.stabilisers.secondOpinion {
                let second = secondOpinions[k].vote
                records[j].secondOpinion = second.majorityAnswer
                records[j].secondOpinionShare = second.majorityShare
                if kept, let majority = o.vote.majorityAnswer { kept = secondOpinionReaches(second, majority: majority) }
            }
            records[j].kept = kept
        }
        for r in records { try directory.append(r, to: "pool") }
    }

    /// Whether two answers are equivalent; false when either is missing.
    func equivalent(_ a: String?, _ b: String?) -> Bool {
        guard let a, let b else { return false }
        return grader.equivalent(a, b)
    }

    /// Whether the second opinion's vote reaches `majority` (the Solver's majority answer) with at least
    /// `stabilisers.second_opinion_min_share` of its votes.
    func secondOpinionReaches(_ second: MajorityVote, majority: String) -> Bool {
        equivalent(second.majorityAnswer, majority) && second.majorityShare >= config.stabilisers.secondOpinionMinShare - 1e-12
    }

    func informativeBand() -> InformativeBand? { config.informativeBand }

    /// The questions kept in iterations `newest` down to `oldest`, newest iteration first, each question once, with the
    /// pseudo-label it was kept with.
    func keptQuestions(newest: Int, oldest: Int) throws -> [DatasetItem] {
        let pool = try directory.readJournal(PoolRecord.self, "pool")
        var seen = Set<String>()
        var items: [DatasetItem] = []
        for it in stride(from: newest, through: oldest, by: -1) {
            for r in pool where r.iteration == it && r.kept {
                guard let q = r.question, let label = r.majorityAnswer, seen.insert(q).inserted else { continue }
                items.append(DatasetItem(question: q, pseudoLabel: label, majorityShare: r.majorityShare))
            }
        }
        return items
    }

    func buildDataset(iteration: Int) throws {
        // This iteration's kept questions, then (with `solver.replay_iterations`) those of the iterations before it, newest
        // first, each question once: what was learned from them keeps being trained on.
        let items = try keptQuestions(newest: iteration, oldest: max(1, iteration - config.solver.replayIterations))
        try directory.writeLines(items, to: directory.datasetPath(iteration: iteration))
        logger.info("dataset", metadata: ["iteration": "\(iteration)", "kept": "\(items.count)", "pool": "\(config.pool.questions)"])
    }
}
