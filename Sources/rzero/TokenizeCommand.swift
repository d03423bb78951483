import ArgumentParser
import Foundation
import RZTokenizer

struct Tokenize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Encode text with a Hugging Face tokenizer.json and print the token ids.",
        discussion: """
            Output: {"ids": [...]} on one line. Give the text with --text STR (--text - reads standard \
            input) or --text-file PATH (UTF-8). Special-token text such as <|im_end|> in the input is \
            encoded as that token.
            """)

    @Option(help: "Path to a Hugging Face tokenizer.json.")
    var tokenizer: String

    @Option(help: "The text to encode; \"-\" reads standard input.")
    var text: String?

    @Option(help: "Read the text to encode from this UTF-8 file.")
    var textFile: String?

    @Flag(help: "Leave out the tokens a TemplateProcessing post-processor would add (Qwen adds none).")
    var noSpecialTokens = false

    struct Output: Encodable { let ids: [Int32] }

    func run() throws {
        let input: String
        switch (text, textFile) {
        case (let t?, nil):
            input = t == "-" ? try readUTF8(FileHandle.standardInput.readToEnd() ?? Data(), what: "standard input") : t
        case (nil, let path?):
            guard let data = FileManager.default.contents(atPath: path) else { throw failure("--text-file: cannot read \(path)") }
            input = try readUTF8(data, what: path)
        default:
            throw failure("give exactly one of --text or --text-file")
        }
        do {
            let tok = try Tokenizer(contentsOfFile: tokenizer)
            try printJSON(Output(ids: tok.encode(input, addSpecialTokens: !noSpecialTokens)))
        } catch let e as TokenizerError {
            throw failure(e.description)
        }
    }

    private func readUTF8(_ data: Data, what: String) throws -> String {
        guard let s = String(data: data, encoding: .utf8) else { throw failure("\(what) is not valid UTF-8") }
        return s
    }
}
