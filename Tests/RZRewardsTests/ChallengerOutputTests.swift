import Testing
@testable import RZRewards

@Suite("Challenger output format check")
struct ChallengerOutputTests {
    @Test("a well-formed output yields the trimmed question and the box after it")
    func wellFormed() throws {
        let text = "thinking...\n<question>\n  What is 2+3?\n</question>\n\n\\boxed{5}"
        let output = try ChallengerOutput.parse(text).get()
        #expect(output.question == "What is 2+3?")
        #expect(output.answer == "5")
    }

    @Test("each failure says why", arguments: [
        ("no tags here \\boxed{1}", ChallengerFormatFailure.noQuestionBlock),
        ("</question> \\boxed{1}", .noQuestionBlock),
        ("<question> What is 1+1? \\boxed{2}", .unclosedQuestionTag),
        ("<question>   \n </question> \\boxed{1}", .emptyQuestion),
        ("<question>What is 1+1?</question> The answer is 2.", .missingBoxedAnswer),
        ("<question>What is 1+1?</question> \\boxed{2", .missingBoxedAnswer),
        ("\\boxed{2} <question>What is 1+1?</question>", .missingBoxedAnswer),
        ("<question>What is 1+1?</question> \\boxed{ }", .emptyBoxedAnswer),
    ])
    func failures(_ text: String, _ failure: ChallengerFormatFailure) {
        #expect(ChallengerOutput.parse(text) == .failure(failure))
    }

    @Test("several blocks: the last one counts by default, or it is a failure when configured")
    func multipleBlocks() throws {
        let text = "<question>First?</question> <question>Second?</question> \\boxed{1}"
        #expect(try ChallengerOutput.parse(text).get().question == "Second?")
        let strict = ChallengerFormatRules(allowsMultipleQuestionBlocks: false)
        #expect(ChallengerOutput.parse(text, rules: strict) == .failure(.multipleQuestionBlocks))
        // The box must follow the last block.
        let boxBetween = "<question>First?</question> \\boxed{1} <question>Second?</question>"
        #expect(ChallengerOutput.parse(boxBetween) == .failure(.missingBoxedAnswer))
    }

    @Test("length limit and optional box")
    func rules() throws {
        let long = "<question>" + String(repeating: "x", count: 101) + "</question>\\boxed{1}"
        #expect(ChallengerOutput.parse(long, rules: ChallengerFormatRules(maxQuestionLength: 100)) == .failure(.questionTooLong))
        let noBox = "<question>Q?</question>"
        let lenient = ChallengerFormatRules(requiresBoxedAnswer: false)
        #expect(try ChallengerOutput.parse(noBox, rules: lenient).get() == ChallengerOutput(question: "Q?", answer: nil))
    }
}
