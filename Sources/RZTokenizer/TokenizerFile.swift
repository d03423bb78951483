/// The parts of a Hugging Face tokenizer.json this module reads, as `Decodable` types (layout from
/// huggingface/tokenizers `tokenizer/serialization.rs` and each component's serde attributes).
///
/// Polymorphic sections are enums decoded by their `type` field; a type this module does not
/// implement decodes to `.unsupported(type)` without reading its other fields, so loading can
/// name it in the error instead of failing on an unrelated field.
struct TokenizerFile: Decodable {
    var truncationIsSet: Bool
    var paddingIsSet: Bool
    var addedTokens: [AddedTokenEntry]
    var normalizer: NormalizerConfig?
    var preTokenizer: PreTokenizerConfig?
    var postProcessor: PostProcessorConfig?
    var decoder: DecoderConfig?
    var model: ModelConfig

    private enum CodingKeys: String, CodingKey {
        case truncation, padding, normalizer, decoder, model
        case addedTokens = "added_tokens"
        case preTokenizer = "pre_tokenizer"
        case postProcessor = "post_processor"
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        truncationIsSet = try c.contains(.truncation) && !c.decodeNil(forKey: .truncation)
        paddingIsSet = try c.contains(.padding) && !c.decodeNil(forKey: .padding)
        addedTokens = try c.decodeIfPresent([AddedTokenEntry].self, forKey: .addedTokens) ?? []
        normalizer = try c.decodeIfPresent(NormalizerConfig.self, forKey: .normalizer)
        preTokenizer = try c.decodeIfPresent(PreTokenizerConfig.self, forKey: .preTokenizer)
        postProcessor = try c.decodeIfPresent(PostProcessorConfig.self, forKey: .postProcessor)
        self.decoder = try c.decodeIfPresent(DecoderConfig.self, forKey: .decoder)
        model = try c.decode(ModelConfig.self, forKey: .model)
    }
}

/// One `added_tokens` entry (`AddedTokenWithId` in `tokenizer/added_vocabulary.rs`). Missing flags
/// take `AddedToken`'s defaults: not special, normalized unless special.
struct AddedTokenEntry: Decodable {
    var id: Int
    var content: String
    var singleWord: Bool
    var lstrip: Bool
    var rstrip: Bool
    var normalized: Bool
    var special: Bool

    private enum CodingKeys: String, CodingKey {
        case id, content, lstrip, rstrip, normalized, special
        case singleWord = "single_word"
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(Int.self, forKey: .id)
        content = try c.decode(String.self, forKey: .content)
        special = try c.decodeIfPresent(Bool.self, forKey: .special) ?? false
        singleWord = try c.decodeIfPresent(Bool.self, forKey: .singleWord) ?? false
        lstrip = try c.decodeIfPresent(Bool.self, forKey: .lstrip) ?? false
        rstrip = try c.decodeIfPresent(Bool.self, forKey: .rstrip) ?? false
        normalized = try c.decodeIfPresent(Bool.self, forKey: .normalized) ?? !special
    }
}

private enum TypeKey: String, CodingKey { case type }

private func typeName(_ decoder: any Decoder) throws -> String {
    try decoder.container(keyedBy: TypeKey.self).decode(String.self, forKey: .type)
}

indirect enum NormalizerConfig: Decodable {
    case nfc
    case sequence([NormalizerConfig])
    case unsupported(String)

    private enum CodingKeys: String, CodingKey { case normalizers }

    init(from decoder: any Decoder) throws {
        switch try typeName(decoder) {
        case "NFC": self = .nfc
        case "Sequence":
            let c = try decoder.container(keyedBy: CodingKeys.self)
            self = .sequence(try c.decode([NormalizerConfig].self, forKey: .normalizers))
        case let other: self = .unsupported(other)
        }
    }
}

indirect enum PreTokenizerConfig: Decodable {
    /// `Split` (`pre_tokenizers/split.rs`): `behavior` is serialized as `"Isolated"`, `"Removed"`, ...
    case split(pattern: SplitPattern, behavior: String, invert: Bool)
    /// `ByteLevel` (`pre_tokenizers/byte_level.rs`); `use_regex` defaults to true there.
    case byteLevel(addPrefixSpace: Bool, useRegex: Bool)
    case sequence([PreTokenizerConfig])
    case unsupported(String)

    private enum CodingKeys: String, CodingKey {
        case pattern, behavior, invert, pretokenizers
        case addPrefixSpace = "add_prefix_space"
        case useRegex = "use_regex"
    }

    init(from decoder: any Decoder) throws {
        let type = try typeName(decoder)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        switch type {
        case "Split":
            self = .split(
                pattern: try c.decode(SplitPattern.self, forKey: .pattern),
                behavior: try c.decode(String.self, forKey: .behavior),
                invert: try c.decodeIfPresent(Bool.self, forKey: .invert) ?? false)
        case "ByteLevel":
            self = .byteLevel(
                addPrefixSpace: try c.decodeIfPresent(Bool.self, forKey: .addPrefixSpace) ?? true,
                useRegex: try c.decodeIfPresent(Bool.self, forKey: .useRegex) ?? true)
        case "Sequence":
            self = .sequence(try c.decode([PreTokenizerConfig].self, forKey: .pretokenizers))
        default:
            self = .unsupported(type)
        }
    }
}

/// `{"Regex": "..."}` or `{"String": "..."}` (`SplitPattern` in `pre_tokenizers/split.rs`).
enum SplitPattern: Decodable {
    case regex(String)
    case string(String)

    private enum CodingKeys: String, CodingKey {
        case regex = "Regex"
        case string = "String"
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        if let r = try c.decodeIfPresent(String.self, forKey: .regex) {
            self = .regex(r)
        } else {
            self = .string(try c.decode(String.self, forKey: .string))
        }
    }
}

enum DecoderConfig: Decodable {
    case byteLevel
    case unsupported(String)

    init(from decoder: any Decoder) throws {
        let type = try typeName(decoder)
        self = type == "ByteLevel" ? .byteLevel : .unsupported(type)
    }
}

indirect enum PostProcessorConfig: Decodable {
    /// Changes offsets only, never ids.
    case byteLevel
    /// `processors/template.rs`; only the `single` template is used (no pair encoding here).
    case template(single: [TemplatePiece], specialTokens: [String: TemplateSpecialToken])
    case sequence([PostProcessorConfig])
    case unsupported(String)

    private enum CodingKeys: String, CodingKey {
        case single, processors
        case specialTokens = "special_tokens"
    }

    init(from decoder: any Decoder) throws {
        let type = try typeName(decoder)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        switch type {
        case "ByteLevel": self = .byteLevel
        case "TemplateProcessing":
            self = .template(
                single: try c.decode([TemplatePiece].self, forKey: .single),
                specialTokens: try c.decodeIfPresent([String: TemplateSpecialToken].self, forKey: .specialTokens) ?? [:])
        case "Sequence": self = .sequence(try c.decode([PostProcessorConfig].self, forKey: .processors))
        default: self = .unsupported(type)
        }
    }
}

/// `{"SpecialToken": {"id": "<s>", "type_id": 0}}` or `{"Sequence": {"id": "A", "type_id": 0}}`.
enum TemplatePiece: Decodable {
    case specialToken(String)
    case sequence(String)

    private enum CodingKeys: String, CodingKey {
        case specialToken = "SpecialToken"
        case sequence = "Sequence"
    }

    private struct Body: Decodable { var id: String }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        if let s = try c.decodeIfPresent(Body.self, forKey: .specialToken) {
            self = .specialToken(s.id)
        } else {
            self = .sequence(try c.decode(Body.self, forKey: .sequence).id)
        }
    }
}

struct TemplateSpecialToken: Decodable {
    var id: String
    var ids: [Int]
}

enum ModelConfig: Decodable {
    case bpe(BPEConfig)
    case unsupported(String)

    private enum CodingKeys: String, CodingKey { case type, merges }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        // Older files omit the model's type; tokenizers then recognises BPE by its merges.
        let type = try c.decodeIfPresent(String.self, forKey: .type) ?? (c.contains(.merges) ? "BPE" : "(none)")
        self = type == "BPE" ? .bpe(try BPEConfig(from: decoder)) : .unsupported(type)
    }
}

/// `BPE` (`models/bpe/serialization.rs`).
struct BPEConfig: Decodable {
    var vocab: [String: Int]
    var merges: [MergeEntry]
    var dropout: Double?
    var unkToken: String?
    var continuingSubwordPrefix: String?
    var endOfWordSuffix: String?
    var byteFallback: Bool?
    var ignoreMerges: Bool?

    private enum CodingKeys: String, CodingKey {
        case vocab, merges, dropout
        case unkToken = "unk_token"
        case continuingSubwordPrefix = "continuing_subword_prefix"
        case endOfWordSuffix = "end_of_word_suffix"
        case byteFallback = "byte_fallback"
        case ignoreMerges = "ignore_merges"
    }
}

/// One merge, in either format: `"a b"` (tokenizers < 0.20, and merges.txt) or `["a", "b"]`.
struct MergeEntry: Decodable {
    var left: String
    var right: String

    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let pair = try? c.decode([String].self) {
            guard pair.count == 2 else {
                throw DecodingError.dataCorruptedError(in: c, debugDescription: "a merge pair must have 2 strings, has \(pair.count)")
            }
            (left, right) = (pair[0], pair[1])
        } else {
            let line = try c.decode(String.self)
            // `convert_merges_to_hashmap` in models/bpe/model.rs: split on single spaces, exactly two parts.
            let parts = line.split(separator: " ", omittingEmptySubsequences: false)
            guard parts.count == 2 else {
                throw DecodingError.dataCorruptedError(
                    in: c, debugDescription: "merge \"\(line)\" is not two tokens separated by one space")
            }
            (left, right) = (String(parts[0]), String(parts[1]))
        }
    }
}
