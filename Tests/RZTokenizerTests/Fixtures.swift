import Foundation
import Testing
@testable import RZTokenizer

/// The committed fixtures in Tests/Fixtures/tokenizer/, made by scripts/make_tokenizer_fixtures.py
/// with the Hugging Face `tokenizers` library. Located relative to this file, never the working
/// directory, and never fetched.
enum TokenizerFixtures {
    static let format = "rzero-tokenizer-goldens"
    static let version = 1

    static var directory: URL {
        URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent()  // RZTokenizerTests
            .deletingLastPathComponent()  // Tests
            .appendingPathComponent("Fixtures/tokenizer")
    }

    static func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    static func data(_ name: String) throws -> Data { try Data(contentsOf: directory.appendingPathComponent(name)) }

    static func tokenizer(_ name: String) throws -> Tokenizer {
        try Tokenizer(contentsOfFile: path(name + ".json"))
    }

    /// The goldens, refusing a file from another generator version.
    static func goldens() throws -> Goldens { try goldens(file: "goldens.json") }

    /// The goldens of the Llama 3-style and DeepSeek-style tokenizers (texts of goldens.json plus
    /// digit runs and Llama 3's special tokens; Llama 3 chat prompts).
    static func llamaGoldens() throws -> Goldens { try goldens(file: "llama3_goldens.json") }

    private static func goldens(file: String) throws -> Goldens {
        let g = try JSONDecoder().decode(Goldens.self, from: data(file))
        guard g.format == format, g.version == version else {
            throw FixtureError.stale("\(file) is \(g.format) v\(g.version), expected \(format) v\(version): "
                + "re-run scripts/make_tokenizer_fixtures.py")
        }
        return g
    }

    /// A tokenizer.json fixture as a mutable JSON object, for building bad or variant files.
    static func jsonObject(_ name: String) throws -> [String: Any] {
        guard let object = try JSONSerialization.jsonObject(with: data(name + ".json")) as? [String: Any] else {
            throw FixtureError.stale("\(name).json is not a JSON object")
        }
        return object
    }

    static func tokenizer(json: [String: Any]) throws(TokenizerError) -> Tokenizer {
        let data: Data
        do {
            data = try JSONSerialization.data(withJSONObject: json)
        } catch {
            throw .invalidJSON("test could not serialize its JSON: \(error)")
        }
        return try Tokenizer(data: data)
    }
}

enum FixtureError: Error, CustomStringConvertible {
    case stale(String)
    var description: String {
        switch self { case .stale(let m): return m }
    }
}

struct Goldens: Decodable {
    struct Result: Decodable {
        let ids: [Int32]
        let ids_no_special: [Int32]
        let decoded: String
        let decoded_skip_special: String
    }

    struct DecodeCase: Decodable {
        let ids: [Int32]
        let decoded: String
        let decoded_skip_special: String
    }

    struct PerTokenizer: Decodable {
        let file: String
        let vocab_size: Int
        let results: [Result]
        let decode_cases: [DecodeCase]
    }

    struct Chat: Decodable {
        struct Message: Decodable {
            let role: String
            let content: String
        }
        let messages: [Message]
        let prompt: String
        let ids: [Int32]
    }

    let format: String
    let version: Int
    let tokenizers_version: String
    let texts: [String]
    let tokenizers: [String: PerTokenizer]
    let chat: [Chat]
}

/// Exact text equality: Swift's `==` on String is canonical equivalence ("é" == "e\u{301}"),
/// which would hide normalization bugs, so compare the scalars.
func sameText(_ a: String, _ b: String) -> Bool {
    a.unicodeScalars.elementsEqual(b.unicodeScalars)
}

/// A short, escaped rendering of a text for failure messages.
func show(_ s: String, limit: Int = 80) -> String {
    let head = s.unicodeScalars.prefix(limit).map { $0.escaped(asASCII: true) }.joined()
    return "\"\(head)\(s.unicodeScalars.count > limit ? "…" : "")\""
}
