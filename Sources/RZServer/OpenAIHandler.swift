import Foundation
import OpenAPIRuntime
import RZAPI
import RZHost
import RZSampling
import RZTokenizer

/// How the OpenAI-compatible routes name the model (`rzero serve --served-model-name`).
package struct OpenAIServing: Sendable {
    package var servedModelName: String
    /// When the service started (Unix seconds): `created` of the model card.
    package var createdAt: Int64

    package init(servedModelName: String, createdAt: Int64 = Int64(Date().timeIntervalSince1970)) {
        self.servedModelName = servedModelName
        self.createdAt = createdAt
    }

    /// The default served name: the model folder's name.
    package static func defaultName(modelDir: String) -> String {
        let name = URL(fileURLWithPath: modelDir).standardizedFileURL.lastPathComponent
        return name.isEmpty ? "rzero" : name
    }
}

/// A validated OpenAI request, before it becomes a `GenerateRequest`: the prompts as token ids and the settings.
struct OpenAIGeneration {
    var prompts: [[Int32]]
    var parameters: SamplingParameters
    var ignoreEOS: Bool
    /// Whether the chosen tokens' log-probabilities are returned.
    var logprobs: Bool
    var stream: Bool
    var includeUsage: Bool

    var request: GenerateRequest {
        GenerateRequest(prompts: prompts.map { .tokenIds($0) }, parameters: parameters, ignoreEOS: ignoreEOS)
    }
}

private func check(_ ok: Bool, _ message: @autoclosure () -> String, param: String? = nil) throws(APIError) {
    if !ok { throw APIError(.invalidRequest, message(), param: param) }
}

/// The sampling fields both routes share, checked as openapi.yaml states them.
private struct SharedFields {
    var n: Int?
    var temperature: Double?
    var topP: Double?
    var topK: Int?
    var stop: Components.Schemas.StopSequences?
    var stopTokenIds: [Int32]?
    var seed: Int64?
    var presencePenalty: Double?
    var frequencyPenalty: Double?
    var logitBias: [String: Double]?

    func validate(prompts: Int) throws(APIError) {
        let n = self.n ?? 1
        try check(APILimits.samplesPerPrompt.contains(n), "n must be in 1...64 (got \(n))", param: "n")
        try check(prompts * n <= APILimits.maxSamplesPerRequest, "prompts × n must be at most 1024 (got \(prompts * n))", param: "n")
        if let temperature {
            try check(temperature.isFinite && APILimits.temperature.contains(temperature), "temperature must be in 0...100 (got \(temperature))",
                      param: "temperature")
        }
        if let topP { try check(topP.isFinite && topP > 0 && topP <= 1, "top_p must be in (0, 1] (got \(topP))", param: "top_p") }
        if let topK { try check((-1...1_000_000).contains(topK), "top_k must be in -1...1000000 (got \(topK))", param: "top_k") }
        let stops = stopStrings
        try check(stops.count <= APILimits.maxStopStrings, "stop must have at most 16 strings (got \(stops.count))", param: "stop")
        try check(!stops.contains(""), "stop strings must not be empty", param: "stop")
        if let stopTokenIds {
            try check(stopTokenIds.count <= APILimits.maxStopTokenIds, "stop_token_ids must have at most 64 ids", param: "stop_token_ids")
            try check(stopTokenIds.allSatisfy { $0 >= 0 }, "stop_token_ids must be token ids ≥ 0", param: "stop_token_ids")
        }
        if let seed { try check(seed >= 0, "seed must be ≥ 0 (got \(seed))", param: "seed") }
        for (name, value) in [("presence_penalty", presencePenalty), ("frequency_penalty", frequencyPenalty)] {
            if let value { try check(value == 0, "\(name) is not supported (only 0)", param: name) }
        }
        try check(logitBias?.isEmpty ?? true, "logit_bias is not supported", param: "logit_bias")
    }

    var stopStrings: [String] {
        switch stop {
        case nil: return []
        case .case1(let s)?: return [s]
        case .case2(let list)?: return list
        }
    }

    func parameters(maxTokens: Int, topLogprobs: Int) -> SamplingParameters {
        SamplingParameters(
            temperature: temperature ?? 1, topP: topP ?? 1, topK: max(0, topK ?? 0), maxTokens: maxTokens, n: n ?? 1,
            stopTokens: stopTokenIds ?? [], stopStrings: stopStrings,
            seed: seed.map { UInt64($0) } ?? UInt64.random(in: 0...UInt64(Int64.max)), topLogprobs: topLogprobs)
    }
}

extension Handler {
    // MARK: Shared

    private func checkModel(_ name: String?) throws(APIError) {
        if let name, name != openAI.servedModelName {
            throw APIError(.modelNotFound, "The model `\(name)` does not exist; this service serves `\(openAI.servedModelName)`.",
                           param: "model")
        }
    }

    private func requireTokenizer() throws(APIError) -> Tokenizer {
        guard let tokenizer = host.tokenizer else {
            throw APIError.invalidRequest("this model has no tokenizer.json: the OpenAI-compatible routes need text; use /v1/generate with token_ids")
        }
        return tokenizer
    }

    private var contextLength: Int { host.info.config.maxPositionEmbeddings }

    private static func randomID(_ prefix: String) -> String {
        prefix + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(24)
    }

    private func fingerprint(_ version: Int) -> String { "rzero-v\(version)" }

    private func usage(_ r: GenerateResult) -> Components.Schemas.OpenAIUsage {
        .init(promptTokens: r.promptTokens, completionTokens: r.completionTokens, totalTokens: r.promptTokens + r.completionTokens)
    }

    /// Chat messages as the chat template takes them; `developer` is OpenAI's newer name for `system`.
    private func chatMessages(_ messages: [Components.Schemas.ChatCompletionMessage]) throws(APIError) -> [ChatMessage] {
        try check(APILimits.messages.contains(messages.count), "messages must have 1...64 messages (got \(messages.count))", param: "messages")
        var out: [ChatMessage] = []
        for (i, m) in messages.enumerated() {
            let text: String
            switch m.content {
            case nil: text = ""
            case .case1(let s)?: text = s
            case .case2(let parts)?:
                var joined = ""
                for part in parts {
                    try check(part._type == "text", "messages[\(i)].content: only text parts are supported (got \(part._type))", param: "messages")
                    joined += part.text ?? ""
                }
                text = joined
            }
            out.append(ChatMessage(role: m.role == .developer ? "system" : m.role.rawValue, content: text))
        }
        return out
    }

    private func checkPromptLength(_ ids: [Int32], param: String) throws(APIError) {
        try check(!ids.isEmpty, "\(param) tokenizes to nothing", param: param)
        try check(ids.count < contextLength, "\(param) has \(ids.count) tokens; the context holds \(contextLength)", param: param)
    }

    /// Runs a generation with the host's errors as API errors.
    private func generateResult(_ g: OpenAIGeneration, operation: String) async throws -> GenerateResult {
        try await measured(operation) {
            let r = try await host.generate(g.request)
            metrics.generatedTokens.increment(by: r.completionTokens)
            return r
        }
    }

    /// A streamed response: the generation admitted (refusals are thrown here, before the status line), its events
    /// as the body. The generated tokens are counted when the stream ends.
    private func eventStream(_ g: OpenAIGeneration, format: OpenAIEvents.Format, id: String, created: Int64, tokenizer: Tokenizer,
                             operation: String) async throws -> HTTPBody {
        let stream = try await measured(operation) { try host.generateStream(g.request) }
        let counter = metrics.generatedTokens
        let events = OpenAIEvents(stream: stream, format: format, id: id, created: created, model: openAI.servedModelName,
                                  tokenizer: tokenizer, choices: g.prompts.count * g.parameters.n, stops: g.parameters.stopStrings,
                                  logprobs: g.logprobs, includeUsage: g.includeUsage,
                                  onFinished: { counter.increment(by: $0.completionTokens) })
        return HTTPBody(events, length: .unknown, iterationBehavior: .single)
    }

    // MARK: Routes

    package func listModels(_ input: Operations.ListModels.Input) async throws -> Operations.ListModels.Output {
        .ok(.init(body: .json(.init(object: .list, data: [
            .init(id: openAI.servedModelName, object: .model, created: openAI.createdAt, ownedBy: "rzero", maxModelLen: contextLength,
                  root: host.modelDir)
        ]))))
    }

    package func tokenize(_ input: Operations.Tokenize.Input) async throws -> Operations.Tokenize.Output {
        guard case .json(let body) = input.body else { throw APIError(.unsupportedMediaType, "expected application/json") }
        try checkModel(body.model)
        let tokenizer = try requireTokenizer()
        let ids: [Int32]
        switch (body.prompt, body.messages) {
        case (let prompt?, nil):
            ids = tokenizer.encode(prompt, addSpecialTokens: body.addSpecialTokens ?? true)
        case (nil, let messages?):
            ids = ChatFormat(tokenizer: tokenizer).promptIds(try chatMessages(messages))
        default:
            throw APIError.invalidRequest("give exactly one of prompt and messages")
        }
        return .ok(.init(body: .json(.init(count: ids.count, maxModelLen: contextLength, tokens: ids))))
    }

    package func detokenize(_ input: Operations.Detokenize.Input) async throws -> Operations.Detokenize.Output {
        guard case .json(let body) = input.body else { throw APIError(.unsupportedMediaType, "expected application/json") }
        try checkModel(body.model)
        let tokenizer = try requireTokenizer()
        let vocab = host.info.config.vocabSize
        if let bad = body.tokens.firstIndex(where: { $0 < 0 || Int($0) >= vocab }) {
            throw APIError(.invalidRequest, "tokens[\(bad)] must be a token id in 0..<\(vocab) (got \(body.tokens[bad]))", param: "tokens")
        }
        return .ok(.init(body: .json(.init(prompt: tokenizer.decode(body.tokens)))))
    }

    package func createCompletion(_ input: Operations.CreateCompletion.Input) async throws -> Operations.CreateCompletion.Output {
        guard case .json(let body) = input.body else { throw APIError(.unsupportedMediaType, "expected application/json") }
        try checkModel(body.model)
        let tokenizer = try requireTokenizer()
        try check(body.echo != true, "echo is not supported", param: "echo")
        try check(body.suffix == nil, "suffix is not supported", param: "suffix")
        let prompts: [[Int32]]
        switch body.prompt {
        case .case1(let text): prompts = [tokenizer.encode(text, addSpecialTokens: false)]
        case .case2(let texts): prompts = texts.map { tokenizer.encode($0, addSpecialTokens: false) }
        case .case3(let ids): prompts = [ids]
        case .case4(let lists): prompts = lists
        }
        try check(APILimits.prompts.contains(prompts.count), "prompt must hold 1...256 prompts (got \(prompts.count))", param: "prompt")
        for (i, p) in prompts.enumerated() {
            try checkPromptLength(p, param: prompts.count == 1 ? "prompt" : "prompt[\(i)]")
            try check(p.allSatisfy { $0 >= 0 }, "prompt token ids must be ≥ 0", param: "prompt")
        }
        let shared = SharedFields(
            n: body.n, temperature: body.temperature, topP: body.topP, topK: body.topK, stop: body.stop, stopTokenIds: body.stopTokenIds,
            seed: body.seed, presencePenalty: body.presencePenalty, frequencyPenalty: body.frequencyPenalty,
            logitBias: body.logitBias?.additionalProperties)
        try shared.validate(prompts: prompts.count)
        if let bestOf = body.bestOf { try check(bestOf == (body.n ?? 1), "best_of must equal n (no server-side ranking)", param: "best_of") }
        let maxTokens = body.maxTokens ?? 16
        try check(APILimits.maxTokens.contains(maxTokens), "max_tokens must be in 1...4096 (got \(maxTokens))", param: "max_tokens")
        if let k = body.logprobs { try check((0...SamplingParameters.maxTopLogprobs).contains(k), "logprobs must be in 0...20 (got \(k))", param: "logprobs") }
        let g = OpenAIGeneration(
            prompts: prompts, parameters: shared.parameters(maxTokens: maxTokens, topLogprobs: body.logprobs ?? 0),
            ignoreEOS: body.ignoreEos ?? false, logprobs: body.logprobs != nil, stream: body.stream ?? false,
            includeUsage: body.streamOptions?.includeUsage ?? false)
        let id = Self.randomID("cmpl-"), created = Int64(Date().timeIntervalSince1970)
        let stops = g.parameters.stopStrings
        if g.stream {
            return .ok(.init(body: .textEventStream(try await eventStream(g, format: .completion, id: id, created: created, tokenizer: tokenizer,
                                                                          operation: Operations.CreateCompletion.id))))
        }
        let r = try await generateResult(g, operation: Operations.CreateCompletion.id)
        var choices: [Components.Schemas.CompletionChoice] = []
        for sample in r.samples.joined() {
            let gen = sample.generation
            let (text, offsets) = ChoiceText.text(of: gen.tokens, stop: gen.stopString, tokenizer: tokenizer, stops: stops)
            choices.append(.init(index: choices.count, text: text,
                                 logprobs: g.logprobs ? Self.completionLogprobs(gen.tokens, gen.logprobs, gen.topLogprobs, offsets: offsets, tokenizer) : nil,
                                 finishReason: gen.finishReason == .stop ? .stop : .length))
        }
        return .ok(.init(body: .json(.init(id: id, object: .textCompletion, created: created, model: openAI.servedModelName,
                                           systemFingerprint: fingerprint(r.modelVersion), choices: choices, usage: usage(r)))))
    }

    package func createChatCompletion(_ input: Operations.CreateChatCompletion.Input) async throws -> Operations.CreateChatCompletion.Output {
        guard case .json(let body) = input.body else { throw APIError(.unsupportedMediaType, "expected application/json") }
        try checkModel(body.model)
        let tokenizer = try requireTokenizer()
        try check(body.tools?.isEmpty ?? true, "tools are not supported", param: "tools")
        if let format = body.responseFormat?._type { try check(format == "text", "response_format \(format) is not supported (only text)", param: "response_format") }
        let prompt = ChatFormat(tokenizer: tokenizer).promptIds(try chatMessages(body.messages))
        try checkPromptLength(prompt, param: "messages")
        let shared = SharedFields(
            n: body.n, temperature: body.temperature, topP: body.topP, topK: body.topK, stop: body.stop, stopTokenIds: body.stopTokenIds,
            seed: body.seed, presencePenalty: body.presencePenalty, frequencyPenalty: body.frequencyPenalty,
            logitBias: body.logitBias?.additionalProperties)
        try shared.validate(prompts: 1)
        let maxTokens = body.maxCompletionTokens ?? body.maxTokens ?? max(1, min(APILimits.maxTokens.upperBound, contextLength - prompt.count))
        try check(APILimits.maxTokens.contains(maxTokens), "max_completion_tokens must be in 1...4096 (got \(maxTokens))",
                  param: body.maxCompletionTokens != nil ? "max_completion_tokens" : "max_tokens")
        let logprobs = body.logprobs ?? false
        if let k = body.topLogprobs {
            try check((0...SamplingParameters.maxTopLogprobs).contains(k), "top_logprobs must be in 0...20 (got \(k))", param: "top_logprobs")
            try check(logprobs || k == 0, "top_logprobs needs logprobs: true", param: "top_logprobs")
        }
        let g = OpenAIGeneration(
            prompts: [prompt], parameters: shared.parameters(maxTokens: maxTokens, topLogprobs: logprobs ? body.topLogprobs ?? 0 : 0),
            ignoreEOS: body.ignoreEos ?? false, logprobs: logprobs, stream: body.stream ?? false,
            includeUsage: body.streamOptions?.includeUsage ?? false)
        let id = Self.randomID("chatcmpl-"), created = Int64(Date().timeIntervalSince1970)
        let stops = g.parameters.stopStrings
        if g.stream {
            return .ok(.init(body: .textEventStream(try await eventStream(g, format: .chat, id: id, created: created, tokenizer: tokenizer,
                                                                          operation: Operations.CreateChatCompletion.id))))
        }
        let r = try await generateResult(g, operation: Operations.CreateChatCompletion.id)
        var choices: [Components.Schemas.ChatCompletionChoice] = []
        for sample in r.samples.joined() {
            let gen = sample.generation
            let (text, _) = ChoiceText.text(of: gen.tokens, stop: gen.stopString, tokenizer: tokenizer, stops: stops)
            choices.append(.init(index: choices.count, message: .init(role: .assistant, content: text),
                                 logprobs: logprobs ? .init(content: Self.chatLogprobs(gen.tokens, gen.logprobs, gen.topLogprobs, tokenizer)) : nil,
                                 finishReason: gen.finishReason == .stop ? .stop : .length))
        }
        return .ok(.init(body: .json(.init(id: id, object: .chat_completion, created: created, model: openAI.servedModelName,
                                           systemFingerprint: fingerprint(r.modelVersion), choices: choices, usage: usage(r)))))
    }

    // MARK: Log-probabilities in OpenAI's two shapes

    static func completionLogprobs(_ tokens: [Int32], _ logprobs: [Float], _ top: [[TopLogprob]]?, offsets: [Int],
                                   _ tokenizer: Tokenizer) -> Components.Schemas.CompletionLogprobs {
        let texts = tokens.map { tokenizer.decode([$0]) }
        let tops: [Components.Schemas.CompletionLogprobs.TopLogprobsPayloadPayload] = tokens.indices.map { i in
            var entries: [String: Float] = [texts[i]: logprobs[i]]
            for alt in top?[i] ?? [] { entries[tokenizer.decode([alt.token])] = alt.logprob }
            return .init(additionalProperties: entries)
        }
        return .init(tokens: texts, tokenLogprobs: logprobs, topLogprobs: tops, textOffset: offsets)
    }

    static func chatLogprobs(_ tokens: [Int32], _ logprobs: [Float], _ top: [[TopLogprob]]?,
                             _ tokenizer: Tokenizer) -> [Components.Schemas.TokenLogprob] {
        tokens.indices.map { i in
            .init(token: tokenizer.decode([tokens[i]]), logprob: logprobs[i], bytes: tokenizer.bytes(ofToken: tokens[i]).map(Int.init),
                  topLogprobs: (top?[i] ?? []).map {
                      .init(token: tokenizer.decode([$0.token]), logprob: $0.logprob, bytes: tokenizer.bytes(ofToken: $0.token).map(Int.init))
                  })
        }
    }
}
