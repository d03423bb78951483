import Foundation

/// One problem of any family: its question, exact answer and worked solution, in the corpus formats.
public struct Problem: Sendable, Equatable, Hashable {
    public var family: ProblemFamily
    public var difficulty: Int
    public var question: String
    /// The answer as the grader compares it: an integer, or a fraction `n/m` in lowest terms.
    public var answer: String
    /// Steps ending in `\boxed{answer}`.
    public var workedSolution: String

    public var directSolution: String { "\\boxed{\(answer)}" }
    /// The Challenger's target: the question and its answer.
    public var challengerText: String { "<question>\(question)</question>\\boxed{\(answer)}" }
}

extension Problem {
    /// `a+b*c` (or `b*c+a`): the product first, then the sum.
    public static func orderOfOperations(a: Int, b: Int, c: Int, productFirst: Bool, level: Int) -> Problem {
        let question = productFirst ? "\(b)*\(c)+\(a)" : "\(a)+\(b)*\(c)"
        let p = b * c, r = a + p
        let worked = "\(b)*\(c)=\(p)," + (productFirst ? "\(p)+\(a)=\(r)" : "\(a)+\(p)=\(r)") + ",\\boxed{\(r)}"
        return Problem(family: .orderOfOperations, difficulty: level, question: question, answer: String(r), workedSolution: worked)
    }

    /// `bx+c=e` with e = b·x + c: subtract c, then divide by b.
    public static func linearEquation(x: Int, b: Int, c: Int, level: Int) -> Problem {
        let e = b * x + c
        let worked = "\(b)x=\(e)-\(c)=\(b * x),x=\(b * x)/\(b)=\(x),\\boxed{\(x)}"
        return Problem(family: .linearEquation, difficulty: level, question: "\(b)x+\(c)=\(e)", answer: String(x), workedSolution: worked)
    }

    /// `a/b+c/d`: cross-multiply, then reduce.
    public static func fraction(_ a: Int, _ b: Int, _ c: Int, _ d: Int, level: Int) -> Problem {
        let n = a * d + c * b, m = b * d
        let answer = Families.reduced(n, m)
        var worked = "\(a)*\(d)+\(c)*\(b)=\(n),\(b)*\(d)=\(m)"
        if answer != "\(n)/\(m)" { worked += ",\(n)/\(m)=\(answer)" }
        return Problem(family: .fraction, difficulty: level, question: "\(a)/\(b)+\(c)/\(d)", answer: answer,
                       workedSolution: worked + ",\\boxed{\(answer)}")
    }
}

extension MathProblem {
    public var general: Problem {
        Problem(family: family, difficulty: difficulty, question: question, answer: String(answer), workedSolution: workedSolution)
    }
}

/// The families beyond the binary ones, and the answer function the report uses.
enum Families {
    static func digit(_ rng: inout SplitMix) -> Int { 2 + Int(rng.next() % 8) }

    static func orderOfOperations(level: Int, rng: inout SplitMix) -> Problem {
        let a = MathCorpus.number(digits: level, rng: &rng)
        let b = digit(&rng), c = digit(&rng)
        return .orderOfOperations(a: a, b: b, c: c, productFirst: rng.next() % 2 == 0, level: level)
    }

    static func linearEquation(level: Int, rng: inout SplitMix) -> Problem {
        let x = MathCorpus.number(digits: level, rng: &rng)
        let b = digit(&rng)
        let c = MathCorpus.number(digits: 1 + Int(rng.next() % UInt64(level)), rng: &rng)
        return .linearEquation(x: x, b: b, c: c, level: level)
    }

    static let largestDenominator = [4, 6, 9, 12, 16]

    static func fraction(level: Int, rng: inout SplitMix) -> Problem {
        let top = largestDenominator[min(max(level, 1), largestDenominator.count) - 1]
        let b = 2 + Int(rng.next() % UInt64(top - 1)), d = 2 + Int(rng.next() % UInt64(top - 1))
        let a = 1 + Int(rng.next() % UInt64(b - 1)), c = 1 + Int(rng.next() % UInt64(d - 1))
        return .fraction(a, b, c, d, level: level)
    }

    static func gcd(_ x: Int, _ y: Int) -> Int { y == 0 ? abs(x) : gcd(y, x % y) }

    /// `n/m` in lowest terms, or an integer when m divides n.
    static func reduced(_ n: Int, _ m: Int) -> String {
        let g = max(1, gcd(n, m))
        return m / g == 1 ? String(n / g) : "\(n / g)/\(m / g)"
    }

    static let names = ["Tom", "Ann", "Sam", "Mia", "Ben", "Eva"]
    static let things = ["apples", "pens", "coins", "cards", "books", "stamps"]

    /// "Tom has 45 apples and buys 27 more. How many apples does Tom have now?" (or gives some away):
    /// the worked solution names the operation, then works it as the arithmetic families do.
    static func wordProblem(level: Int, rng: inout SplitMix) -> Problem {
        let name = names[Int(rng.next() % UInt64(names.count))], thing = things[Int(rng.next() % UInt64(things.count))]
        let adds = rng.next() % 2 == 0
        let a = MathCorpus.number(digits: level, rng: &rng)
        let b = adds ? MathCorpus.number(digits: 1 + Int(rng.next() % UInt64(level)), rng: &rng) : Int(rng.next() % UInt64(a + 1))
        let question = adds
            ? "\(name) has \(a) \(thing) and buys \(b) more. How many \(thing) does \(name) have now?"
            : "\(name) has \(a) \(thing) and gives away \(b). How many \(thing) does \(name) have left?"
        let inner = MathProblem(family: adds ? .addition : .subtraction, difficulty: level, a: a, b: b)
        return Problem(family: .wordProblem, difficulty: level, question: question, answer: String(inner.answer),
                       workedSolution: inner.question + ":" + inner.workedSolution)
    }

    // MARK: The answer of a question (reports only)

    static func trueAnswer(_ q: String) -> String? {
        if let r = wordAnswer(q) { return r }
        if let r = linearAnswer(q) { return r }
        if let r = fractionAnswer(q) { return r }
        return arithmeticAnswer(q)
    }

    static func integer(_ s: Substring) -> Int? {
        guard !s.isEmpty, s.count <= 15, s.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return Int(s)
    }

    /// Integers joined by `+`, `-` and `*`, with `*` binding tighter (at least one operator).
    static func arithmeticAnswer(_ q: String) -> String? {
        var numbers: [Int] = [], operators: [Character] = []
        var current = ""
        for ch in q {
            if ch.isASCII && ch.isNumber {
                current.append(ch)
            } else if "+-*".contains(ch) {
                guard let v = integer(Substring(current)) else { return nil }
                numbers.append(v)
                operators.append(ch)
                current = ""
            } else {
                return nil
            }
        }
        guard let last = integer(Substring(current)), !operators.isEmpty else { return nil }
        numbers.append(last)
        // Products first, then sums and differences from left to right.
        var terms = [numbers[0]], signs = [1]
        for (op, v) in zip(operators, numbers.dropFirst()) {
            if op == "*" {
                let (p, overflow) = terms[terms.count - 1].multipliedReportingOverflow(by: v)
                if overflow { return nil }
                terms[terms.count - 1] = p
            } else {
                terms.append(v)
                signs.append(op == "-" ? -1 : 1)
            }
        }
        return String(zip(signs, terms).reduce(0) { $0 + $1.0 * $1.1 })
    }

    static func linearAnswer(_ q: String) -> String? {
        let sides = q.split(separator: "=", omittingEmptySubsequences: false)
        guard sides.count == 2, let e = integer(sides[1]) else { return nil }
        let left = sides[0].split(separator: "+", omittingEmptySubsequences: false)
        guard left.count == 2, left[0].hasSuffix("x"), let b = integer(left[0].dropLast()), b != 0, let c = integer(left[1]),
              (e - c) % b == 0 else { return nil }
        return String((e - c) / b)
    }

    static func fractionAnswer(_ q: String) -> String? {
        let terms = q.split(separator: "+", omittingEmptySubsequences: false)
        guard terms.count == 2 else { return nil }
        var parts: [(Int, Int)] = []
        for t in terms {
            let f = t.split(separator: "/", omittingEmptySubsequences: false)
            guard f.count == 2, let n = integer(f[0]), let d = integer(f[1]), d > 0 else { return nil }
            parts.append((n, d))
        }
        return reduced(parts[0].0 * parts[1].1 + parts[1].0 * parts[0].1, parts[0].1 * parts[1].1)
    }

    static func wordAnswer(_ q: String) -> String? {
        let words = q.split(separator: " ")
        guard words.count >= 6, words[1] == "has", let a = integer(words[2]) else { return nil }
        if words[4] == "and", words[5] == "buys", words.count > 6, let b = integer(words[6]) { return String(a + b) }
        if words[4] == "and", words[5] == "gives", words.count > 7, words[6] == "away", let b = integer(words[7].dropLast()) {
            return String(a - b)
        }
        return nil
    }
}
