import Foundation

/// A problem with its real answer, as held-out JSONL files hold them (`{"question", "answer"}`, with
/// optional `family` and `difficulty` for the breakdowns).
public struct LabelledProblem: Decodable, Sendable {
    public var question: String
    public var answer: String
    public var family: String?
    public var difficulty: Int?
}

public enum LabelledDataset {
    /// Every problem of a JSONL file (blank lines skipped), failing with the file and line of a bad line.
    public static func load(_ path: String) throws -> [LabelledProblem] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigError("cannot read the evaluation dataset \(path)")
        }
        var items: [LabelledProblem] = []
        for (number, line) in data.split(separator: 0x0A, omittingEmptySubsequences: false).enumerated() {
            if line.allSatisfy({ $0 == 0x20 || $0 == 0x0D || $0 == 0x09 }) { continue }
            do { items.append(try JSONDecoder().decode(LabelledProblem.self, from: Data(line))) } catch {
                throw ConfigError("\(path) line \(number + 1): expected {\"question\": ..., \"answer\": ...}")
            }
        }
        if items.isEmpty { throw ConfigError("the evaluation dataset \(path) is empty") }
        return items
    }
}
