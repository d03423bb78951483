/// The expression tree the grader evaluates.
///
/// Sums and products are n-ary so that a long chain such as `1+1+...+1` stays shallow: the tree's
/// depth is bounded by the bracket and exponent nesting that `AnswerParser` allows, which keeps
/// every recursive walk over it (evaluation, printing, deallocation) within a small stack.
indirect enum Expr: Hashable, Sendable {
    case number(Rational)
    case symbol(String)
    case pi
    case euler
    case infinity
    case sum([Expr])
    case product([Expr])
    case negate(Expr)
    case quotient(Expr, Expr)
    case power(Expr, Expr)
    /// `index`-th root; `\sqrt{x}` has index 2.
    case root(Expr, index: Expr)
    case factorial(Expr)
    case function(MathFunction, Expr)
    /// `\log_{base} x`.
    case logarithm(base: Expr, Expr)
    case binomial(Expr, Expr)
    case absolute(Expr)
}

/// Elementary functions with one argument.
enum MathFunction: String, Hashable, Sendable {
    case sin, cos, tan, sec, csc, cot, arcsin, arccos, arctan, sinh, cosh, tanh, ln, exp
    /// `\log` without a base is base 10, as in math-verify (sympy's `log(x, 10)`).
    case log10 = "log"
}

/// Comparison operators in answers such as `x \le 3`.
enum RelationOperator: String, Hashable, Sendable {
    case equal = "="
    case less = "<"
    case lessOrEqual = "≤"
    case greater = ">"
    case greaterOrEqual = "≥"
    case notEqual = "≠"
}

/// A parsed answer: what the grader compares.
indirect enum AnswerValue: Hashable, Sendable {
    case expression(Expr)
    /// A relation that is not simply `variable = value` (that one is reduced to its value).
    case relation(Expr, RelationOperator, Expr)
    /// `(a, b)`, `[a, b)`, `(a, b, c)`: brackets matter; two items form an interval or a pair.
    case sequence(open: Bracket, items: [AnswerValue], close: Bracket)
    /// `\{a, b\}` (`isBareList == false`) or `a, b` (`isBareList == true`): order does not matter.
    case set([AnswerValue], isBareList: Bool)
    /// `A \cup B`: order of the parts does not matter.
    case union([AnswerValue])
    /// Words that are not mathematics (`yes`, `\text{odd}`), compared as lower-cased text.
    case text(String)
}

extension Expr {
    /// A canonical spelling used for structural comparison when numeric evaluation cannot decide
    /// (for example both sides overflow, as `10^{10^{10}}` does).
    func canonicalText(budget: inout WorkBudget) -> String {
        guard budget.spend(1) else { return "…" }
        switch self {
        case .number(let value): return value.description
        case .symbol(let name): return name
        case .pi: return "π"
        case .euler: return "e"
        case .infinity: return "∞"
        case .sum(let terms): return "(" + terms.map { $0.canonicalText(budget: &budget) }.joined(separator: "+") + ")"
        case .product(let factors): return "(" + factors.map { $0.canonicalText(budget: &budget) }.joined(separator: "*") + ")"
        case .negate(let inner): return "(-" + inner.canonicalText(budget: &budget) + ")"
        case .quotient(let top, let bottom): return "(" + top.canonicalText(budget: &budget) + "/" + bottom.canonicalText(budget: &budget) + ")"
        case .power(let base, let exponent): return "(" + base.canonicalText(budget: &budget) + "^" + exponent.canonicalText(budget: &budget) + ")"
        case .root(let radicand, let index): return "root(" + radicand.canonicalText(budget: &budget) + "," + index.canonicalText(budget: &budget) + ")"
        case .factorial(let inner): return "(" + inner.canonicalText(budget: &budget) + ")!"
        case .function(let function, let argument): return function.rawValue + "(" + argument.canonicalText(budget: &budget) + ")"
        case .logarithm(let base, let argument): return "log(" + base.canonicalText(budget: &budget) + "," + argument.canonicalText(budget: &budget) + ")"
        case .binomial(let n, let k): return "binom(" + n.canonicalText(budget: &budget) + "," + k.canonicalText(budget: &budget) + ")"
        case .absolute(let inner): return "|" + inner.canonicalText(budget: &budget) + "|"
        }
    }

    /// The variable names that occur in the expression.
    func collectSymbols(into symbols: inout Set<String>) {
        switch self {
        case .symbol(let name): symbols.insert(name)
        case .number, .pi, .euler, .infinity: break
        case .sum(let items), .product(let items): for item in items { item.collectSymbols(into: &symbols) }
        case .negate(let inner), .factorial(let inner), .function(_, let inner), .absolute(let inner):
            inner.collectSymbols(into: &symbols)
        case .quotient(let a, let b), .power(let a, let b), .root(let a, let b), .logarithm(let a, let b), .binomial(let a, let b):
            a.collectSymbols(into: &symbols)
            b.collectSymbols(into: &symbols)
        }
    }

    var containsInfinity: Bool {
        switch self {
        case .infinity: return true
        case .number, .symbol, .pi, .euler: return false
        case .sum(let items), .product(let items): return items.contains { $0.containsInfinity }
        case .negate(let inner), .factorial(let inner), .function(_, let inner), .absolute(let inner):
            return inner.containsInfinity
        case .quotient(let a, let b), .power(let a, let b), .root(let a, let b), .logarithm(let a, let b), .binomial(let a, let b):
            return a.containsInfinity || b.containsInfinity
        }
    }

    /// +1 for `∞` and `+∞`, −1 for `-∞`, nil for anything else.
    var infinitySign: Int? {
        switch self {
        case .infinity: return 1
        case .negate(let inner): return inner.infinitySign.map { -$0 }
        case .sum(let items) where items.count == 1: return items[0].infinitySign
        case .product(let items) where items.count == 1: return items[0].infinitySign
        default: return nil
        }
    }
}
