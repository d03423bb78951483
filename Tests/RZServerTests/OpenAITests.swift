import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Logging
import Synchronization
import Testing
import RZAPI
import RZHost
import RZSampling
import RZServer
import RZTestSupport
import RZTokenizer

/// The built-in model (it has a tokenizer, which the OpenAI-compatible routes need).
let builtInModel = Fixtures.path("../../models/base")

/// A live server on the built-in model; `body` gets its base URL and host.
func withOpenAIServer(limits: HostLimits = HostLimits(), servedName: String? = nil,
                      _ body: @Sendable (String, ModelHost) async throws -> Void) async throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("rzero-oai-\(UUID().uuidString)").path
    var config = ServerConfig(modelDir: builtInModel, checkpointsDir: dir + "/checkpoints")
    config.port = 0
    config.servedModelName = servedName
    let logger = Logger(label: "rzero.test")
    let host = try ModelHost(modelDir: config.modelDir, role: .solver, checkpointsDir: config.checkpointsDir, limits: limits,
                             samplingPrecision: .float32, logger: logger)
    let (ports, portSink) = AsyncStream.makeStream(of: Int.self)
    let app = try buildApplication(host: host, config: config, metrics: ServerMetrics(role: .solver), logger: logger) { portSink.yield($0) }
    let server = Task { try await app.run() }
    var iterator = ports.makeAsyncIterator()
    guard let port = await iterator.next() else { throw ServerConfigError("server did not start") }
    defer { server.cancel() }
    do { try await body("http://127.0.0.1:\(port)", host) } catch {
        await host.shutdown()
        throw error
    }
    await host.shutdown()
}

private func post(_ url: String, _ json: [String: Any], accept: String? = nil) async throws -> (HTTPResult, HTTPURLResponse?) {
    var r = URLRequest(url: URL(string: url)!)
    r.httpMethod = "POST"
    r.httpBody = try JSONSerialization.data(withJSONObject: json)
    r.setValue("application/json", forHTTPHeaderField: "Content-Type")
    if let accept { r.setValue(accept, forHTTPHeaderField: "Accept") }
    let (data, response) = try await URLSession.shared.data(for: r)
    let http = response as? HTTPURLResponse
    return (HTTPResult(status: http?.statusCode ?? 0, data: data), http)
}

/// The `data:` payloads of a server-sent-events body.
private func events(_ text: String) -> [String] {
    text.components(separatedBy: "\n\n").compactMap { block in
        block.hasPrefix("data: ") ? String(block.dropFirst(6)) : nil
    }
}

private func object(_ s: String) -> [String: Any] {
    (try? JSONSerialization.jsonObject(with: Data(s.utf8)) as? [String: Any]) ?? [:]
}

/// Per choice index, the concatenated streamed text (`text` or `delta.content`) and the finish reason.
private func streamed(_ payloads: [String]) -> (texts: [Int: String], finish: [Int: String], usage: [String: Any]?) {
    var texts: [Int: String] = [:], finish: [Int: String] = [:], usage: [String: Any]? = nil
    for p in payloads where p != "[DONE]" {
        let o = object(p)
        if let u = o["usage"] as? [String: Any] { usage = u }
        for c in (o["choices"] as? [[String: Any]]) ?? [] {
            let i = c["index"] as? Int ?? -1
            let piece = (c["text"] as? String) ?? ((c["delta"] as? [String: Any])?["content"] as? String) ?? ""
            texts[i, default: ""] += piece
            if let f = c["finish_reason"] as? String { finish[i] = f }
        }
    }
    return (texts, finish, usage)
}

@Suite("OpenAI-compatible routes, live on the built-in model", .serialized)
struct OpenAIRouteTests {
    @Test("/v1/models names the served model; completions are seeded, agree with /v1/generate, and n gives n choices")
    func completions() async throws {
        try await withOpenAIServer { base, _ in
            let models = try await request(base + "/v1/models")
            let card = try #require((models.json?["data"] as? [[String: Any]])?.first)
            #expect(card["id"] as? String == "base")
            #expect(card["max_model_len"] as? Int != nil)

            let body: [String: Any] = ["model": "base", "prompt": "Question: 12+7=?", "max_tokens": 12, "n": 4, "seed": 9,
                                       "temperature": 1, "logprobs": 2]
            let (a, _) = try await post(base + "/v1/completions", body)
            #expect(a.status == 200, "\(a.text)")
            let choices = try #require(a.json?["choices"] as? [[String: Any]])
            #expect(choices.count == 4)
            #expect(choices.map { $0["index"] as? Int } == [0, 1, 2, 3])
            #expect(a.json?["object"] as? String == "text_completion")
            let usage = try #require(a.json?["usage"] as? [String: Int])
            #expect(usage["total_tokens"] == (usage["prompt_tokens"] ?? 0) + (usage["completion_tokens"] ?? 0))
            // The same seed gives the same choices.
            let (b, _) = try await post(base + "/v1/completions", body)
            #expect((b.json?["choices"] as? [[String: Any]])?.map { $0["text"] as? String } == choices.map { $0["text"] as? String })
            // /v1/generate with the same prompt, seed and settings samples the same tokens and log-probabilities.
            let g = try await request(base + "/v1/generate", "POST", body: #"""
                {"prompts":[{"text":"Question: 12+7=?"}],"n":4,"max_tokens":12,"seed":9,"temperature":1}
                """#)
            let samples = try #require(((g.json?["results"] as? [[String: Any]])?.first?["samples"]) as? [[String: Any]])
            for (c, s) in zip(choices, samples) {
                #expect(c["text"] as? String == s["text"] as? String)
                let lp = try #require(c["logprobs"] as? [String: Any])
                let mine = (lp["token_logprobs"] as? [Double]) ?? []
                let theirs = (s["logprobs"] as? [Double]) ?? []
                #expect(mine.count == theirs.count && zip(mine, theirs).allSatisfy { abs($0 - $1) < 1e-6 })
                let tops = (lp["top_logprobs"] as? [[String: Double]]) ?? []
                #expect(tops.count == mine.count)
                // Each position lists the 2 most likely tokens, plus the chosen one when it is not among them.
                #expect(tops.allSatisfy { (2...3).contains($0.count) })
                #expect((lp["text_offset"] as? [Int])?.first == 0)
            }
        }
    }

    @Test("chat: greedy logprobs and top_logprobs are the model's, most likely first; stop strings are cut from the text")
    func chat() async throws {
        try await withOpenAIServer { base, host in
            let messages: [[String: Any]] = [["role": "system", "content": "Please reason step by step, and put your final answer within \\boxed{}."],
                                             ["role": "user", "content": [["type": "text", "text": "What is 3+4?"]]]]
            let (r, _) = try await post(base + "/v1/chat/completions",
                                        ["messages": messages, "temperature": 0, "max_completion_tokens": 24, "logprobs": true,
                                         "top_logprobs": 3, "unknown_field_clients_send": 1])
            #expect(r.status == 200, "\(r.text)")
            #expect(r.json?["object"] as? String == "chat.completion")
            let choice = try #require((r.json?["choices"] as? [[String: Any]])?.first)
            let content = try #require((choice["message"] as? [String: Any])?["content"] as? String)
            let entries = try #require((choice["logprobs"] as? [String: Any])?["content"] as? [[String: Any]])
            #expect(!entries.isEmpty)
            for e in entries {
                let top = try #require(e["top_logprobs"] as? [[String: Any]])
                #expect(top.count == 3)
                let values = top.compactMap { $0["logprob"] as? Double }
                #expect(values == values.sorted(by: >))
                // Greedy: the chosen token is the most likely one.
                #expect(abs((e["logprob"] as? Double ?? 0) - values[0]) < 1e-6)
                #expect(e["token"] as? String == top[0]["token"] as? String)
            }
            // The same conversation with a stop string: the text ends right before it.
            let tokenizer = try #require(host.tokenizer)
            if content.count > 4 {
                let stop = String(content.dropFirst(2).prefix(2))
                let (s, _) = try await post(base + "/v1/chat/completions",
                                            ["messages": messages, "temperature": 0, "max_completion_tokens": 24, "stop": stop])
                let cut = try #require(((s.json?["choices"] as? [[String: Any]])?.first?["message"] as? [String: Any])?["content"] as? String)
                #expect(cut == String(content[..<content.range(of: stop)!.lowerBound]))
                #expect((s.json?["choices"] as? [[String: Any]])?.first?["finish_reason"] as? String == "stop")
            }
            _ = tokenizer
        }
    }

    @Test("streams: chunks per choice add up to the non-streamed text, end with finish_reason, usage and [DONE]")
    func streaming() async throws {
        try await withOpenAIServer { base, _ in
            for route in ["/v1/completions", "/v1/chat/completions"] {
                var body: [String: Any] = ["n": 3, "seed": 4, "temperature": 1, "max_tokens": 16, "stop": ["+"]]
                if route == "/v1/completions" { body["prompt"] = "Question: 5*6=?" } else { body["messages"] = [["role": "user", "content": "5*6?"]] }
                let (plain, _) = try await post(base + route, body)
                #expect(plain.status == 200, "\(plain.text)")
                let want = ((plain.json?["choices"] as? [[String: Any]]) ?? []).map {
                    ($0["text"] as? String) ?? (($0["message"] as? [String: Any])?["content"] as? String) ?? ""
                }
                body["stream"] = true
                body["stream_options"] = ["include_usage": true]
                // OpenAI clients ask for JSON even when they stream.
                let (s, response) = try await post(base + route, body, accept: "application/json")
                #expect(s.status == 200, "\(s.text)")
                #expect(response?.value(forHTTPHeaderField: "Content-Type")?.hasPrefix("text/event-stream") == true)
                let payloads = events(s.text)
                #expect(payloads.last == "[DONE]")
                let (texts, finish, usage) = streamed(payloads)
                #expect((0..<3).map { texts[$0] ?? "" } == want, "\(route)")
                #expect(finish.count == 3)
                #expect((usage?["completion_tokens"] as? Int ?? 0) > 0)
                if route == "/v1/chat/completions" {
                    let first = object(payloads[0])
                    #expect((((first["choices"] as? [[String: Any]])?.first?["delta"]) as? [String: Any])?["role"] as? String == "assistant")
                }
            }
        }
    }

    @Test("errors use OpenAI's shape: unknown model 404, bad values and unsupported fields 400, bad JSON 400")
    func errors() async throws {
        try await withOpenAIServer(servedName: "rzero-solver") { base, _ in
            func check(_ route: String, _ body: [String: Any], status: Int, type: String, param: String? = nil) async throws {
                let (r, _) = try await post(base + route, body)
                #expect(r.status == status, "\(route) \(body): \(r.text)")
                let error = try #require(r.json?["error"] as? [String: Any], "\(r.text)")
                #expect(error["type"] as? String == type)
                #expect(error["message"] as? String != nil)
                #expect(error["code"] as? String != nil)
                if let param { #expect(error["param"] as? String == param) }
            }
            try await check("/v1/completions", ["model": "gpt-4o", "prompt": "hi"], status: 404, type: "not_found_error", param: "model")
            try await check("/v1/completions", ["model": "rzero-solver", "prompt": "hi", "n": 100], status: 400, type: "invalid_request_error", param: "n")
            try await check("/v1/completions", ["prompt": "hi", "echo": true], status: 400, type: "invalid_request_error", param: "echo")
            try await check("/v1/completions", ["prompt": "hi", "logprobs": 21], status: 400, type: "invalid_request_error")
            try await check("/v1/chat/completions", ["messages": [["role": "user", "content": "hi"]], "presence_penalty": 0.5],
                            status: 400, type: "invalid_request_error", param: "presence_penalty")
            try await check("/v1/chat/completions", ["messages": [["role": "user", "content": "hi"]], "top_logprobs": 2],
                            status: 400, type: "invalid_request_error", param: "top_logprobs")
            try await check("/v1/chat/completions", ["messages": []], status: 400, type: "invalid_request_error")
            let bad = try await request(base + "/v1/chat/completions", "POST", body: "{not json")
            #expect(bad.status == 400)
            #expect((bad.json?["error"] as? [String: Any])?["type"] as? String == "invalid_request_error")
            // /v1/generate keeps the API's own shape.
            let g = try await request(base + "/v1/generate", "POST", body: #"{"prompts":[{"text":"hi"}],"n":100}"#)
            #expect(g.errorCode == "invalid_request")
            #expect((g.json?["error"] as? [String: Any])?["type"] == nil)
        }
    }

    @Test("/tokenize and /detokenize round-trip text and chat prompts")
    func tokenize() async throws {
        try await withOpenAIServer { base, host in
            let tokenizer = try #require(host.tokenizer)
            let (t, _) = try await post(base + "/tokenize", ["prompt": "What is 2 + 3?"])
            let ids = try #require(t.json?["tokens"] as? [Int])
            #expect(ids == tokenizer.encode("What is 2 + 3?").map(Int.init))
            #expect(t.json?["count"] as? Int == ids.count)
            let (d, _) = try await post(base + "/detokenize", ["tokens": ids])
            #expect(d.json?["prompt"] as? String == "What is 2 + 3?")
            let (c, _) = try await post(base + "/tokenize", ["messages": [["role": "user", "content": "hi"]]])
            #expect(c.json?["tokens"] as? [Int] == ChatFormat(tokenizer: tokenizer).promptIds([.user("hi")]).map(Int.init))
            let (both, _) = try await post(base + "/tokenize", ["prompt": "a", "messages": [["role": "user", "content": "hi"]]])
            #expect(both.status == 400)
            let (badId, _) = try await post(base + "/detokenize", ["tokens": [1_000_000]])
            #expect(badId.status == 400)
        }
    }

    @Test("token budget: a request over the per-request budget is a 400; beyond the service's budget, 429 with Retry-After")
    func budget() async throws {
        var limits = HostLimits()
        limits.maxRequestTokens = 4000
        limits.maxTokensInFlight = 4000
        try await withOpenAIServer(limits: limits) { base, host in
            let (tooBig, _) = try await post(base + "/v1/completions", ["prompt": "hi", "max_tokens": 4096, "n": 2])
            #expect(tooBig.status == 400, "\(tooBig.text)")
            // A long request holds 3000 of the 4000 tokens while it runs; another asking for 2000 is refused meanwhile.
            let long = Task {
                try await post(base + "/v1/completions", ["prompt": "hi", "max_tokens": 3000, "ignore_eos": true, "seed": 1])
            }
            while host.generationTokensInFlight == 0 { try await Task.sleep(nanoseconds: 1_000_000) }
            let (refused, response) = try await post(base + "/v1/completions", ["prompt": "hi", "max_tokens": 2000])
            #expect(refused.status == 429, "\(refused.text)")
            #expect(Int(response?.value(forHTTPHeaderField: "Retry-After") ?? "") ?? 0 >= 1)
            #expect((refused.json?["error"] as? [String: Any])?["type"] as? String == "rate_limit_error")
            let g = try await request(base + "/v1/generate", "POST", body: #"{"prompts":[{"text":"hi"}],"max_tokens":2000}"#)
            #expect(g.status == 429 && g.errorCode == "rate_limited")
            let (done, _) = try await long.value
            #expect(done.status == 200)
            #expect(host.generationTokensInFlight == 0)
            // With the budget free again the same request is served.
            let (later, _) = try await post(base + "/v1/completions", ["prompt": "hi", "max_tokens": 2000])
            #expect(later.status == 200)
        }
    }
}

@Suite("OpenAI text and cancellation")
struct OpenAITextTests {
    @Test("a cancelled generation leaves the batch at once and releases its tokens")
    func cancellation() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("rzero-cancel-\(UUID().uuidString)").path
        let host = try ModelHost(modelDir: builtInModel, role: .solver, checkpointsDir: dir, samplingPrecision: .float32,
                                 logger: Logger(label: "test"))
        let request = GenerateRequest(prompts: [.text("hi")], parameters: SamplingParameters(maxTokens: 4096, n: 8, seed: 1), ignoreEOS: true)
        let counter = TokenCounter()
        let task = Task { try await host.generate(request, onToken: { _ in counter.add() }) }
        while counter.value < 16 { try await Task.sleep(nanoseconds: 1_000_000) }
        task.cancel()
        await #expect(throws: CancellationError.self) { try await task.value }
        #expect(host.generationTokensInFlight == 0)
        // Far fewer tokens than the 32,768 asked for were drawn.
        let drawn = counter.value
        try await Task.sleep(nanoseconds: 50_000_000)
        #expect(counter.value == drawn)
        #expect(drawn < 32_768)
        // The host still serves.
        let r = try await host.generate(GenerateRequest(prompts: [.text("hi")], parameters: SamplingParameters(maxTokens: 4, seed: 2)))
        #expect(r.samples[0][0].generation.tokens.count <= 4)
        await host.shutdown()
    }
}

final class TokenCounter: Sendable {
    private let count = Mutex(0)
    func add() { count.withLock { $0 += 1 } }
    var value: Int { count.withLock { $0 } }
}
