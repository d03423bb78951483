/// Everything that can go wrong reading, validating or running a model, with a message that names
/// the file, field or tensor at fault. Thrown, never trapped: a bad file must not kill a server.
public enum ModelError: Error, Equatable, CustomStringConvertible, Sendable {
    case fileNotFound(String)
    case unreadable(path: String, reason: String)
    case invalidConfig(String)
    case unsupported(String)
    case safetensors(path: String, reason: String)
    case missingTensor(String)
    case unexpectedTensor(String)
    case shapeMismatch(name: String, expected: [Int], found: [Int])
    case invalidInput(String)

    public var description: String {
        switch self {
        case .fileNotFound(let p): return "file not found: \(p)"
        case .unreadable(let p, let r): return "cannot read \(p): \(r)"
        case .invalidConfig(let m): return "invalid config.json: \(m)"
        case .unsupported(let m): return "unsupported model: \(m)"
        case .safetensors(let p, let r): return "bad safetensors file \(p): \(r)"
        case .missingTensor(let n): return "checkpoint is missing tensor \(n)"
        case .unexpectedTensor(let n): return "checkpoint has unexpected tensor \(n)"
        case .shapeMismatch(let n, let e, let f): return "tensor \(n) has shape \(f), expected \(e)"
        case .invalidInput(let m): return "invalid input: \(m)"
        }
    }
}
