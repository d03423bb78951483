import ArgumentParser
import Foundation
import RZRewards

/// `rzero grade`: grades JSONL lines `{"prediction": ..., "reference": ...}` from standard input.
///
/// Each line is written back with `"equivalent": true|false` added (see `GradeJSONLines` for the
/// rules: the prediction's last `\boxed{}` is its answer). A malformed line is written as
/// `{"line": N, "error": "..."}`, reported on standard error, and makes the command exit with
/// status 1 after all lines are processed.
struct Grade: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Grade predictions against references (JSONL on stdin, JSONL on stdout)."
    )

    func run() throws {
        let grader = MathGrader()
        var lineNumber = 0
        var failures = 0
        while let line = readLine(strippingNewline: true) {
            lineNumber += 1
            let graded = GradeJSONLines.grade(line: line, lineNumber: lineNumber, grader: grader)
            if let output = graded.output { print(output) }
            if let error = graded.error {
                failures += 1
                writeToStandardError("rzero grade: \(error)")
            }
        }
        if failures > 0 {
            writeToStandardError("rzero grade: \(failures) malformed line(s)")
            throw ExitCode(1)
        }
    }
}

/// Diagnostics go to standard error; standard output carries only the JSONL results.
private func writeToStandardError(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}
