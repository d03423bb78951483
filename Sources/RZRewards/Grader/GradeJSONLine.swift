import Foundation

/// The result of grading one JSONL line for `rzero grade`.
public struct GradedLine: Sendable, Equatable {
    /// The line to write to standard output; nil for a blank input line (nothing is written).
    public var output: String?
    /// A one-line description of what is wrong with the input line, if anything.
    public var error: String?
}

/// Grading of `{"prediction": ..., "reference": ...}` lines.
///
/// - The prediction may be a full response: its last balanced `\boxed{}` is the answer. Without
///   a box, the whole prediction is the answer only if it is at most
///   `maxUnboxedPredictionLength` bytes and has no line break (a bare answer such as `42`);
///   a longer unboxed text is a response without a final answer and grades as not equivalent.
/// - The reference is its last box if it has one, else the whole string.
/// - Strings and JSON numbers are accepted for both fields.
/// - Output: the input line unchanged with `"equivalent": true|false` inserted before its final
///   `}`, so key order and formatting survive. A malformed line produces
///   `{"line": N, "error": "..."}` on standard output (keeping one output line per input line)
///   and an error for standard error; the command then exits non-zero after the last line.
public enum GradeJSONLines {
    /// Longest unboxed prediction (UTF-8 bytes) still read as a bare answer.
    public static let maxUnboxedPredictionLength = 200

    /// Grades one input line; `lineNumber` (1-based) is used in error messages.
    public static func grade(line: String, lineNumber: Int, grader: MathGrader = MathGrader()) -> GradedLine {
        let trimmed = trimmingWhitespace(line)
        if trimmed.isEmpty { return GradedLine(output: nil, error: nil) }

        func failure(_ message: String) -> GradedLine {
            let escaped = jsonString(message)
            return GradedLine(output: "{\"line\": \(lineNumber), \"error\": \(escaped)}", error: "line \(lineNumber): \(message)")
        }

        let fields: GradeInput
        do {
            fields = try JSONDecoder().decode(GradeInput.self, from: Data(trimmed.utf8))
        } catch let error as GradeInput.FieldError {
            return failure(error.message)
        } catch {
            return failure("not a JSON object with \"prediction\" and \"reference\"")
        }
        let prediction = fields.prediction
        let reference = fields.reference
        guard trimmed.last == "}" else { return failure("not a JSON object") }

        let predictedAnswer = answer(fromPrediction: prediction)
        let referenceAnswer = BoxedAnswer.last(in: reference) ?? reference
        let isEquivalent = predictedAnswer.map { grader.equivalent($0, referenceAnswer) } ?? false

        var body = String(trimmed.dropLast())
        while let last = body.last, last.isWhitespace { body.removeLast() }
        let separator = body.hasSuffix("{") ? "" : ", "
        return GradedLine(output: body + separator + "\"equivalent\": \(isEquivalent)}", error: nil)
    }

    /// The answer a prediction gives, per the rules above; nil when it gives none.
    public static func answer(fromPrediction prediction: String) -> String? {
        if let boxed = BoxedAnswer.last(in: prediction) { return boxed }
        let bare = trimmingWhitespace(prediction)
        guard bare.utf8.count <= maxUnboxedPredictionLength, !bare.contains(where: \.isNewline) else { return nil }
        return String(bare)
    }

    private static func jsonString(_ text: String) -> String {
        guard let data = try? JSONEncoder().encode(text), let encoded = String(data: data, encoding: .utf8) else {
            return "\"\""
        }
        return encoded
    }
}

/// The fields `rzero grade` reads from one line.
private struct GradeInput: Decodable {
    var prediction: String
    var reference: String

    struct FieldError: Error {
        var message: String
    }

    private enum CodingKeys: String, CodingKey {
        case prediction, reference, equivalent
    }

    init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        if container.contains(.equivalent) {
            throw FieldError(message: "the object already has an \"equivalent\" field")
        }
        prediction = try GradeInput.text(container, .prediction)
        reference = try GradeInput.text(container, .reference)
    }

    /// A string, or a JSON number spelled as it would be in an answer (`5`, `0.25`).
    private static func text(_ container: KeyedDecodingContainer<CodingKeys>, _ key: CodingKeys) throws -> String {
        guard container.contains(key) else { throw FieldError(message: "missing \"\(key.rawValue)\"") }
        if let text = try? container.decode(String.self, forKey: key) { return text }
        if (try? container.decode(Bool.self, forKey: key)) != nil {
            throw FieldError(message: "\"\(key.rawValue)\" must be a string or a number, not a boolean")
        }
        if let integer = try? container.decode(Int.self, forKey: key) { return String(integer) }
        if let number = try? container.decode(Double.self, forKey: key), number.isFinite { return String(number) }
        throw FieldError(message: "\"\(key.rawValue)\" must be a string or a number")
    }
}
