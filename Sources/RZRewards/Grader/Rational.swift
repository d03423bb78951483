import BigInt
import Foundation

/// An exact rational number `numerator / denominator` in lowest terms with a positive denominator.
///
/// The grader compares numeric answers exactly (so `0.5`, `1/2` and `\frac{2}{4}` agree while
/// `0.333` and `1/3` do not). Arithmetic that could grow without bound (products, powers) is
/// guarded by the caller's bit budget, see `ExactArithmetic`.
struct Rational: Hashable, Sendable, CustomStringConvertible {
    let numerator: BigInt
    let denominator: BigInt

    /// Builds a reduced rational; returns nil for a zero denominator.
    init?(_ numerator: BigInt, _ denominator: BigInt) {
        guard !denominator.isZero else { return nil }
        let divisor = numerator.greatestCommonDivisor(with: denominator)
        var top = divisor.isZero ? numerator : numerator / divisor
        var bottom = divisor.isZero ? denominator : denominator / divisor
        if bottom.sign == .minus {
            top = -top
            bottom = -bottom
        }
        self.numerator = top
        self.denominator = bottom
    }

    init(integer: BigInt) {
        numerator = integer
        denominator = 1
    }

    init(_ value: Int) {
        numerator = BigInt(value)
        denominator = 1
    }

    static let zero = Rational(0)
    static let one = Rational(1)

    /// The value times 10⁶, rounded half away from zero: what math-verify compares numbers by (6 decimal places).
    var roundedToMillionths: BigInt {
        let twice = BigInt(2) * denominator
        let magnitude = (BigInt(2_000_000) * BigInt(numerator.magnitude) + denominator) / twice
        return numerator.sign == .minus ? -magnitude : magnitude
    }

    /// Whether the value is a finite decimal with digits after the point (the denominator is 2^a·5^b, not 1): how an
    /// answer written as `8.346939` parses.
    var isFiniteDecimalFraction: Bool {
        guard denominator > 1 else { return false }
        var d = denominator
        for p in [BigInt(2), BigInt(5)] { while d % p == 0 { d /= p } }
        return d == 1
    }

    var isZero: Bool { numerator.isZero }
    var isInteger: Bool { denominator == 1 }
    var isNegative: Bool { numerator.sign == .minus && !numerator.isZero }

    /// Size in bits of the larger of numerator and denominator: the cost measure for budgets.
    var bitSize: Int { max(numerator.magnitude.bitWidth, denominator.magnitude.bitWidth) }

    var description: String { isInteger ? "\(numerator)" : "\(numerator)/\(denominator)" }

    static func + (lhs: Rational, rhs: Rational) -> Rational {
        // Denominators are positive, so the result's denominator is never zero.
        Rational(lhs.numerator * rhs.denominator + rhs.numerator * lhs.denominator,
                 lhs.denominator * rhs.denominator) ?? .zero
    }

    static prefix func - (value: Rational) -> Rational {
        Rational(-value.numerator, value.denominator) ?? .zero
    }

    static func - (lhs: Rational, rhs: Rational) -> Rational { lhs + (-rhs) }

    static func * (lhs: Rational, rhs: Rational) -> Rational {
        Rational(lhs.numerator * rhs.numerator, lhs.denominator * rhs.denominator) ?? .zero
    }

    /// Division; nil when dividing by zero.
    func divided(by other: Rational) -> Rational? {
        Rational(numerator * other.denominator, denominator * other.numerator)
    }

    /// log2 of the larger of |numerator| and denominator (0 for zero), from the top bits.
    var log2Magnitude: Double {
        let top = Rational.leadingBits(numerator.magnitude)
        let bottom = Rational.leadingBits(denominator.magnitude)
        let topLog = top.significand > 0 ? log2(top.significand) + Double(top.exponent) : 0
        let bottomLog = bottom.significand > 0 ? log2(bottom.significand) + Double(bottom.exponent) : 0
        return max(topLog, bottomLog)
    }

    /// The nearest `Double`, computed from the top bits so huge numerators and denominators do not
    /// overflow to inf/inf (= nan) the way `Double(p) / Double(q)` would.
    var doubleValue: Double {
        let top = Rational.leadingBits(numerator.magnitude)
        let bottom = Rational.leadingBits(denominator.magnitude)
        let magnitude = (top.significand / bottom.significand)
            * Rational.powerOfTwo(top.exponent - bottom.exponent)
        return numerator.sign == .minus ? -magnitude : magnitude
    }

    /// `value ≈ significand · 2^exponent` with the significand taken from the top 63 bits.
    private static func leadingBits(_ value: BigUInt) -> (significand: Double, exponent: Int) {
        let width = value.bitWidth
        if width <= 63 {
            return (Double(UInt64(value.words.first ?? 0)), 0)
        }
        let shifted = value >> (width - 63)
        return (Double(UInt64(shifted.words.first ?? 0)), width - 63)
    }

    /// 2^exponent without overflow traps: saturates to inf or 0 for huge exponents.
    private static func powerOfTwo(_ exponent: Int) -> Double {
        let clamped = max(-2_000, min(2_000, exponent))
        return Double(sign: .plus, exponent: clamped, significand: 1)
    }

    /// Parses a plain decimal literal such as `12`, `0.25`, `.5` or `3.` exactly.
    init?(decimalLiteral text: Substring) {
        var integerDigits = Substring("")
        var fractionDigits = Substring("")
        if let dot = text.firstIndex(of: ".") {
            integerDigits = text[text.startIndex..<dot]
            fractionDigits = text[text.index(after: dot)...]
        } else {
            integerDigits = text
        }
        guard !(integerDigits.isEmpty && fractionDigits.isEmpty),
              integerDigits.allSatisfy(\.isASCIIDigit), fractionDigits.allSatisfy(\.isASCIIDigit),
              let digits = BigInt(String(integerDigits) + String(fractionDigits), radix: 10)
        else { return nil }
        let scale = BigInt(10).power(fractionDigits.count)
        guard let value = Rational(digits, scale) else { return nil }
        self = value
    }
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
    var isASCIILetter: Bool { isASCII && isLetter }
}
