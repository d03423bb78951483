import Foundation
import Testing
@testable import RZTokenizer

@Suite("Chat format")
struct ChatFormatTests {
    let messages: [ChatMessage] = [.system("Be brief."), .user("What is 2+2?")]

    @Test("ChatML layout when the tokenizer has <|im_start|> and <|im_end|>")
    func chatML() throws {
        let tok = try TokenizerFixtures.tokenizer("qwen_style")
        let chat = ChatFormat(tokenizer: tok)
        #expect(chat.layout == .chatML)
        let want = "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n"
        #expect(sameText(chat.prompt(messages), want))
        let imStart = try #require(tok.imStartTokenId), imEnd = try #require(tok.imEndTokenId)
        let eot = try #require(tok.endOfTextTokenId)
        #expect(chat.stopTokenIds == [imEnd, eot])
        let ids = chat.promptIds(messages)
        #expect(ids.first == imStart)
        #expect(ids.filter { $0 == imEnd }.count == 2)
        #expect(sameText(tok.decode(ids), want))
        #expect(sameText(chat.prompt([]), "<|im_start|>assistant\n"))
    }

    @Test("plain layout otherwise")
    func plain() throws {
        let tok = try TokenizerFixtures.tokenizer("gpt2_style")
        let chat = ChatFormat(tokenizer: tok)
        #expect(chat.layout == .plain)
        #expect(sameText(chat.prompt(messages), "system: Be brief.\nuser: What is 2+2?\nassistant: "))
        #expect(chat.stopTokenIds == [try #require(tok.endOfTextTokenId)])
        #expect(sameText(tok.decode(chat.promptIds(messages)), "system: Be brief.\nuser: What is 2+2?\nassistant: "))
        let none = ChatFormat(tokenizer: try TokenizerFixtures.tokenizer("tiny_gaps"))
        #expect(none.layout == .plain && none.stopTokenIds.isEmpty)
    }

    @Test("ChatML prompts and ids equal transformers' apply_chat_template and tokenizers' encoding")
    func chatMLGoldens() throws {
        let g = try TokenizerFixtures.goldens()
        let chat = ChatFormat(tokenizer: try TokenizerFixtures.tokenizer("qwen_style"))
        #expect(g.chat.count >= 3)
        for c in g.chat {
            let messages = c.messages.map { ChatMessage(role: $0.role, content: $0.content) }
            #expect(sameText(chat.prompt(messages), c.prompt), "\(show(c.prompt))")
            #expect(chat.promptIds(messages) == c.ids, "\(show(c.prompt))")
        }
    }
}
