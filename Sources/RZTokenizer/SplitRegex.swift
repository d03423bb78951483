/// A `Split` pre-tokenizer pattern, compiled to a small backtracking program over decoded scalars.
///
/// huggingface/tokenizers runs `Split` patterns with Oniguruma (`utils/onig.rs`, syntax
/// `ONIG_SYNTAX_ONIGURUMA`, UTF-8). This engine reproduces its matching semantics for the subset
/// released tokenizers use: the leftmost match wins, alternatives are tried in order, quantifiers
/// are greedy (or lazy / possessive when marked) and backtrack, lookaheads are atomic. Character
/// classes use the reference's Unicode 16.0 tables (`ScalarClass`, `GeneralCategory`), which tests
/// check against sets dumped from tokenizers for every code point.
///
/// Supported:
/// - literals, `.` (any scalar but `\n`), `\t \n \r \f \v \a \e`, `\xHH`, `\x{H…}`, `\uHHHH`, and
///   escaped punctuation;
/// - `\s \S \d \D \w \W`, `\p{…}` / `\P{…}` / `\p{^…}` with a general category (`Lu`, `Nd`, …), a
///   one-letter group (`L`, `M`, `N`, `P`, `S`, `Z`, `C`) or `LC`;
/// - classes `[…]` and `[^…]` with ranges and the escapes above;
/// - groups `(…)` (captures are not needed to split, so they only group), `(?:…)`, `(?i:…)`,
///   `(?-i:…)`, the isolated options `(?i)` / `(?-i)` (to the end of the enclosing group, including
///   later alternatives, as in Oniguruma), lookaheads `(?=…)` `(?!…)`, atomic groups `(?>…)`;
/// - `?`, `*`, `+`, `{m}`, `{m,}`, `{m,n}`, `{,n}`, each optionally lazy (`?`), and `?+ *+ ++`
///   possessive. A `{` that does not start a valid interval is a literal, as in Oniguruma.
///
/// Case-insensitive matching covers ASCII: a letter also matches its other case, `s` also `ſ`
/// (U+017F) and `k` also `K` (U+212A), whose simple case folds are ASCII. Everything Oniguruma
/// would fold in ways this engine does not model is refused at load: non-ASCII literals, classes
/// and `\w` / `\p{…}` inside `(?i)`, and adjacent letters that a single character folds to
/// (`ss` matches `ß`, `st` matches `ﬆ`, and so on).
///
/// Refused with `TokenizerError.unsupported` naming the construct: anchors (`^ $ \A \z \b` …),
/// lookbehind, backreferences, named groups, other options, nested or intersected classes,
/// script and binary properties, a quantifier on something that can match empty (Oniguruma's
/// empty-loop check is not modelled), quantified quantifiers, and programs over
/// `maxInstructions` after expanding counted repeats. A malformed pattern (unbalanced
/// parenthesis, bad range, dangling quantifier) is `TokenizerError.invalidRegex`.
///
/// Backtracking is bounded: one match attempt may backtrack `defaultBacktrackLimit` times,
/// Oniguruma's default retry limit. tokenizers panics past that limit; here the search stops and
/// the rest of the piece is left unmatched (see `SplitRule`). The patterns of released tokenizers
/// backtrack a few times per piece.
///
/// Speed: alternatives whose first scalar cannot match are skipped without a backtrack frame
/// (`guardedSplit`), quantified single scalars backtrack without a frame per scalar
/// (`repeatScalar`), and set membership is a bit test for ASCII and for class-only sets.
struct SplitRegex: Sendable {
    let pattern: String
    private let program: [RegexInstruction]
    private let sets: [ScalarSet]
    /// Membership tables in flat arrays, so the matcher's common tests touch no reference-counted
    /// storage: set `k` holds ASCII scalar `v` when bit `v` of `asciiBits[2k...2k+1]` is set, and,
    /// when `classOnly[k]` (its items are `\s`, `\p{L}`-style classes only), holds a non-ASCII
    /// scalar of classes `c` when bit `c.rawValue` of `classBits[2k...2k+1]` is set. Guards
    /// (index `g`) have the same three tables.
    private let asciiBits: [UInt64]
    private let classBits: [UInt64]
    private let classOnly: [Bool]
    private let guardAsciiBits: [UInt64]
    private let guardClassBits: [UInt64]
    private let guardClassOnly: [Bool]
    /// Lists of indices into `sets`, for `guardedSplit` on non-ASCII scalars.
    private let guards: [[Int]]
    /// Sets one of which holds the first scalar of every match; nil when a match can be empty or
    /// start with anything. Start positions outside them are skipped without running the program.
    private let startGuard: Int?
    /// Backtracks allowed in one match attempt (tests lower it).
    let backtrackLimit: Int

    static let defaultBacktrackLimit = 10_000_000
    static let maxInstructions = 20_000

    init(pattern: String, backtrackLimit: Int = defaultBacktrackLimit) throws(TokenizerError) {
        var parser = RegexParser(pattern: pattern)
        try self.init(pattern: pattern, tree: parser.parsePattern(), backtrackLimit: backtrackLimit)
    }

    /// A pattern matching `literal` exactly (a `Split` with a `String` pattern, which tokenizers
    /// compiles as the escaped string).
    init(literal: String) throws(TokenizerError) {
        let tree = RegexNode.concat(literal.unicodeScalars.map { .literal($0.value, foldCase: false) })
        try self.init(pattern: literal, tree: tree, backtrackLimit: Self.defaultBacktrackLimit)
    }

    private init(pattern: String, tree: RegexNode, backtrackLimit: Int) throws(TokenizerError) {
        var compiler = RegexCompiler(pattern: pattern)
        try compiler.emit(tree)
        compiler.program.append(.succeed)
        startGuard = compiler.guardIndex(tree)
        self.pattern = pattern
        program = compiler.program
        sets = compiler.sets
        guards = compiler.guards
        (asciiBits, classBits, classOnly) = Self.tables(compiler.sets.map { [$0] })
        (guardAsciiBits, guardClassBits, guardClassOnly) = Self.tables(compiler.guards.map { $0.map { compiler.sets[$0] } })
        self.backtrackLimit = backtrackLimit
    }

    enum SearchResult: Equatable {
        case found(Range<Int>)
        case notFound
        /// A match attempt backtracked more than `backtrackLimit` times.
        case overBudget
    }

    /// The tables of unions of sets (see `asciiBits`).
    private static func tables(_ unions: [[ScalarSet]]) -> (ascii: [UInt64], classes: [UInt64], classOnly: [Bool]) {
        func bits(_ member: (UInt32) -> Bool) -> [UInt64] {
            var low: UInt64 = 0, high: UInt64 = 0
            for v in UInt32(0)..<128 where member(v) {
                if v < 64 { low |= 1 << UInt64(v) } else { high |= 1 << UInt64(v - 64) }
            }
            return [low, high]
        }
        var ascii: [UInt64] = [], classes: [UInt64] = [], classOnly: [Bool] = []
        for union in unions {
            ascii += bits { v in union.contains { $0.contains(v, ScalarClass.of(v)) } }
            let onlyClasses = union.allSatisfy { $0.dependsOnlyOnClassesAboveASCII }
            // Any non-ASCII value stands in: such sets look only at the classes.
            classes += onlyClasses ? bits { c in union.contains { $0.contains(0x80, ScalarClass(rawValue: UInt8(c))) } } : [0, 0]
            classOnly.append(onlyClasses)
        }
        return (ascii, classes, classOnly)
    }

    /// The decoded subject, as buffers: the matcher's inner loop then retains nothing.
    private struct Subject {
        let values: UnsafeBufferPointer<UInt32>
        let classes: UnsafeBufferPointer<ScalarClass>
        let end: Int
    }

    /// The leftmost match in `text[from..<end]`, the subject ending at `end` (lookaheads see no
    /// further). `stack` is scratch space, reused across calls.
    func firstMatch(in text: ScalarText, from: Int, end: Int, stack: inout [RegexFrame]) -> SearchResult {
        text.values.withUnsafeBufferPointer { values in
            text.classes.withUnsafeBufferPointer { classes in
                let subject = Subject(values: values, classes: classes, end: end)
                // Runs leave the stack as they found it, except one stopped over budget.
                if !stack.isEmpty { stack.removeAll(keepingCapacity: true) }
                var start = from
                while start <= end {
                    if let startGuard, !passes(guard: startGuard, subject, start) {
                        start += 1
                        continue
                    }
                    var budget = backtrackLimit
                    do {
                        if let matchEnd = try run(at: 0, position: start, subject, stack: &stack, budget: &budget) {
                            return .found(start..<matchEnd)
                        }
                    } catch {
                        stack.removeAll(keepingCapacity: true)
                        return .overBudget
                    }
                    start += 1
                }
                return .notFound
            }
        }
    }

    private struct OverBudget: Error {}

    @inline(__always)
    private func inSet(_ k: Int, _ subject: Subject, _ pos: Int) -> Bool {
        let v = subject.values[pos]
        if v < 128 { return asciiBits[2 &* k &+ Int(v >> 6)] >> UInt64(v & 63) & 1 != 0 }
        let c = subject.classes[pos].rawValue
        if classOnly[k] { return classBits[2 &* k &+ Int(c >> 6)] >> UInt64(c & 63) & 1 != 0 }
        return sets[k].contains(v, subject.classes[pos])
    }

    /// Whether the scalar at `pos` can start the alternative `guards[g]` guards.
    @inline(__always)
    private func passes(guard g: Int, _ subject: Subject, _ pos: Int) -> Bool {
        guard pos < subject.end else { return false }
        let v = subject.values[pos]
        if v < 128 { return guardAsciiBits[2 &* g &+ Int(v >> 6)] >> UInt64(v & 63) & 1 != 0 }
        let c = subject.classes[pos].rawValue
        if guardClassOnly[g] { return guardClassBits[2 &* g &+ Int(c >> 6)] >> UInt64(c & 63) & 1 != 0 }
        for k in guards[g] where sets[k].contains(v, subject.classes[pos]) { return true }
        return false
    }

    /// Runs the program from `startPC` at `position` until a `.succeed`, returning the position
    /// there, or nil when every path fails. Frames pushed above the entry height belong to this run
    /// and are gone when it returns, which makes lookaheads and atomic groups atomic.
    private func run(
        at startPC: Int, position: Int, _ subject: Subject, stack: inout [RegexFrame], budget: inout Int
    ) throws(OverBudget) -> Int? {
        let end = subject.end
        let base = stack.count
        var pc = startPC
        var pos = position
        while true {
            var failed = false
            switch program[pc] {
            case .scalar(let set):
                if pos < end && inSet(set, subject, pos) {
                    pos += 1
                    pc += 1
                } else {
                    failed = true
                }
            case .repeatScalar(let set, let minimum, let maximum, let mode):
                let limit = end - pos > maximum ? pos + maximum : end
                if mode == .lazy {
                    var e = pos
                    while e < pos + minimum && e < end && inSet(set, subject, e) { e += 1 }
                    if e < pos + minimum {
                        failed = true
                    } else {
                        if e < limit { stack.append(RegexFrame(pc: pc, position: e, bound: limit, kind: .longer)) }
                        pos = e
                        pc += 1
                    }
                } else {
                    var e = pos
                    while e < limit && inSet(set, subject, e) { e += 1 }
                    if e - pos < minimum {
                        failed = true
                    } else {
                        if mode == .greedy && e > pos + minimum {
                            stack.append(RegexFrame(pc: pc, position: e, bound: pos + minimum, kind: .shorter))
                        }
                        pos = e
                        pc += 1
                    }
                }
            case .split(let preferred, let other):
                stack.append(RegexFrame(pc: other, position: pos, bound: 0, kind: .resume))
                pc = preferred
            case .guardedSplit(let preferred, let other, let guardIndex):
                if passes(guard: guardIndex, subject, pos) {
                    stack.append(RegexFrame(pc: other, position: pos, bound: 0, kind: .resume))
                    pc = preferred
                } else {
                    pc = other
                }
            case .jump(let target):
                pc = target
            case .lookahead(let negated, let next):
                let matched = try run(at: pc + 1, position: pos, subject, stack: &stack, budget: &budget) != nil
                if matched != negated { pc = next } else { failed = true }
            case .atomic(let next):
                if let e = try run(at: pc + 1, position: pos, subject, stack: &stack, budget: &budget) {
                    pos = e
                    pc = next
                } else {
                    failed = true
                }
            case .succeed:
                stack.removeLast(stack.count - base)
                return pos
            }
            guard failed else { continue }
            // Backtrack to the most recent choice of this run.
            resume: while true {
                guard stack.count > base else { return nil }
                budget -= 1
                if budget < 0 { throw OverBudget() }
                let frame = stack.removeLast()
                switch frame.kind {
                case .resume:
                    pc = frame.pc
                    pos = frame.position
                    break resume
                case .shorter:
                    // A greedy scalar repeat gives back one scalar.
                    let e = frame.position - 1
                    if e > frame.bound { stack.append(RegexFrame(pc: frame.pc, position: e, bound: frame.bound, kind: .shorter)) }
                    pc = frame.pc + 1
                    pos = e
                    break resume
                case .longer:
                    // A lazy scalar repeat takes one more scalar, if it can.
                    guard case .repeatScalar(let set, _, _, _) = program[frame.pc] else { continue }
                    let e = frame.position
                    guard e < frame.bound, inSet(set, subject, e) else { continue }
                    if e + 1 < frame.bound {
                        stack.append(RegexFrame(pc: frame.pc, position: e + 1, bound: frame.bound, kind: .longer))
                    }
                    pc = frame.pc + 1
                    pos = e + 1
                    break resume
                }
            }
        }
    }
}

/// A backtracking choice point.
struct RegexFrame {
    enum Kind: UInt8 {
        /// Continue at `pc` from `position`.
        case resume
        /// The greedy `repeatScalar` at `pc` ended at `position`; retry ending one earlier, not
        /// below `bound`.
        case shorter
        /// The lazy `repeatScalar` at `pc` ended at `position`; retry ending one later, not past
        /// `bound`.
        case longer
    }
    var pc: Int
    var position: Int
    var bound: Int
    var kind: Kind
}

enum QuantifierMode: Sendable, Equatable {
    case greedy, lazy, possessive
}

enum RegexInstruction: Sendable, Equatable {
    /// One scalar from `sets[set]`.
    case scalar(set: Int)
    /// `minimum...maximum` scalars from `sets[set]` (`Int.max`: unbounded), backtracking one scalar
    /// at a time: a quantified single scalar, the common case, without a frame per scalar.
    case repeatScalar(set: Int, minimum: Int, maximum: Int, mode: QuantifierMode)
    /// Try `preferred`; on failure, `other` from the same position.
    case split(preferred: Int, other: Int)
    /// `split`, but go straight to `other` when the scalar here is in none of `guards[guard]`'s
    /// sets: `preferred` starts an alternative that consumes a scalar from one of them first.
    case guardedSplit(preferred: Int, other: Int, guard: Int)
    case jump(Int)
    /// The body follows this instruction and ends in `.succeed`; then continue at `next`.
    case lookahead(negated: Bool, next: Int)
    /// The body follows and ends in `.succeed`; its first success is final, then `next`.
    case atomic(next: Int)
    case succeed
}

/// A set of scalars: a union of items, optionally negated. ASCII membership is precomputed.
struct ScalarSet: Sendable, Equatable {
    enum Item: Sendable, Equatable {
        case range(UInt32, UInt32)
        /// Scalars having (or, negated, lacking) any of these `ScalarClass` bits.
        case classes(UInt8, negated: Bool)
        /// Scalars in (or, negated, outside) these `GeneralCategory` bits.
        case categories(UInt32, negated: Bool)
    }

    let items: [Item]
    let negated: Bool
    private let asciiLow: UInt64
    private let asciiHigh: UInt64

    init(_ items: [Item], negated: Bool = false) {
        self.items = items
        self.negated = negated
        var low: UInt64 = 0, high: UInt64 = 0
        for v in UInt32(0)..<128 where Self.matches(items, v, ScalarClass.of(v)) != negated {
            if v < 64 { low |= 1 << UInt64(v) } else { high |= 1 << UInt64(v - 64) }
        }
        asciiLow = low
        asciiHigh = high
    }

    static func scalar(_ v: UInt32) -> ScalarSet { ScalarSet([.range(v, v)]) }

    /// Whether membership of a non-ASCII scalar depends on its `ScalarClass` alone: no categories,
    /// and ranges only within ASCII.
    var dependsOnlyOnClassesAboveASCII: Bool {
        items.allSatisfy { item in
            switch item {
            case .classes: return true
            case .range(_, let hi): return hi < 0x80
            case .categories: return false
            }
        }
    }

    @inline(__always)
    func contains(_ value: UInt32, _ classes: ScalarClass) -> Bool {
        if value < 64 { return asciiLow >> UInt64(value) & 1 != 0 }
        if value < 128 { return asciiHigh >> UInt64(value - 64) & 1 != 0 }
        return Self.matches(items, value, classes) != negated
    }

    private static func matches(_ items: [Item], _ value: UInt32, _ classes: ScalarClass) -> Bool {
        for item in items {
            switch item {
            case .range(let lo, let hi):
                if lo <= value && value <= hi { return true }
            case .classes(let mask, let negated):
                if (classes.rawValue & mask != 0) != negated { return true }
            case .categories(let mask, let negated):
                if (mask >> UInt32(GeneralCategory.of(value)) & 1 != 0) != negated { return true }
            }
        }
        return false
    }
}

/// The parsed pattern.
indirect enum RegexNode: Sendable {
    case set(ScalarSet)
    case literal(UInt32, foldCase: Bool)
    case concat([RegexNode])
    case alternation([RegexNode])
    case quantified(RegexNode, minimum: Int, maximum: Int?, mode: QuantifierMode)
    case lookahead(RegexNode, negated: Bool)
    case atomic(RegexNode)

    /// Whether the node can match without consuming a scalar.
    var canMatchEmpty: Bool {
        switch self {
        case .set, .literal: return false
        case .concat(let items): return items.allSatisfy(\.canMatchEmpty)
        case .alternation(let branches): return branches.contains(where: \.canMatchEmpty)
        case .quantified(let body, let minimum, _, _): return minimum == 0 || body.canMatchEmpty
        case .lookahead: return true
        case .atomic(let body): return body.canMatchEmpty
        }
    }
}

/// Recursive-descent parser of the supported Oniguruma syntax.
struct RegexParser {
    let pattern: String
    private let scalars: [Unicode.Scalar]
    private var i = 0

    init(pattern: String) {
        self.pattern = pattern
        self.scalars = Array(pattern.unicodeScalars)
    }

    mutating func parsePattern() throws(TokenizerError) -> RegexNode {
        let node = try parseAlternation(foldCase: false)
        if i < scalars.count { throw invalid("unmatched ')'") }
        return node
    }

    private var peek: Unicode.Scalar? { i < scalars.count ? scalars[i] : nil }

    private func peek(_ offset: Int) -> Unicode.Scalar? { i + offset < scalars.count ? scalars[i + offset] : nil }

    private func unsupported(_ construct: String, at offset: Int? = nil) -> TokenizerError {
        .unsupported("pre_tokenizer Split regex \(quoted(pattern)): \(construct) at offset \(offset ?? i) is not supported")
    }

    private func invalid(_ reason: String, at offset: Int? = nil) -> TokenizerError {
        .invalidRegex(pattern: pattern, reason: "\(reason) at offset \(offset ?? i)")
    }

    private mutating func parseAlternation(foldCase: Bool) throws(TokenizerError) -> RegexNode {
        var branches = [try parseConcat(foldCase: foldCase)]
        while peek == "|" {
            i += 1
            branches.append(try parseConcat(foldCase: foldCase))
        }
        return branches.count == 1 ? branches[0] : .alternation(branches)
    }

    private mutating func parseConcat(foldCase: Bool) throws(TokenizerError) -> RegexNode {
        var items: [RegexNode] = []
        while let c = peek, c != "|", c != ")" {
            if let option = try isolatedOption() {
                // `(?i)` applies to the rest of the enclosing group, later alternatives included.
                items.append(try parseAlternation(foldCase: option))
                break
            }
            let start = i
            let atom = try parseAtom(foldCase: foldCase)
            items.append(try parseQuantifier(atom, start: start))
        }
        try checkMultiCharacterFolds(items)
        return items.count == 1 ? items[0] : .concat(items)
    }

    /// Oniguruma's case folding matches some adjacent letter pairs against one character (`ss`
    /// against `ß` and `ẞ`, `st` against `ﬅ` `ﬆ`, `ff` `fi` `fl` against ligatures). Those are the
    /// only multi-character folds onto ASCII, so refusing the pairs keeps ASCII folding exact.
    private func checkMultiCharacterFolds(_ items: [RegexNode]) throws(TokenizerError) {
        func foldedLetter(_ node: RegexNode) -> UInt32? {
            guard case .literal(let v, true) = node else { return nil }
            return (0x41...0x5A).contains(v) ? v + 0x20 : v
        }
        let pairs: Set<[UInt32]> = [[0x73, 0x73], [0x73, 0x74], [0x66, 0x66], [0x66, 0x69], [0x66, 0x6C]]
        for (a, b) in zip(items, items.dropFirst()) {
            if let x = foldedLetter(a), let y = foldedLetter(b), pairs.contains([x, y]) {
                let text = String(String.UnicodeScalarView([x, y].compactMap(Unicode.Scalar.init)))
                throw unsupported("case-insensitive \"\(text)\" (Oniguruma also matches it against a single ligature or ß)")
            }
        }
    }

    /// Parses `(?i)` or `(?-i)` and returns the new case folding; nil (consuming nothing) if the
    /// next construct is not an isolated option.
    private mutating func isolatedOption() throws(TokenizerError) -> Bool? {
        guard peek == "(", peek(1) == "?" else { return nil }
        var k = i + 2
        var on = true
        var letters = ""
        while k < scalars.count, scalars[k] == "-" || (scalars[k].properties.isAlphabetic && scalars[k].isASCII) {
            if scalars[k] == "-" { on = false } else { letters.unicodeScalars.append(scalars[k]) }
            k += 1
        }
        guard k < scalars.count, scalars[k] == ")", !letters.isEmpty else { return nil }
        guard letters == "i" else { throw unsupported("option (?\(on ? "" : "-")\(letters))") }
        i = k + 1
        return on
    }

    private mutating func parseAtom(foldCase: Bool) throws(TokenizerError) -> RegexNode {
        guard let c = peek else { throw invalid("unexpected end") }
        switch c {
        case "(":
            return try parseGroup(foldCase: foldCase)
        case "[":
            if foldCase { throw unsupported("a character class inside a case-insensitive group") }
            return .set(try parseClass())
        case ".":
            i += 1
            return .set(ScalarSet([.range(0x0A, 0x0A)], negated: true))
        case "\\":
            let start = i
            i += 1
            switch try parseEscape() {
            case .scalar(let v):
                if foldCase && v >= 0x80 { throw unsupported("a case-insensitive non-ASCII literal", at: start) }
                return .literal(v, foldCase: foldCase)
            case .item(let item, let caseless):
                if foldCase && !caseless { throw unsupported("\(escapeText(from: start)) inside a case-insensitive group", at: start) }
                return .set(ScalarSet([item]))
            }
        case "*", "+", "?":
            throw invalid("quantifier '\(c)' without a target")
        case "{":
            if intervalLength(at: i) != nil { throw invalid("quantifier '{' without a target") }
            i += 1
            return .literal(c.value, foldCase: false)
        case "^", "$":
            throw unsupported("anchor '\(c)'")
        default:
            i += 1
            if foldCase && c.value >= 0x80 { throw unsupported("a case-insensitive non-ASCII literal", at: i - 1) }
            return .literal(c.value, foldCase: foldCase)
        }
    }

    private func escapeText(from start: Int) -> String {
        String(String.UnicodeScalarView(scalars[start..<i]))
    }

    private mutating func parseGroup(foldCase: Bool) throws(TokenizerError) -> RegexNode {
        let open = i
        i += 1  // (
        var node: RegexNode
        if peek == "?" {
            i += 1
            switch peek {
            case ":":
                i += 1
                node = try parseAlternation(foldCase: foldCase)
            case "=", "!":
                let negated = peek == "!"
                i += 1
                node = .lookahead(try parseAlternation(foldCase: foldCase), negated: negated)
            case ">":
                i += 1
                node = .atomic(try parseAlternation(foldCase: foldCase))
            case "<":
                if peek(1) == "=" || peek(1) == "!" { throw unsupported("lookbehind", at: open) }
                throw unsupported("named group", at: open)
            default:
                // `(?i:...)`, `(?-i:...)`; other options and group kinds are refused.
                var on = true
                var letters = ""
                while let c = peek, c == "-" || (c.isASCII && c.properties.isAlphabetic) {
                    if c == "-" { on = false } else { letters.unicodeScalars.append(c) }
                    i += 1
                }
                guard peek == ":", letters == "i" else {
                    let text = String(String.UnicodeScalarView(scalars[open..<min(i + 1, scalars.count)]))
                    throw unsupported("group \(text)", at: open)
                }
                i += 1
                node = try parseAlternation(foldCase: on)
            }
        } else {
            node = try parseAlternation(foldCase: foldCase)
        }
        guard peek == ")" else { throw invalid("unmatched '('", at: open) }
        i += 1
        return node
    }

    /// The length of a valid interval `{n}`, `{n,}`, `{n,m}` or `{,m}` at `k`, with its bounds.
    private func intervalLength(at k: Int) -> (length: Int, minimum: Int, maximum: Int?)? {
        guard k < scalars.count, scalars[k] == "{" else { return nil }
        var j = k + 1
        func number() -> Int? {
            var value: Int? = nil
            while j < scalars.count, (0x30...0x39).contains(scalars[j].value) {
                value = min((value ?? 0) * 10 + Int(scalars[j].value - 0x30), 1_000_000)
                j += 1
            }
            return value
        }
        let low = number()
        var high = low
        if j < scalars.count, scalars[j] == "," {
            j += 1
            high = number()
            if low == nil && high == nil { return nil }
        } else if low == nil {
            return nil
        }
        guard j < scalars.count, scalars[j] == "}" else { return nil }
        let hasComma = scalars[k + 1..<j].contains(",")
        return (j + 1 - k, low ?? 0, hasComma ? high : low)
    }

    private mutating func parseQuantifier(_ atom: RegexNode, start: Int) throws(TokenizerError) -> RegexNode {
        let minimum: Int
        let maximum: Int?
        var isInterval = false
        switch peek {
        case "?": (minimum, maximum) = (0, 1); i += 1
        case "*": (minimum, maximum) = (0, nil); i += 1
        case "+": (minimum, maximum) = (1, nil); i += 1
        case "{":
            guard let interval = intervalLength(at: i) else { return atom }
            if let high = interval.maximum, high < interval.minimum {
                throw invalid("interval {\(interval.minimum),\(high)} has its upper bound below its lower bound")
            }
            (minimum, maximum) = (interval.minimum, interval.maximum)
            i += interval.length
            isInterval = true
        default:
            return atom
        }
        var mode = QuantifierMode.greedy
        if peek == "?" {
            mode = .lazy
            i += 1
        } else if peek == "+" && !isInterval {
            mode = .possessive
            i += 1
        }
        if let next = peek, next == "?" || next == "*" || next == "+" || intervalLength(at: i) != nil {
            throw unsupported("a quantifier applied to a quantifier")
        }
        if case .lookahead = atom { throw unsupported("a quantified lookahead", at: start) }
        return .quantified(atom, minimum: minimum, maximum: maximum, mode: mode)
    }

    private enum Escape {
        case scalar(UInt32)
        /// A class escape; `caseless` when case folding cannot change what it matches.
        case item(ScalarSet.Item, caseless: Bool)
    }

    /// Parses the escape after a backslash (already consumed).
    private mutating func parseEscape() throws(TokenizerError) -> Escape {
        let start = i - 1
        guard let c = peek else { throw invalid("pattern ends with '\\'") }
        i += 1
        switch c {
        case "t": return .scalar(0x09)
        case "n": return .scalar(0x0A)
        case "v": return .scalar(0x0B)
        case "f": return .scalar(0x0C)
        case "r": return .scalar(0x0D)
        case "a": return .scalar(0x07)
        case "e": return .scalar(0x1B)
        case "s", "S": return .item(.classes(ScalarClass.whitespace.rawValue, negated: c == "S"), caseless: true)
        case "d", "D": return .item(.classes(ScalarClass.digit.rawValue, negated: c == "D"), caseless: true)
        case "w", "W": return .item(.classes(ScalarClass.word.rawValue, negated: c == "W"), caseless: false)
        case "p", "P":
            return .item(try parseProperty(negated: c == "P", start: start), caseless: false)
        case "x":
            if peek == "{" {
                i += 1
                let value = hexNumber(maxDigits: 8)
                guard let value, peek == "}" else { throw invalid("bad \\x{...} escape", at: start) }
                i += 1
                return .scalar(try validScalar(value, start: start))
            }
            guard let value = hexNumber(maxDigits: 2) else { throw invalid("bad \\x escape", at: start) }
            return .scalar(value)
        case "u":
            guard let value = hexNumber(maxDigits: 4), i - start == 6 else { throw invalid("bad \\u escape", at: start) }
            return .scalar(try validScalar(value, start: start))
        default:
            if c.isASCII && (c.properties.isAlphabetic || c.properties.numericType != nil) {
                throw unsupported("escape \\\(c)", at: start)
            }
            return .scalar(c.value)
        }
    }

    private func validScalar(_ value: UInt32, start: Int) throws(TokenizerError) -> UInt32 {
        guard Unicode.Scalar(value) != nil else { throw invalid("escape names U+\(String(value, radix: 16)), not a scalar", at: start) }
        return value
    }

    private mutating func hexNumber(maxDigits: Int) -> UInt32? {
        var value: UInt32 = 0
        var digits = 0
        while digits < maxDigits, let c = peek, let d = c.isASCII ? Int(String(c), radix: 16) : nil {
            value = value << 4 | UInt32(d)
            digits += 1
            i += 1
        }
        return digits == 0 ? nil : value
    }

    private mutating func parseProperty(negated: Bool, start: Int) throws(TokenizerError) -> ScalarSet.Item {
        guard peek == "{" else { throw invalid("\\p without {name}", at: start) }
        i += 1
        var negate = negated
        if peek == "^" {
            negate.toggle()
            i += 1
        }
        var name = ""
        while let c = peek, c != "}" {
            name.unicodeScalars.append(c)
            i += 1
        }
        guard peek == "}" else { throw invalid("unterminated \\p{", at: start) }
        i += 1
        // \p{L} and \p{N} use the classes every scanner uses; the rest the category table.
        switch name {
        case "L": return .classes(ScalarClass.letter.rawValue, negated: negate)
        case "N": return .classes(ScalarClass.number.rawValue, negated: negate)
        default:
            guard let mask = GeneralCategory.mask(named: name) else {
                throw unsupported("property \\p{\(name)} (only general categories such as L, Lu, Nd, P are)", at: start)
            }
            return .categories(mask, negated: negate)
        }
    }

    /// Parses `[...]` (at `[`).
    private mutating func parseClass() throws(TokenizerError) -> ScalarSet {
        let open = i
        i += 1
        var negated = false
        if peek == "^" {
            negated = true
            i += 1
        }
        if peek == "]" { throw unsupported("']' first in a class (write \\])") }
        var items: [ScalarSet.Item] = []
        var afterRange = false
        while true {
            guard let c = peek else { throw invalid("unterminated class", at: open) }
            if c == "]" {
                i += 1
                break
            }
            if c == "[" { throw unsupported("a nested class") }
            if c == "&" && peek(1) == "&" { throw unsupported("class intersection &&") }
            if c == "-" && afterRange && peek(1) != "]" { throw unsupported("'-' after a range") }
            let itemStart = i
            let first = try classAtom()
            afterRange = false
            guard case .scalar(let lo) = first else {
                if case .item(let item, _) = first { items.append(item) }
                if peek == "-" && peek(1) != "]" { throw invalid("a range starting at a class escape", at: itemStart) }
                continue
            }
            if peek == "-", let next = peek(1), next != "]" {
                i += 1
                guard case .scalar(let hi) = try classAtom() else {
                    throw invalid("a range ending at a class escape", at: itemStart)
                }
                guard lo <= hi else { throw invalid("empty range in class", at: itemStart) }
                items.append(.range(lo, hi))
                afterRange = true
            } else {
                items.append(.range(lo, lo))
            }
        }
        return ScalarSet(items, negated: negated)
    }

    private mutating func classAtom() throws(TokenizerError) -> Escape {
        guard let c = peek else { throw invalid("unterminated class") }
        i += 1
        if c == "\\" { return try parseEscape() }
        return .scalar(c.value)
    }
}

/// Lowers the parsed pattern to instructions.
struct RegexCompiler {
    let pattern: String
    var program: [RegexInstruction] = []
    var sets: [ScalarSet] = []
    var guards: [[Int]] = []

    init(pattern: String) {
        self.pattern = pattern
    }

    private mutating func setIndex(_ set: ScalarSet) -> Int {
        if let k = sets.firstIndex(of: set) { return k }
        sets.append(set)
        return sets.count - 1
    }

    /// The set of a node that matches exactly one scalar, if it is one.
    private static func singleScalar(_ node: RegexNode) -> ScalarSet? {
        switch node {
        case .set(let s): return s
        case .literal(let v, let foldCase): return foldCase ? foldedSet(v) : .scalar(v)
        case .concat(let items) where items.count == 1: return singleScalar(items[0])
        case .alternation(let branches) where branches.count == 1: return singleScalar(branches[0])
        default: return nil
        }
    }

    /// An ASCII letter and the scalars whose simple case fold equals its fold.
    private static func foldedSet(_ v: UInt32) -> ScalarSet {
        let lower = (0x41...0x5A).contains(v) ? v + 0x20 : v
        guard (0x61...0x7A).contains(lower) else { return .scalar(v) }
        var items: [ScalarSet.Item] = [.range(lower, lower), .range(lower - 0x20, lower - 0x20)]
        if lower == 0x73 { items.append(.range(0x17F, 0x17F)) }  // ſ
        if lower == 0x6B { items.append(.range(0x212A, 0x212A)) }  // Kelvin sign
        return ScalarSet(items)
    }

    /// A new guard (index into `guards`): the sets one of which must hold the first scalar of any
    /// match of `node`; nil when `node` can match empty or its first scalar is not confined.
    mutating func guardIndex(_ node: RegexNode) -> Int? {
        guard !node.canMatchEmpty, let first = Self.firstSets(node) else { return nil }
        guards.append(first.map { setIndex($0) })
        return guards.count - 1
    }

    /// Sets covering the first scalar a non-empty match of `node` consumes; nil for "unknown".
    private static func firstSets(_ node: RegexNode) -> [ScalarSet]? {
        if let set = singleScalar(node) { return [set] }
        switch node {
        case .set, .literal:
            return nil  // handled by singleScalar
        case .concat(let items):
            var result: [ScalarSet] = []
            for item in items {
                guard let first = firstSets(item) else { return nil }
                result += first
                if !item.canMatchEmpty { break }
            }
            return result
        case .alternation(let branches):
            var result: [ScalarSet] = []
            for branch in branches {
                guard let first = firstSets(branch) else { return nil }
                result += first
            }
            return result
        case .quantified(let body, _, _, _), .atomic(let body):
            return firstSets(body)
        case .lookahead:
            return []  // consumes nothing; what follows it supplies the first scalar
        }
    }

    private mutating func append(_ instruction: RegexInstruction) throws(TokenizerError) -> Int {
        guard program.count < SplitRegex.maxInstructions else {
            throw .unsupported(
                "pre_tokenizer Split regex \(quoted(pattern)): over \(SplitRegex.maxInstructions) instructions after expanding counted repeats")
        }
        program.append(instruction)
        return program.count - 1
    }

    mutating func emit(_ node: RegexNode) throws(TokenizerError) {
        if let set = Self.singleScalar(node) {
            _ = try append(.scalar(set: setIndex(set)))
            return
        }
        switch node {
        case .set, .literal:
            break  // handled above
        case .concat(let items):
            for item in items { try emit(item) }
        case .alternation(let branches):
            var exits: [Int] = []
            for (k, branch) in branches.enumerated() {
                if k == branches.count - 1 {
                    try emit(branch)
                } else {
                    let split = try append(.split(preferred: program.count + 1, other: -1))
                    let guardIndex = guardIndex(branch)
                    try emit(branch)
                    exits.append(try append(.jump(-1)))
                    if let guardIndex {
                        program[split] = .guardedSplit(preferred: split + 1, other: program.count, guard: guardIndex)
                    } else {
                        program[split] = .split(preferred: split + 1, other: program.count)
                    }
                }
            }
            for e in exits { program[e] = .jump(program.count) }
        case .quantified(let body, let minimum, let maximum, let mode):
            try emitQuantified(body, minimum: minimum, maximum: maximum, mode: mode)
        case .lookahead(let body, let negated):
            let at = try append(.lookahead(negated: negated, next: -1))
            try emit(body)
            _ = try append(.succeed)
            program[at] = .lookahead(negated: negated, next: program.count)
        case .atomic(let body):
            let at = try append(.atomic(next: -1))
            try emit(body)
            _ = try append(.succeed)
            program[at] = .atomic(next: program.count)
        }
    }

    private mutating func emitQuantified(
        _ body: RegexNode, minimum: Int, maximum: Int?, mode: QuantifierMode
    ) throws(TokenizerError) {
        if let set = Self.singleScalar(body) {
            _ = try append(.repeatScalar(set: setIndex(set), minimum: minimum, maximum: maximum ?? Int.max, mode: mode))
            return
        }
        if body.canMatchEmpty && maximum != minimum {
            throw .unsupported(
                "pre_tokenizer Split regex \(quoted(pattern)): a quantifier on an expression that can match empty is not supported")
        }
        if mode == .possessive {
            try emit(.atomic(.quantified(body, minimum: minimum, maximum: maximum, mode: .greedy)))
            return
        }
        for _ in 0..<minimum { try emit(body) }
        func choice(_ body: Int, _ out: Int) -> RegexInstruction {
            mode == .lazy ? .split(preferred: out, other: body) : .split(preferred: body, other: out)
        }
        if let maximum {
            var choices: [Int] = []
            for _ in minimum..<maximum {
                choices.append(try append(.jump(-1)))
                try emit(body)
            }
            for at in choices { program[at] = choice(at + 1, program.count) }
        } else {
            let loop = try append(.jump(-1))
            try emit(body)
            _ = try append(.jump(loop))
            program[loop] = choice(loop + 1, program.count)
        }
    }
}

/// A pattern quoted for an error message, with control characters escaped (backslashes are left
/// alone, so the pattern reads as written in tokenizer.json's JSON-decoded form).
func quoted(_ pattern: String) -> String {
    let body = pattern.unicodeScalars.map { s in
        s.value < 0x20 || s.value == 0x7F ? s.escaped(asASCII: true) : String(s)
    }
    return "\"" + body.joined() + "\""
}
