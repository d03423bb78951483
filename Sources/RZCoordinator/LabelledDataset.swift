import Foundation
import RZRewards

/// A problem with its real answer, as held-out JSONL files hold them (`{"question", "answer"}`, with
/// optional `family` and `difficulty` for the breakdowns).
public struct LabelledProblem: Decodable, Sendable, Equatable {
    public var question: String
    public var answer: String
    public var family: String?
    public var difficulty: Int?

    public init(question: String, answer: String, family: String? = nil, difficulty: Int? = nil) {
        self.question = question
        self.answer = answer
        self.family = family
        self.difficulty = difficulty
    }
}

public enum LabelledDataset {
    /// What a line may hold, for error messages.
    static let accepted = #"{"question", "answer"} (GSM8K: the answer after ####), or MATH's {"problem", "solution"} / {"problem", "answer"}"#

    /// Every problem of a JSONL file (blank lines skipped), failing with the file and line of a bad line. Lines are read
    /// as the benchmarks ship them:
    /// - `{"question", "answer"}`, with optional `family` and `difficulty` (rzero's own sets);
    /// - GSM8K: `{"question", "answer"}` whose answer is a worked solution ending in `#### <final answer>`: the
    ///   final answer is what follows the last `####` (thousands separators dropped, as GSM8K's graders do);
    /// - MATH and MATH-500: `{"problem", "answer"}`, or `{"problem", "solution"}` whose answer is the solution's last
    ///   `\boxed{}`; `type` or `subject` becomes the family and `level` ("Level 3" or 3) the difficulty.
    public static func load(_ path: String) throws -> [LabelledProblem] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigError("cannot read the evaluation dataset \(path)")
        }
        var items: [LabelledProblem] = []
        for (number, line) in data.split(separator: 0x0A, omittingEmptySubsequences: false).enumerated() {
            if line.allSatisfy({ $0 == 0x20 || $0 == 0x0D || $0 == 0x09 }) { continue }
            do { items.append(try problem(Data(line))) } catch let e as ConfigError {
                throw ConfigError("\(path) line \(number + 1): \(e.description)")
            } catch {
                throw ConfigError("\(path) line \(number + 1): expected \(accepted)")
            }
        }
        if items.isEmpty { throw ConfigError("the evaluation dataset \(path) is empty") }
        return items
    }

    /// One line in any of the accepted forms.
    static func problem(_ line: Data) throws -> LabelledProblem {
        guard let object = try JSONSerialization.jsonObject(with: line) as? [String: Any] else {
            throw ConfigError("expected \(accepted)")
        }
        func text(_ key: String) -> String? {
            switch object[key] {
            case let s as String: return s
            case is Bool: return nil
            case let i as Int: return String(i)
            case let d as Double: return String(d)
            default: return nil
            }
        }
        let family = text("family") ?? text("type") ?? text("subject")
        let difficulty = (object["difficulty"] as? Int) ?? (object["level"] as? Int)
            ?? text("level").flatMap { Int($0.split(separator: " ").last ?? "") }
        if let question = text("question"), let answer = text("answer") {
            return LabelledProblem(question: question, answer: gsm8kFinalAnswer(answer) ?? answer, family: family, difficulty: difficulty)
        }
        if let problem = text("problem") {
            if let answer = text("answer") { return LabelledProblem(question: problem, answer: answer, family: family, difficulty: difficulty) }
            if let solution = text("solution") {
                guard let boxed = BoxedAnswer.last(in: solution) else { throw ConfigError("the solution has no \\boxed{} answer") }
                return LabelledProblem(question: problem, answer: boxed, family: family, difficulty: difficulty)
            }
        }
        throw ConfigError("expected \(accepted)")
    }

    /// GSM8K's final answer: the text after the last `####` of a worked solution, without thousands separators; nil
    /// when the answer has no `####`.
    static func gsm8kFinalAnswer(_ answer: String) -> String? {
        guard let marker = answer.range(of: "####", options: .backwards) else { return nil }
        let final = answer[marker.upperBound...].trimmingCharacters(in: .whitespacesAndNewlines)
        let digitsAndCommas = final.allSatisfy { $0.isNumber || $0 == "," || $0 == "." || $0 == "-" }
        return digitsAndCommas ? final.replacingOccurrences(of: ",", with: "") : final
    }
}
