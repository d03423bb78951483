import Foundation
import RZAPI
import RZRewards

/// Held-out evaluation, kept apart from the training loop by construction: the labelled answers are
/// private to this file, and `run` returns nothing, so no decision of the loop (which questions to
/// train on, rewards, stopping, rollback) can depend on them. Results go only to the run directory
/// (eval.jsonl and eval/), where the report reads them.
public struct HeldOutEvaluator: Sendable {
    private let sets: [(name: String, items: [LabelledProblem])]
    private let settings: EvaluationConfig
    private let prompts: PromptsConfig

    /// Reads every dataset of `settings` (JSONL lines `{"question", "answer"}`, optional `family` and
    /// `difficulty`), failing with the file and line of a bad line.
    public init(settings: EvaluationConfig, prompts: PromptsConfig) throws {
        var sets: [(String, [LabelledProblem])] = []
        for path in settings.datasets {
            let items = try LabelledDataset.load(path)
            let name = ((path as NSString).lastPathComponent as NSString).deletingPathExtension
            sets.append((name, items))
        }
        self.sets = sets
        self.settings = settings
        self.prompts = prompts
    }

    public var isEmpty: Bool { sets.isEmpty }

    typealias Detail = EvalDetail

    /// Evaluates the Solver served by `solver` and writes the results for `iteration`.
    public func run(iteration: Int, solver: RoleService, expect: ServiceState?, solverStep: Int, seed: UInt64, directory: RunDirectory,
                    status: StatusBoard) async throws {
        let grader = MathGrader()
        var records: [EvalRecord] = []
        for (name, items) in sets {
            let greedy = try await sample(items.map(\.question), n: 1, temperature: 0, seed: seed, solver: solver, expect: expect)
            var majority: [[String]]? = nil
            if settings.majoritySamples > 1 {
                majority = try await sample(items.map(\.question), n: settings.majoritySamples, temperature: 1,
                                            seed: UnitSeed.derive(seed, 7), solver: solver, expect: expect)
            }
            var details: [Detail] = []
            for (i, item) in items.enumerated() {
                let response = greedy[i].first ?? ""
                let answer = BoxedAnswer.last(in: response)
                let correct = answer.map { grader.equivalent($0, item.answer) } ?? false
                var majorityAnswer: String? = nil
                var majorityCorrect: Bool? = nil
                if let majority {
                    majorityAnswer = MajorityVote.vote(responses: majority[i], grader: grader).majorityAnswer
                    majorityCorrect = majorityAnswer.map { grader.equivalent($0, item.answer) } ?? false
                }
                details.append(Detail(question: item.question, answer: item.answer, family: item.family, difficulty: item.difficulty,
                                      greedyResponse: response, greedyAnswer: answer, greedyCorrect: correct,
                                      majorityAnswer: majorityAnswer, majorityCorrect: majorityCorrect))
            }
            try directory.writeLines(details, to: directory.evalDetailPath(iteration: iteration, dataset: name))
            func slices(_ key: (Detail) -> String?) -> [EvalRecord.Slice] {
                var groups: [String: [Detail]] = [:]
                for d in details { if let k = key(d) { groups[k, default: []].append(d) } }
                return groups.keys.sorted().map { k in
                    let g = groups[k] ?? []
                    return EvalRecord.Slice(name: k, count: g.count, greedyCorrect: g.filter(\.greedyCorrect).count,
                                            majorityCorrect: majority == nil ? nil : g.filter { $0.majorityCorrect == true }.count)
                }
            }
            let n = Double(details.count)
            let record = EvalRecord(
                iteration: iteration, dataset: name, count: details.count,
                greedyAccuracy: Double(details.filter(\.greedyCorrect).count) / n,
                majorityAccuracy: majority == nil ? nil : Double(details.filter { $0.majorityCorrect == true }.count) / n,
                byFamily: slices(\.family), byDifficulty: slices { $0.difficulty.map { String($0) } }, solverStep: solverStep)
            try directory.append(record, to: "eval")
            records.append(record)
        }
        let done = records
        status.update { $0.lastEval = done }
    }

    private func sample(_ questions: [String], n: Int, temperature: Double, seed: UInt64, solver: RoleService,
                        expect: ServiceState?) async throws -> [[String]] {
        try await solver.generateTexts(
            prompts: questions.map { prompts.solverPrompt(question: $0) }, n: n,
            sampling: SamplingConfig(temperature: temperature, topP: 1, topK: 0, maxTokens: settings.maxTokens),
            chunk: max(1, min(256, 1024 / n)), seedOf: { UnitSeed.derive(seed, UInt64($0)) }, expect: expect)
    }
}

extension PromptsConfig {
    /// The Solver's prompt for `question`.
    func solverPrompt(question: String) -> Components.Schemas.Prompt {
        switch kind {
        case .completion:
            return .text(solverTemplate.replacingOccurrences(of: "{question}", with: question))
        case .chat:
            return .messages([.system(solverSystem), .user(question)])
        }
    }

    /// The Challenger's fixed prompt.
    func challengerPromptValue() -> Components.Schemas.Prompt {
        switch kind {
        case .completion:
            return .text(challengerPrompt)
        case .chat:
            let system = challengerSystem.isEmpty ? RolePrompts.referenceChallengerSystem : challengerSystem
            let user = challengerUser.isEmpty ? RolePrompts.referenceChallengerUser : challengerUser
            return .messages([.system(system), .user(user)])
        }
    }
}
