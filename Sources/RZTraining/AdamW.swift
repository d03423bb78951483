import Foundation
import RZTensor

/// Learning-rate schedules, evaluated at the 1-based optimizer step.
public enum LRSchedule: Codable, Sendable, Equatable {
    case constant
    /// Linear ramp from 0 over `warmupSteps`, then constant.
    case linearWarmup(warmupSteps: Int)
    /// Linear warm-up, then cosine decay to `minRatio`·lr at `totalSteps`.
    case cosine(warmupSteps: Int, totalSteps: Int, minRatio: Double)

    public func learningRate(base: Double, step: Int) -> Double {
        switch self {
        case .constant:
            return base
        case .linearWarmup(let w):
            return w > 0 && step < w ? base * Double(step) / Double(w) : base
        case .cosine(let w, let total, let minRatio):
            if w > 0 && step < w { return base * Double(step) / Double(w) }
            let span = max(1, total - w)
            let progress = min(1, Double(step - w) / Double(span))
            return base * (minRatio + (1 - minRatio) * 0.5 * (1 + Foundation.cos(Double.pi * progress)))
        }
    }
}

/// AdamW settings (defaults: the R-Zero/EasyR1 actor's).
public struct AdamWSettings: Codable, Sendable, Equatable {
    public var learningRate: Double = 1e-6
    public var beta1: Double = 0.9
    public var beta2: Double = 0.999
    public var epsilon: Double = 1e-8
    public var weightDecay: Double = 0.01
    public var schedule: LRSchedule = .constant

    public init(learningRate: Double = 1e-6, beta1: Double = 0.9, beta2: Double = 0.999, epsilon: Double = 1e-8,
                weightDecay: Double = 0.01, schedule: LRSchedule = .constant) {
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = weightDecay
        self.schedule = schedule
    }
}

/// AdamW's moments in the parameter layout (Loshchilov & Hutter; the update order of torch.optim.AdamW:
/// decoupled decay θ ← θ(1 − lr·wd), then θ ← θ − lr/(1−β1ᵗ) · m / (√v/√(1−β2ᵗ) + ε)).
///
/// The moments are allocated on first use (the first update, or a checkpoint that holds non-zero ones): two
/// copies of the weights that a service which only samples, a replica or `rzero eval` never needs.
public final class AdamWState {
    public let parameterCount: Int
    private var moments: (m: FloatBuffer, v: FloatBuffer)?
    /// Optimizer steps taken (t in the bias corrections).
    public internal(set) var step: Int = 0

    public init(parameterCount: Int) {
        self.parameterCount = parameterCount
    }

    /// Whether the moments exist; before they do they are zero by definition.
    public var isAllocated: Bool { moments != nil }

    /// The first moments, allocated (zero) if they were not yet.
    public var m: FloatBuffer { allocatedMoments().m }
    /// The second moments, allocated (zero) if they were not yet.
    public var v: FloatBuffer { allocatedMoments().v }

    private func allocatedMoments() -> (m: FloatBuffer, v: FloatBuffer) {
        if let moments { return moments }
        let made = (m: FloatBuffer(count: parameterCount), v: FloatBuffer(count: parameterCount))
        moments = made
        return made
    }

    /// Applies one update to `params` from `grads`; returns the learning rate used.
    @discardableResult
    public func update(params: FloatBuffer, grads: FloatBuffer, settings s: AdamWSettings) -> Double {
        step += 1
        let lr = s.schedule.learningRate(base: s.learningRate, step: step)
        let decay = Float(1 - lr * s.weightDecay)
        let b1 = Float(s.beta1), b2 = Float(s.beta2), eps = Float(s.epsilon)
        let stepSize = Float(lr / (1 - Foundation.pow(s.beta1, Double(step))))
        let bc2Sqrt = Float((1 - Foundation.pow(s.beta2, Double(step))).squareRoot())
        let p = params.base, g = grads.base, m = m.base, v = v.base
        parallelChunks(params.count, minimumPerChunk: 65_536) { r, _ in
            for i in r {
                p[i] *= decay
                m[i] += (g[i] - m[i]) * (1 - b1)  // torch: exp_avg.lerp_(grad, 1 - beta1)
                v[i] = v[i] * b2 + (1 - b2) * g[i] * g[i]
                p[i] -= stepSize * m[i] / (v[i].squareRoot() / bc2Sqrt + eps)
            }
        }
        return lr
    }
}
