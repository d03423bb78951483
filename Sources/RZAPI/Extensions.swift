// Small conveniences on the generated types (openapi.yaml is the source of truth; see README.md).

extension Components.Schemas.Prompt {
    /// A plain-text prompt (`{"text": ...}`).
    package static func text(_ text: String) -> Self { .TextPrompt(.init(text: text)) }
    /// A chat prompt (`{"messages": [...]}`), formatted by the server's chat template.
    package static func messages(_ messages: [Components.Schemas.ChatMessage]) -> Self {
        .ChatPrompt(.init(messages: messages))
    }
    /// A pre-tokenized prompt (`{"token_ids": [...]}`).
    package static func tokens(_ ids: [Int32]) -> Self { .TokenPrompt(.init(tokenIds: ids)) }
}

extension Components.Schemas.ChatMessage {
    package static func system(_ content: String) -> Self { .init(role: .system, content: content) }
    package static func user(_ content: String) -> Self { .init(role: .user, content: content) }
    package static func assistant(_ content: String) -> Self { .init(role: .assistant, content: content) }
}

extension Components.Schemas.ErrorResponse {
    package init(_ code: Components.Schemas.ErrorCode, _ message: String) {
        self.init(error: .init(code: code, message: message))
    }
}
