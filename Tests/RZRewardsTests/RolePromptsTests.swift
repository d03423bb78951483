import Foundation
import Testing
@testable import RZRewards

@Suite("Role prompts")
struct RolePromptsTests {
    @Test("reference prompts as in R-Zero, and the messages they build")
    func referencePrompts() {
        let prompts = RolePrompts.reference
        #expect(prompts.solverSystem == "Please reason step by step, and put your final answer within \\boxed{}.")
        #expect(prompts.challengerSystem.hasPrefix("You are an expert competition-math problem setter.\nFIRST, in your private scratch-pad"))
        #expect(prompts.challengerSystem.contains("fewer than 30 % of advanced high-school students"))
        #expect(prompts.challengerSystem.contains("<question>\n{The full problem statement on one or more lines}\n</question>\n\n\\boxed{final_answer}\n\n"))
        #expect(prompts.challengerSystem.hasSuffix("Do NOT output anything else\u{2014}no explanations, no extra markup."))
        #expect(prompts.challengerUser == "Generate one new, challenging reasoning question now. Remember to format the output exactly as instructed.")
        #expect(prompts.challengerMessages().map(\.role) == [.system, .user])
        #expect(prompts.solverMessages(question: "What is 1+1?") == [
            ChatMessage(role: .system, content: prompts.solverSystem), ChatMessage(role: .user, content: "What is 1+1?"),
        ])
    }

    @Test("prompts are overridable data that round-trip through JSON")
    func overridable() throws {
        let custom = RolePrompts(solverSystem: "Answer in \\boxed{}.")
        #expect(custom.challengerSystem == RolePrompts.referenceChallengerSystem)
        let decoded = try JSONDecoder().decode(RolePrompts.self, from: JSONEncoder().encode(custom))
        #expect(decoded == custom)
    }

    @Test("an output that follows the Challenger prompt's own template passes the format check")
    func templateParses() throws {
        let output = "<question>\nWhat is the least prime above 100?\n</question>\n\n\\boxed{101}"
        #expect(try ChallengerOutput.parse(output).get() == ChallengerOutput(question: "What is the least prime above 100?", answer: "101"))
    }
}
