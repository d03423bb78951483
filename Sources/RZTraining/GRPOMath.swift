import Foundation

// GRPO's loss, as small pure functions over Doubles (verl/EasyR1 `core_algos.py` semantics, pinned in
// the tests against a Python transcription). Shapes: B responses; response s has T_s tokens.

/// KL estimators between the policy and the frozen reference, per token (Schulman, "Approximating KL
/// divergence", 2020). Raw values are verl's names.
public enum KLPenalty: String, Codable, Sendable, CaseIterable {
    /// k1: logp − ref.
    case kl
    /// |logp − ref|.
    case abs
    /// k2: ½ (logp − ref)².
    case mse
    /// k3: e^δ − δ − 1 with δ = ref − logp clamped to ±20, result clamped to ±10.
    case lowVarKL = "low_var_kl"
}

/// How per-token losses become one number.
public enum LossAggregation: String, Codable, Sendable, CaseIterable {
    /// Mean over every response token of the whole optimizer batch (EasyR1 "token"). Micro-batching does
    /// not change it: rzero normalises by the batch's total token count, not per micro-batch.
    case tokenMean = "token-mean"
    /// Mean over responses of each response's token mean (EasyR1 "seq").
    case seqMeanTokenMean = "seq-mean-token-mean"
}

public enum GRPOError: Error, Equatable, CustomStringConvertible, Sendable {
    case groupOfOne(group: Int)
    case shapeMismatch(String)
    case invalidValue(String)

    public var description: String {
        switch self {
        case .groupOfOne(let g): return "group \(g) has a single response; GRPO needs at least 2 per group"
        case .shapeMismatch(let m): return "shape mismatch: \(m)"
        case .invalidValue(let m): return "invalid value: \(m)"
        }
    }
}

/// Group-relative advantages: A_i = (r_i − mean_g) / (std_g + ε), std unbiased (N − 1), over the
/// responses sharing group id g. A group whose rewards are all equal gets 0; a group of one is an error
/// (EasyR1 asserts "GRPO needs rollout.n > 1").
public func groupAdvantages(rewards: [Double], groups: [Int], epsilon: Double = 1e-6) throws -> [Double] {
    guard rewards.count == groups.count else {
        throw GRPOError.shapeMismatch("\(rewards.count) rewards for \(groups.count) group ids")
    }
    if let bad = rewards.firstIndex(where: { !$0.isFinite }) {
        throw GRPOError.invalidValue("reward \(bad) is \(rewards[bad])")
    }
    var members: [Int: [Int]] = [:]
    for (i, g) in groups.enumerated() { members[g, default: []].append(i) }
    var advantages = [Double](repeating: 0, count: rewards.count)
    for (g, idx) in members {
        guard idx.count > 1 else { throw GRPOError.groupOfOne(group: g) }
        let n = Double(idx.count)
        let mean = idx.reduce(0) { $0 + rewards[$1] } / n
        let variance = idx.reduce(0) { $0 + (rewards[$1] - mean) * (rewards[$1] - mean) } / (n - 1)
        let std = variance.squareRoot()
        for i in idx { advantages[i] = (rewards[i] - mean) / (std + epsilon) }
    }
    return advantages
}

/// One token's clipped policy loss, its derivative with respect to the token's log-probability, and
/// which clip was active.
public struct TokenPolicyLoss: Equatable, Sendable {
    public var value: Double
    public var dLogp: Double
    /// The ratio was clipped at 1 − low or 1 + high and the clipped term was chosen (verl pg_clipfrac_higher).
    public var clippedHigher: Bool
    /// A < 0 and the dual clip −A·c was chosen (verl pg_clipfrac_lower).
    public var clippedLower: Bool
}

/// Clip settings of the PPO/GRPO surrogate (EasyR1 defaults: 0.2 / 0.3 / 3.0).
public struct ClipSettings: Codable, Sendable, Equatable {
    public var low: Double = 0.2
    public var high: Double = 0.3
    public var dual: Double = 3.0
    public init(low: Double = 0.2, high: Double = 0.3, dual: Double = 3.0) {
        self.low = low
        self.high = high
        self.dual = dual
    }
}

/// L = max(−A·r, −A·clip(r)) and, for A < 0, min(that, −A·c), where r = exp(clamp(logp − old, ±20)) and
/// clip(r) = exp(clamp(logp − old, log(1 − low), log(1 + high))): EasyR1 clips the log-ratio.
/// The derivative follows torch's autograd, including its rule that `max`/`min` split the gradient
/// evenly between tied arguments (which matters only where the two terms are equal).
public func policyLoss(logp: Double, oldLogp: Double, advantage A: Double, clip: ClipSettings) -> TokenPolicyLoss {
    let logRatio = logp - oldLogp
    let ratioActive = logRatio > -20 && logRatio < 20
    let ratio = Foundation.exp(min(max(logRatio, -20), 20))
    let lo = Foundation.log(1 - clip.low), hi = Foundation.log(1 + clip.high)
    let clippedActive = logRatio > lo && logRatio < hi
    let clippedRatio = Foundation.exp(min(max(logRatio, lo), hi))
    let loss1 = -A * ratio, loss2 = -A * clippedRatio, loss3 = -A * clip.dual
    let d1 = ratioActive ? -A * ratio : 0
    let d2 = clippedActive ? -A * clippedRatio : 0
    // max(loss1, loss2)
    let higher = max(loss1, loss2)
    let dHigher = loss1 > loss2 ? d1 : (loss1 < loss2 ? d2 : (d1 + d2) / 2)
    var result = TokenPolicyLoss(value: higher, dLogp: dHigher, clippedHigher: loss1 < loss2, clippedLower: false)
    if A < 0 {
        // min(higher, loss3); loss3 does not depend on logp.
        result.value = min(higher, loss3)
        result.dLogp = higher < loss3 ? dHigher : (higher > loss3 ? 0 : dHigher / 2)
        result.clippedLower = higher > loss3
    }
    return result
}

/// One token's KL penalty and its derivative with respect to the policy log-probability.
public func klPenalty(_ kind: KLPenalty, logp: Double, refLogp: Double) -> (value: Double, dLogp: Double) {
    let d = logp - refLogp
    switch kind {
    case .kl:
        return (d, 1)
    case .abs:
        return (Swift.abs(d), d > 0 ? 1 : (d < 0 ? -1 : 0))
    case .mse:
        return (0.5 * d * d, d)
    case .lowVarKL:
        let raw = refLogp - logp
        let delta = min(max(raw, -20), 20)
        let k3 = Foundation.exp(delta) - delta - 1
        let value = min(max(k3, -10), 10)
        // dk3/dlogp = −(e^δ − 1) while neither clamp is active.
        let active = raw > -20 && raw < 20 && k3 < 10
        return (value, active ? 1 - Foundation.exp(delta) : 0)
    }
}

/// Per-token weights w such that the aggregated loss is Σ_s Σ_t w[s][t] · ℓ[s][t].
public func aggregationWeights(_ mode: LossAggregation, lengths: [Int]) -> [[Double]] {
    switch mode {
    case .tokenMean:
        let total = lengths.reduce(0, +)
        return lengths.map { [Double](repeating: total > 0 ? 1 / Double(total) : 0, count: $0) }
    case .seqMeanTokenMean:
        let B = Double(max(lengths.count, 1))
        return lengths.map { n in [Double](repeating: n > 0 ? 1 / (B * Double(n)) : 0, count: n) }
    }
}

/// The GRPO objective's settings (defaults: the paper's / EasyR1's).
public struct GRPOLossSettings: Codable, Sendable, Equatable {
    public var clip = ClipSettings()
    /// nil disables the KL term.
    public var klPenalty: KLPenalty? = .lowVarKL
    public var klCoef: Double = 0.01
    public var aggregation: LossAggregation = .tokenMean
    public var advantageEpsilon: Double = 1e-6

    public init(clip: ClipSettings = ClipSettings(), klPenalty: KLPenalty? = .lowVarKL, klCoef: Double = 0.01,
                aggregation: LossAggregation = .tokenMean, advantageEpsilon: Double = 1e-6) {
        self.clip = clip
        self.klPenalty = klPenalty
        self.klCoef = klCoef
        self.aggregation = aggregation
        self.advantageEpsilon = advantageEpsilon
    }
}

/// The whole batch's loss = agg(policy loss) + klCoef · agg(KL), its gradient with respect to every
/// response log-probability, and the metrics verl reports. `weights` come from `aggregationWeights`
/// over the whole optimizer batch, so evaluating micro-batches separately and summing is exact.
public struct GRPOLossResult: Sendable {
    public var loss = 0.0
    public var policyLoss = 0.0
    public var kl = 0.0
    public var dLogp: [[Double]] = []
    /// Token-weighted sums (divide by `tokens` for means).
    public var clippedHigherTokens = 0
    public var clippedLowerTokens = 0
    public var tokens = 0
}

public func grpoLoss(
    logp: [[Double]], oldLogp: [[Double]], refLogp: [[Double]]?, advantages: [Double], weights: [[Double]],
    settings: GRPOLossSettings
) throws -> GRPOLossResult {
    guard logp.count == oldLogp.count, logp.count == advantages.count, logp.count == weights.count,
        refLogp.map({ $0.count == logp.count }) ?? true
    else { throw GRPOError.shapeMismatch("logp, old logp, ref logp, advantages and weights disagree on batch size") }
    var r = GRPOLossResult()
    for s in logp.indices {
        let n = logp[s].count
        guard oldLogp[s].count == n, weights[s].count == n, refLogp.map({ $0[s].count == n }) ?? true else {
            throw GRPOError.shapeMismatch("response \(s): token counts disagree")
        }
        var d = [Double](repeating: 0, count: n)
        for t in 0..<n {
            let pl = policyLoss(logp: logp[s][t], oldLogp: oldLogp[s][t], advantage: advantages[s], clip: settings.clip)
            r.policyLoss += weights[s][t] * pl.value
            d[t] = weights[s][t] * pl.dLogp
            if pl.clippedHigher { r.clippedHigherTokens += 1 }
            if pl.clippedLower { r.clippedLowerTokens += 1 }
            if let kind = settings.klPenalty, let ref = refLogp {
                let k = klPenalty(kind, logp: logp[s][t], refLogp: ref[s][t])
                r.kl += weights[s][t] * k.value
                d[t] += settings.klCoef * weights[s][t] * k.dLogp
            }
        }
        r.tokens += n
        r.dLogp.append(d)
    }
    r.loss = r.policyLoss + (settings.klPenalty == nil ? 0 : settings.klCoef * r.kl)
    return r
}
