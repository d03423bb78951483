/// Character classes of the pre-tokenizer regexes (`\p{L}`, `\p{N}`, `\s`), as bit flags.
///
/// huggingface/tokenizers runs those regexes with Oniguruma (`tokenizers/src/utils/onig.rs`), whose
/// tables in tokenizers 0.23 are Unicode 16.0. The Swift runtime may know a newer Unicode, in which
/// more code points are assigned letters and digits (Unicode 17 adds about 4,600). To give the same
/// pieces as the reference, scalars assigned after Unicode 16.0 count as unassigned (neither letter,
/// number nor space). `Tests/Fixtures/tokenizer/unicode_classes.json` holds Oniguruma's three sets as
/// dumped by `scripts/make_tokenizer_fixtures.py`, and a test compares every code point.
struct ScalarClass: OptionSet, Sendable {
    let rawValue: UInt8

    /// `\p{L}`: general category Lu, Ll, Lt, Lm or Lo.
    static let letter = ScalarClass(rawValue: 1)
    /// `\p{N}`: general category Nd, Nl or No.
    static let number = ScalarClass(rawValue: 2)
    /// `\s`: the Unicode White_Space property (the same set in Oniguruma and Rust's `regex`).
    static let whitespace = ScalarClass(rawValue: 4)
    /// `\r` or `\n` (also whitespace): the Qwen2 pattern treats them apart.
    static let newline = ScalarClass(rawValue: 8)
    /// U+0020 itself (also whitespace): the patterns' optional leading ` ?`.
    static let space = ScalarClass(rawValue: 16)

    /// Neither letter, number nor whitespace: `[^\s\p{L}\p{N}]`.
    var isOther: Bool { rawValue & 7 == 0 }

    /// The last Unicode version whose assignments the reference regex engine knows.
    static let referenceUnicodeVersion = (major: 16, minor: 0)

    static func of(_ value: UInt32) -> ScalarClass {
        if value < 0x10000 { return ScalarClass(rawValue: basicPlane[Int(value)] & 0x1F) }
        return compute(value)
    }

    /// Whether the scalar was assigned by Unicode 9.0, the version of the NFC tables of the
    /// reference (see `NFC`). Unassigned code points count as not known.
    static func knownToNFCTables(_ value: UInt32) -> Bool {
        if value < 0x10000 { return basicPlane[Int(value)] & nfcKnownBit != 0 }
        guard let age = Unicode.Scalar(value)?.properties.age else { return false }
        return (age.major, age.minor) <= NFC.tableVersion
    }

    private static let nfcKnownBit: UInt8 = 0x80

    /// The classes of every Basic Multilingual Plane scalar, plus `nfcKnownBit`, computed once:
    /// the runtime's `age` lookup is slow enough to dominate encoding otherwise.
    private static let basicPlane: [UInt8] = (0..<0x10000).map { (v: Int) -> UInt8 in
        var bits = compute(UInt32(v)).rawValue
        if let age = Unicode.Scalar(UInt32(v))?.properties.age, (age.major, age.minor) <= NFC.tableVersion {
            bits |= nfcKnownBit
        }
        return bits
    }

    private static func compute(_ value: UInt32) -> ScalarClass {
        if value < 128 { return asciiTable[Int(value)] }
        guard let scalar = Unicode.Scalar(value) else { return [] }
        let properties = scalar.properties
        if properties.isWhitespace { return .whitespace }
        guard let age = properties.age,
              (age.major, age.minor) <= referenceUnicodeVersion
        else { return [] }
        switch properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            return .letter
        case .decimalNumber, .letterNumber, .otherNumber:
            return .number
        default:
            return []
        }
    }

    private static let asciiTable: [ScalarClass] = (0..<128).map { (v: Int) -> ScalarClass in
        switch v {
        case 0x0A, 0x0D: return [.whitespace, .newline]
        case 0x20: return [.whitespace, .space]
        case 0x09, 0x0B, 0x0C: return .whitespace
        case 0x30...0x39: return .number
        case 0x41...0x5A, 0x61...0x7A: return .letter
        default: return []
        }
    }

    /// Rust `regex`'s Unicode `\w` (Alphabetic, marks, Nd, Pc, Join_Control), which huggingface/tokenizers
    /// uses for an added token's `single_word` check (`added_vocabulary.rs`, `ends_with_word`).
    static func isWordCharacter(_ scalar: Unicode.Scalar) -> Bool {
        if scalar.isASCII {
            let v = scalar.value
            return (0x30...0x39).contains(v) || (0x41...0x5A).contains(v) || (0x61...0x7A).contains(v) || v == 0x5F
        }
        let p = scalar.properties
        if let age = p.age, (age.major, age.minor) > referenceUnicodeVersion { return false }
        if p.isAlphabetic || p.isJoinControl { return true }
        switch p.generalCategory {
        case .nonspacingMark, .spacingMark, .enclosingMark, .decimalNumber, .connectorPunctuation: return true
        default: return false
        }
    }
}
