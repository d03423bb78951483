/// A token from tokenizer.json's `added_tokens`: matched in the text before the model runs.
public struct AddedToken: Sendable, Equatable {
    public let id: Int32
    public let content: String
    /// Special tokens (`<|im_end|>`, ...) are dropped by `decode(_:skipSpecialTokens: true)`.
    public let isSpecial: Bool
    /// Match only when not preceded or followed by a word character.
    public let singleWord: Bool
    /// The match swallows the whitespace before it.
    public let lstrip: Bool
    /// The match swallows the whitespace after it.
    public let rstrip: Bool
    /// Matched against normalized text (content normalized too) rather than the raw input.
    public let normalized: Bool
}

/// A piece of text between added tokens, or an added token.
enum Segment: Equatable {
    case token(Int32)
    case text(Range<Int>)
}

/// Finds added tokens in UTF-8 text the way huggingface/tokenizers `AddedVocabulary::find_matches`
/// (`tokenizer/added_vocabulary.rs`) does: an Aho-Corasick search with `MatchKind::LeftmostLongest`
/// (the match starting first wins, then the longest), non-overlapping, resuming after each match
/// even when its `single_word` check rejects it; then `lstrip` / `rstrip` widen an accepted match
/// over neighbouring whitespace.
struct AddedTokenMatcher: Sendable {
    private struct Pattern: Sendable {
        var bytes: [UInt8]
        var token: AddedToken
    }

    /// Patterns by first byte, longest first. Added tokens are few (Qwen3 has 26), so trying each
    /// candidate at a position is as fast as a trie and simpler.
    private let byFirstByte: [[Pattern]]
    let isEmpty: Bool

    /// `contents[i]` is what `tokens[i]` must match (its content, normalized if the token is).
    init(tokens: [AddedToken], contents: [[UInt8]]) {
        var table = [[Pattern]](repeating: [], count: 256)
        var seen = Set<[UInt8]>()
        for (token, bytes) in zip(tokens, contents) where !bytes.isEmpty && seen.insert(bytes).inserted {
            table[Int(bytes[0])].append(Pattern(bytes: bytes, token: token))
        }
        for i in 0..<256 { table[i].sort { $0.bytes.count > $1.bytes.count } }
        byFirstByte = table
        isEmpty = seen.isEmpty
    }

    private func longestMatch(_ text: UnsafeBufferPointer<UInt8>, from start: Int) -> (start: Int, pattern: Pattern)? {
        var s = start
        while s < text.count {
            for p in byFirstByte[Int(text[s])] where p.bytes.count <= text.count - s {
                var k = 1
                while k < p.bytes.count && text[s + k] == p.bytes[k] { k += 1 }
                if k == p.bytes.count { return (s, p) }
            }
            s += 1
        }
        return nil
    }

    /// Splits `text` into added tokens and the text between them.
    func split(_ text: UnsafeBufferPointer<UInt8>) -> [Segment] {
        let n = text.count
        if isEmpty { return n == 0 ? [] : [.text(0..<n)] }
        var out: [Segment] = []
        var startOffset = 0
        var searchFrom = 0
        while let (matchStart, p) = longestMatch(text, from: searchFrom) {
            var start = matchStart
            var stop = matchStart + p.bytes.count
            searchFrom = stop
            if p.token.singleWord {
                let startSpace = start == 0 || !Self.isWordScalar(Self.scalar(before: start, in: text))
                let stopSpace = stop == n || !Self.isWordScalar(Self.scalar(at: stop, in: text))
                if !startSpace || !stopSpace { continue }
            }
            if p.token.lstrip {
                // Back over the whitespace before the match, but not into text a previous match took.
                var s = start
                while s > startOffset, let u = Self.scalar(before: s, in: text), u.properties.isWhitespace {
                    s -= u.utf8Length
                }
                start = max(s, startOffset)
            }
            if p.token.rstrip {
                while stop < n, let u = Self.scalar(at: stop, in: text), u.properties.isWhitespace {
                    stop += u.utf8Length
                }
            }
            if startOffset < start { out.append(.text(startOffset..<start)) }
            out.append(.token(p.token.id))
            startOffset = max(startOffset, stop)
        }
        if startOffset < n { out.append(.text(startOffset..<n)) }
        return out
    }

    private static func isWordScalar(_ u: Unicode.Scalar?) -> Bool {
        u.map(ScalarClass.isWordCharacter) ?? false
    }

    /// The scalar starting at byte `i` of valid UTF-8.
    static func scalar(at i: Int, in text: UnsafeBufferPointer<UInt8>) -> Unicode.Scalar? {
        guard i < text.count else { return nil }
        var it = text[i...].makeIterator()
        var decoder = UTF8()
        if case .scalarValue(let u) = decoder.decode(&it) { return u }
        return nil
    }

    /// The scalar ending just before byte `i` of valid UTF-8.
    static func scalar(before i: Int, in text: UnsafeBufferPointer<UInt8>) -> Unicode.Scalar? {
        guard i > 0 else { return nil }
        var s = i - 1
        while s > 0 && text[s] & 0xC0 == 0x80 { s -= 1 }
        return scalar(at: s, in: text)
    }
}

extension Unicode.Scalar {
    var utf8Length: Int { value < 0x80 ? 1 : value < 0x800 ? 2 : value < 0x10000 ? 3 : 4 }
}
