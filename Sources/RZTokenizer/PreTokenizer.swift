/// The regex splits the supported pre-tokenizers perform, as hand-written scanners.
///
/// A scanner is used instead of `Regex`/`NSRegularExpression` because (1) the reference runs the
/// patterns with Oniguruma, and these scanners reproduce its leftmost-alternative, greedy,
/// backtracking semantics exactly for the two known patterns, including `\s+(?!\S)`, with the
/// reference's Unicode tables (`ScalarClass`); (2) each piece is found in one forward pass with no
/// backtracking blow-up on long runs.
///
/// Both are used with the `Isolated` behaviour: every match is a piece. Both patterns match every
/// character, so there are never gaps between matches.
enum SplitRule: Sendable, Equatable {
    /// Qwen2/Qwen3 (`Split` pre-tokenizer):
    /// `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
    case qwen2
    /// GPT-2, used by `ByteLevel` with `use_regex: true` (huggingface/tokenizers `byte_level.rs`):
    /// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
    case gpt2

    static let qwen2Pattern =
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
    static let gpt2Pattern = #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#

    /// The rule a `Split` regex pattern stands for, if it is one this module implements.
    init?(pattern: String) {
        switch pattern {
        case Self.qwen2Pattern: self = .qwen2
        case Self.gpt2Pattern: self = .gpt2
        default: return nil
        }
    }

    /// Splits `text` (one piece of decoded scalars) into sub-pieces, appending their scalar index
    /// ranges to `out`.
    func split(_ text: ScalarText, range: Range<Int>, into out: inout [Range<Int>]) {
        var i = range.lowerBound
        while i < range.upperBound {
            let end: Int
            switch self {
            case .qwen2: end = qwen2Match(text, at: i, end: range.upperBound)
            case .gpt2: end = gpt2Match(text, at: i, end: range.upperBound)
            }
            out.append(i..<end)
            i = end
        }
    }

    /// Length of a contraction (`'s 't 're 've 'm 'll 'd`) at `i`, or 0. With `foldCase`, letters
    /// match either case, and `s` also matches `ſ` (U+017F), which Unicode case-folds to `s` and
    /// Oniguruma's `(?i)` therefore matches.
    private func contraction(_ t: ScalarText, at i: Int, end: Int, foldCase: Bool) -> Int {
        guard t.values[i] == 0x27, i + 1 < end else { return 0 }
        func letter(_ k: Int) -> UInt32 {
            guard k < end else { return 0 }
            let v = t.values[k]
            guard foldCase else { return v }
            if v == 0x17F { return 0x73 }  // ſ
            return (0x41...0x5A).contains(v) ? v + 0x20 : v
        }
        switch letter(i + 1) {
        case 0x73, 0x74, 0x6D, 0x64: return 2  // s t m d
        case 0x72, 0x76: return letter(i + 2) == 0x65 ? 3 : 0  // re ve
        case 0x6C: return letter(i + 2) == 0x6C ? 3 : 0  // ll
        default: return 0
        }
    }

    /// End of the run of scalars from `k` having any of `cls`.
    private func run(_ t: ScalarText, from k: Int, end: Int, while cls: ScalarClass) -> Int {
        var j = k
        while j < end && !t.classes[j].isDisjoint(with: cls) { j += 1 }
        return j
    }

    private func otherRun(_ t: ScalarText, from k: Int, end: Int) -> Int {
        var j = k
        while j < end && t.classes[j].isOther { j += 1 }
        return j
    }

    /// `\s*[\r\n]+|\s+(?!\S)|\s+` at a whitespace scalar, shared by the tail of both patterns
    /// (`newlines` false for GPT-2, which has no `\s*[\r\n]+` alternative).
    private func whitespaceMatch(_ t: ScalarText, at i: Int, end: Int, newlines: Bool) -> Int {
        var w = i
        var lastNewline = -1
        while w < end && t.classes[w].contains(.whitespace) {
            if t.classes[w].contains(.newline) { lastNewline = w }
            w += 1
        }
        // `\s*[\r\n]+`: `\s*` backtracks from the end of the run to the last newline in it.
        if newlines && lastNewline >= 0 { return lastNewline + 1 }
        // `\s+(?!\S)`: the whole run at the end of the text, else all but its last scalar.
        if w == end { return w }
        if w - i >= 2 { return w - 1 }
        // `\s+`
        return w
    }

    private func qwen2Match(_ t: ScalarText, at i: Int, end: Int) -> Int {
        let c = t.classes[i]
        // (?i:'s|'t|'re|'ve|'m|'ll|'d)
        let n = contraction(t, at: i, end: end, foldCase: true)
        if n > 0 { return i + n }
        // [^\r\n\p{L}\p{N}]?\p{L}+
        if c.contains(.letter) { return run(t, from: i + 1, end: end, while: .letter) }
        if !c.contains(.newline) && !c.contains(.number) && i + 1 < end && t.classes[i + 1].contains(.letter) {
            return run(t, from: i + 2, end: end, while: .letter)
        }
        // \p{N}
        if c.contains(.number) { return i + 1 }
        // ' ?[^\s\p{L}\p{N}]+[\r\n]*'
        let k = c.contains(.space) ? i + 1 : i
        if k < end && t.classes[k].isOther {
            let j = otherRun(t, from: k + 1, end: end)
            return run(t, from: j, end: end, while: .newline)
        }
        // Only whitespace is left: letters, numbers and others matched above.
        return whitespaceMatch(t, at: i, end: end, newlines: true)
    }

    private func gpt2Match(_ t: ScalarText, at i: Int, end: Int) -> Int {
        let c = t.classes[i]
        let n = contraction(t, at: i, end: end, foldCase: false)
        if n > 0 { return i + n }
        // ' ?\p{L}+', ' ?\p{N}+', ' ?[^\s\p{L}\p{N}]+': with the optional space taken first; without
        // it the scalar at `i` would have to be the space itself, which is none of those classes.
        let k = c.contains(.space) ? i + 1 : i
        if k < end {
            let d = t.classes[k]
            if d.contains(.letter) { return run(t, from: k + 1, end: end, while: .letter) }
            if d.contains(.number) { return run(t, from: k + 1, end: end, while: .number) }
            if d.isOther { return otherRun(t, from: k + 1, end: end) }
        }
        return whitespaceMatch(t, at: i, end: end, newlines: false)
    }
}

/// A UTF-8 piece decoded once into scalars with their classes and byte offsets, so the scanners can
/// look ahead freely and report pieces as byte ranges.
struct ScalarText {
    var values: [UInt32] = []
    var classes: [ScalarClass] = []
    /// `offsets[i]` is the byte offset of scalar `i`; `offsets[count]` is the byte length.
    var offsets: [Int] = []

    var count: Int { values.count }

    /// Decodes `bytes`, which must be valid UTF-8 (it comes from a Swift `String`).
    mutating func load(_ bytes: UnsafeBufferPointer<UInt8>) {
        values.removeAll(keepingCapacity: true)
        classes.removeAll(keepingCapacity: true)
        offsets.removeAll(keepingCapacity: true)
        var i = 0
        let n = bytes.count
        while i < n {
            let b0 = UInt32(bytes[i])
            var v: UInt32
            var len: Int
            if b0 < 0x80 {
                v = b0; len = 1
            } else if b0 < 0xE0 {
                v = b0 & 0x1F; len = 2
            } else if b0 < 0xF0 {
                v = b0 & 0x0F; len = 3
            } else {
                v = b0 & 0x07; len = 4
            }
            len = min(len, n - i)
            for k in 1..<max(len, 1) { v = (v << 6) | (UInt32(bytes[i + k]) & 0x3F) }
            values.append(v)
            classes.append(ScalarClass.of(v))
            offsets.append(i)
            i += len
        }
        offsets.append(n)
    }
}
