import ArgumentParser
import Foundation
import RZModel
import RZSampling
import RZTokenizer

struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Sample completions of a prompt with a KV cache; prints JSON.",
        discussion: """
            The prompt is chat-formatted with the tokenizer (Qwen ChatML when it has <|im_start|>/<|im_end|>, \
            else "system: …\\nuser: …\\nassistant: ") unless --raw. Output: {"prompt_ids", "samples": [{"text", \
            "token_ids", "logprobs", "finish_reason"}]}; logprobs are under the unmodified model at temperature 1.
            """)

    @Option(help: "Hugging Face model folder with tokenizer.json.") var model: String
    @Option(help: "The user prompt.") var prompt: String
    @Option(help: "An optional system message.") var system: String?
    @Flag(help: "Encode the prompt as plain text, without chat formatting.") var raw = false
    @Option(help: "Samples.") var n = 1
    @Option(help: "Sampling temperature; 0 is greedy.") var temperature = 1.0
    @Option(help: "Nucleus sampling threshold.") var topP = 1.0
    @Option(help: "Keep only the k most likely tokens (0: all).") var topK = 0
    @Option(help: "Maximum new tokens per sample.") var maxTokens = 256
    @Option(help: "Random seed.") var seed: UInt64 = 0
    @Option(help: "Stop when the text contains this string (repeatable).") var stop: [String] = []
    @OptionGroup var compute: ComputeOptions

    struct Sample: Encodable {
        let text: String
        let token_ids: [Int32]
        let logprobs: [Float]
        let finish_reason: String
    }
    struct Output: Encodable {
        let prompt_ids: [Int32]
        let samples: [Sample]
    }

    func run() throws {
        compute.apply()
        do {
            let m = try ModelFolder.load(model)
            try compute.configure(m)
            let tok = try Tokenizer(contentsOfFile: model + "/tokenizer.json")
            let chat = ChatFormat(tokenizer: tok)
            let ids = raw ? tok.encode(prompt)
                : chat.promptIds((system.map { [ChatMessage.system($0)] } ?? []) + [.user(prompt)])
            guard !ids.isEmpty else { throw failure("the prompt encodes to no tokens") }
            let params = SamplingParameters(
                temperature: temperature, topP: topP, topK: topK, maxTokens: maxTokens, n: n,
                stopTokens: chat.stopTokenIds + [tok.eosTokenId].compactMap { $0 }, stopStrings: stop, seed: seed)
            let out = try generate(model: m, prompts: [ids], parameters: params, detokenize: { tok.decode($0) })
            try printJSON(Output(prompt_ids: ids, samples: out[0].map {
                Sample(text: tok.decode($0.tokens, skipSpecialTokens: true), token_ids: $0.tokens, logprobs: $0.logprobs,
                       finish_reason: $0.finishReason.rawValue)
            }))
        } catch let e as ModelError {
            throw failure(e.description)
        } catch let e as SamplingError {
            throw failure(e.description)
        } catch let e as TokenizerError {
            throw failure(e.description)
        }
    }
}
