/// Building the pipeline from a decoded tokenizer.json: each section is checked against what this
/// module implements, and anything else is a thrown `TokenizerError` naming it.
extension Tokenizer {
    init(file: TokenizerFile) throws(TokenizerError) {
        if file.truncationIsSet { throw .unsupported("truncation is set (encode never truncates); set it to null") }
        if file.paddingIsSet { throw .unsupported("padding is set (encode never pads); set it to null") }

        let normalizers = try Self.normalizerSteps(file.normalizer)
        let splitRules = try Self.splitRules(file.preTokenizer)
        switch file.decoder {
        case .byteLevel: break
        case .unsupported(let type): throw .unsupported("decoder type \"\(type)\"")
        case nil: throw .unsupported("decoder null (byte-level BPE needs the ByteLevel decoder)")
        }

        // Model.
        let config: BPEConfig
        switch file.model {
        case .bpe(let c): config = c
        case .unsupported(let type): throw .unsupported("model type \"\(type)\"")
        }
        if let p = config.dropout, p != 0 { throw .unsupported("model BPE dropout \(p)") }
        if let p = config.continuingSubwordPrefix, !p.isEmpty {
            throw .unsupported("model BPE continuing_subword_prefix \"\(p)\"")
        }
        if let s = config.endOfWordSuffix, !s.isEmpty { throw .unsupported("model BPE end_of_word_suffix \"\(s)\"") }
        var vocab: [String: Int32] = [:]
        vocab.reserveCapacity(config.vocab.count)
        for (token, id) in config.vocab {
            guard let id32 = Int32(exactly: id), id32 >= 0 else {
                throw .invalidVocabulary("token \"\(token)\" has id \(id), outside 0...\(Int32.max)")
            }
            vocab[token] = id32
        }
        let model = try BytePairEncoding(
            vocab: vocab, merges: config.merges.map { ($0.left, $0.right) }, ignoreMerges: config.ignoreMerges ?? false)
        // An unknown token or byte fallback would change the ids of bytes missing from the vocabulary;
        // when there are none, these options can never apply and are accepted.
        if !model.coversAllBytes {
            if let unk = config.unkToken { throw .unsupported("model BPE unk_token \"\(unk)\" with bytes missing from the vocabulary") }
            if config.byteFallback == true { throw .unsupported("model BPE byte_fallback with bytes missing from the vocabulary") }
        }

        // Added tokens. tokenizers re-derives their ids on load, one by one in file order
        // (`TokenizerVisitor` in tokenizer/serialization.rs, `AddedVocabulary::add_tokens`): a
        // content already known keeps its id, a new one takes the vocabulary size or follows the
        // largest added id, and the file's id is only checked with a warning. A file whose ids
        // disagree would silently get different ids there, so it is refused here.
        var added: [AddedToken] = []
        var addedByContent: [[UInt8]: Int32] = [:]
        var largestAdded: Int32? = nil
        let vocabCount = Int32(vocab.count)
        for entry in file.addedTokens where !entry.content.isEmpty {  // tokenizers ignores empty ones
            let key = Array(entry.content.utf8)
            let derived: Int32
            if let known = addedByContent[key] ?? vocab.exactValue(forKey: entry.content) {
                derived = known
            } else if let largest = largestAdded, largest >= vocabCount || vocabCount == 0 {
                derived = largest + 1
            } else {
                derived = vocabCount
            }
            guard entry.id == Int(derived) else {
                throw .invalidVocabulary(
                    "added token \"\(entry.content)\" has id \(entry.id), but tokenizers would give it id \(derived)")
            }
            let token = AddedToken(
                id: derived, content: entry.content, isSpecial: entry.special, singleWord: entry.singleWord,
                lstrip: entry.lstrip, rstrip: entry.rstrip, normalized: entry.normalized)
            // Listing a content twice updates its flags, as `add_tokens` replaces the map entry.
            if let i = added.firstIndex(where: { $0.content.utf8.elementsEqual(key) }) {
                added[i] = token
            } else {
                added.append(token)
            }
            addedByContent[key] = derived
            largestAdded = max(largestAdded ?? derived, derived)
        }
        let raw = added.filter { !$0.normalized }
        let normalizedTokens = added.filter { $0.normalized }
        let rawMatcher = AddedTokenMatcher(tokens: raw, contents: raw.map { Array($0.content.utf8) })
        // `refresh_added_tokens`: a normalized token's content is normalized before matching.
        let normalizedContents = normalizedTokens.map { token in
            normalizers.reduce(Array(token.content.utf8)) { $1.apply($0) }
        }
        let normalizedMatcher = AddedTokenMatcher(tokens: normalizedTokens, contents: normalizedContents)

        // Id → token table (added tokens take precedence, as `AddedVocabulary::id_to_token`).
        let maxId = max(vocab.values.max() ?? -1, added.map(\.id).max() ?? -1)
        // Ids index dense tables (and the model's embedding rows), so a stray huge id must not
        // allocate gigabytes: tokenizers' own files number their tokens 0..<count.
        let tokenCount = vocab.count + added.count
        guard Int(maxId) < 2 * tokenCount + 1024 else {
            throw .invalidVocabulary("token ids are sparse: the largest is \(maxId) for \(tokenCount) tokens")
        }
        var idToToken = [String?](repeating: nil, count: Int(maxId) + 1)
        for (token, id) in vocab { idToToken[Int(id)] = token }
        for token in raw { idToToken[Int(token.id)] = token.content }
        // tokenizers 0.23 gives a normalized token's normalized content for its id (so `decode`
        // reads "e\u{301}te\u{301}" as "été"); lookups by content still use the raw content.
        for (token, bytes) in zip(normalizedTokens, normalizedContents) {
            idToToken[Int(token.id)] = String(decoding: bytes, as: UTF8.self)
        }

        let template = try Self.template(file.postProcessor)

        self.normalizers = normalizers
        self.splitRules = splitRules
        self.model = model
        self.rawMatcher = rawMatcher
        self.normalizedMatcher = normalizedMatcher
        self.template = template
        self.vocab = vocab
        self.addedByContent = addedByContent
        self.idToToken = idToToken
        self.decodeTable = DecodeTable(tokens: idToToken, special: Set(added.filter(\.isSpecial).map(\.id)))
        self.addedTokens = added
        self.vocabularySize = idToToken.count
    }

    private static func normalizerSteps(_ config: NormalizerConfig?) throws(TokenizerError) -> [NormalizerStep] {
        switch config {
        case nil: return []
        case .nfc: return [.nfc]
        case .sequence(let items):
            var steps: [NormalizerStep] = []
            for item in items { steps += try normalizerSteps(item) }
            return steps
        case .unsupported(let type): throw .unsupported("normalizer type \"\(type)\"")
        }
    }

    private static func flatten(_ config: PreTokenizerConfig) -> [PreTokenizerConfig] {
        if case .sequence(let items) = config { return items.flatMap(flatten) }
        return [config]
    }

    /// The split steps of the pre-tokenizer. ByteLevel's byte-to-character mapping needs no step:
    /// the model works on the raw bytes and the vocabulary is read through the same mapping.
    private static func splitRules(_ config: PreTokenizerConfig?) throws(TokenizerError) -> [SplitRule] {
        guard let config else {
            throw .unsupported("pre_tokenizer null (byte-level BPE needs the ByteLevel pre-tokenizer)")
        }
        var rules: [SplitRule] = []
        var sawByteLevel = false
        for step in flatten(config) {
            if sawByteLevel {
                throw .unsupported("pre_tokenizer step after ByteLevel (it must be the last step)")
            }
            switch step {
            case .split(let pattern, let behaviorName, let invert):
                guard let behavior = SplitBehavior(rawValue: behaviorName) else {
                    throw .unsupported("pre_tokenizer Split behavior \"\(behaviorName)\"")
                }
                switch pattern {
                case .regex(let regex):
                    rules.append(try SplitRule(pattern: regex, behavior: behavior, invert: invert))
                case .string(let literal):
                    rules.append(SplitRule(matcher: .regex(try SplitRegex(literal: literal)), behavior: behavior, invert: invert))
                }
            case .byteLevel(let addPrefixSpace, let useRegex):
                guard !addPrefixSpace else { throw .unsupported("pre_tokenizer ByteLevel add_prefix_space: true") }
                if useRegex { rules.append(.gpt2) }
                sawByteLevel = true
            case .sequence:
                break  // flattened above
            case .unsupported(let type):
                throw .unsupported("pre_tokenizer type \"\(type)\"")
            }
        }
        guard sawByteLevel else { throw .unsupported("pre_tokenizer without ByteLevel (only byte-level BPE is implemented)") }
        return rules
    }

    private static func template(_ config: PostProcessorConfig?) throws(TokenizerError) -> [TemplateStep]? {
        var result: [TemplateStep]? = nil
        func visit(_ c: PostProcessorConfig) throws(TokenizerError) {
            switch c {
            case .byteLevel: break
            case .sequence(let items): for item in items { try visit(item) }
            case .unsupported(let type): throw .unsupported("post_processor type \"\(type)\"")
            case .template(let single, let specials):
                guard result == nil else { throw .unsupported("post_processor with two TemplateProcessing steps") }
                var steps: [TemplateStep] = []
                for piece in single {
                    switch piece {
                    case .sequence(let name):
                        guard name == "A" else { throw .unsupported("post_processor single template uses sequence \"\(name)\"") }
                        steps.append(.sequence)
                    case .specialToken(let name):
                        guard let spec = specials[name] else {
                            throw .invalidVocabulary(
                                "post_processor template names special token \"\(name)\", which its special_tokens lacks")
                        }
                        var ids: [Int32] = []
                        for id in spec.ids {
                            guard let id32 = Int32(exactly: id), id32 >= 0 else {
                                throw .invalidVocabulary("post_processor special token \"\(name)\" has id \(id)")
                            }
                            ids.append(id32)
                        }
                        steps.append(.special(ids))
                    }
                }
                result = steps
            }
        }
        if let config { try visit(config) }
        return result
    }
}
