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

    /// Each golden chat's prompt text and ids, as the reference rendered and encoded them.
    func checkChat(_ cases: [Goldens.Chat], tokenizer name: String) throws {
        let chat = ChatFormat(tokenizer: try TokenizerFixtures.tokenizer(name))
        for c in cases {
            let messages = c.messages.map { ChatMessage(role: $0.role, content: $0.content) }
            #expect(sameText(chat.prompt(messages), c.prompt), "\(show(c.prompt))")
            #expect(chat.promptIds(messages) == c.ids, "\(show(c.prompt))")
        }
    }

    @Test("ChatML prompts and ids equal transformers' apply_chat_template and tokenizers' encoding")
    func chatMLGoldens() throws {
        let g = try TokenizerFixtures.goldens()
        #expect(g.chat.count >= 3)
        try checkChat(g.chat, tokenizer: "qwen_style")
    }

    @Test("Llama 3 header layout when the tokenizer has <|start_header_id|>, <|end_header_id|> and <|eot_id|>")
    func llama3() throws {
        let tok = try TokenizerFixtures.tokenizer("llama3_style")
        let chat = ChatFormat(tokenizer: tok)
        #expect(chat.layout == .llama3)
        let want = "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
            + "<|start_header_id|>user<|end_header_id|>\n\nWhat is 2+2?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
        #expect(sameText(chat.prompt(messages), want))
        let eot = try #require(tok.id(forToken: "<|eot_id|>")), end = try #require(tok.id(forToken: "<|end_of_text|>"))
        #expect(chat.stopTokenIds == [eot, end])
        let ids = chat.promptIds(messages)
        #expect(ids.first == tok.id(forToken: "<|begin_of_text|>"))
        #expect(ids.filter { $0 == eot }.count == 2)
        #expect(sameText(tok.decode(ids), want))
        // As the template: no <|begin_of_text|> without messages, contents trimmed like str.strip().
        #expect(sameText(chat.prompt([]), "<|start_header_id|>assistant<|end_header_id|>\n\n"))
        #expect(sameText(ChatFormat.trimmedLikePython("\u{1C} \u{3000}x y\u{A0}\n"), "x y"))
        #expect(sameText(ChatFormat.trimmedLikePython("\u{180E}x\u{200B}"), "\u{180E}x\u{200B}"))
        #expect(ChatFormat.trimmedLikePython(" \t ").isEmpty)
    }

    @Test("Llama 3 prompts and ids equal Meta-Llama-3-8B-Instruct's chat_template through apply_chat_template")
    func llama3Goldens() throws {
        let g = try TokenizerFixtures.llamaGoldens()
        #expect(g.chat.count >= 5)
        try checkChat(g.chat, tokenizer: "llama3_style")
    }

    @Test("the ChatML layout wins when a tokenizer has both ChatML and Llama 3 tokens; plain without either")
    func precedence() throws {
        var json = try TokenizerFixtures.jsonObject("qwen_style")
        var added = try #require(json["added_tokens"] as? [[String: Any]])
        var next = added.compactMap { $0["id"] as? Int }.max() ?? 0
        for content in ["<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"] {
            next += 1
            added.append(["id": next, "content": content, "special": true, "normalized": false])
        }
        json["added_tokens"] = added
        #expect(ChatFormat(tokenizer: try TokenizerFixtures.tokenizer(json: json)).layout == .chatML)
        #expect(ChatFormat(tokenizer: try TokenizerFixtures.tokenizer("deepseek_style")).layout == .plain)
    }
}
