import BigInt

/// Recursive-descent parser from tokens to an `AnswerValue`.
///
/// Grammar (informally):
/// ```
/// answer   := part ('\cup' part)* | item (',' item)*      -- a bare list is a set; a:b is a/b
/// item     := '(' or '[' item, item, ... ')' or ']'       -- tuple or interval
///           | '\{' items '\}' | '\emptyset' | '\mathbb{R}'
///           | [variable ('=' | '\in')] item               -- "x = 5" is reduced to 5
///           | a < x, a ≤ x < b, ...                        -- one-variable inequalities become intervals
///           | expr
/// expr     := term (('+' | '-') term)*
/// term     := unary (('*' | '/')? unary)*                  -- juxtaposition multiplies; 2\frac12 is 5/2
/// unary    := ('-' | '+') unary | power
/// power    := postfix ('^' exponent)?
/// postfix  := primary '!'*
/// primary  := number | letter ['_' sub] | \pi | \infty | \frac A B | \sqrt[n] A | \binom A B
///           | function [^n] argument | '(' expr ')' | '{' expr '}' | '|' expr '|'
/// ```
/// Every recursive step checks the depth limit and charges the work budget, so a hostile input (10k
/// nested `\frac`, a million minus signs) fails fast instead of exhausting the stack.
struct AnswerParser {
    private var tokens: [Token]
    private var position: Int
    private var end: Int
    private var depth = 0
    private var absoluteDepth = 0
    private let limits: GraderLimits
    var budget: WorkBudget

    /// Each bracket level costs several recursive calls (sum, term, unary, power, primary).
    private var maxRecursionDepth: Int { limits.maxNestingDepth * 8 }

    init(limits: GraderLimits, budget: WorkBudget) {
        self.tokens = []
        self.position = 0
        self.end = 0
        self.limits = limits
        self.budget = budget
    }

    /// Parses a whole answer; nil when it is not recognisable mathematics (the caller then
    /// compares text only).
    mutating func parseAnswer(_ input: [Token]) -> AnswerValue? {
        var tokens = input
        if tokens.isEmpty { return nil }
        guard AnswerParser.maximumBracketDepth(tokens) <= limits.maxNestingDepth else { return nil }
        // `a \text{ or } b` lists the answers, as math-verify reads it: each top-level "or" between two parts is a comma.
        var depthHere = 0
        for i in tokens.indices {
            depthHere += AnswerParser.bracketDelta(tokens[i].kind)
            if depthHere == 0, tokens[i].kind == .word("or"), i > 0, i < tokens.count - 1 { tokens[i].kind = .symbol(",") }
        }
        if AnswerParser.isWordAnswer(tokens) { return AnswerParser.textAnswer(tokens) }
        guard let withoutUnits = AnswerParser.removingTrailingUnits(tokens) else {
            return AnswerParser.textAnswer(tokens)
        }
        tokens = AnswerParser.mergingThousandsSeparators(withoutUnits)
        if tokens.isEmpty { return nil }

        // A ratio `a:b` is the fraction a/b (as in math-verify); longer ratios are not numbers.
        let ratioPositions = tokens.indices.filter { tokens[$0].kind == .symbol(":") }
        if ratioPositions.count > 1 { return nil }
        if let index = ratioPositions.first { tokens[index].kind = .symbol("/") }

        // `a \pm b` is the set {a + b, a - b}, as in math-verify.
        let plusMinusPositions = tokens.indices.filter {
            tokens[$0].kind == .command("pm") || tokens[$0].kind == .command("mp")
        }
        if plusMinusPositions.count > 1 { return nil }
        if let index = plusMinusPositions.first {
            var plus = tokens
            var minus = tokens
            let isMinusPlus = tokens[index].kind == .command("mp")
            plus[index].kind = .symbol(isMinusPlus ? "-" : "+")
            minus[index].kind = .symbol(isMinusPlus ? "+" : "-")
            guard let first = parseTopLevel(plus), let second = parseTopLevel(minus) else { return nil }
            return .set([first, second], isBareList: false)
        }
        return parseTopLevel(tokens)
    }

    private mutating func parseTopLevel(_ tokens: [Token]) -> AnswerValue? {
        let unionParts = AnswerParser.splitTopLevel(tokens, at: { $0 == .command("cup") })
        if unionParts.count > 1 {
            var parts: [AnswerValue] = []
            for part in unionParts {
                guard let value = parseItem(part) else { return nil }
                switch value {
                case .sequence, .set: parts.append(value)
                default: return nil
                }
            }
            return .union(parts)
        }
        let items = AnswerParser.splitTopLevel(tokens, at: { $0 == .symbol(",") || $0 == .symbol(";") })
        if items.count > 1 {
            var values: [AnswerValue] = []
            for item in items {
                guard let value = parseItem(item) else { return nil }
                values.append(value)
            }
            return .set(values, isBareList: true)
        }
        return parseItem(tokens)
    }

    /// Parses one element of a list: a tuple, interval, set, relation or expression.
    private mutating func parseItem(_ tokens: [Token]) -> AnswerValue? {
        guard !tokens.isEmpty, budget.spend(tokens.count) else { return nil }
        guard depth < maxRecursionDepth else { return nil }
        depth += 1
        defer { depth -= 1 }

        if tokens.count == 1, tokens[0].kind == .command("emptyset") {
            return .set([], isBareList: false)
        }
        if tokens.count == 4, tokens[0].kind == .command("mathbb"), tokens[1].kind == .open(.brace),
           tokens[2].kind == .identifier("r"), tokens[3].kind == .close(.brace) {
            return .sequence(open: .paren, items: [.expression(.negate(.infinity)), .expression(.infinity)], close: .paren)
        }
        if let first = tokens.first, let last = tokens.last,
           case .open(let open) = first.kind, case .close(let close) = last.kind,
           AnswerParser.matchingClose(tokens, openAt: 0) == tokens.count - 1 {
            let inner = Array(tokens[1..<(tokens.count - 1)])
            if open == .setBrace && close == .setBrace {
                if inner.isEmpty { return .set([], isBareList: false) }
                var values: [AnswerValue] = []
                for item in AnswerParser.splitTopLevel(inner, at: { $0 == .symbol(",") || $0 == .symbol(";") }) {
                    guard let value = parseItem(item) else { return nil }
                    values.append(value)
                }
                return .set(values, isBareList: false)
            }
            let parts = AnswerParser.splitTopLevel(inner, at: { $0 == .symbol(",") })
            if parts.count > 1, open == .paren || open == .square, close == .paren || close == .square {
                var values: [AnswerValue] = []
                for part in parts {
                    guard let value = parseItem(part) else { return nil }
                    values.append(value)
                }
                return .sequence(open: open, items: values, close: close)
            }
        }

        let relationPositions = AnswerParser.topLevelRelationPositions(tokens)
        if relationPositions.isEmpty {
            return parseExpressionTokens(tokens).map { .expression($0) }
        }
        return parseRelation(tokens, at: relationPositions)
    }

    private mutating func parseRelation(_ tokens: [Token], at positions: [Int]) -> AnswerValue? {
        if positions.count == 1, let index = positions.first {
            let left = Array(tokens[..<index])
            let right = Array(tokens[(index + 1)...])
            guard !left.isEmpty, !right.isEmpty else { return nil }
            let isVariableOnLeft = AnswerParser.isSingleVariable(left)
            if tokens[index].kind == .command("in") {
                return isVariableOnLeft ? parseItem(right) : nil
            }
            guard let op = AnswerParser.relationOperator(tokens[index].kind) else { return nil }
            if op == .equal && isVariableOnLeft {
                // "x = 5" answers the question with 5 (the MATH normaliser does the same).
                return parseItem(right)
            }
            guard let lhs = parseExpressionTokens(left), let rhs = parseExpressionTokens(right) else { return nil }
            if isVariableOnLeft, let interval = AnswerParser.interval(variableOnLeft: true, op, rhs) {
                return interval
            }
            if AnswerParser.isSingleVariable(right), let interval = AnswerParser.interval(variableOnLeft: false, op, lhs) {
                return interval
            }
            return .relation(lhs, op, rhs)
        }
        // A chain `a < x < b` or `a ≥ x ≥ b` with a single variable in the middle.
        guard positions.count == 2,
              let firstOp = AnswerParser.relationOperator(tokens[positions[0]].kind),
              let secondOp = AnswerParser.relationOperator(tokens[positions[1]].kind)
        else { return nil }
        let middle = Array(tokens[(positions[0] + 1)..<positions[1]])
        guard AnswerParser.isSingleVariable(middle),
              let low = parseExpressionTokens(Array(tokens[..<positions[0]])),
              let high = parseExpressionTokens(Array(tokens[(positions[1] + 1)...]))
        else { return nil }
        let ascending: Set<RelationOperator> = [.less, .lessOrEqual]
        let descending: Set<RelationOperator> = [.greater, .greaterOrEqual]
        if ascending.contains(firstOp) && ascending.contains(secondOp) {
            return .sequence(open: firstOp == .less ? .paren : .square, items: [.expression(low), .expression(high)],
                             close: secondOp == .less ? .paren : .square)
        }
        if descending.contains(firstOp) && descending.contains(secondOp) {
            return .sequence(open: secondOp == .greater ? .paren : .square, items: [.expression(high), .expression(low)],
                             close: firstOp == .greater ? .paren : .square)
        }
        return nil
    }

    /// `x < a` is `(-∞, a)`, `x ≥ a` is `[a, ∞)`; `a < x` is `(a, ∞)`.
    private static func interval(variableOnLeft: Bool, _ op: RelationOperator, _ bound: Expr) -> AnswerValue? {
        let upperBound: Bool
        let closed: Bool
        switch op {
        case .less: upperBound = variableOnLeft; closed = false
        case .lessOrEqual: upperBound = variableOnLeft; closed = true
        case .greater: upperBound = !variableOnLeft; closed = false
        case .greaterOrEqual: upperBound = !variableOnLeft; closed = true
        case .equal, .notEqual: return nil
        }
        if upperBound {
            return .sequence(open: .paren, items: [.expression(.negate(.infinity)), .expression(bound)], close: closed ? .square : .paren)
        }
        return .sequence(open: closed ? .square : .paren, items: [.expression(bound), .expression(.infinity)], close: .paren)
    }

    /// Parses tokens that must form exactly one expression.
    private mutating func parseExpressionTokens(_ input: [Token]) -> Expr? {
        tokens = input
        position = 0
        end = input.count
        absoluteDepth = 0
        guard let expression = parseSum(), position == end else { return nil }
        return expression
    }

    // MARK: - Expressions

    private mutating func enter() -> Bool {
        guard depth < maxRecursionDepth, budget.spend(1) else { return false }
        depth += 1
        return true
    }

    private mutating func leave() {
        depth -= 1
    }

    private func peek() -> TokenKind? {
        position < end ? tokens[position].kind : nil
    }

    private mutating func parseSum() -> Expr? {
        guard enter() else { return nil }
        defer { leave() }
        guard let first = parseTerm() else { return nil }
        var terms = [first]
        while let kind = peek(), kind == .symbol("+") || kind == .symbol("-") {
            position += 1
            guard let term = parseTerm() else { return nil }
            terms.append(kind == .symbol("-") ? .negate(term) : term)
        }
        return terms.count == 1 ? first : .sum(terms)
    }

    private mutating func parseTerm() -> Expr? {
        guard enter() else { return nil }
        defer { leave() }
        guard var current = parseUnary() else { return nil }
        var factors: [Expr] = []
        func flush() -> Expr { factors.isEmpty ? current : .product(factors + [current]) }
        while let kind = peek() {
            if kind == .symbol("*") {
                position += 1
                guard let next = parseUnary() else { return nil }
                factors.append(current)
                current = next
            } else if kind == .symbol("/") {
                position += 1
                guard let divisor = parseUnary() else { return nil }
                current = .quotient(flush(), divisor)
                factors = []
            } else if startsPrimary(kind) {
                let isMixedNumberCandidate = factors.isEmpty && kind == .command("frac")
                guard let next = parsePower() else { return nil }
                // `2\frac{1}{2}` is the mixed number 5/2 (as in MATH answers and math-verify).
                if isMixedNumberCandidate, let mixed = AnswerParser.mixedNumber(whole: current, fraction: next) {
                    current = mixed
                    continue
                }
                factors.append(current)
                current = next
            } else {
                break
            }
        }
        return flush()
    }

    /// `2` followed by `\frac{1}{2}` (or `-2` by it) as one mixed number; nil otherwise.
    private static func mixedNumber(whole: Expr, fraction: Expr) -> Expr? {
        guard case .quotient(.number(let top), .number(let bottom)) = fraction,
              top.isInteger, bottom.isInteger, !top.isNegative, !bottom.isNegative,
              let value = top.divided(by: bottom) else { return nil }
        switch whole {
        case .number(let integer) where integer.isInteger && !integer.isNegative:
            return .number(integer + value)
        case .negate(.number(let integer)) where integer.isInteger && !integer.isNegative:
            return .negate(.number(integer + value))
        default:
            return nil
        }
    }

    private func startsPrimary(_ kind: TokenKind) -> Bool {
        switch kind {
        case .number, .identifier: return true
        case .open(let bracket): return bracket != .setBrace
        case .command(let name): return !["cup", "in", "pm", "mp"].contains(name)
        case .symbol("|"): return absoluteDepth == 0
        default: return false
        }
    }

    private mutating func parseUnary() -> Expr? {
        guard enter() else { return nil }
        defer { leave() }
        if peek() == .symbol("-") {
            position += 1
            return parseUnary().map { .negate($0) }
        }
        if peek() == .symbol("+") {
            position += 1
            return parseUnary()
        }
        return parsePower()
    }

    private mutating func parsePower() -> Expr? {
        guard enter() else { return nil }
        defer { leave() }
        guard let base = parsePostfix() else { return nil }
        guard peek() == .symbol("^") else { return base }
        position += 1
        guard let exponent = parseExponent() else { return nil }
        var result = Expr.power(base, exponent)
        while peek() == .symbol("!") {
            position += 1
            result = .factorial(result)
        }
        return result
    }

    /// A superscript: a braced group, or one token as LaTeX reads it (but a whole number, so that
    /// `2^10` is 1024 as math-verify reads it), possibly signed, right-associative.
    private mutating func parseExponent() -> Expr? {
        guard enter() else { return nil }
        defer { leave() }
        if peek() == .symbol("-") {
            position += 1
            return parseExponent().map { .negate($0) }
        }
        if peek() == .symbol("+") {
            position += 1
            return parseExponent()
        }
        guard let base = parsePostfix() else { return nil }
        if peek() == .symbol("^") {
            position += 1
            return parseExponent().map { .power(base, $0) }
        }
        return base
    }

    private mutating func parsePostfix() -> Expr? {
        guard var result = parsePrimary() else { return nil }
        while peek() == .symbol("!") {
            position += 1
            result = .factorial(result)
        }
        return result
    }

    private mutating func parsePrimary() -> Expr? {
        guard enter() else { return nil }
        defer { leave() }
        guard let kind = peek() else { return nil }
        position += 1
        switch kind {
        case .number(let literal):
            return numberExpression(literal)
        case .identifier(let name):
            let fullName = parseSubscript().map { name + "_" + $0 } ?? name
            if fullName == "e" { return .euler }
            return .symbol(fullName)
        case .open(let bracket) where bracket != .setBrace:
            let savedAbsoluteDepth = absoluteDepth
            absoluteDepth = 0
            defer { absoluteDepth = savedAbsoluteDepth }
            guard let inner = parseSum(), peek() == .close(bracket) else { return nil }
            position += 1
            return inner
        case .symbol("|"):
            absoluteDepth += 1
            defer { absoluteDepth -= 1 }
            guard let inner = parseSum(), peek() == .symbol("|") else { return nil }
            position += 1
            return .absolute(inner)
        case .command(let name):
            return parseCommand(name)
        default:
            return nil
        }
    }

    private mutating func numberExpression(_ literal: String) -> Expr? {
        // Literals longer than the exact-arithmetic cap (log10(2) ≈ 0.30103 digits per bit) make
        // the answer text-only.
        guard literal.utf8.count <= limits.maxExactBits * 30_103 / 100_000,
              budget.spend(literal.utf8.count * literal.utf8.count / 64 + 1),
              let value = Rational(decimalLiteral: Substring(literal)) else { return nil }
        return .number(value)
    }

    /// `_1`, `_{12}`, `_n`: returns the subscript's canonical text.
    private mutating func parseSubscript() -> String? {
        guard peek() == .symbol("_") else { return nil }
        position += 1
        switch peek() {
        case .number(let literal)?:
            position += 1
            return literal
        case .identifier(let name)?:
            position += 1
            return name
        case .open(.brace)?:
            var text = ""
            position += 1
            while let kind = peek(), kind != .close(.brace) {
                switch kind {
                case .number(let literal): text += literal
                case .identifier(let name): text += name
                case .symbol(let character): text.append(character)
                default: return nil
                }
                position += 1
            }
            guard peek() == .close(.brace) else { return nil }
            position += 1
            return text
        default:
            return nil
        }
    }

    private mutating func parseCommand(_ name: String) -> Expr? {
        switch name {
        case "pi": return .pi
        case "infty": return .infinity
        case "frac":
            guard let top = parseArgument(), let bottom = parseArgument() else { return nil }
            return .quotient(top, bottom)
        case "binom":
            guard let n = parseArgument(), let k = parseArgument() else { return nil }
            return .binomial(n, k)
        case "sqrt":
            var index = Expr.number(Rational(2))
            if peek() == .open(.square) {
                position += 1
                guard let parsedIndex = parseSum(), peek() == .close(.square) else { return nil }
                position += 1
                index = parsedIndex
            }
            guard let radicand = parseArgument() else { return nil }
            return .root(radicand, index: index)
        case "log", "ln", "exp", "sin", "cos", "tan", "sec", "csc", "cot", "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh":
            var base: Expr?
            if name == "log", peek() == .symbol("_") {
                position += 1
                guard let parsedBase = parseArgument() else { return nil }
                base = parsedBase
            }
            // `\sin^2 x` is (sin x)^2.
            var outerPower: Expr?
            if peek() == .symbol("^") {
                position += 1
                guard let exponent = parseExponent() else { return nil }
                outerPower = exponent
            }
            let argument: Expr?
            if peek() == .open(.paren) || peek() == .open(.brace) || peek() == .open(.square) {
                argument = parsePrimary()
            } else {
                argument = parsePower()
            }
            guard let argument else { return nil }
            let applied: Expr
            if let base {
                applied = .logarithm(base: base, argument)
            } else if let function = MathFunction(rawValue: name) {
                applied = .function(function, argument)
            } else {
                return nil
            }
            return outerPower.map { .power(applied, $0) } ?? applied
        default:
            return nil
        }
    }

    /// A TeX macro argument: a braced group, or a single token (`\frac12` reads `1` and `2`).
    private mutating func parseArgument() -> Expr? {
        guard enter() else { return nil }
        defer { leave() }
        guard let kind = peek() else { return nil }
        switch kind {
        case .open(.brace):
            position += 1
            let savedAbsoluteDepth = absoluteDepth
            absoluteDepth = 0
            defer { absoluteDepth = savedAbsoluteDepth }
            guard let inner = parseSum(), peek() == .close(.brace) else { return nil }
            position += 1
            return inner
        case .number(let literal):
            guard let first = literal.first else { return nil }
            let rest = literal.dropFirst()
            if rest.isEmpty {
                position += 1
            } else {
                // Leave the remaining digits for the next argument or factor.
                tokens[position].kind = .number(String(rest))
                tokens[position].spaceBefore = false
            }
            return numberExpression(String(first))
        case .identifier(let name):
            position += 1
            return name == "e" ? .euler : .symbol(name)
        case .command:
            return parsePrimary()
        default:
            return nil
        }
    }

    // MARK: - Token-level helpers

    static func relationOperator(_ kind: TokenKind) -> RelationOperator? {
        switch kind {
        case .symbol("="): return .equal
        case .symbol("<"): return .less
        case .symbol(">"): return .greater
        case .symbol("≤"): return .lessOrEqual
        case .symbol("≥"): return .greaterOrEqual
        case .symbol("≠"): return .notEqual
        default: return nil
        }
    }

    /// A lone variable such as `x`, `x_1` or `\theta`.
    static func isSingleVariable(_ tokens: [Token]) -> Bool {
        guard case .identifier(let name)? = tokens.first?.kind, name != "e" else { return false }
        if tokens.count == 1 { return true }
        guard tokens.count >= 3, tokens[1].kind == .symbol("_") else { return false }
        if tokens.count == 3 {
            switch tokens[2].kind {
            case .number, .identifier: return true
            default: return false
            }
        }
        return tokens[2].kind == .open(.brace) && tokens.last?.kind == .close(.brace)
            && !tokens[3..<(tokens.count - 1)].contains { kind in
                if case .close = kind.kind { return true }
                if case .open = kind.kind { return true }
                return false
            }
    }

    static func bracketDelta(_ kind: TokenKind) -> Int {
        switch kind {
        case .open: return 1
        case .close: return -1
        default: return 0
        }
    }

    static func maximumBracketDepth(_ tokens: [Token]) -> Int {
        var depth = 0
        var maximum = 0
        for token in tokens {
            depth += bracketDelta(token.kind)
            maximum = max(maximum, depth)
        }
        return maximum
    }

    /// Index of the bracket closing the one at `openAt`; `(` and `[` close with either `)` or `]`
    /// so that half-open intervals match.
    static func matchingClose(_ tokens: [Token], openAt: Int) -> Int? {
        var depth = 0
        for index in openAt..<tokens.count {
            depth += bracketDelta(tokens[index].kind)
            if depth == 0 { return index }
        }
        return nil
    }

    /// Positions of `=`, `<`, `≤`, ..., `\in` outside brackets and absolute-value bars.
    static func topLevelRelationPositions(_ tokens: [Token]) -> [Int] {
        var positions: [Int] = []
        var depth = 0
        var absoluteBars = 0
        for (index, token) in tokens.enumerated() {
            if depth == 0, absoluteBars % 2 == 0,
               relationOperator(token.kind) != nil || token.kind == .command("in") {
                positions.append(index)
            }
            depth += bracketDelta(token.kind)
            if token.kind == .symbol("|") { absoluteBars += 1 }
        }
        return positions
    }

    /// Splits at separators that are outside every bracket.
    static func splitTopLevel(_ tokens: [Token], at isSeparator: (TokenKind) -> Bool) -> [[Token]] {
        var parts: [[Token]] = []
        var current: [Token] = []
        var depth = 0
        for token in tokens {
            depth += bracketDelta(token.kind)
            if depth == 0 && isSeparator(token.kind) {
                parts.append(current)
                current = []
            } else {
                current.append(token)
            }
        }
        parts.append(current)
        return parts
    }

    /// Drops trailing units or remarks after a number (`5 \text{ cm}`, `12 square units`,
    /// `3 \text{cm}^2`). Returns nil when words remain elsewhere, or follow no number, which
    /// makes the answer a text answer (so "no solution" does not become "n·o").
    static func removingTrailingUnits(_ tokens: [Token]) -> [Token]? {
        guard let firstWord = tokens.firstIndex(where: { if case .word = $0.kind { return true } else { return false } }) else {
            return tokens
        }
        let prefixHasNumber = tokens[..<firstWord].contains { if case .number = $0.kind { return true } else { return false } }
        guard prefixHasNumber else { return nil }
        let tail = tokens[firstWord...]
        let tailIsUnits = tail.allSatisfy { token in
            switch token.kind {
            case .word, .number, .symbol("^"), .open(.brace), .close(.brace): return true
            default: return false
            }
        }
        return tailIsUnits ? Array(tokens[..<firstWord]) : nil
    }

    /// Letters and words only, with at least two letters written together (`no`, `yes`,
    /// `\text{odd}`): a word answer rather than a product of variables. (`x y` stays a product.)
    static func isWordAnswer(_ tokens: [Token]) -> Bool {
        var hasRun = false
        for (index, token) in tokens.enumerated() {
            switch token.kind {
            case .word:
                hasRun = true
            case .identifier(let letter) where letter.count == 1:
                if index > 0, !token.spaceBefore, case .identifier = tokens[index - 1].kind { hasRun = true }
            default:
                return false
            }
        }
        return hasRun
    }

    /// An answer made of words only, such as `\text{no solution}`: letters written together
    /// form one word, so `no solution` and `\text{no solution}` read the same.
    static func textAnswer(_ tokens: [Token]) -> AnswerValue? {
        var words: [String] = []
        for token in tokens {
            let piece: String
            switch token.kind {
            case .word(let word): piece = word
            case .identifier(let letter) where letter.count == 1: piece = letter
            default: return nil
            }
            if let last = words.last, !token.spaceBefore, case .identifier = token.kind, last.last?.isLetter == true {
                words[words.count - 1] = last + piece
            } else {
                words.append(piece)
            }
        }
        return .text(words.joined(separator: " "))
    }

    /// `1,000` and `12,345,678.5` are numbers, not lists: groups of exactly three digits after
    /// a first group of one to three, with no spaces (math-verify reads them the same way).
    static func mergingThousandsSeparators(_ tokens: [Token]) -> [Token] {
        var start = 0
        if tokens.first?.kind == .symbol("-") { start = 1 }
        let body = tokens[start...]
        guard body.count >= 3, body.count % 2 == 1 else { return tokens }
        var digits = ""
        for (offset, token) in body.enumerated() {
            if offset % 2 == 1 {
                guard token.kind == .symbol(","), !token.spaceBefore else { return tokens }
                continue
            }
            guard case .number(let literal) = token.kind, offset == 0 || !token.spaceBefore else { return tokens }
            let isLast = offset == body.count - 1
            let integerPart = literal.split(separator: ".", omittingEmptySubsequences: false).first ?? ""
            if offset == 0 {
                guard !literal.contains("."), (1...3).contains(literal.count) else { return tokens }
            } else {
                guard integerPart.count == 3, isLast || !literal.contains(".") else { return tokens }
            }
            digits += literal
        }
        var merged = Array(tokens[..<start])
        merged.append(Token(kind: .number(digits), spaceBefore: false))
        return merged
    }
}
