import Foundation
import Logging
import RZAPI
import RZModel
import RZRewards

/// Fan-out: sampling requests spread over a role's services in fixed chunks, and the Solver votes built on it.
extension Coordinator {
    func fanOut(_ prompts: [Components.Schemas.Prompt], n: Int, sampling: SamplingConfig, perRequest: Int,
                seedOf: @escaping @Sendable (Int) -> UInt64, services: [RoleService]) async throws -> Sampled {
        if prompts.isEmpty { return [] }
        let size = max(1, perRequest)
        let chunks = stride(from: 0, to: prompts.count, by: size).map { Array(prompts[$0..<min($0 + size, prompts.count)]) }
        let concurrency = config.services.concurrentRequests * services.count
        let logger = self.logger
        let expected = observed
        let trainerName = services[0].name
        var out = Sampled(repeating: ([], []), count: prompts.count)
        try await withThrowingTaskGroup(of: (Int, Sampled).self) { group in
            var next = 0
            func launch(_ c: Int) {
                let chunk = chunks[c]
                group.addTask {
                    var lastError: (any Error)?
                    // The assigned service first, then the others if it fails: they all hold the same weights.
                    for attempt in 0..<services.count {
                        let service = services[(c + attempt) % services.count]
                        do {
                            return (c, try await service.generate(prompts: chunk, n: n, sampling: sampling, seed: seedOf(c),
                                                                  expect: expected[service.name]))
                        } catch let changed as ServiceChanged where service.name == trainerName {
                            throw changed  // the trainer restarted: the unit starts over
                        } catch {
                            logger.warning("sampling request failed", metadata: ["service": "\(service.name)", "error": "\(brief(error))"])
                            lastError = error
                        }
                    }
                    throw lastError ?? ConfigError("no service answered")
                }
            }
            while next < min(concurrency, chunks.count) { launch(next); next += 1 }
            for try await (c, results) in group {
                for (j, r) in results.enumerated() { out[c * size + j] = r }
                if next < chunks.count { launch(next); next += 1 }
            }
        }
        return out
    }

    func key(_ role: WorkUnit.Role, _ serviceStep: Int) -> String { "\(state.runId)/\(role.rawValue)/\(serviceStep)" }

    // MARK: Voting

    struct VoteOutcome {
        var responses: [String]
        var vote: MajorityVote
    }

    /// m Solver answers for each question, fanned out over the voting Solvers in fixed chunks (so the
    /// answers do not depend on how many Solvers there are), and their majority votes.
    /// `by`: the role whose model answers (the Challenger's for the second opinion), always with the Solver's prompt.
    func vote(_ questions: [String], seed: UInt64, by role: WorkUnit.Role = .solver) async throws -> [VoteOutcome] {
        if questions.isEmpty { return [] }
        let voters = try await samplers(role)
        let results = try await fanOut(questions.map { config.prompts.solverPrompt(question: $0) }, n: config.votes.samples,
                                       sampling: config.votes.sampling, perRequest: config.votes.questionsPerRequest,
                                       seedOf: { UnitSeed.derive(seed, UInt64($0)) }, services: voters)
        let grader = self.grader
        return results.map { r in
            let texts = r.samples.map(\.text)
            return VoteOutcome(responses: texts, vote: MajorityVote.vote(responses: texts, grader: grader))
        }
    }
}
