/// The speaker of a chat message.
public enum ChatRole: String, Codable, Sendable, Equatable {
    case system, user, assistant
}

/// One chat message, before the tokenizer's chat template is applied.
public struct ChatMessage: Codable, Sendable, Equatable {
    /// Who speaks.
    public var role: ChatRole
    /// The message text.
    public var content: String

    public init(role: ChatRole, content: String) {
        self.role = role
        self.content = content
    }
}

/// The prompts of both roles, as data.
///
/// Defaults are R-Zero's (Chengsong-Huang/R-Zero): the Challenger's system and user messages from
/// `verl/utils/dataset.py` (`questioner_format`, also used by `question_generate/question_generate.py`)
/// and the Solver's system message from `solver_format` and `question_evaluate/evaluate.py`.
/// The upstream repository was read through forks carrying the same text verbatim.
public struct RolePrompts: Codable, Sendable, Equatable {
    /// The Challenger's system message (its whole instruction).
    public var challengerSystem: String
    /// The Challenger's user message.
    public var challengerUser: String
    /// The Solver's system message; the user message is the question.
    public var solverSystem: String

    public init(challengerSystem: String = RolePrompts.referenceChallengerSystem,
                challengerUser: String = RolePrompts.referenceChallengerUser,
                solverSystem: String = RolePrompts.referenceSolverSystem) {
        self.challengerSystem = challengerSystem
        self.challengerUser = challengerUser
        self.solverSystem = solverSystem
    }

    /// R-Zero's prompts.
    public static let reference = RolePrompts()

    /// The Challenger's messages: it gets no input besides this fixed instruction.
    public func challengerMessages() -> [ChatMessage] {
        [ChatMessage(role: .system, content: challengerSystem), ChatMessage(role: .user, content: challengerUser)]
    }

    /// The Solver's messages for one question.
    public func solverMessages(question: String) -> [ChatMessage] {
        [ChatMessage(role: .system, content: solverSystem), ChatMessage(role: .user, content: question)]
    }

    /// R-Zero's Solver system prompt (spec §3).
    public static let referenceSolverSystem = "Please reason step by step, and put your final answer within \\boxed{}."

    /// R-Zero's Challenger system prompt, verbatim (including "30 %", "clichés" and the em dash).
    public static let referenceChallengerSystem =
        "You are an expert competition-math problem setter.\n"
        + "FIRST, in your private scratch-pad, think step-by-step to design a brand-new, non-trivial problem. "
        + "The problem could come from any field of mathematics, including but not limited to algebra, geometry, "
        + "number theory, combinatorics, prealgebra, probability, statistics, and calculus. "
        + "Aim for a difficulty such that fewer than 30 % of advanced high-school students could solve it. "
        + "Avoid re-using textbook clichés or famous contest problems.\n"
        + "THEN, without revealing any of your private thoughts, output **exactly** the following two blocks:\n\n"
        + "<question>\n"
        + "{The full problem statement on one or more lines}\n"
        + "</question>\n\n"
        + "\\boxed{final_answer}"
        + "\n\n"
        + "Do NOT output anything else—no explanations, no extra markup."

    /// R-Zero's Challenger user prompt.
    public static let referenceChallengerUser =
        "Generate one new, challenging reasoning question now. "
        + "Remember to format the output exactly as instructed."
}
