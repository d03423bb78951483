import ArgumentParser
import Foundation
import RZModel
import RZTokenizer

struct Score: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the log-probability of each token given the ones before it.",
        discussion: """
            Give the sequence as --ids 1,2,3 or as --text STR (encoded with the model folder's tokenizer.json \
            or --tokenizer FILE). Output: {"ids": [...], "logprobs": [...]}, one logprob per token after the first.
            """)

    @Option(help: "Hugging Face model folder (config.json + *.safetensors).")
    var model: String

    @Option(help: "Comma-separated token ids, e.g. 1,2,3.")
    var ids: String?

    @Option(help: "Text to encode and score.")
    var text: String?

    @Option(help: "tokenizer.json to encode --text with (default: the model folder's).")
    var tokenizer: String?

    @OptionGroup var compute: ComputeOptions

    struct Output: Encodable {
        let ids: [Int32]
        let logprobs: [Float]
    }

    func run() throws {
        compute.apply()
        let tokens: [Int32]
        switch (ids, text) {
        case (let list?, nil):
            tokens = try parseIds(list)
        case (nil, let t?):
            do {
                tokens = try Tokenizer(contentsOfFile: tokenizer ?? model + "/tokenizer.json").encode(t)
            } catch {
                // Tokenizer's initializer has typed throws: `error` is a TokenizerError here.
                throw failure(error.description)
            }
        default:
            throw failure("give exactly one of --ids or --text")
        }
        guard !tokens.isEmpty else { throw failure("nothing to score: the input has no tokens") }
        do {
            let m = try ModelFolder.load(model)
            let out = try m.forward([tokens])
            try printJSON(Output(ids: tokens, logprobs: out.logprobs[0]))
        } catch let e as ModelError {
            throw failure(e.description)
        }
    }
}

/// Parses "1,2,3" into token ids, or fails with a one-line message.
func parseIds(_ list: String) throws -> [Int32] {
    var tokens: [Int32] = []
    for p in list.split(separator: ",", omittingEmptySubsequences: false).map({ $0.trimmingCharacters(in: .whitespaces) }) {
        guard let v = Int32(p) else { throw failure("--ids: \"\(p)\" is not an integer token id") }
        tokens.append(v)
    }
    return tokens
}
