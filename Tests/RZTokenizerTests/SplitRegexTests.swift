import Foundation
import Testing
@testable import RZTokenizer

/// The general `Split` regex engine: hand-checked cases of each construct, Oniguruma's own pieces
/// (split_cases.json, from tokenizers' `pre_tokenize_str`) for every behaviour, and a cross-check
/// against the hand-written scanners over all golden texts.
@Suite("Split regex engine")
struct SplitRegexTests {
    /// The pieces `rule` cuts `text` into.
    static func pieces(_ rule: SplitRule, _ text: String) -> [String] {
        ranges(rule, text).map { r in String(String.UnicodeScalarView(Array(text.unicodeScalars)[r])) }
    }

    static func ranges(_ rule: SplitRule, _ text: String) -> [Range<Int>] {
        var t = ScalarText()
        let bytes = Array(text.utf8)
        bytes.withUnsafeBufferPointer { t.load($0) }
        var out: [Range<Int>] = []
        var scratch = SplitScratch()
        rule.split(t, range: 0..<t.count, into: &out, scratch: &scratch)
        return out
    }

    static func rule(_ pattern: String, _ behavior: SplitBehavior = .isolated, invert: Bool = false) throws -> SplitRule {
        SplitRule(matcher: .regex(try SplitRegex(pattern: pattern)), behavior: behavior, invert: invert)
    }

    /// The text of the first match of `pattern` in `text`, or nil.
    static func firstMatch(_ pattern: String, _ text: String) throws -> String? {
        let regex = try SplitRegex(pattern: pattern)
        var t = ScalarText()
        let bytes = Array(text.utf8)
        bytes.withUnsafeBufferPointer { t.load($0) }
        var stack: [RegexFrame] = []
        guard case .found(let r) = regex.firstMatch(in: t, from: 0, end: t.count, stack: &stack) else { return nil }
        return String(String.UnicodeScalarView(Array(text.unicodeScalars)[r]))
    }

    @Test("leftmost match, then the first alternative that matches there")
    func leftmostOrdered() throws {
        #expect(try Self.firstMatch("b|ab", "xab") == "ab")  // leftmost start wins over alternative order
        #expect(try Self.firstMatch("a|ab", "ab") == "a")  // not the longest: the first alternative
        #expect(try Self.firstMatch("ab|a", "ab") == "ab")
        #expect(try Self.firstMatch("z", "abc") == nil)
        #expect(try Self.firstMatch("", "abc") == "")
    }

    @Test("greedy quantifiers backtrack; lazy ones extend; possessive and atomic ones do not give back")
    func quantifiers() throws {
        #expect(try Self.firstMatch("a+ab", "aaab") == "aaab")
        #expect(try Self.firstMatch("(?:ab)+c", "abababc") == "abababc")
        #expect(try Self.firstMatch("a*", "aaa") == "aaa")
        #expect(try Self.firstMatch("a?a", "a") == "a")
        #expect(try Self.firstMatch("a+?", "aaa") == "a")
        #expect(try Self.firstMatch("a{2,4}?b", "aaaab") == "aaaab")
        #expect(try Self.firstMatch("<.+?>", "<a><b>") == "<a>")
        #expect(try Self.firstMatch("<.+>", "<a><b>") == "<a><b>")
        #expect(try Self.firstMatch("a++a", "aaaa") == nil)
        #expect(try Self.firstMatch("(?>a+)b|a", "aa") == "a")
        #expect(try Self.firstMatch("(?>ab|a)c", "ac") == "ac")
        #expect(try Self.firstMatch("(?>ab|a)b", "ab") == nil)
        #expect(try Self.firstMatch("(?:a|b){3}", "babab") == "bab")
        #expect(try Self.firstMatch("(?:ab){1,2}?c", "ababc") == "ababc")
    }

    @Test("counted repeats {m} {m,} {m,n} {,n}, and { as a literal when it is not one")
    func intervals() throws {
        #expect(Self.pieces(try Self.rule(#"\p{N}{1,3}"#), "1234567") == ["123", "456", "7"])
        #expect(Self.pieces(try Self.rule(#"\p{N}{1,3}"#), "12 3456") == ["12", " ", "345", "6"])
        #expect(try Self.firstMatch("x{2}", "xxxxx") == "xx")
        #expect(try Self.firstMatch("x{2,}", "xxxxx") == "xxxxx")
        #expect(try Self.firstMatch("x{,2}", "xxxxx") == "xx")
        #expect(try Self.firstMatch("(?:xy){2}", "xyxyxy") == "xyxy")
        #expect(try Self.firstMatch("a{", "a{b") == "a{")
        #expect(try Self.firstMatch("a{x}", "a{x}") == "a{x}")
    }

    @Test("lookahead: positive, negative, and \\s+(?!\\S) giving back one space")
    func lookahead() throws {
        #expect(try Self.firstMatch(#"\w+(?=!)"#, "hey you!") == "you")
        #expect(try Self.firstMatch("a(?!b)", "abac") == "a")
        #expect(Self.ranges(try Self.rule("a(?!b)"), "abac") == [0..<2, 2..<3, 3..<4])
        #expect(Self.pieces(try Self.rule(#"\s+(?!\S)|\s+"#), "a   b  ") == ["a", "  ", " ", "b", "  "])
    }

    @Test("case-insensitive groups fold ASCII, ſ to s and K (Kelvin) to k")
    func caseInsensitive() throws {
        let rule = try Self.rule("(?i:'s|'t|'re)")
        #expect(Self.pieces(rule, "'S'ſ'T'rE'x") == ["'S", "'ſ", "'T", "'rE", "'x"])
        #expect(try Self.firstMatch("(?i)k+", "xkK\u{212A}") == "kK\u{212A}")
        // `x(?i)y|z` is `x(?i:y|z)` in Oniguruma: the option takes in the later alternative.
        #expect(try Self.firstMatch("x(?i)y|z", "Z") == nil)
        #expect(try Self.firstMatch("x(?i)y|z", "xZ") == "xZ")
        #expect(try Self.firstMatch("(?i:a)B", "Ab") == nil)
        #expect(try Self.firstMatch("(?i:a(?-i:b))", "Ab") == "Ab")
        #expect(try Self.firstMatch("(?i:a(?-i:b))", "AB") == nil)
    }

    @Test("classes: negation, ranges, escapes, properties")
    func classes() throws {
        #expect(try Self.firstMatch(#"[^\r\n\p{L}\p{N}]?\p{L}+"#, "12 ab") == " ab")
        #expect(try Self.firstMatch(#"[a-c\d_]+"#, "xx_ab1٣d") == "_ab1٣")
        #expect(try Self.firstMatch(#"[\p{Lu}\p{Lt}]+"#, "abǅΔc") == "ǅΔ")
        #expect(try Self.firstMatch(#"\P{L}+"#, "ab12!c") == "12!")
        #expect(try Self.firstMatch(#"\p{^N}+"#, "12ab3") == "ab")
        #expect(try Self.firstMatch(#"[\x41-\x43]+"#, "zABCD") == "ABC")
        #expect(try Self.firstMatch(#"\x{1F600}+"#, "a😀😀b") == "😀😀")
        #expect(try Self.firstMatch(#"\u00e9"#, "cafe\u{301} café") == "é")
        #expect(try Self.firstMatch(".+", "ab\ncd") == "ab")
        #expect(try Self.firstMatch(#"\p{M}+"#, "e\u{301}\u{308}x") == "\u{301}\u{308}")
        #expect(try Self.firstMatch(#"\p{P}+"#, "a«—»b") == "«—»")
        #expect(try Self.firstMatch(#"[\-\]\[]+"#, "a-][b") == "-][")
        #expect(try Self.firstMatch(#"\t|\.|\\"#, "ab\\c") == "\\")
        #expect(try Self.firstMatch(#"\W+"#, "ab, c") == ", ")
    }

    @Test("behaviours and invert on a pattern with gaps and empty matches")
    func behaviours() throws {
        #expect(Self.pieces(try Self.rule("a*"), "bab") == ["b", "a", "b"])
        #expect(Self.pieces(try Self.rule("-", .removed), "a-b--c") == ["a", "b", "c"])
        #expect(Self.pieces(try Self.rule("-", .mergedWithPrevious), "a-b--c") == ["a-", "b-", "-", "c"])
        #expect(Self.pieces(try Self.rule("-", .mergedWithNext), "a-b--c") == ["a", "-b", "-", "-c"])
        #expect(Self.pieces(try Self.rule("-", .contiguous), "a-b--c") == ["a", "-", "b", "--", "c"])
        #expect(Self.pieces(try Self.rule("-", .removed, invert: true), "a-b--c") == ["-", "-", "-"])
    }

    /// Every unit case of split_cases.json: a pattern and text split by Oniguruma through
    /// tokenizers with each behaviour, inverted or not.
    @Test("pieces equal tokenizers' (Oniguruma) on every unit case, every behaviour, invert or not")
    func oniguruma() throws {
        let cases = try SplitCases.load()
        #expect(cases.units.count >= 500)
        var failures: [String] = []
        for unit in cases.units {
            let behavior = try #require(SplitCases.behaviors[unit.behavior])
            let regex = unit.kind == "string" ? try SplitRegex(literal: unit.pattern) : try SplitRegex(pattern: unit.pattern)
            let rule = SplitRule(matcher: .regex(regex), behavior: behavior, invert: unit.invert)
            let got = Self.ranges(rule, unit.text).map { [$0.lowerBound, $0.upperBound] }
            if got != unit.pieces {
                failures.append("\(show(unit.pattern)) \(unit.behavior) invert=\(unit.invert) on \(show(unit.text)): got \(got) want \(unit.pieces)")
            }
        }
        #expect(failures.isEmpty, "\(failures.count) differ, first: \(failures.prefix(5).joined(separator: "\n"))")
    }

    @Test("o200k, Llama 3 and DeepSeek patterns cut every golden text as Oniguruma does")
    func corpusPatterns() throws {
        let cases = try SplitCases.load()
        #expect(Set(cases.corpus.keys) == ["o200k", "llama3", "deepseek_words", "deepseek_cjk"])
        for (name, entry) in cases.corpus.sorted(by: { $0.key < $1.key }) {
            let rule = try Self.rule(entry.pattern)
            var failures: [String] = []
            for (text, lengths) in zip(cases.corpus_texts, entry.lengths) {
                let got = Self.ranges(rule, text).map(\.count)
                if got != lengths { failures.append("\(show(text)): got \(got.prefix(20)) want \(lengths.prefix(20))") }
            }
            #expect(failures.isEmpty, "\(name): \(failures.count) texts differ, first: \(failures.prefix(3))")
        }
    }

    @Test("the general engine gives the scanners' pieces on the Qwen2 and GPT-2 patterns, over all golden texts")
    func scannersAgree() throws {
        let texts = try TokenizerFixtures.goldens().texts + TokenizerFixtures.llamaGoldens().texts
            + ["'ſt 'ST 'Re 'K x'KK", "x  \t\n \n  y  ", "\u{3000}中文 3.14", "a \u{2028} b\u{85}c"]
        for (scanner, pattern) in [(SplitRule.qwen2, SplitRule.qwen2Pattern), (SplitRule.gpt2, SplitRule.gpt2Pattern)] {
            let general = try Self.rule(pattern)
            let mismatches = texts.filter { Self.ranges(scanner, $0) != Self.ranges(general, $0) }
            #expect(mismatches.isEmpty, "\(pattern): \(mismatches.count) texts differ, first: \(mismatches.prefix(3).map { show($0) })")
        }
        // The loader picks the scanners for exactly these patterns.
        guard case .qwen2Scanner = try SplitRule(pattern: SplitRule.qwen2Pattern, behavior: .isolated, invert: false).matcher,
              case .gpt2Scanner = try SplitRule(pattern: SplitRule.gpt2Pattern, behavior: .isolated, invert: false).matcher,
              case .regex = try SplitRule(pattern: "(?:" + SplitRule.qwen2Pattern + ")", behavior: .isolated, invert: false).matcher
        else {
            Issue.record("scanner selection")
            return
        }
    }

    @Test("catastrophic backtracking stops at the budget and leaves the rest of the piece unmatched")
    func budget() throws {
        let regex = try SplitRegex(pattern: "(?:a|a)*b", backtrackLimit: 10_000)
        let text = String(repeating: "a", count: 40)
        var t = ScalarText()
        Array(text.utf8).withUnsafeBufferPointer { t.load($0) }
        var stack: [RegexFrame] = []
        #expect(regex.firstMatch(in: t, from: 0, end: t.count, stack: &stack) == .overBudget)
        let rule = SplitRule(matcher: .regex(regex), behavior: .isolated, invert: false)
        #expect(Self.ranges(rule, "ab" + text) == [0..<2, 2..<42])
        // A benign pattern on a long run stays within the default budget.
        let long = String(repeating: " ", count: 100_000) + "x"
        #expect(Self.pieces(try Self.rule(#"\s+(?!\S)|\s+|\S"#), long).map(\.unicodeScalars.count) == [99_999, 1, 1])
    }

    @Test("malformed patterns are load errors naming the fault")
    func malformed() throws {
        let cases: [(String, String)] = [
            ("(ab", "unmatched '('"), ("ab)", "unmatched ')'"), ("*a", "without a target"), ("a|+", "without a target"),
            ("[abc", "unterminated class"), ("[z-a]", "empty range"), (#"\p{L"#, "unterminated \\p{"),
            ("a{3,2}", "upper bound below its lower bound"), (#"ab\"#, "ends with '\\'"), (#"\x{110000}"#, "not a scalar"),
            (#"[\s-z]"#, "class escape"), ("{2}", "without a target"),
        ]
        for (pattern, reason) in cases {
            do {
                _ = try SplitRegex(pattern: pattern)
                Issue.record("compiled \(show(pattern))")
            } catch {
                guard case .invalidRegex = error else { Issue.record("\(show(pattern)): \(error)"); continue }
                #expect(error.description.contains(reason), "\(show(pattern)): \(error.description)")
            }
        }
    }

    @Test("unsupported constructs are load errors naming the construct")
    func unsupported() throws {
        let cases: [(String, String)] = [
            ("^a", "anchor '^'"), ("a$", "anchor '$'"), (#"\bx"#, "escape \\b"), (#"\Ax"#, "escape \\A"),
            ("(?<=a)b", "lookbehind"), ("(?<!a)b", "lookbehind"), ("(?<n>a)", "named group"), (#"(a)\1"#, "escape \\1"),
            ("(?m:a)", "group (?m:"), ("(?x)a", "option (?x)"), ("(?#c)a", "group (?#"), ("a**", "quantifier applied to a quantifier"),
            ("a{2}{3}", "quantifier applied to a quantifier"), ("a{2}+", "quantifier applied to a quantifier"),
            ("(?:a?)*", "can match empty"), ("(?:)+", "can match empty"), ("(?=a)*", "quantified lookahead"),
            ("[[a]b]", "nested class"), ("[a-c&&b]", "intersection"), ("[]a]", "']' first"),
            (#"\p{Han}"#, "property \\p{Han}"), (#"\p{Letter}"#, "property \\p{Letter}"), (#"\h"#, "escape \\h"),
            ("(?i:ss)", "case-insensitive \"ss\""), ("(?i:ST)", "case-insensitive \"st\""), ("(?i:fi)", "case-insensitive \"fi\""),
            ("(?i:é)", "case-insensitive non-ASCII"), ("(?i:[a-z])", "class inside a case-insensitive group"),
            (#"(?i:\p{L})"#, "inside a case-insensitive group"), (#"(?i:\w)"#, "inside a case-insensitive group"),
            ("(?:x|y){7000}", "instructions"), ("(?:ab){20001}", "instructions"),
        ]
        for (pattern, construct) in cases {
            do {
                _ = try SplitRegex(pattern: pattern)
                Issue.record("compiled \(show(pattern))")
            } catch {
                guard case .unsupported = error else { Issue.record("\(show(pattern)): \(error)"); continue }
                #expect(error.description.contains(construct), "\(show(pattern)): \(error.description)")
            }
        }
        // Allowed inside (?i): caseless escapes and non-letters; and ASCII letter pairs other than the folds.
        for pattern in [#"(?i:\s\d\S\D.)"#, "(?i:'re|'ll|'ve)", "(?i:s-s)", "(?i:fa)"] { _ = try SplitRegex(pattern: pattern) }
        // A literal quantifier target ({ that is no interval) and large single-scalar counts need no expansion.
        _ = try SplitRegex(pattern: "x{20000}")
    }
}

/// split_cases.json, made by scripts/make_tokenizer_fixtures.py from tokenizers' pre_tokenize_str.
struct SplitCases: Decodable {
    struct Unit: Decodable {
        let kind: String
        let pattern: String
        let text: String
        let behavior: String
        let invert: Bool
        /// Scalar offsets of each piece.
        let pieces: [[Int]]
    }

    struct Corpus: Decodable {
        let pattern: String
        /// Per text, the scalar length of each Isolated piece (they tile the text).
        let lengths: [[Int]]
    }

    let format: String
    let version: Int
    let units: [Unit]
    let corpus_texts: [String]
    let corpus: [String: Corpus]

    static let behaviors: [String: SplitBehavior] = [
        "removed": .removed, "isolated": .isolated, "merged_with_previous": .mergedWithPrevious,
        "merged_with_next": .mergedWithNext, "contiguous": .contiguous,
    ]

    static func load() throws -> SplitCases {
        let c = try JSONDecoder().decode(SplitCases.self, from: TokenizerFixtures.data("split_cases.json"))
        guard c.format == TokenizerFixtures.format, c.version == TokenizerFixtures.version else {
            throw FixtureError.stale("split_cases.json is \(c.format) v\(c.version): re-run scripts/make_tokenizer_fixtures.py")
        }
        return c
    }
}
