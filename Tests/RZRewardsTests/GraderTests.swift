import Testing
@testable import RZRewards

@Suite("Math grader semantics")
struct GraderTests {
    let grader = MathGrader()

    /// (a, b, equivalent): each line is one normalisation or comparison rule.
    static let cases: [(String, String, Bool)] = [
        // Normalisation.
        ("\\text{5}", "5", true),
        ("\\text{-53}", "-53", true),
        ("\\text{-53}", "53", false),
        ("\\text{+7}", "7", true),
        ("$5$", "5", true),
        ("\\left(1, 2\\right)", "(1,2)", true),
        ("1\\!000", "1000", true),
        ("2\\,x", "2x", true),
        ("  2 x + 1 ", "2x+1", true),
        ("5\\text{ cm}", "5", true),
        ("12 \\text{ square units}", "12", true),
        ("3 \\text{cm}^2", "3", true),
        ("9\\,\\text{m}", "9", true),
        ("90^\\circ", "90", true),
        ("90^{\\circ}", "90", true),
        ("50\\%", "50", true),
        ("50\\%", "0.5", true),
        ("50\\%", "5", false),
        ("5\\%", "0.5\\%", false),
        ("1,000", "1000", true),
        ("1{,}000", "1000", true),
        ("1, 000", "1000", false),
        ("\\dfrac{3}{4}", "\\frac{3}{4}", true),
        ("\\tfrac34", "0.75", true),
        ("\\frac12", "\\frac{1}{2}", true),
        ("\\frac1{2}", "0.5", true),
        ("3/4", "0.75", true),
        ("\\sqrt2", "\\sqrt{2}", true),
        ("\\sqrt{8}", "2\\sqrt{2}", true),
        ("\\pi", "3.14", false),
        ("2\\pi", "\\pi+\\pi", true),
        ("0.5", "\\frac{1}{2}", true),
        ("0.333", "\\frac{1}{3}", false),
        ("5.0", "5", true),
        ("5.00", "5", true),
        ("x = 5", "5", true),
        ("x=5", "5", true),
        ("y = 2x + 1", "2x+1", true),
        ("2\\frac{1}{2}", "\\frac{5}{2}", true),
        ("-2\\frac{1}{2}", "-2.5", true),
        ("\\$12.50", "12.5", true),
        ("−3", "-3", true),
        ("\\text{Yes}", "yes", true),
        // Exact numbers.
        ("123456789012345678901234567890", "123456789012345678901234567891", false),
        ("\\frac{10^{30}+1}{10^{30}}", "1", false),
        ("2^{100}", "1267650600228229401496703205376", true),
        ("10!", "3628800", true),
        ("\\binom{10}{3}", "120", true),
        ("1:2", "\\frac12", true),
        // Tuples, intervals, sets.
        ("(1, 2)", "(1,2)", true),
        ("(1,2)", "(2,1)", false),
        ("(1,2)", "[1,2]", false),
        ("[1,2)", "[1,2)", true),
        ("[1,2)", "(1,2]", false),
        ("(-\\infty, 0)", "(-\\infty,0)", true),
        ("(-\\infty, 0)", "(\\infty, 0)", false),
        ("x < 0", "(-\\infty, 0)", true),
        ("0 \\le x < 1", "[0, 1)", true),
        ("\\{1,2,3\\}", "\\{3,2,1\\}", true),
        ("\\{1,2,3\\}", "\\{1,2\\}", false),
        ("1, 2", "2, 1", true),
        ("(1,2,3)", "1,2,3", true),
        ("[0,1]\\cup[2,3]", "[2,3]\\cup[0,1]", true),
        ("[0,1]\\cup[2,3]", "[0,1]\\cup[2,4]", false),
        ("\\{5\\}", "5", true),
        ("\\pm 2", "2, -2", true),
        // Expressions.
        ("2x+1", "1+2x", true),
        ("2x+1", "2x-1", false),
        ("x^2-1", "(x-1)(x+1)", true),
        ("\\frac{x^2-1}{x-1}", "x+1", true),
        ("|x|", "x", false),
        ("\\sqrt{x^2}", "|x|", true),
        ("\\sin^2 x + \\cos^2 x", "1", true),
        ("e^{\\ln 2}", "2", true),
        ("\\log_2 32", "5", true),
        ("a^2 b", "b a^2", true),
        ("x_1 + x_2", "x_2 + x_1", true),
        ("x_1", "x_2", false),
        ("\\theta", "\\phi", false),
        // Text.
        ("\\text{no solution}", "no solution", true),
        ("\\text{odd}", "\\text{even}", false),
        // Never equivalent.
        ("", "", false),
        ("   ", "5", false),
        ("\\frac{1}{0}", "\\frac{2}{0}", false),
    ]

    @Test("normalisation and comparison rules", arguments: cases.indices)
    func rule(_ index: Int) {
        let (a, b, expected) = Self.cases[index]
        #expect(grader.equivalent(a, b) == expected, "\(a) vs \(b)")
        #expect(grader.equivalent(b, a) == expected, "\(b) vs \(a)")
    }

    @Test("the result says how it was decided")
    func gradeMethod() {
        #expect(grader.grade("", "5").method == .emptyAnswer)
        #expect(grader.grade("x", "x").method == .identicalText)
        #expect(grader.grade("\\dfrac{1}{2}", "\\frac{1}{2}").method == .identicalText)
        #expect(grader.grade("0.5", "\\frac12").method == .mathematical)
        #expect(grader.grade("\\unknown{1}", "1").method == .textOnly)
        let long = String(repeating: "1", count: 3_000)
        #expect(grader.grade(long, long + " ").method == .identicalText)
        #expect(grader.grade(long, long + "2").method == .textOnly)
    }

    @Test("a tiny work budget makes comparisons give up (false), never crash")
    func tinyBudget() {
        let starved = MathGrader(limits: GraderLimits(workBudget: 10))
        let result = starved.grade("x^2-1", "(x-1)(x+1)")
        #expect(!result.isEquivalent)
        #expect(result.exhaustedBudget)
        #expect(MathGrader().grade("x^2-1", "(x-1)(x+1)").isEquivalent)
    }

    @Test("the free function uses the default limits")
    func freeFunction() {
        #expect(equivalent("\\frac{2}{4}", "0.5"))
        #expect(!equivalent("1", "2"))
    }
}

@Suite("Grader limits")
struct GraderLimitsTests {
    @Test("extreme limit values are clamped, never trap")
    func extremeLimits() {
        let huge = MathGrader(limits: GraderLimits(maxAnswerLength: .max, maxNestingDepth: .max, workBudget: .max,
                                                   maxExactBits: .max, maxExponent: .max, maxFactorialArgument: .max))
        #expect(huge.equivalent("2^{100}", "1267650600228229401496703205376"))
        #expect(!huge.equivalent("x^{1000000000}", "x^{1000000000}+1"))
        let negative = MathGrader(limits: GraderLimits(maxAnswerLength: -1, maxNestingDepth: -1, workBudget: -1,
                                                       maxExactBits: -1, maxExponent: -1, maxFactorialArgument: -1))
        #expect(negative.equivalent("7", "7"))
        #expect(!negative.equivalent("7", "7.0"))
    }

    @Test("limits round-trip through JSON")
    func codable() throws {
        let limits = GraderLimits(workBudget: 12_345)
        #expect(try JSONDecoder().decode(GraderLimits.self, from: JSONEncoder().encode(limits)) == limits)
    }
}

import Foundation
