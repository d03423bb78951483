import Foundation
import Testing
@testable import RZTokenizer

/// The character classes and NFC must be those of the reference for every code point, not just the
/// ones the goldens happen to contain.
@Suite("Unicode tables")
struct UnicodeTableTests {
    struct Classes: Decodable {
        let format: String
        let version: Int
        let letter: [[UInt32]]
        let number: [[UInt32]]
        let whitespace: [[UInt32]]
    }

    struct NFCCases: Decodable {
        let format: String
        let version: Int
        let singles: [Single]
        let sequences: [[[UInt32]]]

        struct Single: Decodable {
            let point: UInt32
            let nfc: [UInt32]
            init(from decoder: any Decoder) throws {
                var c = try decoder.unkeyedContainer()
                point = try c.decode(UInt32.self)
                nfc = try c.decode([UInt32].self)
            }
        }
    }

    static func contains(_ ranges: [[UInt32]], _ v: UInt32) -> Bool {
        var lo = 0, hi = ranges.count - 1
        while lo <= hi {
            let mid = (lo + hi) / 2
            if v < ranges[mid][0] { hi = mid - 1 } else if v > ranges[mid][1] { lo = mid + 1 } else { return true }
        }
        return false
    }

    @Test("\\p{L}, \\p{N} and \\s agree with the regex engine of tokenizers on every code point")
    func classes() throws {
        let c = try JSONDecoder().decode(Classes.self, from: TokenizerFixtures.data("unicode_classes.json"))
        #expect(c.format == TokenizerFixtures.format && c.version == TokenizerFixtures.version)
        var mismatches: [String] = []
        for v in UInt32(0)...0x10FFFF where !(0xD800...0xDFFF).contains(v) {
            let got = ScalarClass.of(v)
            let want = (Self.contains(c.letter, v), Self.contains(c.number, v), Self.contains(c.whitespace, v))
            if (got.contains(.letter), got.contains(.number), got.contains(.whitespace)) != want {
                mismatches.append(String(v, radix: 16))
            }
        }
        #expect(mismatches.isEmpty, "\(mismatches.count) code points differ, first: \(mismatches.prefix(10))")
    }

    struct Categories: Decodable {
        let format: String
        let version: Int
        let categories: [String: [[UInt32]]]
        let digit: [[UInt32]]
        let word: [[UInt32]]
    }

    @Test("general categories, \\d and \\w agree with the regex engine of tokenizers on every code point")
    func categories() throws {
        let c = try JSONDecoder().decode(Categories.self, from: TokenizerFixtures.data("unicode_categories.json"))
        #expect(c.format == TokenizerFixtures.format && c.version == TokenizerFixtures.version)
        #expect(Set(c.categories.keys) == Set(GeneralCategory.names))
        // Oniguruma's category of each code point, filled from the ranges.
        var expected = [Int](repeating: -1, count: 0x110000)
        for (name, ranges) in c.categories {
            let bit = try #require(GeneralCategory.names.firstIndex(of: name))
            for r in ranges { for v in r[0]...r[1] { expected[Int(v)] = bit } }
        }
        func membership(_ ranges: [[UInt32]]) -> [Bool] {
            var out = [Bool](repeating: false, count: 0x110000)
            for r in ranges { for v in r[0]...r[1] { out[Int(v)] = true } }
            return out
        }
        let digit = membership(c.digit), word = membership(c.word)
        var mismatches: [String] = []
        for v in UInt32(0)...0x10FFFF where !(0xD800...0xDFFF).contains(v) {
            let got = GeneralCategory.of(v)
            if got != expected[Int(v)] {
                let want = expected[Int(v)] >= 0 ? GeneralCategory.names[expected[Int(v)]] : "none"
                mismatches.append("U+\(String(v, radix: 16)) \(GeneralCategory.names[got]) want \(want)")
            }
            let classes = ScalarClass.of(v)
            if classes.contains(.digit) != digit[Int(v)] { mismatches.append("U+\(String(v, radix: 16)) \\d") }
            if classes.contains(.word) != word[Int(v)] { mismatches.append("U+\(String(v, radix: 16)) \\w") }
        }
        #expect(mismatches.isEmpty, "\(mismatches.count) code points differ, first: \(mismatches.prefix(10))")
        // The one-letter groups are unions of their categories.
        #expect(GeneralCategory.mask(named: "L") == 0b11111)
        #expect(GeneralCategory.mask(named: "LC") == 0b111)
        #expect(GeneralCategory.mask(named: "X") == nil && GeneralCategory.mask(named: "Letter") == nil)
    }

    @Test("NFC agrees with tokenizers' NFC normalizer")
    func nfc() throws {
        let cases = try JSONDecoder().decode(NFCCases.self, from: TokenizerFixtures.data("nfc_cases.json"))
        #expect(cases.format == TokenizerFixtures.format && cases.version == TokenizerFixtures.version)
        func scalars(_ values: [UInt32]) -> String {
            String(String.UnicodeScalarView(values.compactMap(Unicode.Scalar.init)))
        }
        func nfc(_ s: String) -> [UInt32] {
            let out = NFC.normalize(Array(s.utf8))
            return String(decoding: out, as: UTF8.self).unicodeScalars.map(\.value)
        }
        var failures: [String] = []
        // Code points whose NFC differs from themselves, and all the others.
        let changed = Dictionary(uniqueKeysWithValues: cases.singles.map { ($0.point, $0.nfc) })
        #expect(changed.count > 1000)
        for v in UInt32(0)...0x10FFFF where !(0xD800...0xDFFF).contains(v) {
            let got = nfc(scalars([v]))
            if got != (changed[v] ?? [v]) { failures.append("U+\(String(v, radix: 16)) → \(got)") }
        }
        #expect(cases.sequences.count > 5000)
        for pair in cases.sequences where nfc(scalars(pair[0])) != pair[1] {
            let hex = { (v: [UInt32]) in v.map { String($0, radix: 16) } }
            failures.append("\(hex(pair[0])) → \(hex(nfc(scalars(pair[0])))), want \(hex(pair[1]))")
        }
        #expect(failures.isEmpty, "\(failures.count) differ, first: \(failures.prefix(5))")
    }
}
