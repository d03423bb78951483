import ArgumentParser
import Foundation
import RZModel

struct Score: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the log-probability of each token given the ones before it.",
        discussion: "Output: {\"logprobs\": [...]}, one number per token after the first.")

    @Option(help: "Hugging Face model folder (config.json + *.safetensors).")
    var model: String

    @Option(help: "Comma-separated token ids, e.g. 1,2,3.")
    var ids: String

    @OptionGroup var compute: ComputeOptions

    struct Output: Encodable { let logprobs: [Float] }

    func run() throws {
        compute.apply()
        let parts = ids.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        var tokens: [Int32] = []
        for p in parts {
            guard let v = Int32(p) else { throw failure("--ids: \"\(p)\" is not an integer token id") }
            tokens.append(v)
        }
        guard tokens.count >= 1 else { throw failure("--ids: give at least one token id") }
        do {
            let m = try ModelFolder.load(model)
            let out = try m.forward([tokens])
            try printJSON(Output(logprobs: out.logprobs[0]))
        } catch let e as ModelError {
            throw failure(e.description)
        }
    }
}
