/// Extraction of final answers from model responses.
///
/// A response's answer is the content of its last `\boxed{...}` (or `\fbox{...}`) whose braces
/// balance. The scan is one linear pass over the UTF-8 bytes with an explicit stack, so a 1 MB
/// response or 10,000 nested braces cost microseconds to milliseconds and never recurse.
public enum BoxedAnswer {
    /// The content of the last balanced `\boxed{...}` or `\fbox{...}` in `text`, trimmed; also
    /// accepts the brace-less `\boxed 5` form. nil when there is none.
    ///
    /// "Last" means the box that opens last among those that close: in `\boxed{\boxed{5}}` that
    /// is the inner `5` (as in mathruler's `extract_boxed_content`, which uses `rfind`). A box
    /// that never closes (a truncated response) is skipped, so an earlier complete box counts.
    /// Escaped braces `\{` and `\}` do not count towards the balance.
    public static func last(in text: String) -> String? {
        let bytes = Array(text.utf8)
        guard let range = lastRange(in: bytes) else { return nil }
        let content = String(decoding: bytes[range], as: UTF8.self)
        return String(trimmingWhitespace(content))
    }

    /// All balanced boxes, in order of their opening positions (used by tests and tools).
    public static func all(in text: String) -> [String] {
        let bytes = Array(text.utf8)
        return boxRanges(in: bytes).sorted { $0.lowerBound < $1.lowerBound }.map {
            String(trimmingWhitespace(String(decoding: bytes[$0], as: UTF8.self)))
        }
    }

    static func lastRange(in bytes: [UInt8]) -> Range<Int>? {
        boxRanges(in: bytes).max { $0.lowerBound < $1.lowerBound }
    }

    private static let backslash = UInt8(ascii: "\\")
    private static let openBrace = UInt8(ascii: "{")
    private static let closeBrace = UInt8(ascii: "}")
    private static let boxCommands: Set<[UInt8]> = [Array("boxed".utf8), Array("fbox".utf8)]

    /// Content ranges of every box that closes, found with one pass and a stack.
    static func boxRanges(in bytes: [UInt8]) -> [Range<Int>] {
        // Each open brace on the stack remembers whether it opened a box.
        var stack: [(contentStart: Int, isBox: Bool)] = []
        var ranges: [Range<Int>] = []
        var pendingBox = false
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            if byte == backslash {
                let nameStart = index + 1
                var nameEnd = nameStart
                while nameEnd < bytes.count, isLetter(bytes[nameEnd]) { nameEnd += 1 }
                if nameEnd == nameStart {
                    // `\{`, `\}`, `\\` and other one-character escapes.
                    index += 2
                    continue
                }
                index = nameEnd
                guard boxCommands.contains(Array(bytes[nameStart..<nameEnd])) else { continue }
                var next = index
                while next < bytes.count, bytes[next] == UInt8(ascii: " ") { next += 1 }
                if next < bytes.count, bytes[next] == openBrace {
                    pendingBox = true
                    index = next
                } else if next > index, next < bytes.count {
                    // `\boxed 5`: the answer runs to the next whitespace or `$`.
                    var end = next
                    while end < bytes.count, !isSpace(bytes[end]), bytes[end] != UInt8(ascii: "$") { end += 1 }
                    if end > next { ranges.append(next..<end) }
                    index = end
                }
                continue
            }
            if byte == openBrace {
                stack.append((contentStart: index + 1, isBox: pendingBox))
                pendingBox = false
            } else if byte == closeBrace {
                if let open = stack.popLast(), open.isBox {
                    ranges.append(open.contentStart..<index)
                }
            } else if !isSpace(byte) {
                pendingBox = false
            }
            index += 1
        }
        return ranges
    }

    private static func isLetter(_ byte: UInt8) -> Bool {
        (byte >= 65 && byte <= 90) || (byte >= 97 && byte <= 122)
    }

    private static func isSpace(_ byte: UInt8) -> Bool {
        byte == 32 || byte == 9 || byte == 10 || byte == 13
    }
}
