import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Hummingbird
import Logging
import OpenAPIRuntime
import Testing
import RZAPI
import RZHost
import RZModel
import RZSampling
import RZServer
import RZTestSupport

/// A server on 127.0.0.1 port 0 for one test; `body` gets its base URL. Stops it afterwards.
func withLiveServer(token: String? = nil, maxBodyBytes: Int = 1 << 20, weightsSources: [String] = [],
                    _ body: @Sendable (String) async throws -> Void) async throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("rzero-srv-\(UUID().uuidString)").path
    var config = ServerConfig(modelDir: Fixtures.path("engine/tied"), checkpointsDir: dir + "/checkpoints")
    config.port = 0
    config.token = token
    config.maxBodyBytes = maxBodyBytes
    config.weightsSources = weightsSources.compactMap(WeightsSource.init)
    let logger = Logger(label: "rzero.test")
    let host = try ModelHost(modelDir: config.modelDir, role: .solver, checkpointsDir: config.checkpointsDir, logger: logger)
    let (ports, portSink) = AsyncStream.makeStream(of: Int.self)
    let app = try buildApplication(host: host, config: config, metrics: ServerMetrics(role: .solver), logger: logger) { port in
        portSink.yield(port)
    }
    let server = Task { try await app.run() }
    var iterator = ports.makeAsyncIterator()
    guard let port = await iterator.next() else { throw ServerConfigError("server did not start") }
    do {
        try await body("http://127.0.0.1:\(port)")
    } catch {
        server.cancel()
        await host.shutdown()
        throw error
    }
    server.cancel()
    await host.shutdown()
}

struct HTTPResult: Sendable {
    let status: Int
    let data: Data
    var json: [String: Any]? { try? JSONSerialization.jsonObject(with: data) as? [String: Any] }
    var text: String { String(decoding: data, as: UTF8.self) }
    var errorCode: String? { (json?["error"] as? [String: Any])?["code"] as? String }
}

func request(_ url: String, _ method: String = "GET", body: String? = nil, bodyData: Data? = nil,
             contentType: String = "application/json", token: String? = nil) async throws -> HTTPResult {
    var r = URLRequest(url: URL(string: url)!)
    r.httpMethod = method
    if let body { r.httpBody = Data(body.utf8) }
    if let bodyData { r.httpBody = bodyData }
    if body != nil || bodyData != nil { r.setValue(contentType, forHTTPHeaderField: "Content-Type") }
    if let token { r.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
    let (data, response) = try await URLSession.shared.data(for: r)
    let status = (response as? HTTPURLResponse)?.statusCode ?? 0
    return HTTPResult(status: status, data: data)
}

@Suite("HTTP service: live loopback on port 0", .serialized)
struct LiveServerTests {
    @Test("generate, logprobs and a GRPO step that changes the version; results equal the engine's")
    func roundTrip() async throws {
        try await withLiveServer { base in
            let g = try await request(base + "/v1/generate", "POST",
                                      body: #"{"prompts":[{"token_ids":[1,2,3]}],"n":2,"max_tokens":6,"seed":5,"temperature":1}"#)
            #expect(g.status == 200, "\(g.text)")
            let results = try #require(g.json?["results"] as? [[String: Any]])
            let samples = try #require(results.first?["samples"] as? [[String: Any]])
            let model = try ModelFolder.load(Fixtures.path("engine/tied"))
            let local = try generate(model: model, prompts: [[1, 2, 3]],
                                     parameters: SamplingParameters(temperature: 1, maxTokens: 6, n: 2, seed: 5))[0]
            #expect(samples.map { ($0["token_ids"] as? [Int]) ?? [] } == local.map { $0.tokens.map(Int.init) })
            // Scoring the first sample gives the logprobs generation returned.
            let ids = try #require(samples.first?["token_ids"] as? [Int])
            let lp = try await request(base + "/v1/logprobs", "POST",
                                       body: #"{"items":[{"prompt":{"token_ids":[1,2,3]},"response_token_ids":\#(ids)}]}"#)
            let scored = try #require(((lp.json?["results"] as? [[String: Any]])?.first?["logprobs"] as? [Double]))
            let returned = try #require(samples.first?["logprobs"] as? [Double])
            #expect(zip(scored, returned).allSatisfy { abs($0 - $1) < 1e-4 })
            let step = try await request(base + "/v1/train/grpo", "POST", body: #"""
                {"samples":[{"prompt_token_ids":[1,2],"response_token_ids":[3,4],"reward":1,"group":0},
                            {"prompt_token_ids":[1,2],"response_token_ids":[5],"reward":0,"group":0}],
                 "settings":{"learning_rate":0.001}}
                """#)
            #expect(step.status == 200 && step.json?["model_version"] as? Int == 1, "\(step.text)")
            let info = try await request(base + "/v1/model")
            #expect(info.json?["model_version"] as? Int == 1 && info.json?["reference_version"] as? Int == 0)
        }
    }

    @Test("checkpoints: save, list, load round trip over HTTP")
    func checkpoints() async throws {
        try await withLiveServer { base in
            let score = #"{"items":[{"prompt":{"token_ids":[4,5]},"response_token_ids":[6,7]}]}"#
            let before = try await request(base + "/v1/logprobs", "POST", body: score).json?["results"] as? [[String: Any]]
            #expect(try await request(base + "/v1/checkpoints", "POST", body: #"{"name":"before"}"#).status == 201)
            #expect(try await request(base + "/v1/train/sft", "POST",
                                      body: #"{"samples":[{"prompt_token_ids":[4,5],"target_token_ids":[6,7]}],"settings":{"learning_rate":0.01}}"#).status == 200)
            let list = try await request(base + "/v1/checkpoints")
            #expect((list.json?["checkpoints"] as? [[String: Any]])?.compactMap { $0["name"] as? String } == ["before"])
            #expect(try await request(base + "/v1/checkpoints/before/load", "POST").status == 200)
            let after = try await request(base + "/v1/logprobs", "POST", body: score).json?["results"] as? [[String: Any]]
            #expect((before?.first?["logprobs"] as? [Double]) == (after?.first?["logprobs"] as? [Double]))
        }
    }

    @Test("bad input gets a 4xx with a JSON error, and the model is untouched")
    func errors() async throws {
        try await withLiveServer(maxBodyBytes: 4096) { base in
            let cases: [(String, String, String?, String, Int, String)] = [
                ("/v1/generate", "POST", "{not json", "application/json", 400, "invalid_json"),
                ("/v1/generate", "POST", #"{"prompts":"x"}"#, "application/json", 400, "invalid_json"),
                ("/v1/generate", "POST", #"{"prompts":[]}"#, "application/json", 400, "invalid_request"),
                ("/v1/generate", "POST", #"{"prompts":[{"token_ids":[1]}],"n":65}"#, "application/json", 400, "invalid_request"),
                ("/v1/generate", "POST", #"{"prompts":[{"token_ids":[1]}],"max_tokens":0}"#, "application/json", 400, "invalid_request"),
                ("/v1/generate", "POST", #"{"prompts":[{"token_ids":[1, 5000]}]}"#, "application/json", 400, "invalid_request"),
                ("/v1/generate", "POST", "x", "text/plain", 415, "unsupported_media_type"),
                ("/v1/generate", "POST", String(repeating: " ", count: 5000), "application/json", 413, "payload_too_large"),
                ("/v1/checkpoints/nope/load", "POST", nil, "application/json", 404, "not_found"),
                ("/v1/checkpoints", "POST", #"{"name":"../x"}"#, "application/json", 400, "invalid_request"),
                ("/v1/train/grpo", "POST", #"{"samples":[{"prompt_token_ids":[1],"response_token_ids":[2],"old_logprobs":[-1,-2],"reward":1,"group":0},{"prompt_token_ids":[1],"response_token_ids":[2],"reward":0,"group":0}]}"#, "application/json", 400, "invalid_request"),
                ("/v1/train/grpo", "POST", #"{"samples":[{"prompt_token_ids":[1],"response_token_ids":[2],"reward":1,"group":0}]}"#, "application/json", 400, "invalid_request"),
                ("/v1/logprobs", "POST", #"{"items":[{"prompt":{"token_ids":[1]},"response_token_ids":[2]}],"model":"reference"}"#, "application/json", 409, "no_reference"),
                ("/no/such/route", "GET", nil, "application/json", 404, "not_found"),
            ]
            for (path, method, body, type, status, code) in cases {
                let r = try await request(base + path, method, body: body, contentType: type)
                #expect(r.status == status && r.errorCode == code, "\(method) \(path) \(body?.prefix(60) ?? ""): \(r.status) \(r.text.prefix(200))")
            }
            let info = try await request(base + "/v1/model")
            #expect(info.json?["model_version"] as? Int == 0 && info.json?["step"] as? Int == 0)
        }
    }

    @Test("with a token configured, training needs it; generation does not")
    func auth() async throws {
        let token = "s3cret-token-0123456789"
        try await withLiveServer(token: token) { base in
            let body = #"{"samples":[{"prompt_token_ids":[4,5],"target_token_ids":[6]}]}"#
            let denied = try await request(base + "/v1/train/sft", "POST", body: body)
            #expect(denied.status == 401 && denied.errorCode == "unauthorized")
            #expect(try await request(base + "/v1/train/sft", "POST", body: body, token: "wrong-token-0123456789").status == 401)
            #expect(try await request(base + "/v1/train/sft", "POST", body: body, token: token).status == 200)
            #expect(try await request(base + "/v1/generate", "POST", body: #"{"prompts":[{"token_ids":[1]}],"max_tokens":2}"#).status == 200)
            #expect(try await request(base + "/v1/checkpoints").status == 401)
        }
    }

    @Test("/healthz answers while a long generation runs; 64 concurrent requests all complete correctly")
    func concurrency() async throws {
        try await withLiveServer { base in
            let long = Task { try await request(base + "/v1/generate", "POST", body: #"{"prompts":[{"token_ids":[1]}],"n":8,"max_tokens":3000,"seed":1,"ignore_eos":true}"#) }
            try await Task.sleep(nanoseconds: 50_000_000)
            let t0 = Date()
            let health = try await request(base + "/healthz")
            #expect(health.status == 200)
            let healthSeconds = Date().timeIntervalSince(t0)
            let results = try await withThrowingTaskGroup(of: (Int, HTTPResult).self) { group in
                for i in 0..<64 {
                    group.addTask {
                        (i, try await request(base + "/v1/generate", "POST",
                                              body: #"{"prompts":[{"token_ids":[\#(i % 90 + 1),5]}],"max_tokens":8,"seed":\#(i)}"#))
                    }
                }
                var out: [Int: HTTPResult] = [:]
                for try await (i, r) in group { out[i] = r }
                return out
            }
            let model = try ModelFolder.load(Fixtures.path("engine/tied"))
            for i in 0..<64 {
                let r = try #require(results[i])
                let tokens = ((r.json?["results"] as? [[String: Any]])?.first?["samples"] as? [[String: Any]])?.first?["token_ids"] as? [Int]
                let local = try generate(model: model, prompts: [[Int32(i % 90 + 1), 5]], parameters: SamplingParameters(maxTokens: 8, seed: UInt64(i)))
                #expect(r.status == 200 && tokens == local[0][0].tokens.map(Int.init), "request \(i)")
            }
            #expect((try await long.value).status == 200)
            #expect(healthSeconds < 5, "healthz took \(healthSeconds) s during a long generation")
        }
    }
}

@Suite("Handler through the generated protocol (no sockets)")
struct HandlerTests {
    func handler() throws -> Handler {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("rzero-h-\(UUID().uuidString)").path
        let host = try ModelHost(modelDir: Fixtures.path("engine/tied"), role: .challenger, checkpointsDir: dir, logger: Logger(label: "t"))
        return Handler(host: host, metrics: ServerMetrics(role: .challenger), maxBodyBytes: 1 << 20)
    }

    @Test("generate returns n samples per prompt and echoes the seed")
    func generateDirect() async throws {
        let h = try handler()
        let out = try await h.generate(.init(body: .json(.init(prompts: [.tokens([1, 2]), .tokens([3])], n: 3, maxTokens: 4, seed: 11))))
        guard case .ok(let ok) = out, case .json(let body) = ok.body else { Issue.record("not ok"); return }
        #expect(body.seed == 11 && body.results.count == 2 && body.results.allSatisfy { $0.samples.count == 3 })
        #expect(body.usage.completionTokens == 24 && body.usage.promptTokens == 3)
        await h.host.shutdown()
    }

    @Test("validation errors are APIErrors with the documented codes")
    func validation() async throws {
        let h = try handler()
        await #expect(throws: APIError.self) { try await h.generate(.init(body: .json(.init(prompts: [])))) }
        await #expect(throws: APIError.self) { try await h.generate(.init(body: .json(.init(prompts: [.tokens([1])], topP: 0)))) }
        do {
            _ = try await h.loadCheckpoint(.init(path: .init(name: "missing")))
            Issue.record("loaded a missing checkpoint")
        } catch let e as APIError {
            #expect(e.code == .notFound)
        }
        let model = try await h.getModel(.init())
        guard case .ok(let ok) = model, case .json(let info) = ok.body else { Issue.record("no model info"); return }
        #expect(info.role == .challenger && info.config.vocabSize == 101 && info.parameterCount > 0)
        await h.host.shutdown()
    }
}
