/// Why a Challenger output fails the format check. Raw values are stable strings for logs.
public enum ChallengerFormatFailure: String, Error, Codable, Sendable, Equatable, CaseIterable {
    /// Neither `<question>` nor a complete `<question>...</question>` block.
    case noQuestionBlock = "no_question_block"
    /// `<question>` opens but never closes.
    case unclosedQuestionTag = "unclosed_question_tag"
    /// The last block holds only whitespace.
    case emptyQuestion = "empty_question"
    /// More than one block, when `ChallengerFormatRules.allowsMultipleQuestionBlocks` is false.
    case multipleQuestionBlocks = "multiple_question_blocks"
    /// No balanced `\boxed{...}` after the question block (when one is required).
    case missingBoxedAnswer = "missing_boxed_answer"
    /// `\boxed{}` with nothing in it.
    case emptyBoxedAnswer = "empty_boxed_answer"
    /// The question is longer than `ChallengerFormatRules.maxQuestionLength`.
    case questionTooLong = "question_too_long"
}

/// What a well-formed Challenger output must look like.
public struct ChallengerFormatRules: Codable, Sendable, Equatable {
    /// The reference prompt asks for `\boxed{final_answer}` after the question. The reference
    /// reward code meant to require it but accepted the string "None" that mathruler returns for
    /// a missing box, so in effect it did not; requiring it is the intended behaviour.
    public var requiresBoxedAnswer: Bool
    /// The reference takes the last of several blocks (`re.findall(...)[-1]`).
    public var allowsMultipleQuestionBlocks: Bool
    /// Longest accepted question in UTF-8 bytes. Not in the paper: it bounds the BLEU cost, and at
    /// the reference's 4096-token response limit a real question stays far below it.
    public var maxQuestionLength: Int

    public init(requiresBoxedAnswer: Bool = true, allowsMultipleQuestionBlocks: Bool = true, maxQuestionLength: Int = 32_768) {
        self.requiresBoxedAnswer = requiresBoxedAnswer
        self.allowsMultipleQuestionBlocks = allowsMultipleQuestionBlocks
        self.maxQuestionLength = maxQuestionLength
    }
}

/// A well-formed Challenger output: the question text and the Challenger's own answer.
public struct ChallengerOutput: Sendable, Equatable {
    /// The content of the last `<question>` block, trimmed. This is the text the Solver sees and
    /// the text whose BLEU similarity drives the repetition penalty.
    public var question: String
    /// The content of the last balanced box after the question block, if any. R-Zero never uses
    /// it for rewards (pseudo-labels come from the Solver's majority vote).
    public var answer: String?

    public init(question: String, answer: String?) {
        self.question = question
        self.answer = answer
    }

    /// Parses and checks a Challenger response.
    public static func parse(_ text: String, rules: ChallengerFormatRules = ChallengerFormatRules()) -> Result<ChallengerOutput, ChallengerFormatFailure> {
        let bytes = Array(text.utf8)
        let blocks = questionBlocks(in: bytes)
        guard let last = blocks.complete.last else {
            return .failure(blocks.hasUnclosedOpening ? .unclosedQuestionTag : .noQuestionBlock)
        }
        if blocks.complete.count > 1 && !rules.allowsMultipleQuestionBlocks {
            return .failure(.multipleQuestionBlocks)
        }
        let question = String(trimmingWhitespace(String(decoding: bytes[last.content], as: UTF8.self)))
        if question.isEmpty { return .failure(.emptyQuestion) }
        if question.utf8.count > rules.maxQuestionLength { return .failure(.questionTooLong) }

        let afterQuestion = Array(bytes[last.end...])
        var answer: String?
        if let range = BoxedAnswer.lastRange(in: afterQuestion) {
            answer = String(trimmingWhitespace(String(decoding: afterQuestion[range], as: UTF8.self)))
        }
        if rules.requiresBoxedAnswer {
            guard let answer else { return .failure(.missingBoxedAnswer) }
            if answer.isEmpty { return .failure(.emptyBoxedAnswer) }
        }
        return .success(ChallengerOutput(question: question, answer: answer))
    }

    private static let openingTag = Array("<question>".utf8)
    private static let closingTag = Array("</question>".utf8)

    /// Blocks as `re.findall(r"<question>(.*?)</question>", text, re.DOTALL)` finds them: each
    /// opening tag pairs with the next closing tag.
    static func questionBlocks(in bytes: [UInt8]) -> (complete: [(content: Range<Int>, end: Int)], hasUnclosedOpening: Bool) {
        var blocks: [(content: Range<Int>, end: Int)] = []
        var searchFrom = 0
        while let open = find(openingTag, in: bytes, from: searchFrom) {
            let contentStart = open + openingTag.count
            guard let close = find(closingTag, in: bytes, from: contentStart) else {
                return (blocks, true)
            }
            blocks.append((content: contentStart..<close, end: close + closingTag.count))
            searchFrom = close + closingTag.count
        }
        return (blocks, false)
    }

    private static func find(_ needle: [UInt8], in haystack: [UInt8], from start: Int) -> Int? {
        guard let first = needle.first, haystack.count >= needle.count else { return nil }
        var index = start
        let lastStart = haystack.count - needle.count
        while index <= lastStart {
            if haystack[index] == first {
                var matched = true
                for offset in 1..<needle.count where haystack[index + offset] != needle[offset] {
                    matched = false
                    break
                }
                if matched { return index }
            }
            index += 1
        }
        return nil
    }
}
