import Foundation
import Testing
@testable import RZTokenizer

/// Ids and decoded text must equal what Hugging Face `tokenizers` gives, for every fixture
/// tokenizer and every golden text (goldens.json, made by scripts/make_tokenizer_fixtures.py).
@Suite("Hugging Face tokenizers goldens")
struct GoldenTests {
    static let names = ["qwen_style", "gpt2_style", "template", "tiny_gaps"]
    /// Tokenizers whose goldens are in llama3_goldens.json.
    static let llamaNames = ["llama3_style", "deepseek_style"]

    static func goldens(for name: String) throws -> Goldens {
        llamaNames.contains(name) ? try TokenizerFixtures.llamaGoldens() : try TokenizerFixtures.goldens()
    }

    @Test("goldens cover at least 200 texts for each of the 4 tokenizers")
    func coverage() throws {
        let g = try TokenizerFixtures.goldens()
        #expect(g.texts.count >= 200)
        #expect(Set(g.tokenizers.keys) == Set(Self.names))
        for name in Self.names {
            #expect(g.tokenizers[name]?.results.count == g.texts.count)
            // tokenizers' get_vocab_size(with_added_tokens=True): distinct tokens, which for a
            // consistent file is one more than the largest id.
            #expect(try TokenizerFixtures.tokenizer(name).vocabularySize == g.tokenizers[name]?.vocab_size)
        }
        // The texts include the categories the goldens promise.
        let all = Array(g.texts.joined().utf8)
        for needle in ["\\boxed{", "\r\n", "<|im_end|>", "你好", "👨‍👩‍👧‍👦", "👍🏽", "e\u{301}", "'LL", "   "] {
            // Byte search: String.contains would match "e\u{301}" against a precomposed "é" too.
            let n = Array(needle.utf8)
            let found = all.count >= n.count && (0...(all.count - n.count)).contains { all[$0..<($0 + n.count)].elementsEqual(n) }
            #expect(found, "no golden text has \(show(needle))")
        }
        #expect(g.texts.contains(""))
        #expect(g.texts.contains { $0.utf8.count >= 2000 })
    }

    @Test("Llama 3 goldens cover at least 200 texts with digit runs, whitespace runs, CJK, emoji and special tokens")
    func llamaCoverage() throws {
        let g = try TokenizerFixtures.llamaGoldens()
        #expect(g.texts.count >= 200)
        #expect(Set(g.tokenizers.keys) == Set(Self.llamaNames))
        for name in Self.llamaNames {
            #expect(g.tokenizers[name]?.results.count == g.texts.count)
            #expect(try TokenizerFixtures.tokenizer(name).vocabularySize == g.tokenizers[name]?.vocab_size)
        }
        for needle in ["1234567", "12345678901234567890", "   ", "\t\t\t", "\n\n\n", "你好", "👨‍👩‍👧‍👦",
                       "<|begin_of_text|>", "<|eot_id|>", "<|start_header_id|>", "<|reserved_special_token_3|>", "'ſ"] {
            #expect(g.texts.contains { $0.contains(needle) }, "no golden text has \(show(needle))")
        }
    }

    @Test("encode matches tokenizers, with and without special tokens", arguments: names + llamaNames)
    func encode(name: String) throws {
        let g = try Self.goldens(for: name)
        let tok = try TokenizerFixtures.tokenizer(name)
        let results = try #require(g.tokenizers[name]?.results)
        var failures: [String] = []
        for (text, want) in zip(g.texts, results) {
            let ids = tok.encode(text)
            if ids != want.ids { failures.append("\(show(text)): got \(ids.prefix(40)) want \(want.ids.prefix(40))") }
            let plain = tok.encode(text, addSpecialTokens: false)
            if plain != want.ids_no_special {
                failures.append("(no special) \(show(text)): got \(plain.prefix(40)) want \(want.ids_no_special.prefix(40))")
            }
        }
        #expect(failures.isEmpty, "\(failures.count) mismatches, first: \(failures.prefix(5).joined(separator: "\n"))")
    }

    @Test("decode matches tokenizers, with and without skipSpecialTokens", arguments: names + llamaNames)
    func decode(name: String) throws {
        let g = try Self.goldens(for: name)
        let tok = try TokenizerFixtures.tokenizer(name)
        let goldens = try #require(g.tokenizers[name])
        var failures: [String] = []
        let cases = goldens.results.map { ($0.ids, $0.decoded, $0.decoded_skip_special) }
            + goldens.decode_cases.map { ($0.ids, $0.decoded, $0.decoded_skip_special) }
        for (ids, full, skipped) in cases {
            let a = tok.decode(ids)
            if !sameText(a, full) { failures.append("\(ids.prefix(20)): got \(show(a)) want \(show(full))") }
            let b = tok.decode(ids, skipSpecialTokens: true)
            if !sameText(b, skipped) { failures.append("(skip special) \(ids.prefix(20)): got \(show(b)) want \(show(skipped))") }
        }
        #expect(failures.isEmpty, "\(failures.count) mismatches, first: \(failures.prefix(5).joined(separator: "\n"))")
        // Some decode cases must exercise the lossy path, or the U+FFFD handling is untested
        // (tiny_gaps has only ASCII letters, so nothing it decodes is invalid).
        if name != "tiny_gaps" {
            #expect(goldens.decode_cases.contains { $0.decoded.contains("\u{FFFD}") })
        }
    }

    @Test("streaming decode, token by token, equals full decode", arguments: names + llamaNames)
    func streaming(name: String) throws {
        let g = try Self.goldens(for: name)
        let tok = try TokenizerFixtures.tokenizer(name)
        let goldens = try #require(g.tokenizers[name])
        let cases = goldens.results.map(\.ids) + goldens.decode_cases.map(\.ids)
        var failures: [String] = []
        for ids in cases {
            for skip in [false, true] {
                var stream = StreamingDecoder(tokenizer: tok, skipSpecialTokens: skip)
                var chunks: [String] = []
                for id in ids { chunks.append(stream.push(id)) }
                chunks.append(stream.finish())
                let whole = tok.decode(ids, skipSpecialTokens: skip)
                if !sameText(chunks.joined(), whole) {
                    failures.append("\(ids.prefix(20)) skip=\(skip): \(show(chunks.joined())) vs \(show(whole))")
                }
                // When the full text is valid UTF-8, no chunk may hold a replacement character:
                // a split character must be held back, never emitted broken.
                if !whole.contains("\u{FFFD}"), let bad = chunks.first(where: { $0.contains("\u{FFFD}") }) {
                    failures.append("\(ids.prefix(20)): chunk \(show(bad)) has U+FFFD")
                }
            }
        }
        #expect(failures.isEmpty, "\(failures.count) mismatches, first: \(failures.prefix(5).joined(separator: "\n"))")
    }

    @Test("a Split step with the GPT-2 regex gives the same ids as ByteLevel(use_regex: true)")
    func splitWithGPT2Pattern() throws {
        var json = try TokenizerFixtures.jsonObject("gpt2_style")
        json["pre_tokenizer"] = [
            "type": "Sequence",
            "pretokenizers": [
                ["type": "Split", "pattern": ["Regex": SplitRule.gpt2Pattern], "behavior": "Isolated", "invert": false],
                ["type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false],
            ],
        ]
        let variant = try TokenizerFixtures.tokenizer(json: json)
        let g = try TokenizerFixtures.goldens()
        let results = try #require(g.tokenizers["gpt2_style"]?.results)
        let mismatches = zip(g.texts, results).filter { variant.encode($0.0) != $0.1.ids }.map { show($0.0) }
        #expect(mismatches.isEmpty, "\(mismatches.prefix(5))")
    }
}
