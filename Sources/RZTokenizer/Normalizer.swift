import Foundation

/// The supported `normalizer` steps of tokenizer.json, applied in order (`Sequence` is flattened).
enum NormalizerStep: Sendable, Equatable {
    /// Unicode NFC, as huggingface/tokenizers `normalizers/unicode.rs` (`NFC`) computes it.
    case nfc

    func apply(_ bytes: [UInt8]) -> [UInt8] {
        switch self {
        case .nfc: return NFC.normalize(bytes)
        }
    }
}

/// NFC matching huggingface/tokenizers, which normalises with the `unicode-normalization-alignments`
/// crate (0.1.12). That crate's tables are Unicode 9.0, so a scalar assigned later has, there, no
/// decomposition, combining class 0 and no compositions: it never moves and nothing moves across it.
/// Foundation's `precomposedStringWithCanonicalMapping` uses current tables, so the text is cut at
/// such scalars and each stretch of Unicode ≤ 9.0 text is normalised alone. By Unicode's
/// normalisation stability policy, current tables give the same NFC as 9.0 tables on such text.
/// Checked code point by code point, and on sampled combining sequences, in `nfc_cases.json`.
enum NFC {
    static let tableVersion = (major: 9, minor: 0)

    static func normalize(_ bytes: [UInt8]) -> [UInt8] {
        // Every scalar below U+0300 (UTF-8 lead byte < 0xCC) is NFC-stable and never combines with
        // what precedes it, so text made only of them is already NFC; this skips ASCII and Latin-1.
        if !bytes.contains(where: { $0 >= 0xCC }) { return bytes }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var stretchStart = 0
        var i = 0
        while i < bytes.count {
            let (value, length) = decodeScalar(bytes, at: i)
            if !ScalarClass.knownToNFCTables(value) {
                // Normalise the stretch before this scalar alone, and copy the scalar unchanged.
                if stretchStart < i { out += precomposed(bytes[stretchStart..<i]) }
                out += bytes[i..<(i + length)]
                stretchStart = i + length
            }
            i += length
        }
        if stretchStart < bytes.count { out += precomposed(bytes[stretchStart...]) }
        return out
    }

    /// The scalar value at `i` of valid UTF-8 and its length in bytes.
    private static func decodeScalar(_ bytes: [UInt8], at i: Int) -> (UInt32, Int) {
        let b0 = UInt32(bytes[i])
        let length = b0 < 0x80 ? 1 : b0 < 0xE0 ? 2 : b0 < 0xF0 ? 3 : 4
        var v = length == 1 ? b0 : b0 & (0xFF >> UInt32(length + 1))
        for k in 1..<length { v = v << 6 | UInt32(bytes[i + k] & 0x3F) }
        return (v, length)
    }

    /// Foundation's NFC, after decomposing U+0F73, U+0F75 and U+0F81 by hand. These are the starters
    /// (class 0) whose canonical decompositions begin with non-starters (Tibetan vowel signs); the
    /// Linux Foundation fails to reorder the resulting marks with the marks before them (U+20E1 U+0F73
    /// gives U+20E1 U+0F71 U+0F72 instead of U+0F71 U+0F72 U+20E1). They are composition exclusions,
    /// so NFC never recomposes them and decomposing first changes nothing else.
    private static func precomposed(_ bytes: ArraySlice<UInt8>) -> [UInt8] {
        var text = String(decoding: bytes, as: UTF8.self)
        if text.unicodeScalars.contains(where: { (0x0F73...0x0F81).contains($0.value) }) {
            var fixed = String.UnicodeScalarView()
            for s in text.unicodeScalars {
                switch s.value {
                case 0x0F73: fixed.append(contentsOf: ["\u{0F71}", "\u{0F72}"])
                case 0x0F75: fixed.append(contentsOf: ["\u{0F71}", "\u{0F74}"])
                case 0x0F81: fixed.append(contentsOf: ["\u{0F71}", "\u{0F80}"])
                default: fixed.append(s)
                }
            }
            text = String(fixed)
        }
        return Array(text.precomposedStringWithCanonicalMapping.utf8)
    }
}
