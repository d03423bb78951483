/// One chat turn. Roles are free text; Qwen uses `system`, `user` and `assistant`.
public struct ChatMessage: Sendable, Equatable, Codable {
    /// Who speaks, written as is into the prompt.
    public var role: String
    /// What was said, written as is into the prompt.
    public var content: String

    public init(role: String, content: String) {
        self.role = role
        self.content = content
    }

    public static func system(_ content: String) -> ChatMessage { ChatMessage(role: "system", content: content) }
    public static func user(_ content: String) -> ChatMessage { ChatMessage(role: "user", content: content) }
    public static func assistant(_ content: String) -> ChatMessage { ChatMessage(role: "assistant", content: content) }
}

/// Builds generation prompts from chat messages, without a template engine.
///
/// - `chatML` (the tokenizer has `<|im_start|>` and `<|im_end|>`): Qwen's layout, each message as
///   `<|im_start|>{role}\n{content}<|im_end|>\n`, then the assistant header `<|im_start|>assistant\n`.
///   This is what Qwen2.5/Qwen3's `chat_template` renders with `add_generation_prompt=True` when no
///   tools are given, except that Qwen2.5's template inserts a default system message when there is
///   none and Qwen3's adds `<think>\n\n</think>\n\n` only with `enable_thinking=False`; neither is
///   done here. Generation stops at `<|im_end|>` (and `<|endoftext|>` if present, as Qwen's
///   `generation_config.json` lists both).
/// - `plain` (otherwise): each message as `{role}: {content}\n`, then `assistant: `. Generation
///   stops at `<|endoftext|>` if the tokenizer has it.
///
/// Message contents are inserted verbatim, so special-token text inside them is encoded as the
/// special token, exactly as encoding the rendered template with tokenizers would.
public struct ChatFormat: Sendable {
    public enum Layout: Sendable, Equatable {
        case chatML
        case plain
    }

    public let tokenizer: Tokenizer
    public let layout: Layout
    /// Token ids that end the assistant's turn.
    public let stopTokenIds: [Int32]

    /// Picks the layout from the tokenizer's added tokens.
    public init(tokenizer: Tokenizer) {
        self.tokenizer = tokenizer
        if let imStart = tokenizer.imStartTokenId, let imEnd = tokenizer.imEndTokenId, imStart != imEnd {
            layout = .chatML
            stopTokenIds = [imEnd] + (tokenizer.endOfTextTokenId.map { [$0] } ?? [])
        } else {
            layout = .plain
            stopTokenIds = tokenizer.endOfTextTokenId.map { [$0] } ?? []
        }
    }

    /// The prompt text: the messages, then the assistant header.
    public func prompt(_ messages: [ChatMessage]) -> String {
        var text = ""
        switch layout {
        case .chatML:
            for m in messages { text += "<|im_start|>\(m.role)\n\(m.content)<|im_end|>\n" }
            text += "<|im_start|>assistant\n"
        case .plain:
            for m in messages { text += "\(m.role): \(m.content)\n" }
            text += "assistant: "
        }
        return text
    }

    /// The prompt's token ids (`prompt` encoded; no post-processor tokens are added).
    public func promptIds(_ messages: [ChatMessage]) -> [Int32] {
        tokenizer.encode(prompt(messages), addSpecialTokens: false)
    }
}
