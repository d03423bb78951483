/// How a `Split` step turns a piece's matches into sub-pieces (`SplitDelimiterBehavior` in
/// huggingface/tokenizers `tokenizer/normalizer.rs`, serialized by its variant name).
enum SplitBehavior: String, Sendable {
    /// Matches are dropped; the text between them is kept.
    case removed = "Removed"
    /// Every match and every gap between matches is a piece (what released tokenizers use).
    case isolated = "Isolated"
    /// Each match is joined to the piece before it.
    case mergedWithPrevious = "MergedWithPrevious"
    /// Each match is joined to the piece after it.
    case mergedWithNext = "MergedWithNext"
    /// Consecutive matches (and consecutive gaps) are joined.
    case contiguous = "Contiguous"
}

/// One `Split` pre-tokenizer step (or ByteLevel's built-in GPT-2 split): a pattern, the behaviour
/// that turns its matches into pieces, and `invert`, which swaps matches and gaps.
///
/// Matches are found as huggingface/tokenizers finds them (`Pattern for &SysRegex` in
/// `utils/onig.rs` over the onig crate's `find_iter`): leftmost first, each search resuming at the
/// previous match's end, an empty match refused right where the previous match ended (the search
/// then steps one scalar on). Empty pieces are dropped, as `PreTokenizedString::split` does.
///
/// The Qwen2 and GPT-2 patterns, which every Qwen and GPT-2-style tokenizer uses, run on
/// hand-written scanners; any other pattern on `SplitRegex`. The scanners reproduce Oniguruma's
/// leftmost-alternative, greedy, backtracking semantics exactly for their pattern, including
/// `\s+(?!\S)`, in one forward pass with no backtracking; a test checks them against
/// `SplitRegex` on the same patterns over the golden texts. Both patterns match every scalar, so
/// they leave no gaps.
struct SplitRule: Sendable {
    enum Matcher: Sendable {
        /// Qwen2/Qwen3 (`Split` pre-tokenizer):
        /// `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
        case qwen2Scanner
        /// GPT-2, used by `ByteLevel` with `use_regex: true` (huggingface/tokenizers `byte_level.rs`):
        /// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
        case gpt2Scanner
        case regex(SplitRegex)
    }

    let matcher: Matcher
    let behavior: SplitBehavior
    let invert: Bool

    static let qwen2Pattern =
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
    static let gpt2Pattern = #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#

    static let qwen2 = SplitRule(matcher: .qwen2Scanner, behavior: .isolated, invert: false)
    static let gpt2 = SplitRule(matcher: .gpt2Scanner, behavior: .isolated, invert: false)

    init(matcher: Matcher, behavior: SplitBehavior, invert: Bool) {
        self.matcher = matcher
        self.behavior = behavior
        self.invert = invert
    }

    /// The rule for a `Split` regex: a scanner for the two patterns that have one, else compiled.
    init(pattern: String, behavior: SplitBehavior, invert: Bool) throws(TokenizerError) {
        switch pattern {
        case Self.qwen2Pattern: matcher = .qwen2Scanner
        case Self.gpt2Pattern: matcher = .gpt2Scanner
        default: matcher = .regex(try SplitRegex(pattern: pattern))
        }
        self.behavior = behavior
        self.invert = invert
    }

    /// Splits `text[range]` (one piece of decoded scalars) into sub-pieces, appending their scalar
    /// index ranges to `out`.
    func split(_ text: ScalarText, range: Range<Int>, into out: inout [Range<Int>], scratch: inout SplitScratch) {
        if behavior == .isolated && !invert && hasScanner {
            // Every match is a piece and there are no gaps: append as the scanner goes.
            var i = range.lowerBound
            while i < range.upperBound {
                let end = scannerEnd(text, i, range.upperBound)
                out.append(i..<end)
                i = end
            }
            return
        }
        var matches = scratch.matches
        scratch.matches = []
        matches.removeAll(keepingCapacity: true)
        findMatches(text, range: range, into: &matches, stack: &scratch.stack)
        if invert {
            for k in matches.indices { matches[k].isMatch.toggle() }
        }
        Self.applyBehavior(behavior, to: matches, into: &out)
        scratch.matches = matches
    }

    private var hasScanner: Bool {
        if case .regex = matcher { return false }
        return true
    }

    /// The end of the scanner's match at `i` (only called when `hasScanner`).
    @inline(__always)
    private func scannerEnd(_ text: ScalarText, _ i: Int, _ end: Int) -> Int {
        switch matcher {
        case .qwen2Scanner: return qwen2Match(text, i, end)
        case .gpt2Scanner: return gpt2Match(text, i, end)
        case .regex: return end
        }
    }

    /// Every match and every gap between matches of `text[range]`, in order (`find_matches`).
    private func findMatches(_ text: ScalarText, range: Range<Int>, into out: inout [SplitPiece], stack: inout [RegexFrame]) {
        if hasScanner {
            var i = range.lowerBound
            while i < range.upperBound {
                let end = scannerEnd(text, i, range.upperBound)
                out.append(SplitPiece(range: i..<end, isMatch: true))
                i = end
            }
            return
        }
        guard case .regex(let regex) = matcher else { return }
        var previousEnd = range.lowerBound
        var searchFrom = range.lowerBound
        var lastMatchEnd: Int? = nil
        search: while searchFrom <= range.upperBound {
            switch regex.firstMatch(in: text, from: searchFrom, end: range.upperBound, stack: &stack) {
            case .notFound, .overBudget:
                // Over budget, tokenizers panics; here the rest of the piece stays one gap.
                break search
            case .found(let m):
                if m.isEmpty && m.upperBound == lastMatchEnd {
                    searchFrom += 1
                    continue search
                }
                searchFrom = m.upperBound
                lastMatchEnd = m.upperBound
                if previousEnd != m.lowerBound { out.append(SplitPiece(range: previousEnd..<m.lowerBound, isMatch: false)) }
                out.append(SplitPiece(range: m, isMatch: true))
                previousEnd = m.upperBound
            }
        }
        if previousEnd != range.upperBound {
            out.append(SplitPiece(range: previousEnd..<range.upperBound, isMatch: false))
        }
    }

    /// `NormalizedString::split`: which pieces are kept, and which are joined, per behaviour.
    /// Empty pieces take part in the joining, then are dropped.
    static func applyBehavior(_ behavior: SplitBehavior, to pieces: [SplitPiece], into out: inout [Range<Int>]) {
        /// Walks `pieces` in order (or backwards), joining a piece to the one kept before it when `joins`
        /// says so given whether the piece and its predecessor are matches.
        func merged(_ pieces: some Sequence<SplitPiece>, _ joins: (_ isMatch: Bool, _ previousMatch: Bool) -> Bool) -> [Range<Int>] {
            var kept: [Range<Int>] = []
            var previousMatch = false
            for p in pieces {
                if joins(p.isMatch, previousMatch), let last = kept.last {
                    kept[kept.count - 1] = min(last.lowerBound, p.range.lowerBound)..<max(last.upperBound, p.range.upperBound)
                } else {
                    kept.append(p.range)
                }
                previousMatch = p.isMatch
            }
            return kept
        }
        let kept: [Range<Int>]
        switch behavior {
        case .isolated: kept = pieces.map(\.range)
        case .removed: kept = pieces.filter { !$0.isMatch }.map(\.range)
        case .contiguous: kept = merged(pieces) { $0 == $1 }
        case .mergedWithPrevious: kept = merged(pieces) { $0 && !$1 }
        case .mergedWithNext: kept = merged(pieces.reversed()) { $0 && !$1 }.reversed()
        }
        for r in kept where !r.isEmpty { out.append(r) }
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

    private func qwen2Match(_ t: ScalarText, _ i: Int, _ end: Int) -> Int {
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

    private func gpt2Match(_ t: ScalarText, _ i: Int, _ end: Int) -> Int {
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

/// A piece found by a `Split` pattern: a match, or the text between matches.
struct SplitPiece {
    var range: Range<Int>
    var isMatch: Bool
}

/// Buffers for `SplitRule.split`, reused across the pieces of one `encode` call.
struct SplitScratch {
    var matches: [SplitPiece] = []
    var stack: [RegexFrame] = []
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
