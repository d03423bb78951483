import Testing
@testable import RZRewards

@Suite("rzero grade line handling")
struct GradeJSONLineTests {
    @Test("adds the verdict before the closing brace and keeps everything else")
    func graded() {
        let line = #"{"id": 3, "prediction": "Thus \\boxed{\\frac12}.", "reference": "0.5"}"#
        let result = GradeJSONLines.grade(line: line, lineNumber: 1)
        #expect(result.output == #"{"id": 3, "prediction": "Thus \\boxed{\\frac12}.", "reference": "0.5", "equivalent": true}"#)
        #expect(result.error == nil)
        let wrong = GradeJSONLines.grade(line: #"{"prediction":"\\boxed{3}","reference":"\\boxed{4}"}"#, lineNumber: 2)
        #expect(wrong.output == #"{"prediction":"\\boxed{3}","reference":"\\boxed{4}", "equivalent": false}"#)
    }

    @Test("unboxed predictions: short single-line text is the answer; long or multi-line is not")
    func unboxed() {
        #expect(GradeJSONLines.answer(fromPrediction: " 42 ") == "42")
        #expect(GradeJSONLines.answer(fromPrediction: "line one\n42") == nil)
        #expect(GradeJSONLines.answer(fromPrediction: String(repeating: "a", count: 201)) == nil)
        #expect(GradeJSONLines.grade(line: #"{"prediction": 5, "reference": "5.0"}"#, lineNumber: 1).output?.hasSuffix(#""equivalent": true}"#) == true)
        #expect(GradeJSONLines.grade(line: #"{"prediction": "a\nb 5", "reference": "5"}"#, lineNumber: 1).output?.hasSuffix(#""equivalent": false}"#) == true)
    }

    @Test("malformed lines give a one-line error and an error object, never a crash", arguments: [
        "not json", "[1, 2]", #"{"prediction": "1"}"#, #"{"reference": "1"}"#, #"{"prediction": true, "reference": "1"}"#,
        #"{"prediction": null, "reference": "1"}"#, #"{"prediction": "1", "reference": "1", "equivalent": false}"#,
        #"{"prediction": "1", "reference": "1""#, "\"just a string\"", String(repeating: "[", count: 100_000),
    ])
    func malformed(_ line: String) {
        let result = GradeJSONLines.grade(line: line, lineNumber: 7)
        let error = result.error ?? ""
        #expect(error.hasPrefix("line 7: "))
        #expect(!error.contains("\n"))
        #expect(result.output?.hasPrefix(#"{"line": 7, "error": "#) == true)
    }

    @Test("blank lines produce nothing")
    func blank() {
        #expect(GradeJSONLines.grade(line: "   ", lineNumber: 1) == GradedLine(output: nil, error: nil))
    }
}
