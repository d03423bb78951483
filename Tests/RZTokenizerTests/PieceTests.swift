import Foundation
import Testing
@testable import RZTokenizer

/// Small, readable cases of the pieces the scanners cut and of the pieces of decoding.
@Suite("Pre-tokenizer, matcher and streaming units")
struct PieceTests {
    func pieces(_ rule: SplitRule, _ text: String) -> [String] {
        var t = ScalarText()
        let bytes = Array(text.utf8)
        bytes.withUnsafeBufferPointer { t.load($0) }
        var ranges: [Range<Int>] = []
        var scratch = SplitScratch()
        rule.split(t, range: 0..<t.count, into: &ranges, scratch: &scratch)
        return ranges.map { String(decoding: bytes[t.offsets[$0.lowerBound]..<t.offsets[$0.upperBound]], as: UTF8.self) }
    }

    // Expected pieces are tokenizers' own: pre_tokenizers.Split(Regex(pattern), "isolated").pre_tokenize_str.
    @Test("Qwen2 pattern pieces")
    func qwen2() {
        #expect(pieces(.qwen2, "'ſt 'ST 'Re 'K x'KK") == ["'ſ", "t", " '", "ST", " '", "Re", " '", "K", " x", "'KK"])
        #expect(pieces(.qwen2, "a\n\n  foo") == ["a", "\n\n", " ", " foo"])
        #expect(pieces(.qwen2, "   a") == ["  ", " a"])
        #expect(pieces(.qwen2, "x  \t\n \n  y  ") == ["x", "  \t\n \n", " ", " y", "  "])
        #expect(pieces(.qwen2, "hello world!!\n\n") == ["hello", " world", "!!\n\n"])
        #expect(pieces(.qwen2, "\u{3000}中文 3.14") == ["\u{3000}中文", " ", "3", ".", "1", "4"])
        #expect(pieces(.qwen2, "") == [])
    }

    @Test("GPT-2 pattern pieces")
    func gpt2() {
        #expect(pieces(.gpt2, "I'm  here 123 !!") == ["I", "'m", " ", " here", " 123", " !!"])
        #expect(pieces(.gpt2, "WE'LL") == ["WE", "'", "LL"])
        #expect(pieces(.gpt2, "a \n b") == ["a", " \n", " b"])
    }

    @Test("added tokens: leftmost-longest, single_word, lstrip, rstrip")
    func matcher() {
        func token(_ id: Int32, _ content: String, singleWord: Bool = false, lstrip: Bool = false, rstrip: Bool = false) -> AddedToken {
            AddedToken(
                id: id, content: content, isSpecial: false, singleWord: singleWord, lstrip: lstrip, rstrip: rstrip,
                normalized: false)
        }
        let tokens = [token(1, "<a>"), token(2, "<a><b>"), token(3, "[M]", singleWord: true, lstrip: true, rstrip: true)]
        let m = AddedTokenMatcher(tokens: tokens, contents: tokens.map { Array($0.content.utf8) })
        func split(_ s: String) -> [String] {
            let bytes = Array(s.utf8)
            return bytes.withUnsafeBufferPointer { buf in
                m.split(buf).map { seg -> String in
                    switch seg {
                    case .token(let id): return "#\(id)"
                    case .text(let r): return String(decoding: bytes[r], as: UTF8.self)
                    }
                }
            }
        }
        #expect(split("x<a><b>y<a>") == ["x", "#2", "y", "#1"])
        #expect(split("hi  [M]  there") == ["hi", "#3", "there"])
        #expect(split("a[M]b") == ["a[M]b"])
        #expect(split("") == [])
    }

    @Test("a partial UTF-8 tail is held back only while it can still complete")
    func holdBack() {
        let smile = Array("😀".utf8)  // F0 9F 98 80
        #expect(StreamingDecoder.completePrefixLength(Array("ab".utf8)) == 2)
        #expect(StreamingDecoder.completePrefixLength(Array("a".utf8) + smile.prefix(1)) == 1)
        #expect(StreamingDecoder.completePrefixLength(Array("a".utf8) + smile.prefix(3)) == 1)
        #expect(StreamingDecoder.completePrefixLength(Array("a".utf8) + smile) == 5)
        #expect(StreamingDecoder.completePrefixLength([0x61, 0xE0, 0x80]) == 3)  // E0 80 is never valid
        #expect(StreamingDecoder.completePrefixLength([0x61, 0xFF]) == 2)
        #expect(StreamingDecoder.completePrefixLength([0x80, 0x80, 0x80, 0x80]) == 4)
    }

    @Test("streaming holds an emoji split across byte tokens until it is complete")
    func streamingEmoji() throws {
        let tok = try TokenizerFixtures.tokenizer("tiny_gaps")  // has no multi-byte tokens at all
        let byteIds = Array("😀".utf8).map { tok.id(forToken: String(ByteLevel.scalarForByte[Int($0)])) }
        // tiny_gaps lacks these bytes, so build from qwen_style, which has every byte.
        #expect(byteIds.contains(nil))
        let qwen = try TokenizerFixtures.tokenizer("qwen_style")
        let ids = try Array("é😀".utf8).map { try #require(qwen.id(forToken: String(ByteLevel.scalarForByte[Int($0)]))) }
        var stream = StreamingDecoder(tokenizer: qwen)
        let chunks = ids.map { stream.push($0) } + [stream.finish()]
        #expect(chunks == ["", "é", "", "", "", "😀", ""])
        // An unfinished character at the end becomes U+FFFD, as in a full decode.
        var cut = StreamingDecoder(tokenizer: qwen)
        #expect(cut.push(Array(ids.prefix(3))) == "é")
        #expect(cut.finish() == "\u{FFFD}")
        #expect(qwen.decode(Array(ids.prefix(3))) == "é\u{FFFD}")
    }

    @Test("vocabulary lookups and special tokens")
    func vocabulary() throws {
        let tok = try TokenizerFixtures.tokenizer("qwen_style")
        let eot = try #require(tok.id(forToken: "<|endoftext|>"))
        #expect(tok.token(forId: eot) == "<|endoftext|>")
        #expect(tok.isSpecialToken(eot))
        #expect(tok.eosTokenId == eot)
        let think = try #require(tok.id(forToken: "<think>"))
        #expect(!tok.isSpecialToken(think))
        #expect(tok.token(forId: -1) == nil && tok.token(forId: Int32(tok.vocabularySize)) == nil)
        #expect(tok.vocabularySize == 1737)  // 1735 trained tokens + <think> + </think>
        // Lookups compare scalars, as tokenizers does: gpt2_style's added token is "e\u{301}te\u{301}".
        let gpt2 = try TokenizerFixtures.tokenizer("gpt2_style")
        #expect(gpt2.id(forToken: "e\u{301}te\u{301}") == 1002)
        #expect(gpt2.id(forToken: "\u{e9}t\u{e9}") == nil)
        #expect(gpt2.id(forToken: "Ã©") != nil && gpt2.id(forToken: "A\u{303}\u{a9}") == nil)
        let ids = tok.encode("<|im_start|>hi<think>")
        #expect(sameText(tok.decode(ids, skipSpecialTokens: true), "hi<think>"))
    }
}
