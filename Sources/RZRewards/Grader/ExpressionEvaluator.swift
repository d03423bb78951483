import BigInt
import Foundation

/// Evaluates an `Expr` exactly (rationals) where that is possible within the limits, and in
/// `Double` otherwise. Both charge the shared work budget; big-integer operations charge in
/// proportion to their operand sizes, and no intermediate result may exceed
/// `GraderLimits.maxExactBits`, so `10^{10^{10}}` or `1000000!` give up instead of hanging.
struct ExpressionEvaluator {
    let limits: GraderLimits
    var budget: WorkBudget

    // MARK: Exact

    /// The exact value, or nil when it is irrational, undefined, too large or over budget.
    mutating func exactValue(_ expression: Expr, _ variables: [String: Rational]) -> Rational? {
        // Each exact step allocates big integers: a few times dearer than a Double step.
        guard budget.spend(ExpressionEvaluator.exactStepCost) else { return nil }
        switch expression {
        case .number(let value):
            return value
        case .symbol(let name):
            return variables[name]
        case .pi, .euler, .infinity, .function, .logarithm:
            return nil
        case .sum(let terms):
            var total = Rational.zero
            for term in terms {
                guard let value = exactValue(term, variables), chargeArithmetic(total, value) else { return nil }
                total = total + value
            }
            return total
        case .product(let factors):
            var total = Rational.one
            for factor in factors {
                guard let value = exactValue(factor, variables), chargeArithmetic(total, value) else { return nil }
                total = total * value
            }
            return total
        case .negate(let inner):
            return exactValue(inner, variables).map { -$0 }
        case .quotient(let top, let bottom):
            guard let numerator = exactValue(top, variables), let denominator = exactValue(bottom, variables),
                  chargeArithmetic(numerator, denominator) else { return nil }
            return numerator.divided(by: denominator)
        case .power(let base, let exponent):
            guard let baseValue = exactValue(base, variables), let exponentValue = exactValue(exponent, variables) else {
                return nil
            }
            return exactPower(baseValue, exponentValue)
        case .root(let radicand, let index):
            guard let radicandValue = exactValue(radicand, variables), let indexValue = exactValue(index, variables),
                  !indexValue.isZero, let reciprocal = Rational.one.divided(by: indexValue) else { return nil }
            return exactPower(radicandValue, reciprocal)
        case .factorial(let inner):
            guard let value = exactValue(inner, variables), value.isInteger, !value.isNegative,
                  let n = Int(exactly: value.numerator), n <= limits.maxFactorialArgument else { return nil }
            return exactFactorial(n)
        case .binomial(let top, let bottom):
            guard let nValue = exactValue(top, variables), let kValue = exactValue(bottom, variables),
                  nValue.isInteger, kValue.isInteger, !nValue.isNegative, !kValue.isNegative,
                  let n = Int(exactly: nValue.numerator), let k = Int(exactly: kValue.numerator),
                  n <= limits.maxFactorialArgument else { return nil }
            if k > n { return .zero }
            guard let numerator = exactFallingFactorial(n, count: min(k, n - k)),
                  let denominator = exactFactorial(min(k, n - k)),
                  chargeArithmetic(numerator, denominator) else { return nil }
            return numerator.divided(by: denominator)
        case .absolute(let inner):
            return exactValue(inner, variables).map { $0.isNegative ? -$0 : $0 }
        }
    }

    /// Charges one rational operation (sum, product or quotient) of `a` and `b`; false if the
    /// result could exceed `maxExactBits` or the budget runs out.
    private mutating func chargeArithmetic(_ a: Rational, _ b: Rational) -> Bool {
        let resultBits = a.bitSize + b.bitSize + 1
        let multiplications = 3 * (a.bitSize / 64 + 1) * (b.bitSize / 64 + 1)
        return resultBits <= limits.maxExactBits
            && budget.spend(ExpressionEvaluator.exactOperationCost + multiplications + ExpressionEvaluator.reductionCost(bits: resultBits))
    }

    /// Work units of visiting one node exactly, and the fixed part of one rational operation
    /// (allocations, a GCD and three products of one-word numbers). Calibrated with
    /// `RewardsBenchmark` so that one unit is roughly 10–20 ns in a release build.
    static let exactStepCost = 4
    static let exactOperationCost = 24

    /// Work units for reducing a fraction of `bits` bits to lowest terms. BigInt's GCD is Stein's
    /// binary algorithm: about 2·bits iterations, each touching every word of the operands. It is
    /// the dominant cost of exact arithmetic, so it is what the budget mostly counts.
    static func reductionCost(bits: Int) -> Int {
        (bits / 64 + 1) * (bits / 4 + 1)
    }

    /// `base^exponent` for an integer exponent, or for `p/q` when the `q`-th root is exact
    /// (only square roots are taken exactly; other roots fall back to floating point).
    private mutating func exactPower(_ base: Rational, _ exponent: Rational) -> Rational? {
        if exponent.isInteger {
            guard let power = Int(exactly: exponent.numerator), power.magnitude <= UInt(clamping: limits.maxExponent) else {
                // Only trivially sized results are exact for huge exponents.
                if base == .one { return .one }
                if base.isZero && !exponent.isNegative { return .zero }
                if base == -.one, let parity = exponent.numerator.magnitude.words.first {
                    return parity & 1 == 0 ? .one : -.one
                }
                return nil
            }
            let magnitude = Int(power.magnitude)
            // log2 of the result, computed in floating point so the estimate is tight (2^16384
            // has 16385 bits, not the 32768 that bit widths times the exponent would suggest).
            let estimatedBits = (Double(magnitude) * base.log2Magnitude).rounded(.up) + 1
            guard estimatedBits <= Double(limits.maxExactBits) else { return nil }
            let resultBits = Int(estimatedBits)
            guard resultBits <= limits.maxExactBits,
                  budget.spend(2 * (resultBits / 64 + 1) * (resultBits / 64 + 1) + ExpressionEvaluator.reductionCost(bits: resultBits))
            else { return nil }
            let numerator = base.numerator.power(magnitude)
            let denominator = base.denominator.power(magnitude)
            if power >= 0 { return Rational(numerator, denominator) }
            return Rational(denominator, numerator)
        }
        guard exponent.denominator == 2, !base.isNegative else { return nil }
        guard let root = exactSquareRoot(base) else { return nil }
        return exactPower(root, Rational(integer: exponent.numerator))
    }

    private mutating func exactSquareRoot(_ value: Rational) -> Rational? {
        guard value.bitSize <= limits.maxExactBits,
              budget.spend((value.bitSize / 64 + 1) * (value.bitSize / 64 + 1) * 8 + ExpressionEvaluator.reductionCost(bits: value.bitSize))
        else { return nil }
        let top = value.numerator.squareRoot()
        let bottom = value.denominator.squareRoot()
        guard top * top == value.numerator, bottom * bottom == value.denominator else { return nil }
        return Rational(top, bottom)
    }

    private mutating func exactFactorial(_ n: Int) -> Rational? {
        exactFallingFactorial(n, count: n)
    }

    /// n · (n−1) · … · (n−count+1), charged per step.
    private mutating func exactFallingFactorial(_ n: Int, count: Int) -> Rational? {
        var product = BigInt(1)
        var factor = n
        for _ in 0..<count {
            let bits = product.magnitude.bitWidth
            guard bits <= limits.maxExactBits, budget.spend(bits / 64 + 2) else { return nil }
            product *= BigInt(factor)
            factor -= 1
        }
        return Rational(integer: product)
    }

    // MARK: Floating point

    /// The value in `Double`; nil when undefined, complex, non-finite or over budget.
    mutating func floatValue(_ expression: Expr, _ variables: [String: Double]) -> Double? {
        guard budget.spend(1) else { return nil }
        let result: Double?
        switch expression {
        case .number(let value):
            result = value.doubleValue
        case .symbol(let name):
            result = variables[name]
        case .pi:
            result = Double.pi
        case .euler:
            result = 2.718_281_828_459_045
        case .infinity:
            result = nil
        case .sum(let terms):
            var total = 0.0
            for term in terms {
                guard let value = floatValue(term, variables) else { return nil }
                total += value
            }
            result = total
        case .product(let factors):
            var total = 1.0
            for factor in factors {
                guard let value = floatValue(factor, variables) else { return nil }
                total *= value
            }
            result = total
        case .negate(let inner):
            result = floatValue(inner, variables).map { -$0 }
        case .quotient(let top, let bottom):
            guard let numerator = floatValue(top, variables), let denominator = floatValue(bottom, variables),
                  denominator != 0 else { return nil }
            result = numerator / denominator
        case .power(let base, let exponent):
            guard let baseValue = floatValue(base, variables), let exponentValue = floatValue(exponent, variables) else {
                return nil
            }
            result = realPower(baseValue, exponentValue)
        case .root(let radicand, let index):
            guard let radicandValue = floatValue(radicand, variables), let indexValue = floatValue(index, variables),
                  indexValue != 0 else { return nil }
            // Odd integer roots of negative numbers are real: \sqrt[3]{-8} = -2.
            if radicandValue < 0, indexValue.rounded() == indexValue, abs(indexValue) < 1e15,
               Int64(indexValue) % 2 != 0 {
                result = -pow(-radicandValue, 1 / indexValue)
            } else {
                result = realPower(radicandValue, 1 / indexValue)
            }
        case .factorial(let inner):
            guard let value = floatValue(inner, variables), value >= 0, value.rounded() == value, value <= 170 else {
                return nil
            }
            result = tgamma(value + 1)
        case .binomial(let top, let bottom):
            guard let n = floatValue(top, variables), let k = floatValue(bottom, variables),
                  n >= 0, k >= 0, n.rounded() == n, k.rounded() == k, n <= 170 else { return nil }
            result = k > n ? 0 : (tgamma(n + 1) / (tgamma(k + 1) * tgamma(n - k + 1))).rounded()
        case .absolute(let inner):
            result = floatValue(inner, variables).map { abs($0) }
        case .function(let function, let argument):
            guard let x = floatValue(argument, variables) else { return nil }
            result = apply(function, x)
        case .logarithm(let base, let argument):
            guard let b = floatValue(base, variables), let x = floatValue(argument, variables),
                  b > 0, b != 1, x > 0 else { return nil }
            result = log(x) / log(b)
        }
        // Overflow and underflow both lose the value: x^{30000} at x = 3/7 is not 0, and
        // treating it as 0 would make it "equal" to x^{30001}.
        guard let value = result, value.isFinite, value == 0 || value.magnitude >= Double.leastNormalMagnitude else {
            return nil
        }
        return value
    }

    private func realPower(_ base: Double, _ exponent: Double) -> Double? {
        if base < 0 && exponent.rounded() != exponent {
            return nil
        }
        if base == 0 && exponent < 0 { return nil }
        let value = pow(base, exponent)
        // A zero from a non-zero base is an underflow, not a value.
        return value == 0 && base != 0 ? nil : value
    }

    private func apply(_ function: MathFunction, _ x: Double) -> Double? {
        switch function {
        case .sin: return sin(x)
        case .cos: return cos(x)
        case .tan: return tan(x)
        case .sec: return 1 / cos(x)
        case .csc: return 1 / sin(x)
        case .cot: return 1 / tan(x)
        case .arcsin: return abs(x) <= 1 ? asin(x) : nil
        case .arccos: return abs(x) <= 1 ? acos(x) : nil
        case .arctan: return atan(x)
        case .sinh: return sinh(x)
        case .cosh: return cosh(x)
        case .tanh: return tanh(x)
        case .ln: return x > 0 ? log(x) : nil
        case .log10: return x > 0 ? log10(x) : nil
        case .exp: return x < -700 ? nil : exp(x)
        }
    }

    // MARK: Constant folding

    /// Replaces constant subexpressions by their exact values where that is possible within the
    /// limits, so that structural comparison sees `10^{10000000000}` and `10^{10^{10}}` as equal.
    mutating func folded(_ expression: Expr) -> Expr {
        // Rebuilding the tree allocates at every node.
        guard budget.spend(ExpressionEvaluator.exactStepCost * 2) else { return expression }
        var symbols = Set<String>()
        expression.collectSymbols(into: &symbols)
        if symbols.isEmpty, !expression.containsInfinity, let value = exactValue(expression, [:]) {
            return .number(value)
        }
        switch expression {
        case .number, .symbol, .pi, .euler, .infinity: return expression
        case .sum(let terms): return .sum(terms.map { folded($0) })
        case .product(let factors): return .product(factors.map { folded($0) })
        case .negate(let inner): return .negate(folded(inner))
        case .quotient(let a, let b): return .quotient(folded(a), folded(b))
        case .power(let a, let b): return .power(folded(a), folded(b))
        case .root(let a, let index): return .root(folded(a), index: folded(index))
        case .factorial(let inner): return .factorial(folded(inner))
        case .function(let function, let argument): return .function(function, folded(argument))
        case .logarithm(let base, let argument): return .logarithm(base: folded(base), folded(argument))
        case .binomial(let a, let b): return .binomial(folded(a), folded(b))
        case .absolute(let inner): return .absolute(folded(inner))
        }
    }
}
