import Foundation
import Testing
import RZTestSupport
@testable import RZTraining

/// grpo_cases.json from scripts/make_grpo_fixtures.py (a transcription of EasyR1's core_algos.py).
struct GRPOCases: Decodable {
    struct Advantage: Decodable { let rewards: [Double]; let groups: [Int]; let expected: [Double] }
    struct Policy: Decodable {
        let logp: Double, old: Double, advantage: Double, value: Double, grad: Double
        let clipped_higher: Bool, clipped_lower: Bool
    }
    struct KL: Decodable { let kind: String; let logp: Double; let ref: Double; let value: Double; let grad: Double }
    struct BatchResult: Decodable { let mode: String; let loss: Double; let policy_loss: Double; let kl: Double; let grad: [[Double]] }
    struct Batch: Decodable {
        let logp: [[Double]], old: [[Double]], ref: [[Double]], advantages: [Double], kl_coef: Double
        let results: [BatchResult]
    }
    let magic: String
    let version: Int
    let advantages: [Advantage]
    let policy_loss: [Policy]
    let kl: [KL]
    let batch: Batch

    static func load() throws -> GRPOCases {
        let c = try JSONDecoder().decode(GRPOCases.self, from: Data(contentsOf: URL(fileURLWithPath: Fixtures.path("grpo/grpo_cases.json"))))
        guard c.magic == "rzero-grpo-fixture", c.version == 1 else {
            throw GRPOError.invalidValue("stale grpo_cases.json: re-run scripts/make_grpo_fixtures.py")
        }
        return c
    }
}

@Suite("GRPO pure functions")
struct GRPOMathTests {
    @Test("advantages: hand-derived values")
    func advantagesByHand() throws {
        // Group {1, 0}: mean ½, unbiased std √½, so A = ±½/√½ = ±√½ (less ε).
        let a = try groupAdvantages(rewards: [1, 0], groups: [4, 4], epsilon: 0)
        #expect(abs(a[0] - 0.5.squareRoot()) < 1e-12 && abs(a[1] + 0.5.squareRoot()) < 1e-12)
        #expect(try groupAdvantages(rewards: [0.3, 0.3, 0.3], groups: [1, 1, 1]) == [0, 0, 0])
        #expect(throws: GRPOError.groupOfOne(group: 2)) { try groupAdvantages(rewards: [1, 0, 1], groups: [1, 1, 2]) }
        #expect(throws: GRPOError.self) { try groupAdvantages(rewards: [1, .nan], groups: [1, 1]) }
        #expect(throws: GRPOError.self) { try groupAdvantages(rewards: [1], groups: [1, 1]) }
    }

    @Test("advantages match the Python transcription")
    func advantagesFixture() throws {
        for c in try GRPOCases.load().advantages {
            let a = try groupAdvantages(rewards: c.rewards, groups: c.groups)
            #expect(zip(a, c.expected).allSatisfy { abs($0 - $1) < 1e-9 }, "\(a) vs \(c.expected)")
        }
    }

    @Test("policy loss: values, gradients and clip flags match autograd on the transcription")
    func policyLossFixture() throws {
        let cases = try GRPOCases.load().policy_loss
        #expect(cases.count >= 50)
        for c in cases {
            let r = policyLoss(logp: c.logp, oldLogp: c.old, advantage: c.advantage, clip: ClipSettings())
            #expect(abs(r.value - c.value) < 1e-9 * max(1, abs(c.value)), "value at \(c)")
            #expect(abs(r.dLogp - c.grad) < 1e-9 * max(1, abs(c.grad)), "grad at \(c): \(r.dLogp)")
            #expect(r.clippedHigher == c.clipped_higher && r.clippedLower == c.clipped_lower, "flags at \(c)")
        }
    }

    @Test("policy loss: hand-derived values")
    func policyLossByHand() {
        // On-policy (ratio 1): L = −A, dL/dlogp = −A.
        #expect(policyLoss(logp: -1, oldLogp: -1, advantage: 2, clip: ClipSettings()) ==
                TokenPolicyLoss(value: -2, dLogp: -2, clippedHigher: false, clippedLower: false))
        // Ratio e^1 with A > 0: the clipped term −A(1.3) is larger, chosen, and has no gradient.
        let up = policyLoss(logp: 0, oldLogp: -1, advantage: 1, clip: ClipSettings())
        #expect(abs(up.value + 1.3) < 1e-12 && up.dLogp == 0 && up.clippedHigher)
        // Ratio e^2 with A < 0: −A·r = 7.39 > dual clip 3, so L = 3·|A| with no gradient.
        let dual = policyLoss(logp: 1, oldLogp: -1, advantage: -1, clip: ClipSettings())
        #expect(dual.value == 3 && dual.dLogp == 0 && dual.clippedLower)
    }

    @Test("KL estimators match the transcription (values and gradients, clamps included)")
    func klFixture() throws {
        for c in try GRPOCases.load().kl {
            let kind = try #require(KLPenalty(rawValue: c.kind))
            let r = klPenalty(kind, logp: c.logp, refLogp: c.ref)
            #expect(abs(r.value - c.value) < 1e-9 * max(1, abs(c.value)), "\(c)")
            #expect(abs(r.dLogp - c.grad) < 1e-9 * max(1, abs(c.grad)), "\(c): \(r.dLogp)")
        }
        // k3 at δ = 0 is 0 with zero slope; k3(δ) = e^δ − δ − 1 by hand at δ = 1.
        #expect(klPenalty(.lowVarKL, logp: -1, refLogp: -1) == (0, 0))
        #expect(abs(klPenalty(.lowVarKL, logp: -2, refLogp: -1).value - (M_E - 2)) < 1e-12)
    }

    @Test("gradients agree with finite differences away from the clip kinks")
    func finiteDifferences() {
        let h = 1e-6
        for (logp, old, a) in [(-1.1, -1.0, 0.8), (-0.95, -1.0, -1.3), (-3.0, -2.9, 2.0)] {
            let f = { (x: Double) in policyLoss(logp: x, oldLogp: old, advantage: a, clip: ClipSettings()).value }
            let numeric = (f(logp + h) - f(logp - h)) / (2 * h)
            #expect(abs(numeric - policyLoss(logp: logp, oldLogp: old, advantage: a, clip: ClipSettings()).dLogp) < 1e-6)
        }
        for kind in KLPenalty.allCases {
            let f = { (x: Double) in klPenalty(kind, logp: x, refLogp: -1.7).value }
            let numeric = (f(-1.2 + h) - f(-1.2 - h)) / (2 * h)
            #expect(abs(numeric - klPenalty(kind, logp: -1.2, refLogp: -1.7).dLogp) < 1e-6, "\(kind)")
        }
    }

    @Test("aggregation weights: token-mean and seq-mean-token-mean by hand")
    func aggregation() {
        #expect(aggregationWeights(.tokenMean, lengths: [1, 3]) == [[0.25], [0.25, 0.25, 0.25]])
        #expect(aggregationWeights(.seqMeanTokenMean, lengths: [1, 2]) == [[0.5], [0.25, 0.25]])
    }

    @Test("whole-batch loss and dL/dlogp match the transcription for both aggregations")
    func batchFixture() throws {
        let b = try GRPOCases.load().batch
        for res in b.results {
            let mode = try #require(LossAggregation(rawValue: res.mode))
            var settings = GRPOLossSettings()
            settings.klCoef = b.kl_coef
            settings.aggregation = mode
            let r = try grpoLoss(logp: b.logp, oldLogp: b.old, refLogp: b.ref, advantages: b.advantages,
                                 weights: aggregationWeights(mode, lengths: b.logp.map(\.count)), settings: settings)
            #expect(abs(r.loss - res.loss) < 1e-9)
            #expect(abs(r.policyLoss - res.policy_loss) < 1e-9)
            #expect(abs(r.kl - res.kl) < 1e-9)
            for (mine, ref) in zip(r.dLogp.joined(), res.grad.joined()) { #expect(abs(mine - ref) < 1e-9) }
        }
    }

    @Test("learning-rate schedules")
    func schedules() {
        #expect(LRSchedule.constant.learningRate(base: 0.1, step: 7) == 0.1)
        #expect(LRSchedule.linearWarmup(warmupSteps: 4).learningRate(base: 0.1, step: 1) == 0.025)
        #expect(LRSchedule.linearWarmup(warmupSteps: 4).learningRate(base: 0.1, step: 9) == 0.1)
        let cos = LRSchedule.cosine(warmupSteps: 2, totalSteps: 12, minRatio: 0.1)
        #expect(cos.learningRate(base: 1, step: 1) == 0.5)
        #expect(abs(cos.learningRate(base: 1, step: 2) - 1) < 1e-12)
        #expect(abs(cos.learningRate(base: 1, step: 7) - 0.55) < 1e-12)  // halfway: 0.1 + 0.9·½
        #expect(abs(cos.learningRate(base: 1, step: 12) - 0.1) < 1e-12)
    }
}
