import Foundation

/// The procedurally generated math text the built-in base model is pretrained on, in both roles'
/// formats, and the held-out problems it is evaluated on.
///
/// Formats (plain text, one character per token with the byte-level tokenizer):
/// - Solver, prompt `Q:<question>\nA:` then either a worked solution, least significant digit first
///   with explicit carries or borrows, ending in `\boxed{answer}` (`Q:347+58\nA:7+8+0=15,4+5+1=10,3+0+1=04,\boxed{405}`),
///   or the answer alone (`Q:347+58\nA:\boxed{405}`).
/// - Challenger, prompt `Write a question:` then `<question>347+58</question>\boxed{405}`.
///
/// Held-out problems are reserved structurally: a question whose hash falls in the held-out share is
/// never written into the corpus, so no evaluation question can have been seen in pretraining.

/// A problem family.
public enum ProblemFamily: String, Codable, Sendable, CaseIterable {
    /// a+b; level d: one operand has d digits, the other 1…d.
    case addition
    /// a−b with a ≥ b; level d: a has d digits.
    case subtraction
    /// a*b; level d: a has d digits, b is 2…9.
    case multiplication
    /// a+b*c or b*c+a; level d: a has d digits, b and c are 2…9.
    case orderOfOperations = "order_of_operations"
    /// bx+c=e, solve for x; level d: x and c have up to d digits, b is 2…9.
    case linearEquation = "linear_equation"
    /// a/b+c/d in lowest terms; the level sets the largest denominator.
    case fraction
    /// A sentence around an addition or a subtraction; level d: d-digit numbers.
    case wordProblem = "word_problem"
}

public struct MathProblem: Codable, Sendable, Equatable, Hashable {
    public var family: ProblemFamily
    public var difficulty: Int
    public var a: Int
    public var b: Int

    public init(family: ProblemFamily, difficulty: Int, a: Int, b: Int) {
        self.family = family
        self.difficulty = difficulty
        self.a = a
        self.b = b
    }

    /// `a*b` for multiplication, `a-b` for subtraction, `a+b` for everything else (only addition,
    /// subtraction and multiplication are binary problems).
    public var question: String {
        switch family {
        case .subtraction: return "\(a)-\(b)"
        case .multiplication: return "\(a)*\(b)"
        default: return "\(a)+\(b)"
        }
    }

    public var answer: Int {
        switch family {
        case .subtraction: return a - b
        case .multiplication: return a * b
        default: return a + b
        }
    }

    /// Column by column, least significant digit first: `x+y+c=ss` for addition (two result digits:
    /// the carry, then the digit); `x-y-c=d` or, when the column borrows, `1x-y-c=d` for subtraction.
    public var workedSolution: String {
        var da = digits(a), db = digits(b)
        let width = max(da.count, db.count)
        da += [Int](repeating: 0, count: width - da.count)
        db += [Int](repeating: 0, count: width - db.count)
        var steps: [String] = []
        var carry = 0
        if family == .multiplication {
            // Each digit of a times b plus the carry, written as two digits: `7*8+0=56,4*8+5=37,3*8+3=27`.
            for x in digits(a) {
                let s = x * b + carry
                steps.append("\(x)*\(b)+\(carry)=\(s / 10)\(s % 10)")
                carry = s / 10
            }
            return steps.joined(separator: ",") + ",\\boxed{\(answer)}"
        }
        for i in 0..<width {
            switch family {
            case .subtraction:
                var top = da[i]
                let borrow = top - db[i] - carry < 0
                if borrow { top += 10 }
                steps.append("\(borrow ? "1" : "")\(da[i])-\(db[i])-\(carry)=\(top - db[i] - carry)")
                carry = borrow ? 1 : 0
            default:
                let s = da[i] + db[i] + carry
                steps.append("\(da[i])+\(db[i])+\(carry)=\(s / 10)\(s % 10)")
                carry = s / 10
            }
        }
        return steps.joined(separator: ",") + ",\\boxed{\(answer)}"
    }

    public var directSolution: String { "\\boxed{\(answer)}" }

    /// The Challenger's target: the question and its answer.
    public var challengerText: String { "<question>\(question)</question>\\boxed{\(answer)}" }

    private func digits(_ n: Int) -> [Int] {
        var out: [Int] = []
        var n = n
        repeat { out.append(n % 10); n /= 10 } while n > 0
        return out
    }
}

/// Corpus settings; recorded with the model (`recipe.json`).
public struct CorpusSettings: Codable, Sendable, Equatable {
    public var solverPrompt = "Q:{question}\nA:"
    public var challengerPrompt = "Write a question:"
    /// Share of Challenger examples; the rest are Solver examples.
    public var challengerShare = 0.25
    /// Among Solver examples, the share with a worked solution (the rest answer directly).
    public var workedShare = 0.4
    /// All seven by default; a recipe listing fewer (e.g. the earlier add/sub-only model) still reproduces.
    public var families: [ProblemFamily] = ProblemFamily.allCases
    /// Weights of difficulty levels 1, 2, 3, ... (digits of the larger operand).
    public var levelWeights: [Double] = [0.10, 0.20, 0.35, 0.30, 0.05]
    /// Per-mille of questions reserved for evaluation (never in the corpus).
    public var heldOutPerMille = 100
    /// Also keep out of the corpus every question whose commuted form is held out (`58+347` when `347+58` is), so
    /// no evaluation question was seen in pretraining in another order either. On by default; a recipe written before
    /// it existed (models/base-1m's) reads as off, so it still reproduces.
    public var excludeCommutedForms = true

    public init() {}

    enum CodingKeys: String, CodingKey {
        case solverPrompt, challengerPrompt, challengerShare, workedShare, families, levelWeights, heldOutPerMille, excludeCommutedForms
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        solverPrompt = try c.decode(String.self, forKey: .solverPrompt)
        challengerPrompt = try c.decode(String.self, forKey: .challengerPrompt)
        challengerShare = try c.decode(Double.self, forKey: .challengerShare)
        workedShare = try c.decode(Double.self, forKey: .workedShare)
        families = try c.decode([ProblemFamily].self, forKey: .families)
        levelWeights = try c.decode([Double].self, forKey: .levelWeights)
        heldOutPerMille = try c.decode(Int.self, forKey: .heldOutPerMille)
        excludeCommutedForms = try c.decodeIfPresent(Bool.self, forKey: .excludeCommutedForms) ?? false
    }
}

/// One training example: prompt and target text (the target ends with the end-of-text token).
public struct CorpusExample: Sendable, Equatable {
    public var prompt: String
    public var target: String
}

public enum MathCorpus {
    /// FNV-1a over the question's bytes, so the held-out split does not depend on Swift's per-process
    /// hash seed.
    static func stableHash(_ s: String) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in s.utf8 { h = (h ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return h
    }

    static func isHeldOut(_ question: String, perMille: Int = 100) -> Bool {
        stableHash(question) % 1000 < UInt64(perMille)
    }

    /// The question written in another order with the same value: the terms of a sum, and the factors of each product,
    /// permuted (`347+58` → `58+347`; `2+3*4` → `3*4+2`, `2+4*3`, `4*3+2`). Only for questions made of numbers, `+`,
    /// `*` and fractions `a/b` (at most 3 terms of at most 3 factors); others have none.
    public static func commutedForms(_ question: String) -> [String] {
        let q = question.replacingOccurrences(of: " ", with: "")
        guard !q.isEmpty, q.allSatisfy({ $0.isASCII && ($0.isNumber || "+*/".contains($0)) }) else { return [] }
        let terms = q.split(separator: "+", omittingEmptySubsequences: false).map { $0.split(separator: "*", omittingEmptySubsequences: false).map(String.init) }
        guard terms.count <= 3, terms.allSatisfy({ $0.count <= 3 && $0.allSatisfy { !$0.isEmpty } }) else { return [] }
        func permutations<T>(_ xs: [T]) -> [[T]] {
            guard xs.count > 1 else { return [xs] }
            return xs.indices.flatMap { i in permutations(Array(xs[..<i] + xs[(i + 1)...])).map { [xs[i]] + $0 } }
        }
        let termChoices: [[String]] = terms.map { factors in permutations(factors).map { $0.joined(separator: "*") } }
        var forms: Set<String> = []
        func build(_ k: Int, _ chosen: [String]) {
            if k == termChoices.count {
                for order in permutations(chosen) { forms.insert(order.joined(separator: "+")) }
                return
            }
            for t in termChoices[k] { build(k + 1, chosen + [t]) }
        }
        build(0, [])
        forms.remove(q)
        return forms.sorted()
    }

    /// Whether a question may not appear in the corpus: it is held out, or (with `excludeCommutedForms`) a commuted
    /// form of it is.
    static func isReserved(_ question: String, _ settings: CorpusSettings) -> Bool {
        if isHeldOut(question, perMille: settings.heldOutPerMille) { return true }
        return settings.excludeCommutedForms && commutedForms(question).contains { isHeldOut($0, perMille: settings.heldOutPerMille) }
    }

    /// A random problem of `family` at `level` (level ≥ 1).
    public static func problem(_ family: ProblemFamily, level: Int, rng: inout SplitMix) -> Problem {
        switch family {
        case .addition, .subtraction, .multiplication: return binary(family, level: level, rng: &rng).general
        case .orderOfOperations: return Families.orderOfOperations(level: level, rng: &rng)
        case .linearEquation: return Families.linearEquation(level: level, rng: &rng)
        case .fraction: return Families.fraction(level: level, rng: &rng)
        case .wordProblem: return Families.wordProblem(level: level, rng: &rng)
        }
    }

    /// A uniform number with exactly `digits` digits (0…9 for one digit).
    static func number(digits: Int, rng: inout SplitMix) -> Int {
        let low = digits == 1 ? 0 : Int(pow10(digits - 1))
        return low + Int(rng.next() % UInt64(Int(pow10(digits)) - low))
    }

    /// A random binary problem (addition, subtraction, multiplication). Recorded recipes reproduce only
    /// while the draws stay as they are: do not reorder them.
    public static func binary(_ family: ProblemFamily, level: Int, rng: inout SplitMix) -> MathProblem {
        switch family {
        case .subtraction:
            let a = number(digits: level, rng: &rng)
            let b = Int(rng.next() % UInt64(a + 1))
            return MathProblem(family: family, difficulty: level, a: a, b: b)
        case .multiplication:
            let a = number(digits: level, rng: &rng)
            return MathProblem(family: family, difficulty: level, a: a, b: 2 + Int(rng.next() % 8))
        default:
            let long = number(digits: level, rng: &rng)
            let short = number(digits: 1 + Int(rng.next() % UInt64(level)), rng: &rng)
            return rng.next() % 2 == 0 ? MathProblem(family: .addition, difficulty: level, a: long, b: short)
                : MathProblem(family: .addition, difficulty: level, a: short, b: long)
        }
    }

    static func pow10(_ n: Int) -> Int { (0..<n).reduce(1) { r, _ in r * 10 } }

    static func level(_ weights: [Double], rng: inout SplitMix) -> Int {
        let total = weights.reduce(0, +)
        var u = rng.nextUnit() * total
        for (i, w) in weights.enumerated() {
            if u < w { return i + 1 }
            u -= w
        }
        return weights.count
    }

    /// The true answer of a question in one of the corpus's forms, or nil for any other text. Used only
    /// to report how often pseudo-labels are right; never by training.
    public static func trueAnswer(_ question: String) -> String? {
        Families.trueAnswer(question.trimmingCharacters(in: .whitespaces))
    }

    /// A random training example that is not held out.
    public static func example(_ settings: CorpusSettings, rng: inout SplitMix) -> CorpusExample {
        while true {
            let family = settings.families[Int(rng.next() % UInt64(settings.families.count))]
            let p = problem(family, level: level(settings.levelWeights, rng: &rng), rng: &rng)
            if isReserved(p.question, settings) { continue }
            if rng.nextUnit() < settings.challengerShare {
                return CorpusExample(prompt: settings.challengerPrompt, target: p.challengerText)
            }
            let prompt = settings.solverPrompt.replacingOccurrences(of: "{question}", with: p.question)
            return CorpusExample(prompt: prompt, target: rng.nextUnit() < settings.workedShare ? p.workedSolution : p.directSolution)
        }
    }

    /// `count` distinct held-out problems per family and level, drawn with `seed`, none of them (in any order) among
    /// `excluding` (a validation set drawn beside the held-out set: same share of never-trained questions, disjoint).
    public static func heldOut(_ settings: CorpusSettings, perLevel count: Int, seed: UInt64, excluding: Set<String> = []) -> [Problem] {
        var rng = SplitMix(seed: seed)
        var out: [Problem] = []
        // One question once, even where two levels can draw it (a fraction's denominators fit several).
        var seen = Set<String>()
        for family in settings.families {
            for level in 1...settings.levelWeights.count {
                var found = 0
                var attempts = 0
                while found < count && attempts < count * 10_000 {
                    attempts += 1
                    let p = problem(family, level: level, rng: &rng)
                    guard isHeldOut(p.question, perMille: settings.heldOutPerMille), !excluding.contains(p.question),
                          !commutedForms(p.question).contains(where: excluding.contains), seen.insert(p.question).inserted
                    else { continue }
                    out.append(p)
                    found += 1
                }
            }
        }
        return out
    }
}

/// SplitMix64: small, fast, and the same on every platform (the corpus must be reproducible).
public struct SplitMix: Sendable {
    var state: UInt64
    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    public mutating func nextUnit() -> Double { Double(next() >> 11) * 0x1p-53 }
}
