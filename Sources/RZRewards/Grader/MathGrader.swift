/// Caps that bound the work one comparison can do, whatever its input.
///
/// The defaults leave real answers untouched (answers are short, shallow and have small numbers)
/// and keep the worst case to a few milliseconds; see `RewardsBenchmark` for measurements.
public struct GraderLimits: Codable, Sendable, Equatable {
    /// Answers longer than this (UTF-8 bytes) are compared as whitespace-normalised text only.
    public var maxAnswerLength: Int
    /// Deepest bracket nesting that the parser follows; its recursion (several calls per level)
    /// is capped at eight times this.
    public var maxNestingDepth: Int
    /// Work units for one comparison: tokens, parse steps, evaluation steps, big-integer words.
    public var workBudget: Int
    /// Largest exact intermediate value, in bits (4096 bits is 1233 decimal digits), before
    /// falling back to floating point.
    public var maxExactBits: Int
    /// Largest integer exponent evaluated exactly.
    public var maxExponent: Int
    /// Largest `n` for an exact `n!` or `\binom{n}{k}`.
    public var maxFactorialArgument: Int

    public init(
        maxAnswerLength: Int = 2_000,
        maxNestingDepth: Int = 48,
        workBudget: Int = 2_000_000,
        maxExactBits: Int = 4_096,
        maxExponent: Int = 4_096,
        maxFactorialArgument: Int = 1_000
    ) {
        self.maxAnswerLength = maxAnswerLength
        self.maxNestingDepth = maxNestingDepth
        self.workBudget = workBudget
        self.maxExactBits = maxExactBits
        self.maxExponent = maxExponent
        self.maxFactorialArgument = maxFactorialArgument
    }
}

extension GraderLimits {
    /// The limits with every field clamped to a range where the grader's arithmetic on them
    /// cannot overflow (callers may decode arbitrary numbers from a settings file).
    var clamped: GraderLimits {
        func clamp(_ value: Int, _ upper: Int) -> Int { max(0, min(value, upper)) }
        return GraderLimits(
            maxAnswerLength: clamp(maxAnswerLength, 1 << 26),
            maxNestingDepth: clamp(maxNestingDepth, 1 << 12),
            workBudget: clamp(workBudget, 1 << 40),
            maxExactBits: clamp(maxExactBits, 1 << 24),
            maxExponent: clamp(maxExponent, 1 << 24),
            maxFactorialArgument: clamp(maxFactorialArgument, 1 << 20)
        )
    }
}

/// How a comparison was decided.
public enum GradeMethod: String, Codable, Sendable, Equatable {
    /// One side is empty (or only whitespace): never equivalent.
    case emptyAnswer = "empty_answer"
    /// The strings are identical, or identical after LaTeX normalisation.
    case identicalText = "identical_text"
    /// Too long, or not parseable as mathematics: normalised text comparison only.
    case textOnly = "text_only"
    /// Parsed and compared as numbers, expressions, tuples, intervals or sets.
    case mathematical
}

/// The verdict of `MathGrader.grade`.
public struct GradeResult: Sendable, Equatable {
    /// The verdict.
    public var isEquivalent: Bool
    /// Which path decided it.
    public var method: GradeMethod
    /// The work budget ran out; the verdict is then "not shown equivalent".
    public var exhaustedBudget: Bool
}

/// Decides whether two final answers (the contents of `\boxed{}`) are mathematically equivalent.
///
/// Steps: identical strings agree; answers longer than `maxAnswerLength` compare as text; both
/// are tokenised (LaTeX normalisation), then parsed into numbers, expressions, tuples, intervals,
/// sets or text. Numbers compare exactly as rationals (`0.5 = \frac12`, `0.333 ≠ \frac13`),
/// expressions with variables by evaluation at six deterministic points (exactly where possible,
/// else with relative tolerance 1e-9), tuples and intervals element-wise with matching brackets,
/// sets and bare lists (`1, 2`, or `1 \text{ or } 2`) regardless of order. As in math-verify, a number written as a decimal
/// equals a value that rounds to it at 6 decimal places (`8.346939 = \frac{409}{49}`), and unbalanced LaTeX equals
/// only its own text. A `%` on one side only also accepts the value
/// divided by 100 (`50\%` equals both `50` and `0.5`, as in math-verify). Leading `x =` is dropped.
///
/// The comparison is symmetric, deterministic and bounded by `GraderLimits`; it never traps.
public struct MathGrader: Sendable {
    /// Caps on input size and work (clamped to safe ranges when used).
    public var limits: GraderLimits

    public init(limits: GraderLimits = GraderLimits()) {
        self.limits = limits
    }

    /// Whether `a` and `b` are the same answer (symmetric; empty answers are never equivalent).
    public func equivalent(_ a: String, _ b: String) -> Bool {
        grade(a, b).isEquivalent
    }

    /// `equivalent(a, b)` with how it was decided.
    public func grade(_ a: String, _ b: String) -> GradeResult {
        let limits = self.limits.clamped
        let first = trimmingWhitespace(a)
        let second = trimmingWhitespace(b)
        if first.isEmpty || second.isEmpty {
            return GradeResult(isEquivalent: false, method: .emptyAnswer, exhaustedBudget: false)
        }
        if first == second {
            return GradeResult(isEquivalent: true, method: .identicalText, exhaustedBudget: false)
        }
        if first.utf8.count > limits.maxAnswerLength || second.utf8.count > limits.maxAnswerLength {
            let equal = MathGrader.plainTextEqual(first, second)
            return GradeResult(isEquivalent: equal, method: .textOnly, exhaustedBudget: false)
        }

        if !MathGrader.bracesBalanced(first) || !MathGrader.bracesBalanced(second) {
            // As math-verify, which cannot parse it: unbalanced LaTeX (`\frac{1}{2`) is only equal to the same text.
            return GradeResult(isEquivalent: MathGrader.plainTextEqual(first, second), method: .textOnly, exhaustedBudget: false)
        }
        var budget = WorkBudget(units: limits.workBudget)
        guard case .success(let tokensA) = AnswerTokenizer.tokenize(String(first), budget: &budget),
              case .success(let tokensB) = AnswerTokenizer.tokenize(String(second), budget: &budget)
        else {
            let equal = MathGrader.plainTextEqual(first, second)
            return GradeResult(isEquivalent: equal, method: .textOnly, exhaustedBudget: budget.isExhausted)
        }
        let kindsA = tokensA.tokens.map(\.kind)
        let kindsB = tokensB.tokens.map(\.kind)
        if kindsA.isEmpty || kindsB.isEmpty {
            return GradeResult(isEquivalent: false, method: .emptyAnswer, exhaustedBudget: false)
        }
        if kindsA == kindsB && tokensA.hadPercent == tokensB.hadPercent {
            return GradeResult(isEquivalent: true, method: .identicalText, exhaustedBudget: false)
        }

        var parser = AnswerParser(limits: limits, budget: budget)
        let valueA = parser.parseAnswer(tokensA.tokens)
        let valueB = parser.parseAnswer(tokensB.tokens)
        guard let valueA, let valueB else {
            return GradeResult(isEquivalent: false, method: .textOnly, exhaustedBudget: parser.budget.isExhausted)
        }

        var comparer = AnswerComparer(evaluator: ExpressionEvaluator(limits: limits, budget: parser.budget))
        var equal = comparer.equivalent(valueA, valueB)
        if !equal && tokensA.hadPercent != tokensB.hadPercent {
            // "50%" on one side only: also accept the fraction 0.5 on the other.
            let (percentSide, otherSide) = tokensA.hadPercent ? (valueA, valueB) : (valueB, valueA)
            if case .expression(let percent) = percentSide {
                let hundredth = Expr.quotient(percent, .number(Rational(100)))
                equal = comparer.equivalent(.expression(hundredth), otherSide)
            }
        }
        return GradeResult(isEquivalent: equal, method: .mathematical, exhaustedBudget: comparer.isBudgetExhausted)
    }

    /// Whether every `{` has its `}` (escaped `\{` and `\}`, set braces, are not groups).
    static func bracesBalanced(_ text: Substring) -> Bool {
        var depth = 0
        var escaped = false
        for byte in text.utf8 {
            if escaped {
                escaped = false
                continue
            }
            switch byte {
            case UInt8(ascii: "\\"): escaped = true
            case UInt8(ascii: "{"): depth += 1
            case UInt8(ascii: "}"):
                depth -= 1
                if depth < 0 { return false }
            default: break
            }
        }
        return depth == 0
    }

    /// Whether the texts are equal ignoring whitespace and ASCII letter case: the comparison when
    /// parsing is not attempted. One pass over the UTF-8 bytes, so a megabyte takes about a
    /// millisecond (non-ASCII bytes, including non-ASCII spaces, must match exactly).
    static func plainTextEqual(_ a: Substring, _ b: Substring) -> Bool {
        var left = a.utf8.makeIterator()
        var right = b.utf8.makeIterator()
        func nextSignificant(_ iterator: inout Substring.UTF8View.Iterator) -> UInt8? {
            while let byte = iterator.next() {
                switch byte {
                case 9, 10, 11, 12, 13, 32: continue
                case 65...90: return byte + 32
                default: return byte
                }
            }
            return nil
        }
        while true {
            let x = nextSignificant(&left)
            let y = nextSignificant(&right)
            if x != y { return false }
            if x == nil { return true }
        }
    }
}

/// `MathGrader().equivalent(a, b)` with the default limits.
public func equivalent(_ a: String, _ b: String) -> Bool {
    MathGrader().equivalent(a, b)
}
