import Foundation

/// A `tokenizer.json` for a byte-level BPE with no merges: every byte is one token (ids 0…255, in
/// byte order), followed by special tokens. It is what the built-in model uses: its text is short
/// math, where a character-level vocabulary costs little and keeps digits aligned. The file is in
/// Hugging Face's format, so `tokenizers` and transformers load it too.
public enum ByteVocabularyFile {
    /// The file's JSON. `specialTokens` get ids 256, 257, ...
    public static func json(specialTokens: [String] = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]) throws -> Data {
        var vocab: [String: Int] = [:]
        for byte in 0..<256 { vocab[ByteLevel.spell([UInt8(byte)])] = byte }
        let added: [[String: Any]] = specialTokens.enumerated().map { i, content in
            ["id": 256 + i, "content": content, "single_word": false, "lstrip": false, "rstrip": false,
             "normalized": false, "special": true]
        }
        let byteLevel: [String: Any] = ["type": "ByteLevel", "add_prefix_space": false, "trim_offsets": false, "use_regex": false]
        let file: [String: Any] = [
            "version": "1.0",
            "truncation": NSNull(),
            "padding": NSNull(),
            "added_tokens": added,
            "normalizer": NSNull(),
            "pre_tokenizer": byteLevel,
            "post_processor": byteLevel,
            "decoder": byteLevel,
            "model": [
                "type": "BPE", "dropout": NSNull(), "unk_token": NSNull(), "continuing_subword_prefix": NSNull(),
                "end_of_word_suffix": NSNull(), "fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
                "vocab": vocab, "merges": [String](),
            ] as [String: Any],
        ]
        return try JSONSerialization.data(withJSONObject: file, options: [.prettyPrinted, .sortedKeys])
    }
}
