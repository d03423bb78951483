import CCrypto
import Foundation
import RZModel
import RZTraining

/// The weights of one model version as the bytes of a safetensors file, with their SHA-256: what a
/// trainer serves to its replicas and what a replica checks before adopting them. A service keeps the
/// version it serves as a file (its staging folder), not in memory: at 0.6B that is 2.4 GB not held twice.
public struct WeightsSnapshot: Sendable {
    public enum Storage: Sendable {
        case memory(Data)
        /// A file nobody rewrites: a new version gets a new file, and an open reader keeps an unlinked one.
        case file(String)
    }

    public var version: Int
    public var storage: Storage
    public var byteCount: Int
    public var sha256: String

    public init(version: Int, data: Data, sha256: String) {
        self.version = version
        storage = .memory(data)
        byteCount = data.count
        self.sha256 = sha256
    }

    init(version: Int, file: String, byteCount: Int, sha256: String) {
        self.version = version
        storage = .file(file)
        self.byteCount = byteCount
        self.sha256 = sha256
    }

    /// The bytes, read from the file when the snapshot is one.
    public func bytes() throws -> Data {
        switch storage {
        case .memory(let data): return data
        case .file(let path): return try Data(contentsOf: URL(fileURLWithPath: path))
        }
    }
}

public enum SHA256Digest {
    /// Lower-case hex SHA-256 of `data` (OpenSSL's EVP interface).
    public static func hex(_ data: Data) -> String {
        // Hashing bytes already in memory fails only when OpenSSL cannot allocate a context.
        do { return try digest { update in try update(data) } } catch { preconditionFailure("SHA-256 failed: \(error)") }
    }

    /// Lower-case hex SHA-256 of a file, read in 4 MB pieces (never the whole file in memory).
    public static func hex(file path: String) throws -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw HostError.notFound("cannot open \(path)") }
        defer { try? handle.close() }
        return try digest { update in
            while let piece = try handle.read(upToCount: 4 << 20), !piece.isEmpty { try update(piece) }
        }
    }

    /// Runs `feed`, which hands the bytes to hash to its argument piece by piece, and returns their digest.
    private static func digest(_ feed: ((Data) throws -> Void) throws -> Void) throws -> String {
        guard let ctx = EVP_MD_CTX_new() else { throw HostError.unavailable("OpenSSL cannot allocate a digest context") }
        defer { EVP_MD_CTX_free(ctx) }
        guard EVP_DigestInit_ex(ctx, EVP_sha256(), nil) == 1 else { throw HostError.unavailable("SHA-256 init failed") }
        try feed { piece in
            let ok = piece.withUnsafeBytes { EVP_DigestUpdate(ctx, $0.baseAddress, $0.count) }
            guard ok == 1 else { throw HostError.unavailable("SHA-256 update failed") }
        }
        var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        guard EVP_DigestFinal_ex(ctx, &digest, &length) == 1 else { throw HostError.unavailable("SHA-256 final failed") }
        return digest[0..<Int(length)].map { String(format: "%02x", $0) }.joined()
    }
}

extension Engine {
    /// A fresh folder for staging weight files, under the checkpoint folder: a service needs that one
    /// writable anyway, while /tmp may be read-only (containers with a read-only root file system).
    func stagingDirectory(_ kind: String) throws -> String {
        let dir = checkpointsDir + "/.staging/\(kind)-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    /// The current weights, if `version` is the current one (serialised once per version).
    func weights(version: Int) throws -> WeightsSnapshot {
        guard version == modelVersion else {
            throw HostError.notFound("no weights at version \(version) (current: \(modelVersion))")
        }
        if let cached = weightsCache, cached.version == version { return cached }
        let dir = try stagingDirectory("weights")
        do {
            // Under LoRA only the adapters move: they are the snapshot (megabytes), the base stays where it is.
            let file: String
            if let adapters = model.adapters {
                try AdapterFolder.save(adapters, to: dir, baseModel: baseModelDir,
                                       metadata: [Self.loraMetadataKey: String(decoding: try JSONEncoder().encode(adapters.config), as: UTF8.self)])
                file = dir + "/" + AdapterFolder.weightsName
            } else {
                try ModelFolder.save(model, to: dir)
                file = dir + "/" + ModelFolder.weightsName
            }
            let size = (try FileManager.default.attributesOfItem(atPath: file)[.size] as? NSNumber)?.intValue ?? 0
            let snapshot = WeightsSnapshot(version: version, file: file, byteCount: size, sha256: try SHA256Digest.hex(file: file))
            replaceWeightsCache(with: snapshot)
            return snapshot
        } catch {
            try? FileManager.default.removeItem(atPath: dir)
            throw error
        }
    }

    /// Safetensors metadata key of an adapter snapshot: its `LoRAConfig` as JSON.
    static let loraMetadataKey = "rzero_lora"

    /// Replaces the weights with `weights` (a safetensors file for this architecture) and takes its
    /// version as the model version; returns false when these exact weights are already in place.
    /// All-or-nothing: the file is read into a scratch model and checked first. The adopted bytes become
    /// the served snapshot, so they are never serialised again. An adapter snapshot (a trainer under LoRA)
    /// replaces the adapters only; the base is assumed to be the trainer's (the same model folder).
    func adoptWeights(_ weights: WeightsSnapshot) throws -> Bool {
        if let current = weightsCache, current.version == modelVersion, modelVersion == weights.version, current.sha256 == weights.sha256 {
            return false
        }
        let dir = try stagingDirectory("adopt")
        let file = dir + "/" + ModelFolder.weightsName
        do {
            switch weights.storage {
            case .memory(let data): try data.write(to: URL(fileURLWithPath: file))
            case .file(let source): try FileManager.default.copyItem(atPath: source, toPath: file)
            }
            let header: SafetensorsFile
            do { header = try SafetensorsFile(path: file) } catch { throw HostError.invalidRequest("the weights are not a safetensors file: \(error)") }
            if let loraJSON = header.metadata[Self.loraMetadataKey] {
                let adapters: LoRAAdapters
                do {
                    let config = try JSONDecoder().decode(LoRAConfig.self, from: Data(loraJSON.utf8))
                    adapters = try LoRAAdapters(config: config, model: model.config)
                    try header.readTensors(adapters.layout.tensors, into: adapters.parameters.base)
                } catch {
                    throw HostError.invalidRequest("the adapters do not fit this model: \(error)")
                }
                if model.adapters == nil && trainer.optimizer.step > 0 {
                    throw HostError.invalidRequest("adapters cannot go on weights this service has trained itself")
                }
                try model.attachAdapters(adapters)
                adoptTrainer(PolicyTrainer(model: model, settings: trainer.settings))
            } else {
                let scratch = try DecoderModel(config: model.config)
                do { try ModelFolder.loadWeights(into: scratch, from: dir) } catch {
                    throw HostError.invalidRequest("the weights do not fit this model: \(error)")
                }
                if model.adapters != nil {
                    throw HostError.invalidRequest("whole weights cannot replace this service's LoRA adapters (the trainer trains adapters)")
                }
                model.parameters.copy(from: scratch.parameters)
                model.invalidateSamplingWeights()
            }
        } catch {
            try? FileManager.default.removeItem(atPath: dir)
            throw error
        }
        setVersionAfterExternalChange(weights.version)
        // The adopted file becomes the served snapshot: other replicas may pull it from here.
        replaceWeightsCache(with: WeightsSnapshot(version: weights.version, file: file, byteCount: weights.byteCount, sha256: weights.sha256))
        return true
    }

    /// Serves `snapshot` from now on and deletes the file of the one it replaces (a response still streaming
    /// the old file keeps reading it: the open descriptor outlives the name).
    func replaceWeightsCache(with snapshot: WeightsSnapshot?) {
        if let old = weightsCache, case .file(let path) = old.storage {
            if case .file(let new)? = snapshot?.storage, new == path { return }
            try? FileManager.default.removeItem(atPath: URL(fileURLWithPath: path).deletingLastPathComponent().path)
        }
        weightsCache = snapshot
    }
}
