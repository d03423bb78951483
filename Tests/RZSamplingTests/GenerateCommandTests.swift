import Foundation
import Testing
import RZModel
import RZTestSupport
import RZTokenizer

/// A random model whose vocabulary fits the Qwen-style fixture tokenizer, saved with that tokenizer.json.
func modelFolderWithTokenizer() throws -> String {
    let tokPath = Fixtures.path("tokenizer/qwen_style.json")
    let tok = try Tokenizer(contentsOfFile: tokPath)
    let model = try DecoderModel(config: DecoderConfig(vocabSize: tok.vocabularySize, hiddenSize: 32, intermediateSize: 48,
                                                    numLayers: 2, numHeads: 2, numKVHeads: 1, headDim: 16, tieWordEmbeddings: true))
    model.initializeRandom(seed: 9, std: 0.1)
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("rzero-gen-\(UUID().uuidString)").path
    try ModelFolder.save(model, to: dir)
    try FileManager.default.copyItem(atPath: tokPath, toPath: dir + "/tokenizer.json")
    return dir
}

@Suite("rzero generate / score --text / tokenize")
struct GenerateCommandTests {
    struct GenOut: Decodable {
        struct Sample: Decodable { let text: String; let token_ids: [Int32]; let logprobs: [Float]; let finish_reason: String }
        let prompt_ids: [Int32]
        let samples: [Sample]
    }
    struct ScoreOut: Decodable { let ids: [Int32]; let logprobs: [Float] }

    @Test("generate's logprobs equal score of the same ids; same seed, same output; chat format applied")
    func generateThenScore() throws {
        let dir = try modelFolderWithTokenizer()
        let args = ["generate", "--model", dir, "--prompt", "What is 2+2?", "--system", "Be brief.", "--n", "2",
                    "--max-tokens", "12", "--seed", "3", "--temperature", "0.9", "--top-p", "0.95"]
        let r = try CLI.run(args)
        #expect(r.status == 0, "\(r.stderr)")
        let out = try JSONDecoder().decode(GenOut.self, from: Data(r.stdout.utf8))
        #expect(out.samples.count == 2)
        let tok = try Tokenizer(contentsOfFile: dir + "/tokenizer.json")
        #expect(tok.decode(out.prompt_ids) == "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n")
        for s in out.samples {
            let scored = try CLI.run(["score", "--model", dir, "--ids", (out.prompt_ids + s.token_ids).map(String.init).joined(separator: ",")])
            let sc = try JSONDecoder().decode(ScoreOut.self, from: Data(scored.stdout.utf8))
            #expect(TestData.maxAbsError(s.logprobs, Array(sc.logprobs[(out.prompt_ids.count - 1)...])) < 1e-4)
            #expect(s.finish_reason == "length" || s.finish_reason == "stop")
        }
        #expect(try CLI.run(args).stdout == r.stdout)
    }

    @Test("score --text encodes with the folder's tokenizer, matching tokenize + score --ids")
    func scoreText() throws {
        let dir = try modelFolderWithTokenizer()
        let text = "Compute \\boxed{42} now."
        let t = try CLI.run(["tokenize", "--tokenizer", dir + "/tokenizer.json", "--text", text])
        struct Ids: Decodable { let ids: [Int32] }
        let ids = try JSONDecoder().decode(Ids.self, from: Data(t.stdout.utf8)).ids
        let byText = try JSONDecoder().decode(ScoreOut.self, from: Data(try CLI.run(["score", "--model", dir, "--text", text]).stdout.utf8))
        let byIds = try JSONDecoder().decode(ScoreOut.self, from: Data(try CLI.run(["score", "--model", dir, "--ids", ids.map(String.init).joined(separator: ",")]).stdout.utf8))
        #expect(byText.ids == ids && byText.logprobs == byIds.logprobs)
    }

    @Test("bad generate input: one-line error, non-zero exit")
    func badInput() throws {
        let dir = try modelFolderWithTokenizer()
        for args in [["generate", "--model", dir, "--prompt", "x", "--top-p", "0"],
                     ["generate", "--model", dir, "--prompt", "x", "--n", "0"],
                     ["generate", "--model", Fixtures.path("engine/tied"), "--prompt", "x"],  // no tokenizer.json
                     ["score", "--model", dir, "--text", "x", "--ids", "1"]] {
            let r = try CLI.run(args)
            #expect(r.status != 0 && r.stderr.hasPrefix("error:") && r.stderr.split(separator: "\n").count == 1, "\(args): \(r.stderr)")
        }
    }
}
