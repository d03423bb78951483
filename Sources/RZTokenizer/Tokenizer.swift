import Foundation

/// A byte-level BPE tokenizer read from a Hugging Face `tokenizer.json`, as Qwen2/Qwen3, Llama 3
/// and GPT-2 use.
///
/// Encoding follows huggingface/tokenizers `Tokenizer::encode` (`tokenizer/mod.rs`):
/// 1. non-normalized added tokens are cut out of the raw text (`AddedTokenMatcher`);
/// 2. each remaining piece is normalized (NFC) and normalized added tokens are cut out of it;
/// 3. each remaining piece is split by the pre-tokenizer regexes (`SplitRule`);
/// 4. each split is run through BPE over its UTF-8 bytes (`BytePairEncoding`); with `ignore_merges`
///    a split that is itself a vocabulary entry is that one token;
/// 5. the post-processor's template, if any, adds special tokens (`addSpecialTokens`).
///
/// Supported tokenizer.json (anything else throws `TokenizerError.unsupported` naming it):
/// - `normalizer`: null, `NFC`, or a `Sequence` of those.
/// - `pre_tokenizer`: `ByteLevel` (`add_prefix_space: false`, either `use_regex`), optionally after
///   `Split` steps: a `Regex` pattern in the Oniguruma subset `SplitRegex` documents (the Qwen2 and
///   GPT-2 patterns run on exact hand-written scanners, any other, e.g. Llama 3's or o200k's, on the
///   general engine) or a `String` pattern; any behaviour (`Isolated`, `Removed`,
///   `MergedWithPrevious`, `MergedWithNext`, `Contiguous`), inverted or not. `Sequence` nests
///   freely. ByteLevel must come last. An unsupported regex construct names itself in the error.
/// - `model`: `BPE`, merges as `"a b"` or `["a", "b"]`, `ignore_merges` either way, no dropout, no
///   subword prefix/suffix. `unk_token` / `byte_fallback` only when every byte has a token (they
///   can then never apply); with `unk_token` null, bytes missing from the vocabulary are dropped,
///   as tokenizers does.
/// - `decoder`: `ByteLevel`.
/// - `post_processor`: null, `ByteLevel` (ids unchanged), `TemplateProcessing` (its `single`
///   template), or a `Sequence` of those. Qwen's is `ByteLevel`: plain encoding adds nothing;
///   Llama 3's adds `<|begin_of_text|>` in front when `addSpecialTokens` is true.
/// - `added_tokens`: matched before BPE, longest first, honouring `single_word`, `lstrip`,
///   `rstrip`, `normalized`; `special` ones can be skipped when decoding.
/// - `truncation` and `padding` must be null.
///
/// The tokenizer is an immutable value: share it across threads freely. `encode` keeps its
/// scratch buffers local to the call.
public struct Tokenizer: Sendable {
    let normalizers: [NormalizerStep]
    let splitRules: [SplitRule]
    let model: BytePairEncoding
    /// Added tokens with `normalized: false`, matched in the raw text.
    let rawMatcher: AddedTokenMatcher
    /// Added tokens with `normalized: true`, matched (with normalized content) in normalized text.
    let normalizedMatcher: AddedTokenMatcher
    /// The post-processor's `single` template; nil when it adds nothing.
    let template: [TemplateStep]?
    let vocab: [String: Int32]
    /// Keyed by UTF-8 bytes: String keys would treat canonically equivalent contents as one.
    let addedByContent: [[UInt8]: Int32]
    let idToToken: [String?]
    let decodeTable: DecodeTable

    /// The added tokens, in the file's order.
    public let addedTokens: [AddedToken]
    /// One more than the largest token id (model vocabulary and added tokens). The model's
    /// embedding matrix must have at least this many rows (Qwen pads it further).
    public let vocabularySize: Int

    /// Reads and validates a tokenizer.json file.
    public init(contentsOfFile path: String) throws(TokenizerError) {
        guard FileManager.default.fileExists(atPath: path) else { throw .fileNotFound(path) }
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw .unreadable(path: path, reason: error.localizedDescription)
        }
        try self.init(data: data)
    }

    /// Parses and validates the contents of a tokenizer.json.
    public init(data: Data) throws(TokenizerError) {
        let file: TokenizerFile
        do {
            file = try JSONDecoder().decode(TokenizerFile.self, from: data)
        } catch let error as DecodingError {
            throw .invalidJSON(TokenizerError.describe(error))
        } catch {
            throw .invalidJSON(error.localizedDescription)
        }
        try self.init(file: file)
    }

    // MARK: Vocabulary

    /// The id of a token, spelled as in the vocabulary (byte-level, e.g. `Ġthe`) or as an added
    /// token's content (e.g. `<|im_end|>`). Added tokens are looked up first, as in tokenizers.
    public func id(forToken token: String) -> Int32? {
        addedByContent[Array(token.utf8)] ?? vocab.exactValue(forKey: token)
    }

    /// The token an id stands for (vocabulary spelling, or added token content); nil if none.
    public func token(forId id: Int32) -> String? {
        guard id >= 0, Int(id) < idToToken.count else { return nil }
        return idToToken[Int(id)]
    }

    /// Whether `id` is a special added token (dropped by `skipSpecialTokens`).
    public func isSpecialToken(_ id: Int32) -> Bool {
        decodeTable.isSpecial(id)
    }

    /// `<|endoftext|>`, the end-of-document token of Qwen base models, if present.
    public var endOfTextTokenId: Int32? { addedByContent[Array("<|endoftext|>".utf8)] }
    /// `<|im_start|>`, which opens a ChatML turn, if present.
    public var imStartTokenId: Int32? { addedByContent[Array("<|im_start|>".utf8)] }
    /// `<|im_end|>`, which closes a ChatML turn (the stop token of chat generation), if present.
    public var imEndTokenId: Int32? { addedByContent[Array("<|im_end|>".utf8)] }
    /// `<|end_of_text|>`, the end-of-document token of Llama 3 base models, if present.
    public var llamaEndOfTextTokenId: Int32? { addedTokenId("<|end_of_text|>") }
    /// The end-of-sequence token of a base model: `<|endoftext|>`, else Llama 3's `<|end_of_text|>`,
    /// else `<|im_end|>`, else nil. For chat prompts use `ChatFormat.stopTokenIds`.
    public var eosTokenId: Int32? { endOfTextTokenId ?? llamaEndOfTextTokenId ?? imEndTokenId }

    /// The id of the added token with exactly this content (bytes compared), if there is one.
    func addedTokenId(_ content: String) -> Int32? { addedByContent[Array(content.utf8)] }

    // MARK: Encoding

    /// The token ids of `text`. With `addSpecialTokens` (the default, as in tokenizers), a
    /// `TemplateProcessing` post-processor adds its tokens; Qwen's post-processor adds none.
    public func encode(_ text: String, addSpecialTokens: Bool = true) -> [Int32] {
        var ids: [Int32] = []
        ids.reserveCapacity(text.utf8.count / 3)
        var scratch = EncodeScratch()
        let raw = Array(text.utf8)
        raw.withUnsafeBufferPointer { buffer in
            for segment in rawMatcher.split(buffer) {
                switch segment {
                case .token(let id): ids.append(id)
                case .text(let r): encodeNormalizing(UnsafeBufferPointer(rebasing: buffer[r]), into: &ids, scratch: &scratch)
                }
            }
        }
        guard addSpecialTokens, let template else { return ids }
        var out: [Int32] = []
        out.reserveCapacity(ids.count + template.count)
        for step in template {
            switch step {
            case .sequence: out.append(contentsOf: ids)
            case .special(let tokens): out.append(contentsOf: tokens)
            }
        }
        return out
    }

    private func encodeNormalizing(_ piece: UnsafeBufferPointer<UInt8>, into ids: inout [Int32], scratch: inout EncodeScratch) {
        guard !normalizers.isEmpty || !normalizedMatcher.isEmpty else {
            return encodeModel(piece, into: &ids, scratch: &scratch)
        }
        var bytes = Array(piece)
        for step in normalizers { bytes = step.apply(bytes) }
        bytes.withUnsafeBufferPointer { buffer in
            for segment in normalizedMatcher.split(buffer) {
                switch segment {
                case .token(let id): ids.append(id)
                case .text(let r): encodeModel(UnsafeBufferPointer(rebasing: buffer[r]), into: &ids, scratch: &scratch)
                }
            }
        }
    }

    /// Pre-tokenizes a piece free of added tokens and runs BPE on each split.
    private func encodeModel(_ piece: UnsafeBufferPointer<UInt8>, into ids: inout [Int32], scratch: inout EncodeScratch) {
        if piece.isEmpty { return }
        if splitRules.isEmpty {
            return model.encode(piece, into: &ids, scratch: &scratch.merge)
        }
        scratch.text.load(piece)
        // Take the buffers out of `scratch` so they are uniquely referenced (no copy on write).
        var ranges = scratch.ranges
        var next = scratch.nextRanges
        scratch.ranges = []
        scratch.nextRanges = []
        ranges.removeAll(keepingCapacity: true)
        ranges.append(0..<scratch.text.count)
        var split = scratch.split
        scratch.split = SplitScratch()
        for rule in splitRules {
            next.removeAll(keepingCapacity: true)
            for r in ranges { rule.split(scratch.text, range: r, into: &next, scratch: &split) }
            swap(&ranges, &next)
        }
        scratch.split = split
        for r in ranges {
            let bytes = scratch.text.offsets[r.lowerBound]..<scratch.text.offsets[r.upperBound]
            let word = UnsafeBufferPointer(rebasing: piece[bytes])
            scratch.cache.encode(word, model: model, into: &ids, scratch: &scratch.merge)
        }
        scratch.ranges = ranges
        scratch.nextRanges = next
    }

    // MARK: Decoding

    /// The text of `ids`, as tokenizers' `decode` with the ByteLevel decoder gives it: the tokens'
    /// bytes concatenated, then read as UTF-8 with each invalid sequence replaced by U+FFFD (Rust's
    /// `from_utf8_lossy` and Swift's `String(decoding:as:)` both replace maximal invalid subparts).
    /// Ids no token has are skipped, as in tokenizers.
    public func decode(_ ids: [Int32], skipSpecialTokens: Bool = false) -> String {
        var bytes: [UInt8] = []
        for id in ids { decodeTable.append(id, skipSpecial: skipSpecialTokens, to: &bytes) }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The bytes one token decodes to (special tokens as their text): what OpenAI's logprobs report as `bytes`.
    public func bytes(ofToken id: Int32) -> [UInt8] {
        var bytes: [UInt8] = []
        decodeTable.append(id, skipSpecial: false, to: &bytes)
        return bytes
    }
}

extension Dictionary where Key == String {
    /// The value for a key with exactly these Unicode scalars. Swift's String equality, which
    /// Dictionary uses, is canonical equivalence ("é" == "e\u{301}"); tokenizers compares bytes.
    func exactValue(forKey key: String) -> Value? {
        guard let i = index(forKey: key), self[i].key.utf8.elementsEqual(key.utf8) else { return nil }
        return self[i].value
    }
}

/// A post-processor template step.
enum TemplateStep: Sendable, Equatable {
    case sequence
    case special([Int32])
}

/// Scratch buffers for one `encode` call.
struct EncodeScratch {
    var text = ScalarText()
    var ranges: [Range<Int>] = []
    var nextRanges: [Range<Int>] = []
    var split = SplitScratch()
    var merge = MergeScratch()
    var cache = WordCache()
}

/// Ids of words already merged during one `encode` call (text repeats words, and merging costs
/// more than a lookup). Local to the call, so the tokenizer stays immutable and shareable.
/// Only words of 2–16 bytes are cached, keyed by their bytes packed into two integers so a
/// lookup allocates nothing; most words are that short, and longer ones are rarer and rarely repeat.
struct WordCache {
    private struct Key: Hashable {
        var low: UInt64
        var high: UInt64
        var count: Int
    }

    private var index: [Key: Range<Int>] = [:]
    private var store: [Int32] = []
    /// Past this many words the cache is cleared, bounding its memory on huge inputs.
    static let capacity = 16_384

    mutating func encode(
        _ word: UnsafeBufferPointer<UInt8>, model: BytePairEncoding, into ids: inout [Int32], scratch: inout MergeScratch
    ) {
        guard word.count > 1 && word.count <= 16 else {
            return model.encode(word, into: &ids, scratch: &scratch)
        }
        var key = Key(low: 0, high: 0, count: word.count)
        for (i, b) in word.enumerated() {
            if i < 8 { key.low |= UInt64(b) << (8 * i) } else { key.high |= UInt64(b) << (8 * (i - 8)) }
        }
        if let r = index[key] {
            ids.append(contentsOf: store[r])
            return
        }
        let start = ids.count
        model.encode(word, into: &ids, scratch: &scratch)
        if index.count >= Self.capacity {
            index.removeAll(keepingCapacity: true)
            store.removeAll(keepingCapacity: true)
        }
        index[key] = store.count..<(store.count + ids.count - start)
        store.append(contentsOf: ids[start...])
    }
}

/// Every token's bytes in one buffer, for decoding without per-token allocations.
struct DecodeTable: Sendable {
    private let bytes: [UInt8]
    /// Token `id`'s bytes are `bytes[offsets[id]..<offsets[id + 1]]`.
    private let offsets: [Int32]
    private let present: [Bool]
    private let special: [Bool]

    init(tokens: [String?], special: Set<Int32>) {
        var bytes: [UInt8] = []
        var offsets: [Int32] = [0]
        var present: [Bool] = []
        offsets.reserveCapacity(tokens.count + 1)
        for token in tokens {
            if let token { bytes.append(contentsOf: ByteLevel.bytes(ofToken: token)) }
            offsets.append(Int32(bytes.count))
            present.append(token != nil)
        }
        self.bytes = bytes
        self.offsets = offsets
        self.present = present
        self.special = (0..<tokens.count).map { special.contains(Int32($0)) }
    }

    func isSpecial(_ id: Int32) -> Bool {
        id >= 0 && Int(id) < special.count && special[Int(id)]
    }

    /// Appends the bytes of `id`; unknown ids, and special ones when skipping, add nothing.
    func append(_ id: Int32, skipSpecial: Bool, to out: inout [UInt8]) {
        guard id >= 0, Int(id) < present.count, present[Int(id)] else { return }
        if skipSpecial && special[Int(id)] { return }
        out.append(contentsOf: bytes[Int(offsets[Int(id)])..<Int(offsets[Int(id) + 1])])
    }
}
