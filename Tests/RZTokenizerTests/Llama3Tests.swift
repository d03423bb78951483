import Foundation
import Testing
@testable import RZTokenizer

/// The Llama 3-style fixture tokenizer (llama3_style.json, trained by tokenizers with Llama 3's
/// pre-tokenizer, ignore_merges, special tokens and post-processor): the parts its goldens do not
/// spell out.
@Suite("Llama 3-style tokenizer")
struct Llama3Tests {
    @Test("Llama 3's Split regex runs on the general engine and cuts digits in threes")
    func digits() throws {
        let tok = try TokenizerFixtures.tokenizer("llama3_style")
        let rule = try #require(tok.splitRules.first)
        guard case .regex(let regex) = rule.matcher else {
            Issue.record("expected the general engine")
            return
        }
        #expect(regex.pattern.contains(#"\p{N}{1,3}"#))
        #expect(SplitRegexTests.pieces(rule, "1234567") == ["123", "456", "7"])
        #expect(SplitRegexTests.pieces(rule, "In 2024, 12345 it'S") == ["In", " ", "202", "4", ",", " ", "123", "45", " it", "'S"])
        // Each three-digit piece is one BPE word: decoding token by token keeps the cuts.
        let ids = tok.encode("1234567", addSpecialTokens: false)
        let decoded = ids.map { tok.decode([$0]) }.joined(separator: "|")
        #expect(!decoded.contains("34") && !decoded.contains("67"), "\(decoded)")
    }

    @Test("encode adds <|begin_of_text|> only with addSpecialTokens, as its TemplateProcessing does")
    func beginOfText() throws {
        let tok = try TokenizerFixtures.tokenizer("llama3_style")
        let bos = try #require(tok.id(forToken: "<|begin_of_text|>"))
        let plain = tok.encode("Hello world", addSpecialTokens: false)
        #expect(tok.encode("Hello world") == [bos] + plain)
        #expect(tok.encode("") == [bos])
        #expect(tok.encode("", addSpecialTokens: false).isEmpty)
        #expect(tok.isSpecialToken(bos))
        #expect(tok.eosTokenId == tok.id(forToken: "<|end_of_text|>"))
    }

    @Test("ignore_merges: a pre-tokenized word in the vocabulary is that one token")
    func ignoreMerges() throws {
        let tok = try TokenizerFixtures.tokenizer("llama3_style")
        let quick = try #require(tok.id(forToken: "Ġquick"))
        #expect(tok.encode(" quick", addSpecialTokens: false) == [quick])
        // Without ignore_merges the same file gives other ids for some golden texts (the script
        // checked the same with tokenizers).
        var json = try TokenizerFixtures.jsonObject("llama3_style")
        var model = try #require(json["model"] as? [String: Any])
        model["ignore_merges"] = false
        json["model"] = model
        let merged = try TokenizerFixtures.tokenizer(json: json)
        #expect(merged.encode(" quick", addSpecialTokens: false) != [quick])
        let g = try TokenizerFixtures.llamaGoldens()
        let results = try #require(g.tokenizers["llama3_style"]?.results)
        let differing = zip(g.texts, results).filter { merged.encode($0.0, addSpecialTokens: false) != $0.1.ids_no_special }
        #expect(!differing.isEmpty)
    }

    @Test("Llama 3 special tokens inside text are matched whole, never split by the regex")
    func specialTokens() throws {
        let tok = try TokenizerFixtures.tokenizer("llama3_style")
        let eot = try #require(tok.id(forToken: "<|eot_id|>"))
        let ids = tok.encode("a<|eot_id|>b", addSpecialTokens: false)
        #expect(ids.count == 3 && ids[1] == eot)
        #expect(sameText(tok.decode(ids, skipSpecialTokens: true), "ab"))
        let reserved = try #require(tok.id(forToken: "<|reserved_special_token_11|>"))
        #expect(tok.isSpecialToken(reserved))
    }
}
