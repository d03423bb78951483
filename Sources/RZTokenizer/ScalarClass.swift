/// Character classes of the pre-tokenizer regexes (`\p{L}`, `\p{N}`, `\s`, `\d`, `\w`), as bit flags.
///
/// huggingface/tokenizers runs those regexes with Oniguruma (`tokenizers/src/utils/onig.rs`), whose
/// tables in tokenizers 0.23 are Unicode 16.0. The Swift runtime may know a newer Unicode, in which
/// more code points are assigned letters and digits (Unicode 17 adds about 4,600). To give the same
/// pieces as the reference, scalars assigned after Unicode 16.0 count as unassigned (neither letter,
/// number nor space). `Tests/Fixtures/tokenizer/unicode_classes.json` holds Oniguruma's three sets as
/// dumped by `scripts/make_tokenizer_fixtures.py`, and a test compares every code point
/// (`unicode_categories.json` does the same for `\d`, `\w` and the general categories).
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
    /// `\d`: general category Nd (Oniguruma's `\d` is Unicode-wide in the syntax tokenizers uses).
    static let digit = ScalarClass(rawValue: 32)
    /// `\w`: Oniguruma's Unicode word set, Alphabetic, marks, Nd, Pc and Join_Control.
    static let word = ScalarClass(rawValue: 64)

    /// Neither letter, number nor whitespace: `[^\s\p{L}\p{N}]`.
    var isOther: Bool { rawValue & 7 == 0 }

    /// The last Unicode version whose assignments the reference regex engine knows.
    static let referenceUnicodeVersion = (major: 16, minor: 0)

    static func of(_ value: UInt32) -> ScalarClass {
        if value < 0x10000 { return ScalarClass(rawValue: basicPlane[Int(value)] & ~nfcKnownBit) }
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
        var classes: ScalarClass = isOnigurumaWordCharacter(scalar) ? .word : []
        switch properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            classes.insert(.letter)
        case .decimalNumber:
            classes.formUnion([.number, .digit])
        case .letterNumber, .otherNumber:
            classes.insert(.number)
        default:
            break
        }
        return classes
    }

    private static let asciiTable: [ScalarClass] = (0..<128).map { (v: Int) -> ScalarClass in
        switch v {
        case 0x0A, 0x0D: return [.whitespace, .newline]
        case 0x20: return [.whitespace, .space]
        case 0x09, 0x0B, 0x0C: return .whitespace
        case 0x30...0x39: return [.number, .digit, .word]
        case 0x41...0x5A, 0x61...0x7A: return [.letter, .word]
        case 0x5F: return .word
        default: return []
        }
    }

    /// Oniguruma's Unicode `\w`: Rust's set below without Join_Control (U+200C, U+200D), plus the
    /// Latin-1 superscript digits and fractions (² ³ ¹ ¼ ½ ¾), which Oniguruma takes from its
    /// ISO-8859-1 ctype table for code points below 256.
    static func isOnigurumaWordCharacter(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0xB2, 0xB3, 0xB9, 0xBC, 0xBD, 0xBE: return true
        case 0x200C, 0x200D: return false
        default: return isWordCharacter(scalar)
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

/// Unicode general categories as the reference regex engine assigns them (Unicode 16.0), for
/// `\p{Lu}`-style classes. A category is a bit number, so a class is a mask over them.
/// `Tests/Fixtures/tokenizer/unicode_categories.json` holds Oniguruma's set for each category, and a
/// test compares every code point.
enum GeneralCategory {
    /// The two-letter names, in bit order.
    static let names = [
        "Lu", "Ll", "Lt", "Lm", "Lo", "Mn", "Mc", "Me", "Nd", "Nl", "No", "Pc", "Pd", "Ps", "Pe", "Pi", "Pf", "Po",
        "Sm", "Sc", "Sk", "So", "Zs", "Zl", "Zp", "Cc", "Cf", "Cs", "Co", "Cn",
    ]

    /// The mask of a property name as `\p{...}` accepts it: a category, or its one-letter group
    /// (`L`, `M`, `N`, `P`, `S`, `Z`, `C`), or `LC` (cased letters). Nil for any other name.
    static func mask(named name: String) -> UInt32? {
        if let i = names.firstIndex(of: name) { return 1 << UInt32(i) }
        if name == "LC" { return mask(["Lu", "Ll", "Lt"]) }
        guard name.count == 1 else { return nil }
        let group = names.filter { $0.hasPrefix(name) }
        return group.isEmpty ? nil : mask(group)
    }

    private static func mask(_ group: [String]) -> UInt32 {
        group.reduce(0) { $0 | 1 << UInt32(names.firstIndex(of: $1) ?? 0) }
    }

    /// The category bit of a scalar value; code points assigned after the reference's Unicode
    /// version are unassigned (Cn), as there.
    static func of(_ value: UInt32) -> Int {
        if value < 0x10000 { return Int(basicPlane[Int(value)]) }
        return Int(compute(value))
    }

    private static let basicPlane: [UInt8] = (0..<0x10000).map { compute(UInt32($0)) }

    private static func compute(_ value: UInt32) -> UInt8 {
        let unassigned: UInt8 = 29
        if (0xD800...0xDFFF).contains(value) { return 27 }
        guard let scalar = Unicode.Scalar(value) else { return unassigned }
        let properties = scalar.properties
        guard let age = properties.age, (age.major, age.minor) <= ScalarClass.referenceUnicodeVersion else {
            return unassigned
        }
        // Assigned code points whose category the runtime's newer Unicode changed.
        if value == 0x295 { return 1 }  // ʕ: Ll in the reference, Lo since
        switch properties.generalCategory {
        case .uppercaseLetter: return 0
        case .lowercaseLetter: return 1
        case .titlecaseLetter: return 2
        case .modifierLetter: return 3
        case .otherLetter: return 4
        case .nonspacingMark: return 5
        case .spacingMark: return 6
        case .enclosingMark: return 7
        case .decimalNumber: return 8
        case .letterNumber: return 9
        case .otherNumber: return 10
        case .connectorPunctuation: return 11
        case .dashPunctuation: return 12
        case .openPunctuation: return 13
        case .closePunctuation: return 14
        case .initialPunctuation: return 15
        case .finalPunctuation: return 16
        case .otherPunctuation: return 17
        case .mathSymbol: return 18
        case .currencySymbol: return 19
        case .modifierSymbol: return 20
        case .otherSymbol: return 21
        case .spaceSeparator: return 22
        case .lineSeparator: return 23
        case .paragraphSeparator: return 24
        case .control: return 25
        case .format: return 26
        case .surrogate: return 27
        case .privateUse: return 28
        case .unassigned: return unassigned
        @unknown default: return unassigned
        }
    }
}
