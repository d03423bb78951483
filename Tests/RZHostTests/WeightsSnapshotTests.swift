import Foundation
import Logging
import Testing
import RZHost
import RZModel
import RZTestSupport
import RZTraining

@Suite("Served weights live in one file per version, not in memory")
struct WeightsSnapshotTests {
    @Test("the snapshot is a safetensors file with its digest; a new version deletes the old file; a replica serves what it adopted")
    func fileBacked() async throws {
        let host = try makeHost()
        let first = try await host.weights(version: 0)
        guard case .file(let path) = first.storage else { Issue.record("not file-backed"); return }
        let bytes = try first.bytes()
        #expect(bytes.count == first.byteCount && SHA256Digest.hex(bytes) == first.sha256)
        #expect(try SHA256Digest.hex(file: path) == first.sha256)
        #expect(try await host.weights(version: 0).sha256 == first.sha256, "served again without serialising anew")

        // An open reader keeps the old bytes after the file is replaced.
        let reader = try #require(FileHandle(forReadingAtPath: path))
        let samples = [GRPOSample(prompt: [1, 2], response: [3, 4], reward: 1, group: 0),
                       GRPOSample(prompt: [1, 2], response: [5], reward: 0, group: 0)]
        var settings = TrainerSettings()
        settings.optimizer.learningRate = 1e-2
        _ = try await host.trainGRPO(samples, settings: settings)
        #expect(!FileManager.default.fileExists(atPath: path), "the old version's file is gone")
        #expect(try reader.readToEnd() == bytes)
        let second = try await host.weights(version: 1)
        #expect(second.sha256 != first.sha256)

        let replica = try makeHost()
        #expect(try await replica.adoptWeights(WeightsSnapshot(version: 1, data: try second.bytes(), sha256: second.sha256)))
        let served = try await replica.weights(version: 1)
        let servedBytes = try served.bytes(), secondBytes = try second.bytes()
        #expect(served.sha256 == second.sha256 && servedBytes == secondBytes)
        await host.shutdown()
        await replica.shutdown()
    }
}
