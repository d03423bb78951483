import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing
import RZHost
import RZTestSupport

@Suite("Weights: a replica pulls its trainer's weights by version", .serialized)
struct WeightsTests {
    static let step = """
        {"samples": [{"prompt_token_ids": [1, 2], "response_token_ids": [3, 4], "reward": 1.0, "group": 0},
                     {"prompt_token_ids": [1, 2], "response_token_ids": [5], "reward": 0.0, "group": 0}],
         "settings": {"learning_rate": 0.01}}
        """
    static let probe = #"{"items": [{"prompt": {"token_ids": [1, 2, 3]}, "response_token_ids": [14, 4, 68]}]}"#

    @Test("after a training step, a synced replica reports the trainer's version and the same logprobs; checks and errors")
    func syncAfterStep() async throws {
        let token = "replica-test-token-0123456789"
        try await withLiveServer(token: token) { trainer in
            try await withLiveServer(token: token, weightsSources: [trainer, "http://127.0.0.1:1"]) { replica in
                let trained = try await request(trainer + "/v1/train/grpo", "POST", body: Self.step, token: token)
                #expect(trained.status == 200)
                let version = try #require(trained.json?["model_version"] as? Int)
                #expect(version == 1)

                // The trainer serves exactly its current version, with the body's SHA-256.
                let (data, response) = try await URLSession.shared.data(for: Self.get(trainer + "/v1/weights/\(version)", token: token))
                let http = try #require(response as? HTTPURLResponse)
                #expect(http.statusCode == 200)
                #expect(http.value(forHTTPHeaderField: "X-Weights-Sha256") == SHA256Digest.hex(data))
                #expect(http.value(forHTTPHeaderField: "X-Model-Version") == "\(version)")
                #expect(try await request(trainer + "/v1/weights/0", token: token).errorCode == "not_found")
                #expect(try await request(trainer + "/v1/weights/1").errorCode == "unauthorized")

                // Before the sync the replica differs; after it, same version and same logprobs.
                let before = try await request(replica + "/v1/logprobs", "POST", body: Self.probe)
                let trainerScores = try await request(trainer + "/v1/logprobs", "POST", body: Self.probe)
                #expect(Self.logprobs(before) != Self.logprobs(trainerScores))
                let sync = #"{"source": "\#(trainer)", "version": \#(version)}"#
                let synced = try await request(replica + "/v1/weights/sync", "POST", body: sync, token: token)
                #expect(synced.status == 200 && synced.json?["changed"] as? Bool == true && synced.json?["model_version"] as? Int == version)
                #expect(synced.json?["sha256"] as? String == SHA256Digest.hex(data))
                let model = try await request(replica + "/v1/model")
                #expect(model.json?["model_version"] as? Int == version)
                let after = try await request(replica + "/v1/logprobs", "POST", body: Self.probe)
                #expect(Self.logprobs(after) == Self.logprobs(trainerScores))
                let again = try await request(replica + "/v1/weights/sync", "POST", body: sync, token: token)
                #expect(again.json?["changed"] as? Bool == false)

                // A version the trainer does not have, or an unreachable source: 502, nothing changed.
                let stale = try await request(replica + "/v1/weights/sync", "POST", body: #"{"source": "\#(trainer)", "version": 7}"#, token: token)
                #expect(stale.status == 502 && stale.errorCode == "upstream_failed")
                #expect(stale.text.contains("version 7"))
                let nowhere = try await request(replica + "/v1/weights/sync", "POST", body: #"{"source": "http://127.0.0.1:1", "version": 1}"#, token: token)
                #expect(nowhere.status == 502)
                #expect(try await request(replica + "/v1/weights/sync", "POST", body: #"{"source": "ftp://x", "version": 1}"#, token: token).status == 400)
                // A source that is not configured is never contacted: 400, whatever it is.
                let elsewhere = try await request(replica + "/v1/weights/sync", "POST", body: #"{"source": "http://127.0.0.1:2", "version": 1}"#,
                                                  token: token)
                #expect(elsewhere.status == 400 && elsewhere.errorCode == "invalid_request" && elsewhere.text.contains("weights sources"))
                #expect(try await request(replica + "/v1/weights/sync", "POST", body: sync).status == 401)
                let still = try await request(replica + "/v1/logprobs", "POST", body: Self.probe)
                #expect(Self.logprobs(still) == Self.logprobs(trainerScores))
            }
        }
    }

    @Test("weights whose checksum or tensors do not match are refused and leave the replica as it was")
    func corruptedWeights() async throws {
        let garbage = Data("not a safetensors file".utf8)
        let liar = try ScriptedServer { _, n in
            // First a body that does not match its checksum, then one that matches but is not weights.
            .respond(status: 200, headers: ["Content-Type": "application/octet-stream", "X-Model-Version": "3",
                                            "X-Weights-Sha256": n == 1 ? String(repeating: "a", count: 64) : SHA256Digest.hex(garbage)],
                     body: garbage)
        }
        defer { liar.stop() }
        try await withLiveServer(weightsSources: [liar.url.absoluteString]) { replica in
            let good = try await request(replica + "/v1/logprobs", "POST", body: Self.probe)
            let sync = #"{"source": "\#(liar.url.absoluteString)", "version": 3}"#
            let mismatch = try await request(replica + "/v1/weights/sync", "POST", body: sync)
            #expect(mismatch.status == 502 && mismatch.text.contains("checksum"))
            let notWeights = try await request(replica + "/v1/weights/sync", "POST", body: sync)
            #expect(notWeights.status == 502 && notWeights.errorCode == "upstream_failed")
            #expect(Self.logprobs(try await request(replica + "/v1/logprobs", "POST", body: Self.probe)) == Self.logprobs(good))
            #expect(try await request(replica + "/v1/model").json?["model_version"] as? Int == 0)
        }
    }

    static func get(_ url: String, token: String) -> URLRequest {
        var r = URLRequest(url: URL(string: url)!)
        r.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        return r
    }

    static func logprobs(_ r: HTTPResult) -> [Double] {
        ((r.json?["results"] as? [[String: Any]])?.first?["logprobs"] as? [Double]) ?? []
    }
}
