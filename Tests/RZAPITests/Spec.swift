import Foundation
import Testing

/// A JSON value, for comparing what the generated types encode with what openapi.yaml says.
enum JSONValue: Codable, Sendable, Equatable, CustomStringConvertible {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let d = try? c.decode(Double.self) { self = .number(d) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let a = try? c.decode([JSONValue].self) { self = .array(a) }
        else { self = .object(try c.decode([String: JSONValue].self)) }
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case .bool(let b): try c.encode(b)
        case .number(let d):
            if d == d.rounded(), abs(d) < 1e15 { try c.encode(Int64(d)) } else { try c.encode(d) }
        case .string(let s): try c.encode(s)
        case .array(let a): try c.encode(a)
        case .object(let o): try c.encode(o)
        }
    }

    subscript(_ key: String) -> JSONValue? {
        if case .object(let o) = self { return o[key] }
        return nil
    }

    var objectValue: [String: JSONValue]? { if case .object(let o) = self { o } else { nil } }
    var stringValue: String? { if case .string(let s) = self { s } else { nil } }

    var description: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? "<unencodable>"
    }

    func data() throws -> Data { try JSONEncoder().encode(self) }

    /// Equality with a relative tolerance on numbers (Float fields keep about 7 digits).
    func matches(_ other: JSONValue, tolerance: Double = 1e-6) -> Bool {
        switch (self, other) {
        case (.number(let a), .number(let b)): return abs(a - b) <= tolerance * max(1, abs(a), abs(b))
        case (.array(let a), .array(let b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.matches($1, tolerance: tolerance) }
        case (.object(let a), .object(let b)):
            return a.keys.sorted() == b.keys.sorted() && a.allSatisfy { k, v in v.matches(b[k]!, tolerance: tolerance) }
        default: return self == other
        }
    }
}

/// openapi.yaml, loaded once from its JSON copy Fixtures/openapi.json (Foundation reads no YAML). The copy is
/// stamped with openapi.yaml's FNV-1a hash; a stale copy stops the tests with the command that refreshes it.
struct Spec: Sendable {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    static let yamlURL = directory.appendingPathComponent("../../openapi.yaml").standardizedFileURL
    static let fixtureURL = directory.appendingPathComponent("Fixtures/openapi.json")

    static let shared: Spec = {
        do {
            let fixture = try JSONDecoder().decode(JSONValue.self, from: Data(contentsOf: fixtureURL))
            guard fixture["format"]?.stringValue == "rzero-openapi-fixture", case .number(1)? = fixture["version"] else {
                fatalError("\(fixtureURL.path): unknown format; re-run scripts/check_openapi.py --write-fixture")
            }
            return Spec(root: fixture["spec"]!, stamp: fixture["source_fnv1a64"]?.stringValue ?? "")
        } catch {
            fatalError("cannot read \(fixtureURL.path) (\(error)); run scripts/check_openapi.py --write-fixture")
        }
    }()

    /// FNV-1a (64 bit) of a file's bytes, as scripts/check_openapi.py computes it.
    static func fnv1a64(_ url: URL) throws -> String {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in try Data(contentsOf: url) { h = (h ^ UInt64(b)) &* 0x100_0000_01B3 }
        let hex = String(h, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    let root: JSONValue
    /// The hash of the openapi.yaml the fixture was made from.
    let stamp: String

    /// Follows a local `$ref`.
    func resolve(_ value: JSONValue) -> JSONValue {
        guard let ref = value["$ref"]?.stringValue else { return value }
        var node = root
        for part in ref.dropFirst(2).split(separator: "/") { node = node[String(part)]! }
        return resolve(node)
    }

    /// Every media-type example, keyed "METHOD /path request" or "METHOD /path STATUS".
    var examples: [String: JSONValue] {
        var out: [String: JSONValue] = [:]
        for (path, item) in root["paths"]!.objectValue! {
            for (method, op) in item.objectValue! {
                let name = "\(method.uppercased()) \(path)"
                if let body = op["requestBody"], let example = body["content"]?["application/json"]?["example"] {
                    out["\(name) request"] = example
                }
                for (status, response) in op["responses"]!.objectValue! {
                    // A response with several content types: the JSON example under "<op> <status>", the others with their type.
                    for (type, media) in resolve(response)["content"]?.objectValue ?? [:] {
                        let key = type == "application/json" ? "\(name) \(status)" : "\(name) \(status) \(type)"
                        if let example = media["example"] { out[key] = example }
                    }
                }
            }
        }
        return out
    }

    func example(_ key: String) -> JSONValue {
        guard let e = examples[key] else { fatalError("openapi.yaml has no example \(key)") }
        return e
    }

    /// The example decoded into a generated type (with the runtime's ISO 8601 dates).
    func example<T: Decodable>(_ key: String, as type: T.Type) throws -> T {
        try Coding.decoder.decode(T.self, from: example(key).data())
    }
}

enum Coding {
    static var decoder: JSONDecoder {
        let d = JSONDecoder()
        d.dateDecodingStrategy = .iso8601
        return d
    }
    static var encoder: JSONEncoder {
        let e = JSONEncoder()
        e.dateEncodingStrategy = .iso8601
        e.outputFormatting = [.sortedKeys]
        return e
    }
}
