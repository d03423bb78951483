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
/// The layout is chosen from the tokenizer's added tokens, in this order:
/// - `chatML` (the tokenizer has `<|im_start|>` and `<|im_end|>`): Qwen's layout, each message as
///   `<|im_start|>{role}\n{content}<|im_end|>\n`, then the assistant header `<|im_start|>assistant\n`.
///   This is what Qwen2.5/Qwen3's `chat_template` renders with `add_generation_prompt=True` when no
///   tools are given, except that Qwen2.5's template inserts a default system message when there is
///   none and Qwen3's adds `<think>\n\n</think>\n\n` only with `enable_thinking=False`; neither is
///   done here. Generation stops at `<|im_end|>` (and `<|endoftext|>` if present, as Qwen's
///   `generation_config.json` lists both).
/// - `llama3` (the tokenizer has `<|start_header_id|>`, `<|end_header_id|>` and `<|eot_id|>`):
///   exactly what Meta-Llama-3-8B-Instruct's `chat_template` renders with
///   `add_generation_prompt=True`: `<|begin_of_text|>` (when the tokenizer has it) before the first
///   message, each message as `<|start_header_id|>{role}<|end_header_id|>\n\n{content}<|eot_id|>`
///   with the content trimmed as Jinja's `trim` does (Python's `str.strip()`), then
///   `<|start_header_id|>assistant<|end_header_id|>\n\n`. With no messages that template renders
///   only the assistant header, and so does this. Llama 3.1/3.2 Instruct templates differ: they
///   always open with a system message holding a "Cutting Knowledge Date" / "Today Date" preamble;
///   that is not rendered here (nor OctoThinker's or any other variant). Generation stops at
///   `<|eot_id|>` (and `<|end_of_text|>` if present).
/// - `plain` (otherwise): each message as `{role}: {content}\n`, then `assistant: `. Generation
///   stops at `<|endoftext|>` if the tokenizer has it.
///
/// Except for the Llama 3 trimming, message contents are inserted verbatim, so special-token text
/// inside them is encoded as the special token, exactly as encoding the rendered template with
/// tokenizers would.
public struct ChatFormat: Sendable {
    public enum Layout: Sendable, Equatable {
        case chatML
        case llama3
        case plain
    }

    public let tokenizer: Tokenizer
    public let layout: Layout
    /// Token ids that end the assistant's turn.
    public let stopTokenIds: [Int32]
    /// Whether the Llama 3 layout opens with `<|begin_of_text|>` (the tokenizer has it).
    private let beginsWithBOS: Bool

    /// Picks the layout from the tokenizer's added tokens.
    public init(tokenizer: Tokenizer) {
        self.tokenizer = tokenizer
        let added = { (content: String) in tokenizer.addedTokenId(content) }
        if let imStart = tokenizer.imStartTokenId, let imEnd = tokenizer.imEndTokenId, imStart != imEnd {
            layout = .chatML
            stopTokenIds = [imEnd] + (tokenizer.endOfTextTokenId.map { [$0] } ?? [])
            beginsWithBOS = false
        } else if let start = added("<|start_header_id|>"), let end = added("<|end_header_id|>"), let eot = added("<|eot_id|>"),
            Set([start, end, eot]).count == 3
        {
            layout = .llama3
            stopTokenIds = [eot] + (added("<|end_of_text|>").map { [$0] } ?? [])
            beginsWithBOS = added("<|begin_of_text|>") != nil
        } else {
            layout = .plain
            stopTokenIds = tokenizer.endOfTextTokenId.map { [$0] } ?? []
            beginsWithBOS = false
        }
    }

    /// The prompt text: the messages, then the assistant header.
    public func prompt(_ messages: [ChatMessage]) -> String {
        var text = ""
        switch layout {
        case .chatML:
            for m in messages { text += "<|im_start|>\(m.role)\n\(m.content)<|im_end|>\n" }
            text += "<|im_start|>assistant\n"
        case .llama3:
            for (k, m) in messages.enumerated() {
                if k == 0 && beginsWithBOS { text += "<|begin_of_text|>" }
                text += "<|start_header_id|>\(m.role)<|end_header_id|>\n\n\(Self.trimmedLikePython(m.content))<|eot_id|>"
            }
            text += "<|start_header_id|>assistant<|end_header_id|>\n\n"
        case .plain:
            for m in messages { text += "\(m.role): \(m.content)\n" }
            text += "assistant: "
        }
        return text
    }

    /// The prompt's token ids (`prompt` encoded; no post-processor tokens are added, as
    /// `apply_chat_template(tokenize=True)` adds none: Llama 3's template already has its
    /// `<|begin_of_text|>`).
    public func promptIds(_ messages: [ChatMessage]) -> [Int32] {
        tokenizer.encode(prompt(messages), addSpecialTokens: false)
    }

    /// `text.strip()` in Python, which Jinja's `trim` filter calls: the whitespace is Python's
    /// `str.isspace()` set, which is not Unicode's White_Space (it has U+001C–U+001F, not U+180E).
    static func trimmedLikePython(_ text: String) -> String {
        let scalars = text.unicodeScalars
        guard let first = scalars.firstIndex(where: { !isPythonSpace($0) }),
              let last = scalars.lastIndex(where: { !isPythonSpace($0) })
        else { return "" }
        return String(scalars[first...last])
    }

    private static func isPythonSpace(_ s: Unicode.Scalar) -> Bool {
        switch s.value {
        case 0x09...0x0D, 0x1C...0x20, 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000:
            return true
        default:
            return false
        }
    }
}
