import Foundation
import Logging
import RZAPI
import RZModel
import RZRewards

/// GRPO steps: each step's batch is recorded before it is sent, so a restarted service can be replayed to it.
extension Coordinator {
    // MARK: Training

    func train(_ role: WorkUnit.Role, iteration: Int, step: Int) async throws {
        let serviceStep = steps(role)
        guard let request = try readBatch(role, serviceStep).request else {
            logger.info("nothing to train on; step skipped", metadata: ["role": "\(role.rawValue)", "iteration": "\(iteration)"])
            return
        }
        let service = try await trainerReady(role, pendingStep: true)
        let started = Date()
        let response = try await service.trainGRPO(request, key: key(role, serviceStep))
        let m = response.metrics
        guard response.instanceId == observed[service.name]?.instanceId, m.step == serviceStep + 1 || m.skipped else {
            throw ServiceChanged(service: service.name, detail: "step \(serviceStep + 1) came back as step \(m.step) from instance \(response.instanceId)")
        }
        let record = StepRecord(
            role: role.rawValue, iteration: iteration, step: step, serviceStep: m.step, modelVersion: Int(response.modelVersion),
            loss: m.loss, policyLoss: m.policyLoss, kl: m.kl, gradNorm: m.gradNorm, entropy: m.entropy,
            clipFractionHigher: m.clipFractionHigher, clipFractionLower: m.clipFractionLower, meanReward: m.meanReward,
            tokens: m.tokens, sequences: m.sequences, learningRate: m.learningRate, skipped: m.skipped,
            seconds: Date().timeIntervalSince(started))
        try directory.append(record, to: "train")
        state.lastMetrics[role.rawValue] = record
        state.steps[role.rawValue] = m.step
        logger.info("trained", metadata: ["role": "\(role.rawValue)", "iteration": "\(iteration)", "step": "\(step)",
                                          "reward": "\(String(format: "%.3f", m.meanReward))", "kl": "\(m.kl ?? 0)"])
    }

    func readBatch(_ role: WorkUnit.Role, _ serviceStep: Int) throws -> TrainingBatch {
        let path = directory.batchPath(role: role.rawValue, step: serviceStep)
        guard let data = FileManager.default.contents(atPath: path) else { throw ConfigError("missing training batch \(path)") }
        return try TrainingBatch.decoder.decode(TrainingBatchFile.self, from: data).batch
    }

    func settings(_ o: OptimizerConfig) -> Components.Schemas.TrainingSettings { Self.trainingSettings(o) }

    /// The service's training settings for a run's optimizer section. `kl_penalty: "none"` is sent as `disabled`, so the
    /// service switches the KL term (and its reference forward) off rather than applying its default estimator.
    static func trainingSettings(_ o: OptimizerConfig) -> Components.Schemas.TrainingSettings {
        let kl: Components.Schemas.KLPenalty = switch o.klPenalty {
        case .kl: .kl
        case .mse: .mse
        case .abs: .abs
        case .none: .disabled
        case .lowVarKL: .lowVarKl
        }
        return .init(clipRatioLow: o.clipRatioLow, clipRatioHigh: o.clipRatioHigh, clipRatioDual: o.clipRatioDual,
                     klPenalty: kl, klCoef: kl == .disabled ? 0 : o.klCoef,
                     aggregation: o.aggregation == .tokenMean ? .tokenMean : .seqMeanTokenMean,
                     learningRate: o.learningRate, weightDecay: o.weightDecay, lrSchedule: .init(kind: .constant),
                     maxGradNorm: o.maxGradNorm, referenceDtype: o.referenceDtype == .bfloat16 ? .bfloat16 : nil)
    }

    func writeBatch(_ role: WorkUnit.Role, iteration: Int, step: Int, samples: [Components.Schemas.GRPOSample]?,
                    optimizer: OptimizerConfig) throws {
        let serviceStep = steps(role)
        let request = samples.map { Components.Schemas.GRPORequest(samples: $0, settings: settings(optimizer)) }
        let batch = TrainingBatch(role: role.rawValue, iteration: iteration, step: step, serviceStep: serviceStep, request: request)
        try AtomicFile.write(TrainingBatch.encoder.encode(TrainingBatchFile(batch: batch)),
                             to: directory.batchPath(role: role.rawValue, step: serviceStep))
    }
}
