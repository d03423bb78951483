import Foundation
import Logging
import RZAPI
import RZModel
import RZRewards

/// Service state: a trainer brought back to where the run is (restored from a checkpoint and replayed after a
/// restart), replicas synced to the trainer's weights, and which services sample.
extension Coordinator {
    // MARK: Service state

    /// The role's trainer, brought to the step the run expects (restoring it from the run's latest
    /// checkpoint and replaying the recorded training batches after a restart).
    /// `pendingStep`: the unit is that training step, so the service may already be one step ahead
    /// (the step was applied but the coordinator stopped before recording it).
    @discardableResult
    func trainerReady(_ role: WorkUnit.Role, pendingStep: Bool = false) async throws -> RoleService {
        let service = trainer(role)
        let expected = steps(role)
        let s = try await service.state()
        if s.instanceId == state.instances[service.name] && (s.step == expected || (pendingStep && s.step == expected + 1)) {
            observed[service.name] = s
            return service
        }
        logger.warning("service is not where the run left it; restoring",
                       metadata: ["service": "\(service.name)", "step": "\(s.step)", "expected": "\(expected)",
                                  "restarted": "\(s.instanceId != state.instances[service.name])"])
        let restored = try await restore(role, service: service, to: expected)
        unitNotes.append("\(service.name) restored to step \(expected)"
                         + (s.instanceId != state.instances[service.name] ? " after a restart" : " (it was at step \(s.step))"))
        state.instances[service.name] = restored.instanceId
        observed[service.name] = restored
        return service
    }

    /// Loads the role's latest checkpoint at or before `expected` and replays the recorded batches
    /// after it; returns the service's state afterwards.
    func restore(_ role: WorkUnit.Role, service: RoleService, to expected: Int) async throws -> ServiceState {
        guard let base = state.checkpoints.last(where: { $0.role == role.rawValue && $0.step <= expected }) else {
            throw ConfigError("cannot restore \(service.name): the run has no checkpoint of the \(role.rawValue)")
        }
        guard let loaded = try await service.loadCheckpoint(base.name) else {
            throw ConfigError("cannot restore \(service.name): it has no checkpoint \(base.name) (is it using the run's checkpoint directory?)")
        }
        guard loaded == base.step else { throw ConfigError("checkpoint \(base.name) on \(service.name) is at step \(loaded), expected \(base.step)") }
        for k in base.step..<expected {
            let batch = try readBatch(role, k)
            guard let request = batch.request else { continue }
            _ = try await service.trainGRPO(request, key: key(role, k))
        }
        let now = try await service.state()
        guard now.step == expected else { throw ConfigError("restoring \(service.name) reached step \(now.step), expected \(expected)") }
        logger.info("restored", metadata: ["service": "\(service.name)", "checkpoint": "\(base.name)", "replayed": "\(expected - base.step)"])
        return now
    }

    /// Brings a replica to its trainer's current weights: it pulls them by version from the trainer
    /// (`POST /v1/weights/sync`), so replicas need no shared storage. Needs `trainerReady(role)` first.
    func sync(_ replica: RoleService, role: WorkUnit.Role) async throws {
        let trainer = trainer(role)
        guard let t = observed[trainer.name] else { throw ConfigError("internal: replica sync before the trainer was checked") }
        let source = "\(t.instanceId)@\(t.modelVersion)"
        var s = try await replica.state()
        if syncedFrom[replica.name] != source || s.instanceId != state.instances[replica.name] || s.modelVersion != t.modelVersion {
            _ = try await replica.syncWeights(source: trainer.url, version: t.modelVersion)
            s = try await replica.state()
        }
        guard s.modelVersion == t.modelVersion else {
            throw ConfigError("\(replica.name) reports version \(s.modelVersion) after syncing to \(t.modelVersion)")
        }
        syncedFrom[replica.name] = source
        state.instances[replica.name] = s.instanceId
        observed[replica.name] = s
    }

    /// The role's services that hold its trainer's current weights (the trainer first). A replica that
    /// cannot be reached or synced is left out for `services.replica_retry_interval_seconds`, then tried again.
    func samplers(_ role: WorkUnit.Role) async throws -> [RoleService] {
        var ready = [try await trainerReady(role)]
        for replica in services.all(role).dropFirst() {
            if let until = replicaDownUntil[replica.name], until > Date() { continue }
            do {
                try await sync(replica, role: role)
                ready.append(replica)
                if replicaDownUntil.removeValue(forKey: replica.name) != nil {
                    logger.info("replica is back", metadata: ["service": "\(replica.name)"])
                }
            } catch {
                replicaDownUntil[replica.name] = Date().addingTimeInterval(config.services.replicaRetryIntervalSeconds)
                logger.warning("replica unavailable; sampling without it", metadata: ["service": "\(replica.name)", "error": "\(brief(error))"])
            }
        }
        return ready
    }

    typealias Sampled = [(promptTokenIds: [Int32], samples: [SampledResponse])]

    /// `n` samples for each prompt, in fixed requests of `perRequest` prompts (request c drawn with
    /// `seedOf(c)`) spread over `services` with failover. What a request returns depends only on its
    /// prompts and seed, so the result does not depend on how many services there are. A trainer that
    /// changed under the unit aborts it (`ServiceChanged`); a failing replica's request goes to another.
}
