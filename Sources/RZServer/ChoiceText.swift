import RZTokenizer

/// A choice's text as OpenAI's routes return it, built token by token: decoded without special tokens, and cut before
/// the stop string that ended it. While streaming, the last (longest stop string − 1) characters are held back, since
/// they may yet turn out to start a stop string; no text that a later cut removes is ever handed out.
struct ChoiceText {
    private var decoder: StreamingDecoder
    private var scalars: [Unicode.Scalar] = []
    /// Scalars handed out so far.
    private var sent = 0
    private let holdBack: Int
    private let stops: [[Unicode.Scalar]]
    /// Per token, where its text starts in the choice's text (in Unicode scalars, as Python counts).
    private(set) var offsets: [Int] = []

    init(tokenizer: Tokenizer, stops: [String]) {
        decoder = StreamingDecoder(tokenizer: tokenizer, skipSpecialTokens: true)
        self.stops = stops.map { Array($0.unicodeScalars) }
        holdBack = max(0, (self.stops.map(\.count).max() ?? 0) - 1)
    }

    /// Adds a token; returns the text that can be handed out now (possibly empty).
    mutating func push(_ token: Int32) -> String {
        offsets.append(scalars.count)
        scalars.append(contentsOf: decoder.push(token).unicodeScalars)
        // Text up to the last (longest stop − 1) scalars is safe, unless a stop string is already complete in it (the
        // token that completes one ends the choice, and the text stops before it).
        var end = scalars.count - holdBack
        for stop in stops {
            if let at = Self.firstIndex(of: stop, in: scalars, from: sent) { end = min(end, at) }
        }
        return handOut(upTo: max(sent, end))
    }

    /// The choice ended: the rest of its text, cut before `stop` when a stop string ended it.
    mutating func finish(stop: String?) -> String {
        scalars.append(contentsOf: decoder.finish().unicodeScalars)
        var end = scalars.count
        if let stop, let at = Self.firstIndex(of: Array(stop.unicodeScalars), in: scalars, from: 0) { end = at }
        return handOut(upTo: max(sent, end))
    }

    /// The whole text of a finished choice (`push` every token, then `finish`).
    static func text(of tokens: [Int32], stop: String?, tokenizer: Tokenizer, stops: [String]) -> (text: String, offsets: [Int]) {
        var t = ChoiceText(tokenizer: tokenizer, stops: stops)
        var text = tokens.map { t.push($0) }.joined()
        text += t.finish(stop: stop)
        return (text, t.offsets)
    }

    private mutating func handOut(upTo end: Int) -> String {
        defer { sent = end }
        var out = String.UnicodeScalarView()
        out.append(contentsOf: scalars[sent..<end])
        return String(out)
    }

    private static func firstIndex(of needle: [Unicode.Scalar], in haystack: [Unicode.Scalar], from start: Int) -> Int? {
        guard !needle.isEmpty, start + needle.count <= haystack.count else { return nil }
        for i in start...(haystack.count - needle.count) where haystack[i] == needle[0] {
            if haystack[i..<(i + needle.count)].elementsEqual(needle) { return i }
        }
        return nil
    }
}
