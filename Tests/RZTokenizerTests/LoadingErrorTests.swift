import Foundation
import Testing
@testable import RZTokenizer

/// Bad or unsupported files are thrown errors with messages naming the fault, never a crash.
@Suite("Loading errors")
struct LoadingErrorTests {
    /// Loads `json` and returns the error's message, failing the test if it loads.
    func message(_ json: [String: Any], sourceLocation: SourceLocation = #_sourceLocation) -> String {
        do {
            _ = try TokenizerFixtures.tokenizer(json: json)
            Issue.record("loaded a file that should be rejected", sourceLocation: sourceLocation)
            return ""
        } catch {
            return error.description
        }
    }

    func qwen() throws -> [String: Any] { try TokenizerFixtures.jsonObject("qwen_style") }

    @Test("a missing file")
    func missingFile() {
        #expect(throws: TokenizerError.fileNotFound("/no/such/tokenizer.json")) {
            try Tokenizer(contentsOfFile: "/no/such/tokenizer.json")
        }
    }

    @Test("a directory instead of a file")
    func directory() {
        #expect(throws: TokenizerError.self) { try Tokenizer(contentsOfFile: TokenizerFixtures.directory.path) }
    }

    @Test("invalid JSON")
    func invalidJSON() {
        for text in ["", "{", "not json", "[1, 2]", "{\"model\": 3}"] {
            do {
                _ = try Tokenizer(data: Data(text.utf8))
                Issue.record("loaded \(show(text))")
            } catch {
                guard case .invalidJSON = error else { Issue.record("\(error)"); continue }
                #expect(error.description.hasPrefix("invalid tokenizer.json:"))
            }
        }
    }

    @Test("a missing model section names it")
    func missingModel() throws {
        var json = try qwen()
        json["model"] = nil
        #expect(message(json).contains("\"model\""))
    }

    @Test("unsupported model type WordPiece")
    func wordPiece() throws {
        var json = try qwen()
        json["model"] = ["type": "WordPiece", "unk_token": "[UNK]", "vocab": ["a": 0]]
        #expect(message(json) == "unsupported tokenizer.json: model type \"WordPiece\"")
        json["model"] = ["type": "Unigram", "vocab": [["a", -1.0]]]
        #expect(message(json) == "unsupported tokenizer.json: model type \"Unigram\"")
    }

    @Test("unsupported pre-tokenizers and options")
    func preTokenizers() throws {
        var json = try qwen()
        json["pre_tokenizer"] = ["type": "Metaspace", "replacement": "▁", "prepend_scheme": "always"]
        #expect(message(json) == "unsupported tokenizer.json: pre_tokenizer type \"Metaspace\"")
        json["pre_tokenizer"] = [
            "type": "Sequence", "pretokenizers": [["type": "Whitespace"], ["type": "ByteLevel", "add_prefix_space": false]],
        ]
        #expect(message(json).contains("pre_tokenizer type \"Whitespace\""))
        json["pre_tokenizer"] = ["type": "ByteLevel", "add_prefix_space": true, "use_regex": true]
        #expect(message(json).contains("add_prefix_space: true"))
        json["pre_tokenizer"] = ["type": "Sequence", "pretokenizers": [
            ["type": "Split", "pattern": ["Regex": "(?<=\\s)x"], "behavior": "Isolated", "invert": false],
            ["type": "ByteLevel", "add_prefix_space": false, "use_regex": false]]]
        #expect(message(json) == "unsupported tokenizer.json: pre_tokenizer Split regex \"(?<=\\s)x\": lookbehind at offset 0 is not supported")
        json["pre_tokenizer"] = ["type": "Sequence", "pretokenizers": [
            ["type": "Split", "pattern": ["Regex": "(\\s+"], "behavior": "Isolated", "invert": false],
            ["type": "ByteLevel", "add_prefix_space": false, "use_regex": false]]]
        #expect(message(json) == "invalid tokenizer.json: pre_tokenizer Split regex \"(\\s+\": unmatched '(' at offset 0")
        json["pre_tokenizer"] = ["type": "Sequence", "pretokenizers": [
            ["type": "Split", "pattern": ["Regex": SplitRule.qwen2Pattern], "behavior": "Shuffled", "invert": false],
            ["type": "ByteLevel", "add_prefix_space": false, "use_regex": false]]]
        #expect(message(json).contains("behavior \"Shuffled\""))
        json["pre_tokenizer"] = ["type": "Sequence", "pretokenizers": [
            ["type": "ByteLevel", "add_prefix_space": false, "use_regex": false],
            ["type": "Split", "pattern": ["Regex": SplitRule.qwen2Pattern], "behavior": "Isolated", "invert": false]]]
        #expect(message(json).contains("after ByteLevel"))
        json["pre_tokenizer"] = NSNull()
        #expect(message(json).contains("pre_tokenizer null"))
    }

    @Test("unsupported normalizer, decoder and post-processor")
    func otherSections() throws {
        var json = try qwen()
        json["normalizer"] = ["type": "Sequence", "normalizers": [["type": "NFC"], ["type": "Lowercase"]]]
        #expect(message(json) == "unsupported tokenizer.json: normalizer type \"Lowercase\"")
        json = try qwen()
        json["decoder"] = ["type": "WordPiece", "prefix": "##"]
        #expect(message(json) == "unsupported tokenizer.json: decoder type \"WordPiece\"")
        json = try qwen()
        json["post_processor"] = ["type": "RobertaProcessing", "sep": ["</s>", 2], "cls": ["<s>", 0]]
        #expect(message(json) == "unsupported tokenizer.json: post_processor type \"RobertaProcessing\"")
        json = try qwen()
        json["truncation"] = ["max_length": 8, "strategy": "LongestFirst", "stride": 0, "direction": "Right"]
        #expect(message(json).contains("truncation"))
    }

    @Test("merges referencing unknown tokens")
    func badMerges() throws {
        var json = try qwen()
        var model = try #require(json["model"] as? [String: Any])
        var merges = try #require(model["merges"] as? [[String]])
        merges.insert(["Ġth", "nosuchtoken"], at: 3)
        model["merges"] = merges
        json["model"] = model
        #expect(message(json) == "invalid tokenizer.json: merge 3 uses \"nosuchtoken\", which is not in the vocabulary")
        // Both parts known, but the merged token is not.
        merges[3] = ["Ġ", "Ġ\u{00ff}"]
        model["merges"] = merges
        json["model"] = model
        #expect(message(json).contains("is not in the vocabulary"))
        // A legacy-format merge that is not two tokens.
        model["merges"] = ["a b c"]
        json["model"] = model
        #expect(message(json).contains("not two tokens"))
    }

    @Test("added tokens whose ids tokenizers would change")
    func badAddedTokens() throws {
        var json = try qwen()
        let original = try #require(json["added_tokens"] as? [[String: Any]])
        var added = original
        added[0]["id"] = 5  // <|endoftext|> is id 0 in the vocabulary
        json["added_tokens"] = added
        #expect(message(json) == "invalid tokenizer.json: added token \"<|endoftext|>\" has id 5, but tokenizers would give it id 0")
        // <think> is not in the vocabulary (1735 tokens), so it takes the next id after the vocabulary.
        added = original
        added[3]["id"] = 5000
        json["added_tokens"] = added
        #expect(message(json) == "invalid tokenizer.json: added token \"<think>\" has id 5000, but tokenizers would give it id 1735")
    }

    @Test("a sparse id is refused instead of allocating a table for it")
    func sparseIds() throws {
        var json = try qwen()
        var model = try #require(json["model"] as? [String: Any])
        var vocab = try #require(model["vocab"] as? [String: Int])
        vocab["Ġ"] = 2_000_000_000  // same token count, so the added tokens' ids still follow
        model["vocab"] = vocab
        json["model"] = model
        #expect(message(json).contains("token ids are sparse"))
    }

    @Test("a template naming a special token it does not define")
    func badTemplate() throws {
        var json = try TokenizerFixtures.jsonObject("template")
        var pp = try #require(json["post_processor"] as? [String: Any])
        pp["special_tokens"] = [String: Any]()
        json["post_processor"] = pp
        #expect(message(json).contains("special_tokens lacks"))
    }

    @Test("unk_token is refused only when it could apply")
    func unkToken() throws {
        var json = try qwen()
        var model = try #require(json["model"] as? [String: Any])
        model["unk_token"] = "<|endoftext|>"
        json["model"] = model
        // Every byte has a token in qwen_style, so the unknown token can never be used.
        _ = try TokenizerFixtures.tokenizer(json: json)
        var tiny = try TokenizerFixtures.jsonObject("tiny_gaps")
        var tinyModel = try #require(tiny["model"] as? [String: Any])
        tinyModel["unk_token"] = "a"
        tiny["model"] = tinyModel
        #expect(message(tiny).contains("unk_token"))
    }
}
