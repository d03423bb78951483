import Foundation
import OpenAPIRuntime
import RZAPI

/// A service answered with an error the coordinator cannot fix by retrying (a 4xx, or a response
/// that does not match the API). Carries the service's name and the operation.
public struct ServiceRejection: Error, CustomStringConvertible {
    public let service: String
    public let operation: String
    public let detail: String
    public var description: String { "\(service) rejected \(operation): \(detail)" }
}

/// A response came from another process or another version of the weights than the unit checked at
/// its start: the service restarted (or was changed by someone else) under the unit. The coordinator
/// re-runs the unit from its last commit, which restores the service first.
public struct ServiceChanged: Error, CustomStringConvertible {
    public let service: String
    public let detail: String
    public var description: String { "\(service) changed during the unit: \(detail)" }
}

/// An error as one log line: the generated client wraps transport errors in a `ClientError` whose own
/// description repeats the whole request; the transport's error already names service and operation.
func brief(_ error: any Error) -> String {
    if let e = error as? ClientError { return "\(e.underlyingError)" }
    return "\(error)"
}

/// One generated completion as the coordinator keeps it.
public struct SampledResponse: Sendable, Codable, Equatable {
    public var text: String
    public var tokenIds: [Int32]
    /// log p(token) at temperature 1 under the weights that sampled it (GRPO's old log-probs).
    public var logprobs: [Float]
    public var finishReason: String
}

/// What the coordinator needs from `GET /v1/model`.
public struct ServiceState: Sendable, Equatable {
    public var instanceId: String
    public var modelVersion: Int
    public var step: Int
}

/// One rzero service (one role) as the coordinator uses it, through the generated client.
/// Transport errors (retries exhausted) propagate as thrown by the transport.
public struct RoleService: Sendable {
    public let name: String
    /// Base URL, as other services reach it (a replica pulls weights from its trainer's).
    public let url: String
    let client: Client

    package init(name: String, url: String, client: Client) {
        self.name = name
        self.url = url
        self.client = client
    }

    private func rejected(_ operation: String, _ detail: String) -> ServiceRejection {
        ServiceRejection(service: name, operation: operation, detail: detail)
    }

    private func describe(_ body: Components.Responses.BadRequest.Body) -> String {
        switch body { case .json(let e): return "\(e.error.code.rawValue): \(e.error.message)" }
    }

    public func state() async throws -> ServiceState {
        switch try await client.getModel() {
        case .ok(let ok):
            let info = try ok.body.json
            return ServiceState(instanceId: info.instanceId, modelVersion: Int(info.modelVersion), step: info.step)
        case .undocumented(let status, _):
            throw rejected("getModel", "HTTP \(status)")
        default:
            throw rejected("getModel", "server error")
        }
    }

    /// The texts of `n` completions for each prompt, sent as requests of at most `chunk` prompts; the request that starts
    /// at prompt `start` is seeded with `seedOf(start)`. For whole evaluation-sized sets (one request would be too large).
    package func generateTexts(prompts: [Components.Schemas.Prompt], n: Int, sampling: SamplingConfig, chunk: Int,
                               seedOf: (Int) -> UInt64, expect: ServiceState?) async throws -> [[String]] {
        var out: [[String]] = []
        for start in stride(from: 0, to: prompts.count, by: max(1, chunk)) {
            let slice = Array(prompts[start..<min(start + max(1, chunk), prompts.count)])
            let results = try await generate(prompts: slice, n: n, sampling: sampling, seed: seedOf(start), expect: expect)
            out += results.map { $0.samples.map(\.text) }
        }
        return out
    }

    /// Samples `n` completions for each prompt. Returns them per prompt, with the prompt's token ids.
    /// With `expect`, a response from another process or model version throws `ServiceChanged`.
    package func generate(prompts: [Components.Schemas.Prompt], n: Int, sampling: SamplingConfig, seed: UInt64,
                          expect: ServiceState?)
        async throws -> [(promptTokenIds: [Int32], samples: [SampledResponse])] {
        let request = Components.Schemas.GenerateRequest(
            prompts: prompts, n: n, temperature: sampling.temperature, topP: sampling.topP, topK: sampling.topK,
            maxTokens: sampling.maxTokens, seed: Int64(seed & 0x7fff_ffff_ffff_ffff))
        switch try await client.generate(body: .json(request)) {
        case .ok(let ok):
            let response = try ok.body.json
            guard response.results.count == prompts.count else { throw rejected("generate", "wrong number of results") }
            if let expect, response.instanceId != expect.instanceId || Int(response.modelVersion) != expect.modelVersion {
                throw ServiceChanged(service: name, detail: "expected instance \(expect.instanceId) at version \(expect.modelVersion), "
                                     + "answered by \(response.instanceId) at version \(response.modelVersion)")
            }
            return response.results.map { r in
                (r.promptTokenIds, r.samples.map {
                    SampledResponse(text: $0.text, tokenIds: $0.tokenIds, logprobs: $0.logprobs, finishReason: $0.finishReason.rawValue)
                })
            }
        case .badRequest(let e): throw rejected("generate", describe(e.body))
        case .contentTooLarge: throw rejected("generate", "request too large")
        case .tooManyRequests(let e): throw rejected("generate", "the service's generation token budget stays spent: \((try? e.body.json.error.message) ?? "429")")
        case .unsupportedMediaType: throw rejected("generate", "unsupported media type")
        case .internalServerError, .serviceUnavailable: throw rejected("generate", "server error")
        case .undocumented(let status, _): throw rejected("generate", "HTTP \(status)")
        }
    }

    /// One GRPO step, safe to retry: the service applies a given `key` at most once.
    package func trainGRPO(_ request: Components.Schemas.GRPORequest, key: String) async throws -> Components.Schemas.TrainResponse {
        switch try await client.trainGRPO(headers: .init(idempotencyKey: key), body: .json(request)) {
        case .ok(let ok): return try ok.body.json
        case .badRequest(let e): throw rejected("trainGRPO", describe(e.body))
        case .unauthorized: throw rejected("trainGRPO", "unauthorized (set the bearer token)")
        case .contentTooLarge: throw rejected("trainGRPO", "request too large")
        case .unsupportedMediaType: throw rejected("trainGRPO", "unsupported media type")
        case .internalServerError, .serviceUnavailable: throw rejected("trainGRPO", "server error")
        case .undocumented(let status, _): throw rejected("trainGRPO", "HTTP \(status)")
        }
    }

    /// Saves weights, optimizer state and reference under `name`, replacing an older save; returns the step
    /// saved and the checkpoint's size on disk, when the service reports it.
    public func saveCheckpoint(_ name: String) async throws -> (step: Int, bytes: Int?) {
        switch try await client.saveCheckpoint(body: .json(.init(name: name, overwrite: true))) {
        case .created(let c):
            let saved = try c.body.json
            return (saved.step, saved.sizeBytes.map { Int($0) })
        case .badRequest(let e): throw rejected("saveCheckpoint", describe(e.body))
        case .unauthorized: throw rejected("saveCheckpoint", "unauthorized (set the bearer token)")
        case .undocumented(let status, _): throw rejected("saveCheckpoint", "HTTP \(status)")
        default: throw rejected("saveCheckpoint", "server error")
        }
    }

    /// Loads checkpoint `name`; returns its optimizer step, or nil when the service has no such checkpoint.
    public func loadCheckpoint(_ name: String) async throws -> Int? {
        switch try await client.loadCheckpoint(path: .init(name: name)) {
        case .ok(let ok): return try ok.body.json.step
        case .notFound: return nil
        case .badRequest(let e): throw rejected("loadCheckpoint", describe(e.body))
        case .unauthorized: throw rejected("loadCheckpoint", "unauthorized (set the bearer token)")
        case .undocumented(let status, _): throw rejected("loadCheckpoint", "HTTP \(status)")
        default: throw rejected("loadCheckpoint", "server error")
        }
    }

    /// Deletes checkpoint `name`; returns the bytes freed (0 when the service has no such checkpoint).
    public func deleteCheckpoint(_ name: String) async throws -> Int {
        switch try await client.deleteCheckpoint(path: .init(name: name)) {
        case .ok(let ok): return Int(try ok.body.json.freedBytes)
        case .notFound: return 0
        case .badRequest(let e): throw rejected("deleteCheckpoint", describe(e.body))
        case .unauthorized: throw rejected("deleteCheckpoint", "unauthorized (set the bearer token)")
        case .undocumented(let status, _): throw rejected("deleteCheckpoint", "HTTP \(status)")
        default: throw rejected("deleteCheckpoint", "server error")
        }
    }

    /// Writes the current model as a complete model folder on the service's host; returns where and its size.
    public func exportModel(_ name: String, dtype: String?) async throws -> (path: String, dtype: String, bytes: Int, modelVersion: Int) {
        let wanted = dtype.flatMap { Components.Schemas.ExportRequest.DtypePayload(rawValue: $0) }
        switch try await client.exportModel(body: .json(.init(name: name, dtype: wanted, overwrite: true))) {
        case .created(let c):
            let r = try c.body.json
            return (r.path, r.dtype, Int(r.sizeBytes), Int(r.modelVersion))
        case .badRequest(let e): throw rejected("exportModel", describe(e.body))
        case .unauthorized: throw rejected("exportModel", "unauthorized (set the bearer token)")
        case .undocumented(let status, _): throw rejected("exportModel", "HTTP \(status)")
        default: throw rejected("exportModel", "server error")
        }
    }

    /// Makes this replica pull `source`'s weights at `version` and adopt them (and the version).
    /// Returns whether the weights changed.
    public func syncWeights(source: String, version: Int) async throws -> Bool {
        switch try await client.syncWeights(body: .json(.init(source: source, version: Int64(version)))) {
        case .ok(let ok): return try ok.body.json.changed
        case .badRequest(let e): throw rejected("syncWeights", describe(e.body))
        case .unauthorized: throw rejected("syncWeights", "unauthorized (set the bearer token)")
        case .badGateway(let e): throw rejected("syncWeights", (try? e.body.json.error.message) ?? "upstream failed")
        case .undocumented(let status, _): throw rejected("syncWeights", "HTTP \(status)")
        default: throw rejected("syncWeights", "server error")
        }
    }

    /// Sets the service's weights to `Σ weights[i] · checkpoints[i]` (safe to repeat: the result depends only on the
    /// checkpoints). Returns the optimizer step, which does not change.
    public func averageWeights(_ checkpoints: [String], weights: [Double]) async throws -> Int {
        switch try await client.averageWeights(body: .json(.init(checkpoints: checkpoints, weights: weights))) {
        case .ok(let ok): return try ok.body.json.step
        case .badRequest(let e): throw rejected("averageWeights", describe(e.body))
        case .notFound: throw rejected("averageWeights", "a checkpoint is missing: \(checkpoints)")
        case .unauthorized: throw rejected("averageWeights", "unauthorized (set the bearer token)")
        case .undocumented(let status, _): throw rejected("averageWeights", "HTTP \(status)")
        default: throw rejected("averageWeights", "server error")
        }
    }

    /// Names of the checkpoints the service holds.
    public func checkpointNames() async throws -> [String] {
        switch try await client.listCheckpoints() {
        case .ok(let ok): return try ok.body.json.checkpoints.map(\.name)
        case .unauthorized: throw rejected("listCheckpoints", "unauthorized (set the bearer token)")
        case .undocumented(let status, _): throw rejected("listCheckpoints", "HTTP \(status)")
        default: throw rejected("listCheckpoints", "server error")
        }
    }

    /// Freezes the current weights as the KL reference.
    public func resetReference() async throws {
        switch try await client.resetReference() {
        case .ok: return
        case .unauthorized: throw rejected("resetReference", "unauthorized (set the bearer token)")
        case .undocumented(let status, _): throw rejected("resetReference", "HTTP \(status)")
        default: throw rejected("resetReference", "server error")
        }
    }
}
