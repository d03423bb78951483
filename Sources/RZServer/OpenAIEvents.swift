import Foundation
import OpenAPIRuntime
import RZAPI
import RZHost
import RZSampling
import RZTokenizer

/// A streamed OpenAI response as server-sent events: chunks built from the host's token events as they arrive, a usage
/// chunk when asked, then `data: [DONE]`. An error after the stream began is sent as a `data: {"error": ...}` event
/// (the status line is gone by then). A client that goes away cancels the generation.
struct OpenAIEvents: AsyncSequence, Sendable {
    typealias Element = ArraySlice<UInt8>

    enum Format: Sendable { case completion, chat }

    let stream: GenerationStream
    let format: Format
    let id: String
    let created: Int64
    let model: String
    let tokenizer: Tokenizer
    /// prompts × n.
    let choices: Int
    let stops: [String]
    let logprobs: Bool
    let includeUsage: Bool
    /// Told the result when the generation finishes (the service's token counter).
    let onFinished: @Sendable (GenerateResult) -> Void

    /// Cancels the generation when the body is dropped before its end (a client that disconnected).
    final class Lifetime: Sendable {
        let stream: GenerationStream
        init(_ stream: GenerationStream) { self.stream = stream }
        deinit { stream.cancel() }
    }

    struct Iterator: AsyncIteratorProtocol {
        let events: OpenAIEvents
        let lifetime: Lifetime
        /// One encoder for the stream's chunks (one is made per response, not per token).
        let encoder: JSONEncoder = {
            let e = JSONEncoder()
            e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            return e
        }()
        var upstream: AsyncThrowingStream<GenerationUpdate, any Error>.AsyncIterator
        var texts: [ChoiceText]
        var pending: [ArraySlice<UInt8>] = []
        var started = false
        var ended = false

        mutating func next() async throws -> ArraySlice<UInt8>? {
            if !started {
                started = true
                if events.format == .chat {
                    // OpenAI opens every choice with its role.
                    for i in 0..<events.choices { pending.append(chatChunk(i, role: true, content: "")) }
                }
            }
            while pending.isEmpty && !ended {
                do {
                    switch try await upstream.next() {
                    case .token(let t)?: onToken(t)
                    case .finished(let result)?:
                        events.onFinished(result)
                        if events.includeUsage {
                            let usage = Components.Schemas.OpenAIUsage(
                                promptTokens: result.promptTokens, completionTokens: result.completionTokens,
                                totalTokens: result.promptTokens + result.completionTokens)
                            pending.append(usageChunk(usage))
                        }
                        pending.append(Self.event("[DONE]"))
                        ended = true
                    case nil:
                        // Ended without a result: cancelled.
                        ended = true
                    }
                } catch {
                    let apiError = JSONErrorMiddleware.apiError(for: Handler.apiError(error))
                    pending.append(Self.event(String(decoding: apiError.jsonData(openAIShape: true), as: UTF8.self)))
                    pending.append(Self.event("[DONE]"))
                    ended = true
                }
            }
            return pending.isEmpty ? nil : pending.removeFirst()
        }

        private mutating func onToken(_ t: TokenEvent) {
            guard t.slot < texts.count else { return }
            var text = texts[t.slot].push(t.token)
            if t.finishReason != nil { text += texts[t.slot].finish(stop: t.stopString) }
            let finish = t.finishReason.map { $0 == .stop ? "stop" : "length" }
            // A token that adds no text yet (part of a character, or held back before a possible stop string) sends
            // nothing unless its log-probability or the choice's end must be reported.
            guard !text.isEmpty || events.logprobs || finish != nil else { return }
            switch events.format {
            case .chat:
                let lp: Components.Schemas.ChatLogprobs? = events.logprobs
                    ? .init(content: Handler.chatLogprobs([t.token], [t.logprob], t.topLogprobs.map { [$0] }, events.tokenizer)) : nil
                pending.append(chatChunk(t.slot, role: false, content: text, logprobs: lp, finish: finish))
            case .completion:
                let lp: Components.Schemas.CompletionLogprobs? = events.logprobs
                    ? Handler.completionLogprobs([t.token], [t.logprob], t.topLogprobs.map { [$0] }, offsets: [texts[t.slot].offsets.last ?? 0],
                                                 events.tokenizer) : nil
                let chunk = Components.Schemas.CompletionChunk(
                    id: events.id, object: .textCompletion, created: events.created, model: events.model,
                    choices: [.init(index: t.slot, text: text, logprobs: lp, finishReason: finish.flatMap { .init(rawValue: $0) })])
                pending.append(event(chunk))
            }
        }

        private func chatChunk(_ index: Int, role: Bool, content: String, logprobs: Components.Schemas.ChatLogprobs? = nil,
                               finish: String? = nil) -> ArraySlice<UInt8> {
            event(Components.Schemas.ChatCompletionChunk(
                id: events.id, object: .chat_completion_chunk, created: events.created, model: events.model,
                choices: [.init(index: index, delta: .init(role: role ? .assistant : nil, content: content), logprobs: logprobs,
                                finishReason: finish.flatMap { .init(rawValue: $0) })]))
        }

        private func usageChunk(_ usage: Components.Schemas.OpenAIUsage) -> ArraySlice<UInt8> {
            switch events.format {
            case .chat:
                return event(Components.Schemas.ChatCompletionChunk(
                    id: events.id, object: .chat_completion_chunk, created: events.created, model: events.model, choices: [], usage: usage))
            case .completion:
                return event(Components.Schemas.CompletionChunk(
                    id: events.id, object: .textCompletion, created: events.created, model: events.model, choices: [], usage: usage))
            }
        }

        private func event(_ value: some Encodable) -> ArraySlice<UInt8> {
            // The chunk types are plain strings and numbers (finite: log-probabilities of drawn tokens): encoding cannot fail.
            let json = (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
            return Self.event(json)
        }

        private static func event(_ data: String) -> ArraySlice<UInt8> { ArraySlice(Array("data: \(data)\n\n".utf8)) }
    }

    func makeAsyncIterator() -> Iterator {
        Iterator(events: self, lifetime: Lifetime(stream), upstream: stream.updates.makeAsyncIterator(),
                 texts: (0..<choices).map { _ in ChoiceText(tokenizer: tokenizer, stops: stops) })
    }
}
