/// Timings of the reward logic on a realistic batch and on adversarial grader inputs.
///
/// Speed targets live here, not in tests: build with `swift build -c release` and run
/// `rzero rewards-bench`. Targets: the 512×512 BLEU matrix plus clustering well under a second;
/// every adversarial comparison under 100 ms.
public enum RewardsBenchmark {
    /// Runs every measurement and returns one human-readable line per measurement.
    public static func run() -> [String] {
        var lines: [String] = []
        let questions = syntheticQuestions(count: 512)
        let clock = ContinuousClock()

        var labels: [Int] = []
        var condensed: [Double] = []
        let bleuTime = clock.measure {
            condensed = BLEUCorpus(sentences: questions).condensedDistanceMatrix()
        }
        let clusterTime = clock.measure {
            labels = AverageLinkageClustering.labels(condensed: condensed, count: questions.count, threshold: 0.5)
        }
        let clusterCount = Set(labels).count
        let words = questions.map { SentenceBLEU.tokens($0).count }.reduce(0, +) / max(1, questions.count)
        lines.append("BLEU 512x512 (mean \(words) tokens/question): \(milliseconds(bleuTime)) ms")
        lines.append("average-linkage clustering of 512: \(milliseconds(clusterTime)) ms (\(clusterCount) clusters)")
        lines.append("BLEU + clustering total: \(milliseconds(bleuTime + clusterTime)) ms")

        let grader = MathGrader()
        var worst: (name: String, time: Duration) = ("", .zero)
        for testCase in adversarialCases() {
            var verdict = false
            let time = clock.measure {
                verdict = grader.equivalent(testCase.a, testCase.b)
            }
            if time > worst.time { worst = (testCase.name, time) }
            lines.append("grader \(testCase.name): \(milliseconds(time)) ms -> \(verdict)")
        }
        let boxed = String(repeating: "\\boxed{", count: 100_000) + "5" + String(repeating: "}", count: 100_000)
        let boxTime = clock.measure { _ = BoxedAnswer.last(in: boxed) }
        lines.append("last box of 100k nested \\boxed{ (1.3 MB): \(milliseconds(boxTime)) ms")
        let megabyteResponses = [String](repeating: String(repeating: "x ", count: 500_000) + "\\boxed{7}", count: 10)
        let voteTime = clock.measure { _ = MajorityVote.vote(responses: megabyteResponses) }
        lines.append("majority vote over 10 responses of 1 MB: \(milliseconds(voteTime)) ms")
        lines.append("worst adversarial grader case: \(worst.name) at \(milliseconds(worst.time)) ms")
        return lines
    }

    /// A named pair of answers that stresses one of the grader's limits.
    public struct AdversarialCase: Sendable {
        /// What the case stresses, and which limit applies.
        public var name: String
        /// The first answer.
        public var a: String
        /// The second answer.
        public var b: String
        /// The verdict the grader must return: the mathematically correct one when the input is
        /// within `GraderLimits`, else false ("not shown equivalent"); names say which applies.
        public var expected: Bool
    }

    /// Hostile inputs: huge strings, deep nesting, unbalanced braces, huge numbers.
    public static func adversarialCases() -> [AdversarialCase] {
        let megabyteDigits = String(repeating: "9", count: 1_000_000)
        let megabyteLatex = String(repeating: "\\frac{1}{2}+", count: 90_000) + "1"
        return [
            AdversarialCase(name: "1 MB digit string vs itself", a: megabyteDigits, b: megabyteDigits, expected: true),
            AdversarialCase(name: "1 MB digit string vs same plus 1", a: megabyteDigits, b: megabyteDigits + "1", expected: false),
            AdversarialCase(name: "1 MB LaTeX sum vs 5", a: megabyteLatex, b: "5", expected: false),
            AdversarialCase(name: "10k nested braces (over the length cap: text comparison, false)", a: String(repeating: "{", count: 10_000) + "1" + String(repeating: "}", count: 10_000), b: "1", expected: false),
            AdversarialCase(name: "10k unbalanced open braces (over the length cap: false)", a: String(repeating: "{", count: 10_000) + "1", b: "1", expected: false),
            AdversarialCase(name: "10k unbalanced close braces (over the length cap: false)", a: "1" + String(repeating: "}", count: 10_000), b: "1", expected: false),
            AdversarialCase(name: "\\frac nested 10k deep (over the length cap: false)", a: String(repeating: "\\frac{1}{", count: 10_000) + "2" + String(repeating: "}", count: 10_000), b: "2", expected: false),
            AdversarialCase(name: "\\frac nested 100 deep (over the depth cap: false)", a: String(repeating: "\\frac{1}{", count: 100) + "1" + String(repeating: "}", count: 100), b: "1", expected: false),
            AdversarialCase(name: "\\frac nested 20 deep (within limits)", a: String(repeating: "\\frac{1}{", count: 20) + "1" + String(repeating: "}", count: 20), b: "1", expected: true),
            AdversarialCase(name: "10^{10^{10}} vs itself spelled differently", a: "10^{10^{10}}", b: "10^{10000000000}", expected: true),
            AdversarialCase(name: "10^{10^{10}} vs 10^{10^{10}}+1", a: "10^{10^{10}}", b: "10^{10^{10}}+1", expected: false),
            AdversarialCase(name: "9^{9^{9^{9}}} vs 9^{9^{9^{9}}}", a: "9^{9^{9^{9}}}", b: "9^{9^{9^{9}} }", expected: true),
            AdversarialCase(name: "2^{4000} vs 4^{2000}", a: "2^{4000}", b: "4^{2000}", expected: true),
            AdversarialCase(name: "2^{16384} vs 4^{8192} (over the exact cap, same spelling after folding: false)", a: "2^{16384}", b: "4^{8192}", expected: false),
            AdversarialCase(name: "2^{2^{2^{2^{2}}}} vs 2^{65536}", a: "2^{2^{2^{2^{2}}}}", b: "2^{65536}", expected: true),
            AdversarialCase(name: "1000000! vs 1000000!+1", a: "1000000!", b: "1000000!+1", expected: false),
            AdversarialCase(name: "400! vs 400*399!", a: "400!", b: "400\\cdot 399!", expected: true),
            AdversarialCase(name: "2000! vs 2000*1999! (over the exact cap: false)", a: "2000!", b: "2000\\cdot 1999!", expected: false),
            AdversarialCase(name: "x^{10^{9}} vs x^{10^{9}}+1", a: "x^{1000000000}", b: "x^{1000000000}+1", expected: false),
            AdversarialCase(name: "500 factor power tower", a: String(repeating: "2^", count: 500) + "2", b: "3", expected: false),
            AdversarialCase(name: "1999-digit numbers (over the exact cap: text comparison)", a: String(repeating: "7", count: 1_999), b: String(repeating: "7", count: 1_998) + "8", expected: false),
            AdversarialCase(name: "100k minus signs (over the length cap: false)", a: String(repeating: "-", count: 100_000) + "1", b: "1", expected: false),
            AdversarialCase(name: "1000 minus signs (over the depth cap: false)", a: String(repeating: "-", count: 1_000) + "1", b: "1", expected: false),
            AdversarialCase(name: "30 unbalanced open braces (unbalanced: text only, false)", a: String(repeating: "{", count: 30) + "1", b: "1", expected: false),
            AdversarialCase(name: "1000-digit numbers differing in the last digit", a: String(repeating: "7", count: 1_000), b: String(repeating: "7", count: 999) + "8", expected: false),
            AdversarialCase(name: "1000-digit number vs itself times 1", a: String(repeating: "7", count: 1_000), b: "1\\cdot" + String(repeating: "7", count: 1_000), expected: true),
            AdversarialCase(name: "long sum of 600 terms", a: Array(repeating: "x", count: 600).joined(separator: "+"), b: "600x", expected: true),
            AdversarialCase(name: "x^{30000} vs x^{30001} (overflow and underflow at every point)", a: "x^{30000}", b: "x^{30001}", expected: false),
            AdversarialCase(name: "40 big powers (budget exhaustion)", a: Array(repeating: "3^{2500}", count: 40).joined(separator: "+"), b: Array(repeating: "3^{2500}", count: 39).joined(separator: "+") + "+3^{2501}", expected: false),
            AdversarialCase(name: "40 nested square roots", a: String(repeating: "\\sqrt{", count: 40) + "2" + String(repeating: "}", count: 40), b: "2", expected: false),
            AdversarialCase(name: "big fractions (GCD of 4000-bit numbers)", a: "\\frac{3^{1250}}{2^{2000}+1}+\\frac{5^{850}}{3^{1250}+7}", b: "\\frac{5^{850}}{3^{1250}+7}+\\frac{3^{1250}}{2^{2000}+1}", expected: true),
            AdversarialCase(name: "big fractions times x (over the work budget: false)", a: "\\frac{3^{1250}}{2^{2000}+1}x+\\frac{5^{850}}{3^{1250}+7}x^2", b: "\\frac{5^{850}}{3^{1250}+7}x^2+\\frac{3^{1250}x}{2^{2000}+1}", expected: false),
            AdversarialCase(name: "sum of 20 big fractions (budget exhaustion)", a: (1...20).map { index in "\\frac{3^{\(1200 + index)}}{2^{\(1800 + index)}+1}" }.joined(separator: "+"), b: "1", expected: false),
            AdversarialCase(name: "set of 500 elements reversed (about the largest under the length cap)", a: "\\{" + (1...500).map(String.init).joined(separator: ",") + "\\}", b: "\\{" + (1...500).reversed().map(String.init).joined(separator: ",") + "\\}", expected: true),
            AdversarialCase(name: "list of 100 linear expressions reversed", a: (1...100).map { number in "x+\(number)" }.joined(separator: ","), b: (1...100).reversed().map { number in "\(number)+x" }.joined(separator: ","), expected: true),
            AdversarialCase(name: "list of 300 linear expressions reversed", a: (1...300).map { number in "x+\(number)" }.joined(separator: ","), b: (1...300).reversed().map { number in "\(number)+x" }.joined(separator: ","), expected: true),
            AdversarialCase(name: "set of 120 undefined elements reversed (structural comparison)", a: "\\{" + (1...120).map { number in "\\frac{\(number)}{0}" }.joined(separator: ",") + "\\}", b: "\\{" + (1...120).reversed().map { number in "\\frac{\(number)}{0}" }.joined(separator: ",") + "\\}", expected: false),
        ]
    }

    /// Deterministic question-like sentences: math vocabulary, numbers, some near-duplicates.
    public static func syntheticQuestions(count: Int) -> [String] {
        let openings = ["Let", "Suppose", "Consider", "Find", "Determine", "Compute", "Prove that", "How many"]
        let objects = ["a triangle ABC with sides", "the polynomial P(x) =", "a sequence a_n defined by", "positive integers n such that",
                       "real numbers x and y satisfying", "the function f(x) =", "a circle of radius", "ordered pairs (a, b) with"]
        let relations = ["is divisible by", "satisfies", "equals", "is tangent to", "has exactly", "is at most", "minimises", "is congruent to"]
        let tails = ["Find the remainder when the sum is divided by 1000.", "What is the maximum possible value?",
                     "Express your answer as a common fraction.", "Compute the area of the region.",
                     "How many such configurations exist?", "Find the smallest such value.",
                     "Give the answer in simplest radical form.", "Determine all possible values."]
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next(_ bound: Int) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((state >> 33) % UInt64(bound))
        }
        var questions: [String] = []
        for index in 0..<count {
            if index > 10, next(5) == 0 {
                // A near-duplicate of an earlier question (one number changed).
                let original = questions[next(questions.count)]
                questions.append(original.replacingFirstNumber(with: next(90) + 10))
                continue
            }
            var words: [String] = []
            for _ in 0..<(2 + next(3)) {
                words.append(openings[next(openings.count)])
                words.append(objects[next(objects.count)])
                words.append("\(next(200) + 2)")
                words.append(relations[next(relations.count)])
                words.append("\(next(50) + 1) and \(next(997) + 3).")
            }
            words.append(tails[next(tails.count)])
            questions.append(words.joined(separator: " "))
        }
        return questions
    }

    private static func milliseconds(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        let value = Double(seconds) * 1_000 + Double(attoseconds) / 1e15
        return String(Int((value * 100).rounded())).paddedMilliseconds
    }
}

extension String {
    /// Replaces the first run of digits.
    fileprivate func replacingFirstNumber(with number: Int) -> String {
        guard let start = firstIndex(where: \.isASCIIDigit) else { return self + " \(number)" }
        let end = self[start...].firstIndex(where: { !$0.isASCIIDigit }) ?? endIndex
        return String(self[..<start]) + "\(number)" + String(self[end...])
    }

    /// "1234" (hundredths of a millisecond) as "12.34".
    fileprivate var paddedMilliseconds: String {
        let digits = count < 3 ? String(repeating: "0", count: 3 - count) + self : self
        return String(digits.dropLast(2)) + "." + String(digits.suffix(2))
    }
}
