/// Decodes tokens one at a time, for streaming generation, emitting only complete UTF-8.
///
/// A character can span tokens (an emoji is often 2–4 byte tokens), so the decoder keeps the
/// bytes of an unfinished character until the token that completes it arrives. Bytes that can
/// never become valid UTF-8 are emitted at once as U+FFFD. The concatenation of everything
/// `push` and `finish` return equals `Tokenizer.decode` of the same ids, for any ids: a held-back
/// tail always starts at a lead byte, which no earlier bytes can extend, so cutting there does not
/// change how the bytes before it decode.
///
/// ```swift
/// var stream = StreamingDecoder(tokenizer: tokenizer, skipSpecialTokens: true)
/// for id in generated { print(stream.push(id), terminator: "") }
/// print(stream.finish())
/// ```
public struct StreamingDecoder: Sendable {
    private let table: DecodeTable
    public let skipSpecialTokens: Bool
    private var pending: [UInt8] = []

    public init(tokenizer: Tokenizer, skipSpecialTokens: Bool = false) {
        self.table = tokenizer.decodeTable
        self.skipSpecialTokens = skipSpecialTokens
    }

    /// Adds one token and returns the text it completes (possibly empty).
    public mutating func push(_ id: Int32) -> String {
        table.append(id, skipSpecial: skipSpecialTokens, to: &pending)
        let cut = Self.completePrefixLength(pending)
        if cut == 0 { return "" }
        let text = String(decoding: pending[..<cut], as: UTF8.self)
        pending.removeFirst(cut)
        return text
    }

    /// Adds several tokens and returns the text they complete.
    public mutating func push(_ ids: [Int32]) -> String {
        ids.map { push($0) }.joined()
    }

    /// Returns whatever is held back (an unfinished character becomes U+FFFD, as in `decode`) and
    /// resets the decoder.
    public mutating func finish() -> String {
        defer { pending.removeAll() }
        return String(decoding: pending, as: UTF8.self)
    }

    /// The length of the prefix of `bytes` that can be decoded now: all of it, unless it ends with
    /// the start of a character that more bytes could still complete.
    static func completePrefixLength(_ bytes: [UInt8]) -> Int {
        let n = bytes.count
        // The last lead byte among the final 4 bytes (continuations are 10xxxxxx).
        var start = n - 1
        while start >= 0 && start >= n - 4 && bytes[start] & 0xC0 == 0x80 { start -= 1 }
        guard start >= 0, start >= n - 4 else { return n }
        let lead = bytes[start]
        let need: Int
        switch lead {
        case 0xC2...0xDF: need = 2
        case 0xE0...0xEF: need = 3
        case 0xF0...0xF4: need = 4
        default: return n  // ASCII, or a byte no character starts with: nothing to wait for
        }
        let have = n - start
        if have >= need { return n }
        // Hold back only if these bytes are a valid start of a character (Unicode Table 3-7: the
        // second byte's range depends on the lead, excluding overlongs, surrogates, > U+10FFFF).
        if have >= 2 {
            let second = bytes[start + 1]
            let range: ClosedRange<UInt8>
            switch lead {
            case 0xE0: range = 0xA0...0xBF
            case 0xED: range = 0x80...0x9F
            case 0xF0: range = 0x90...0xBF
            case 0xF4: range = 0x80...0x8F
            default: range = 0x80...0xBF
            }
            guard range.contains(second) else { return n }
        }
        return start
    }
}
