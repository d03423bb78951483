import CCrypto
import Foundation
import RZModel

/// The weights of one model version as the bytes of a safetensors file, with their SHA-256: what a
/// trainer serves to its replicas and what a replica checks before adopting them.
public struct WeightsSnapshot: Sendable {
    public var version: Int
    public var data: Data
    public var sha256: String

    public init(version: Int, data: Data, sha256: String) {
        self.version = version
        self.data = data
        self.sha256 = sha256
    }
}

public enum SHA256Digest {
    /// Lower-case hex SHA-256 of `data` (OpenSSL's EVP interface).
    public static func hex(_ data: Data) -> String {
        var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        let ok = data.withUnsafeBytes { bytes in
            EVP_Digest(bytes.baseAddress, bytes.count, &digest, &length, EVP_sha256(), nil)
        }
        // EVP_Digest with SHA-256 fails only when OpenSSL cannot allocate a context.
        precondition(ok == 1, "EVP_Digest(SHA-256) failed")
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
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try ModelFolder.save(model, to: dir)
        let data = try Data(contentsOf: URL(fileURLWithPath: dir + "/" + ModelFolder.weightsName))
        let snapshot = WeightsSnapshot(version: version, data: data, sha256: SHA256Digest.hex(data))
        weightsCache = snapshot
        return snapshot
    }

    /// Replaces the weights with `weights` (a safetensors file for this architecture) and takes its
    /// version as the model version; returns false when these exact weights are already in place.
    /// All-or-nothing: the file is read into a scratch model and checked first. The adopted bytes become
    /// the served snapshot, so they are never serialised again.
    func adoptWeights(_ weights: WeightsSnapshot) throws -> Bool {
        if let current = weightsCache, current.version == modelVersion, modelVersion == weights.version, current.sha256 == weights.sha256 {
            return false
        }
        let data = weights.data
        let dir = try stagingDirectory("adopt")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try data.write(to: URL(fileURLWithPath: dir + "/" + ModelFolder.weightsName))
        let scratch = try DecoderModel(config: model.config)
        do { try ModelFolder.loadWeights(into: scratch, from: dir) } catch {
            throw HostError.invalidRequest("the weights do not fit this model: \(error)")
        }
        model.parameters.copy(from: scratch.parameters)
        setVersionAfterExternalChange(weights.version)
        weightsCache = weights
        return true
    }
}
