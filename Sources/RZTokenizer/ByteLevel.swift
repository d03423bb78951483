/// GPT-2's reversible byte ↔ character table, which byte-level BPE vocabularies are spelled in.
///
/// Printable bytes (`!`…`~`, `¡`…`¬`, `®`…`ÿ`) stand for themselves; the other 68 bytes (controls,
/// space, DEL, NBSP, soft hyphen) are shifted to U+0100… in byte order, so a space is `Ġ` (U+0120)
/// and a newline `Ċ` (U+010A). Matches `bytes_char()` in huggingface/tokenizers
/// `tokenizers/src/pre_tokenizers/byte_level.rs` (itself a port of GPT-2's `bytes_to_unicode`).
///
/// The tokenizer works on raw UTF-8 bytes throughout and uses this table only at the edges: to read
/// the vocabulary and merges, and to turn tokens back into bytes when decoding.
enum ByteLevel {
    /// `scalarForByte[b]` is the character byte `b` is spelled as.
    static let scalarForByte: [Unicode.Scalar] = {
        var table = [Unicode.Scalar](repeating: " ", count: 256)
        var shifted: UInt32 = 0
        for byte in 0..<256 {
            let printable = (0x21...0x7E).contains(byte) || (0xA1...0xAC).contains(byte) || (0xAE...0xFF).contains(byte)
            let value = printable ? UInt32(byte) : 256 + shifted
            if !printable { shifted += 1 }
            // Every value is below U+0144, so the scalar always exists.
            table[byte] = Unicode.Scalar(value) ?? " "
        }
        return table
    }()

    /// The byte a character spells, or nil when the character is not in the table (then the token is
    /// not byte-level text, e.g. an added token containing a space).
    static func byte(for scalar: Unicode.Scalar) -> UInt8? {
        let v = scalar.value
        if (0x21...0x7E).contains(v) || (0xA1...0xAC).contains(v) || (0xAE...0xFF).contains(v) { return UInt8(v) }
        guard v >= 256, v < 256 + 68 else { return nil }
        return shiftedBytes[Int(v - 256)]
    }

    /// The non-printable bytes in the order they were shifted to U+0100…
    private static let shiftedBytes: [UInt8] = (0..<256).compactMap { byte in
        let printable = (0x21...0x7E).contains(byte) || (0xA1...0xAC).contains(byte) || (0xAE...0xFF).contains(byte)
        return printable ? nil : UInt8(byte)
    }

    /// The byte-level spelling of raw bytes (what a vocabulary key looks like).
    static func spell<S: Sequence>(_ bytes: S) -> String where S.Element == UInt8 {
        var scalars = String.UnicodeScalarView()
        for b in bytes { scalars.append(scalarForByte[Int(b)]) }
        return String(scalars)
    }

    /// The bytes a token stands for, as the ByteLevel decoder sees it: each character mapped back
    /// through the table, or, if any character is outside it, the token's own UTF-8 bytes.
    /// Matches `ByteLevel::decode_chain` in huggingface/tokenizers `pre_tokenizers/byte_level.rs`
    /// (so an added token such as `café` decodes to `caf` + byte 0xE9, which is invalid UTF-8:
    /// tokenizers does the same).
    static func bytes(ofToken token: String) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(token.utf8.count)
        for scalar in token.unicodeScalars {
            guard let b = byte(for: scalar) else { return Array(token.utf8) }
            out.append(b)
        }
        return out
    }

    /// The raw bytes a byte-level spelled string stands for, or nil if it is not byte-level text.
    static func rawBytes(ofSpelling token: String) -> [UInt8]? {
        var out: [UInt8] = []
        for scalar in token.unicodeScalars {
            guard let b = byte(for: scalar) else { return nil }
            out.append(b)
        }
        return out
    }
}
