import Foundation
import Logging
import RZAPI
import RZModel
import RZRewards

/// Phase 3: the Solver's answers to the kept questions and their rewards against the pseudo-labels.
extension Coordinator {
    // MARK: Solver phase

    func solverSample(iteration: Int, step: Int) async throws {
        let cfg = config.solver
        let items = try directory.readLines(DatasetItem.self, from: directory.datasetPath(iteration: iteration))
        guard !items.isEmpty else {
            try writeBatch(.solver, iteration: iteration, step: step, samples: nil, optimizer: cfg.optimizer)
            return
        }
        // A fixed shuffled order per iteration; steps take consecutive slices, wrapping around.
        var order = Array(items.indices)
        var rng = UnitSeed.derive(config.seed, 6, UInt64(iteration))
        for i in stride(from: order.count - 1, to: 0, by: -1) {
            rng = UnitSeed.mix(rng)
            order.swapAt(i, Int(rng % UInt64(i + 1)))
        }
        let picked = (0..<cfg.questionsPerStep).map { items[order[(step * cfg.questionsPerStep + $0) % order.count]] }
        let solver = try await trainerReady(.solver)
        let generated = try await solver.generate(
            prompts: picked.map { config.prompts.solverPrompt(question: $0.question) }, n: cfg.groupSize,
            sampling: cfg.sampling, seed: UnitSeed.derive(config.seed, 8, UInt64(iteration), UInt64(step)), expect: observed[solver.name])
        var samples: [Components.Schemas.GRPOSample] = []
        for (g, r) in generated.enumerated() {
            for s in r.samples {
                let answer = BoxedAnswer.last(in: s.text)
                let reward = SolverReward.reward(response: s.text, pseudoLabel: picked[g].pseudoLabel, grader: grader)
                try directory.append(SolverRecord(iteration: iteration, step: step, group: g, question: picked[g].question,
                                                  pseudoLabel: picked[g].pseudoLabel, response: s.text, answer: answer, reward: reward),
                                     to: "solver")
                samples.append(.init(promptTokenIds: r.promptTokenIds, responseTokenIds: s.tokenIds,
                                     oldLogprobs: cfg.optimizer.oldLogprobs == .sampler ? s.logprobs : nil, reward: reward, group: g))
            }
        }
        try writeBatch(.solver, iteration: iteration, step: step, samples: samples, optimizer: cfg.optimizer)
    }
}
