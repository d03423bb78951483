import Foundation

/// Everything that can go wrong loading a tokenizer.json, with a message naming the file, section or
/// token at fault. Thrown, never trapped: a bad file must not kill a server.
public enum TokenizerError: Error, Equatable, CustomStringConvertible, Sendable {
    case fileNotFound(String)
    case unreadable(path: String, reason: String)
    /// Not JSON, or JSON of the wrong shape; the reason names the key path.
    case invalidJSON(String)
    /// A section or option this module does not implement, e.g. `pre_tokenizer type "Metaspace"`.
    case unsupported(String)
    /// Merge number `rank` (0-based) names a token, or a merged token, missing from the vocabulary.
    case mergeOutOfVocabulary(rank: Int, token: String)
    /// A consistency error in the vocabulary or added tokens.
    case invalidVocabulary(String)
    /// A `Split` regex that is malformed (tokenizers would fail to compile it too).
    case invalidRegex(pattern: String, reason: String)

    public var description: String {
        switch self {
        case .fileNotFound(let p): return "tokenizer file not found: \(p)"
        case .unreadable(let p, let r): return "cannot read tokenizer file \(p): \(r)"
        case .invalidJSON(let r): return "invalid tokenizer.json: \(r)"
        case .unsupported(let m): return "unsupported tokenizer.json: \(m)"
        case .mergeOutOfVocabulary(let rank, let token):
            return "invalid tokenizer.json: merge \(rank) uses \"\(token)\", which is not in the vocabulary"
        case .invalidVocabulary(let m): return "invalid tokenizer.json: \(m)"
        case .invalidRegex(let pattern, let reason):
            return "invalid tokenizer.json: pre_tokenizer Split regex \(quoted(pattern)): \(reason)"
        }
    }

    /// A readable one-line reason from a `DecodingError`, naming the key path.
    static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            let keys = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }
            return keys.isEmpty ? "top level" : keys.joined(separator: ".").replacingOccurrences(of: ".[", with: "[")
        }
        switch error {
        case .dataCorrupted(let c):
            let underlying = c.underlyingError.map { ": \(String(describing: $0))" } ?? ""
            return "\(c.debugDescription)\(underlying) (at \(path(c)))"
        case .keyNotFound(let key, let c):
            return "missing key \"\(key.stringValue)\" at \(path(c))"
        case .typeMismatch(let type, let c):
            return "expected \(type) at \(path(c)): \(c.debugDescription)"
        case .valueNotFound(let type, let c):
            return "expected \(type), found null at \(path(c))"
        @unknown default:
            return String(describing: error)
        }
    }
}
