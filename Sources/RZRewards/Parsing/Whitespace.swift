/// `text` without leading and trailing whitespace (a view, no copy).
func trimmingWhitespace<Text: StringProtocol>(_ text: Text) -> Text.SubSequence {
    var result = text[...].drop(while: { $0.isWhitespace })
    while let last = result.last, last.isWhitespace { result = result.dropLast() }
    return result
}
