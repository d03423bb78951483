/// Lexical analysis of a math answer (LaTeX or plain text) into tokens for `AnswerParser`.
///
/// Normalisation happens here, in one linear pass, instead of with regular expressions (which can
/// backtrack badly on adversarial input): `$`, `\left`/`\right`, spacing commands (`\!`, `\,`,
/// `\quad`, ...) and `\displaystyle` are dropped; `\dfrac`/`\tfrac` become `\frac`; `\cdot` and
/// `\times` become `*`; letters are lower-cased (answers are compared case-insensitively, as
/// math-verify does); `\text{...}` and friends become a word, a letter or a number; `%` is noted
/// and removed; degree signs (`^\circ`, `^{\circ}`, `°`) are removed.

/// The kinds of bracket the grader distinguishes.
enum Bracket: Character, Sendable {
    case paren = "("
    case square = "["
    case brace = "{"
    /// `\{ ... \}`: a set, as opposed to a TeX group.
    case setBrace = "⦃"
}

enum TokenKind: Equatable, Sendable {
    /// A decimal literal such as `12`, `0.5` or `.5`.
    case number(String)
    /// A variable: a single Latin letter, a Greek letter name, optionally with a subscript later.
    case identifier(String)
    /// A word that is not mathematics: text answers and units.
    case word(String)
    /// A LaTeX command that the parser understands, without its backslash (`frac`, `sqrt`, `pi`).
    case command(String)
    /// A one-character operator or punctuation mark: `+ - * / ^ _ ! = < > , | ≤ ≥ ≠ : ; '`.
    case symbol(Character)
    case open(Bracket)
    case close(Bracket)
}

struct Token: Equatable, Sendable {
    var kind: TokenKind
    /// Whether whitespace preceded the token (needed for `1,000` versus `1, 000`).
    var spaceBefore: Bool
}

/// The result of tokenising one answer.
struct TokenizedAnswer: Sendable {
    var tokens: [Token]
    /// A `%` or `\%` was present (and removed).
    var hadPercent: Bool
}

/// Why tokenising failed; the grader then falls back to comparing normalised text only.
enum TokenizeFailure: Error, Equatable, Sendable {
    case unsupportedCharacter
    case unbalancedGroup
    case budgetExhausted
}

enum AnswerTokenizer {
    /// Commands that only affect layout or spacing.
    static let ignoredCommands: Set<String> = [
        "left", "right", "big", "bigl", "bigr", "Big", "Bigl", "Bigr", "bigg", "biggl", "biggr",
        "Bigg", "Biggl", "Biggr", "displaystyle", "textstyle", "scriptstyle", "quad", "qquad",
        "limits", "nolimits", "middle", "hfill", "space", "thinspace", "medspace", "thickspace",
        "negthinspace", "enspace", "mathstrut", "strut", "boxed", "fbox", "framebox",
    ]
    /// Commands whose braced argument is plain text (or a unit) rather than mathematics.
    static let textCommands: Set<String> = [
        "text", "textbf", "textit", "textrm", "textsf", "texttt", "textnormal", "textup",
        "mathrm", "mathbf", "mathit", "mathsf", "mathtt", "mathnormal", "mbox", "hbox",
        "operatorname", "emph",
    ]
    static let renamedCommands: [String: String] = [
        "dfrac": "frac", "tfrac": "frac", "cfrac": "frac", "dbinom": "binom", "tbinom": "binom",
        "lvert": "|", "rvert": "|", "vert": "|", "mid": "|",
        "cdot": "*", "times": "*", "ast": "*", "div": "/",
        "le": "≤", "leq": "≤", "leqslant": "≤", "ge": "≥", "geq": "≥", "geqslant": "≥",
        "ne": "≠", "neq": "≠", "lt": "<", "gt": ">", "varnothing": "emptyset",
        "lbrace": "⦃", "rbrace": "⦄", "infin": "infty", "degree": "circ",
    ]
    static let greekLetters: Set<String> = [
        "alpha", "beta", "gamma", "delta", "epsilon", "varepsilon", "zeta", "eta", "theta",
        "vartheta", "iota", "kappa", "lambda", "mu", "nu", "xi", "rho", "varrho", "sigma",
        "varsigma", "tau", "upsilon", "phi", "varphi", "chi", "psi", "omega",
        "Gamma", "Delta", "Theta", "Lambda", "Xi", "Sigma", "Upsilon", "Phi", "Psi", "Omega",
    ]
    /// Commands with a meaning in `AnswerParser`.
    static let knownCommands: Set<String> = [
        "frac", "sqrt", "binom", "pi", "infty", "cup", "pm", "mp", "in", "emptyset", "mathbb",
        "circ", "sin", "cos", "tan", "sec", "csc", "cot", "arcsin", "arccos", "arctan", "sinh",
        "cosh", "tanh", "ln", "log", "exp",
    ]
    /// Function names recognised when written without a backslash (`sin x`, `sqrt(2)`).
    static let plainFunctionNames: Set<String> = [
        "sin", "cos", "tan", "sec", "csc", "cot", "arcsin", "arccos", "arctan", "sinh", "cosh",
        "tanh", "ln", "log", "exp", "sqrt", "pi",
    ]
    /// Two-letter runs that are units rather than a product of two variables.
    static let twoLetterUnits: Set<String> = [
        "cm", "mm", "km", "in", "ft", "yd", "mi", "kg", "mg", "lb", "oz", "hr", "ml", "cc", "mph",
    ]

    /// Tokenises `text`, charging `budget` one unit per character and per token.
    static func tokenize(_ text: String, budget: inout WorkBudget) -> Result<TokenizedAnswer, TokenizeFailure> {
        let scalars = removingNegativeThinSpaces(Array(mapUnicodeSymbols(text).unicodeScalars))
        guard budget.spend(scalars.count) else { return .failure(.budgetExhausted) }
        var tokens: [Token] = []
        var hadPercent = false
        var spaceBefore = false
        var index = 0

        func append(_ kind: TokenKind) {
            tokens.append(Token(kind: kind, spaceBefore: spaceBefore))
            spaceBefore = false
        }

        while index < scalars.count {
            let scalar = scalars[index]
            if scalar.properties.isWhitespace || scalar == "~" {
                spaceBefore = true
                index += 1
                continue
            }
            if isDigit(scalar) || (scalar == "." && index + 1 < scalars.count && isDigit(scalars[index + 1])) {
                var end = index
                var sawDot = false
                while end < scalars.count {
                    if isDigit(scalars[end]) {
                        end += 1
                    } else if scalars[end] == ".", !sawDot, end + 1 < scalars.count, isDigit(scalars[end + 1]) {
                        sawDot = true
                        end += 1
                    } else if scalars[end] == ".", !sawDot, end > index {
                        // A trailing dot as in "5." is part of the number (and harmless).
                        sawDot = true
                        end += 1
                        break
                    } else {
                        break
                    }
                }
                var literal = String(String.UnicodeScalarView(scalars[index..<end]))
                if literal.hasSuffix(".") { literal.removeLast() }
                append(.number(literal))
                index = end
                continue
            }
            if isLetter(scalar) {
                var end = index
                while end < scalars.count, isLetter(scalars[end]) { end += 1 }
                let run = String(String.UnicodeScalarView(scalars[index..<end])).lowercased()
                appendLetterRun(run, append: append)
                index = end
                continue
            }
            if scalar == "\\" {
                index += 1
                guard index < scalars.count else { break }
                let next = scalars[index]
                if isLetter(next) {
                    var end = index
                    while end < scalars.count, isLetter(scalars[end]) { end += 1 }
                    let rawName = String(String.UnicodeScalarView(scalars[index..<end]))
                    index = end
                    let name = renamedCommands[rawName] ?? rawName
                    if ignoredCommands.contains(name) {
                        // `\left.` and `\right.` are invisible delimiters.
                        if (rawName == "left" || rawName == "right"), index < scalars.count, scalars[index] == "." {
                            index += 1
                        }
                        continue
                    }
                    if textCommands.contains(name) {
                        guard let (content, after) = bracedArgument(scalars, from: index) else {
                            return .failure(.unbalancedGroup)
                        }
                        index = after
                        // A letter right after a number is a unit (`9\,\text{m}`), not a variable.
                        let followsNumber: Bool
                        if case .number? = tokens.last?.kind { followsNumber = true } else { followsNumber = false }
                        appendTextContent(content, followsNumber: followsNumber, append: append)
                        continue
                    }
                    if name.count == 1, let character = name.first {
                        switch character {
                        case "|": append(.symbol("|"))
                        case "⦃": append(.open(.setBrace))
                        case "⦄": append(.close(.setBrace))
                        default: append(.symbol(character))
                        }
                        continue
                    }
                    if greekLetters.contains(name) {
                        append(.identifier(name))
                    } else {
                        // Unknown commands are kept so the parser can reject them explicitly.
                        append(.command(name))
                    }
                    continue
                }
                switch next {
                case "{": append(.open(.setBrace))
                case "}": append(.close(.setBrace))
                case "%": hadPercent = true
                case "|": append(.symbol("|"))
                case "$", "&", "#", "_":
                    break
                case ",", ";", ":", " ", ">", "\\":
                    // Spacing commands and `\\` line breaks.
                    spaceBefore = true
                case "(", ")", "[", "]":
                    // Math-mode delimiters `\( \)` and `\[ \]`.
                    break
                default:
                    return .failure(.unsupportedCharacter)
                }
                index += 1
                continue
            }
            // `1{,}000`: a TeX group around a comma is a thousands separator.
            if scalar == "{", index + 2 < scalars.count, scalars[index + 1] == ",", scalars[index + 2] == "}" {
                append(.symbol(","))
                index += 3
                continue
            }
            switch scalar {
            case "(": append(.open(.paren))
            case ")": append(.close(.paren))
            case "[": append(.open(.square))
            case "]": append(.close(.square))
            case "{": append(.open(.brace))
            case "}": append(.close(.brace))
            case "%": hadPercent = true
            case "$": break
            case "+", "-", "*", "/", "^", "_", "!", "=", "<", ">", ",", "|", "≤", "≥", "≠", ";", "'", ":":
                append(.symbol(Character(scalar)))
            default:
                return .failure(.unsupportedCharacter)
            }
            index += 1
        }
        guard budget.spend(tokens.count) else { return .failure(.budgetExhausted) }
        return .success(TokenizedAnswer(tokens: repairingBraces(removeDegreeMarks(tokens)), hadPercent: hadPercent))
    }

    /// Deletes `\!` (a negative thin space), so that `1\!000` reads as 1000, as the MATH
    /// normaliser's `replace("\\!", "")` does. `\\!` (a line break, then `!`) is kept.
    static func removingNegativeThinSpaces(_ scalars: [Unicode.Scalar]) -> [Unicode.Scalar] {
        var result: [Unicode.Scalar] = []
        result.reserveCapacity(scalars.count)
        var index = 0
        while index < scalars.count {
            if scalars[index] == "\\", index + 1 < scalars.count {
                if scalars[index + 1] == "!" {
                    index += 2
                    continue
                }
                result.append(scalars[index])
                result.append(scalars[index + 1])
                index += 2
                continue
            }
            result.append(scalars[index])
            index += 1
        }
        return result
    }

    /// Maps the Unicode spellings that models emit to their LaTeX equivalents.
    static func mapUnicodeSymbols(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: { !$0.isASCII }) else { return text }
        var result = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            switch scalar {
            case "−", "–", "—": result.append("-")
            case "×", "·", "⋅": result.append("*")
            case "÷": result.append("/")
            case "π": result.append(contentsOf: "\\pi ".unicodeScalars)
            case "∞": result.append(contentsOf: "\\infty ".unicodeScalars)
            case "°": result.append(contentsOf: "^\\circ ".unicodeScalars)
            case "√": result.append(contentsOf: "\\sqrt ".unicodeScalars)
            case "∪": result.append(contentsOf: "\\cup ".unicodeScalars)
            case "∈": result.append(contentsOf: "\\in ".unicodeScalars)
            case "±": result.append(contentsOf: "\\pm ".unicodeScalars)
            case "∅": result.append(contentsOf: "\\emptyset ".unicodeScalars)
            case "≤", "≥", "≠": result.append(scalar)
            case "\u{00A0}", "\u{2009}", "\u{202F}": result.append(" ")
            default: result.append(scalar)
            }
        }
        return String(result)
    }

    private static func appendLetterRun(_ run: String, append: (TokenKind) -> Void) {
        if run.count == 1 {
            append(.identifier(run))
        } else if plainFunctionNames.contains(run) {
            append(.command(run))
        } else if run.count == 2 && !twoLetterUnits.contains(run) {
            // `xy` is a product of two variables (as in math-verify).
            for letter in run { append(.identifier(String(letter))) }
        } else {
            append(.word(run))
        }
    }

    /// Turns the content of `\text{...}` into a token: a letter, a number or a word.
    private static func appendTextContent(_ content: String, followsNumber: Bool, append: (TokenKind) -> Void) {
        let trimmed = content.split(whereSeparator: { $0.isWhitespace || $0 == "~" })
            .joined(separator: " ").lowercased()
        if trimmed.isEmpty { return }
        if trimmed.count == 1, let letter = trimmed.first, letter.isASCIILetter, !followsNumber {
            append(.identifier(trimmed))
        } else if trimmed.allSatisfy({ $0.isASCIIDigit }) {
            append(.number(trimmed))
        } else if let sign = trimmed.first, sign == "-" || sign == "+", trimmed.count > 1,
                  trimmed.dropFirst().allSatisfy({ $0.isASCIIDigit }) {
            // A signed integer written as text (`\text{-53}`) is that number, as math-verify reads it.
            append(.symbol(sign))
            append(.number(String(trimmed.dropFirst())))
        } else if trimmed.count == 3, trimmed.first == "(", trimmed.last == ")",
                  let letter = trimmed.dropFirst().first, letter.isASCIILetter {
            // Multiple-choice labels such as `\text{(A)}`.
            append(.identifier(String(letter)))
        } else {
            append(.word(trimmed))
        }
    }

    /// Reads a `{...}` argument starting at `start` (after optional spaces) and returns its raw
    /// content and the index just past the closing brace; nil if unbalanced.
    static func bracedArgument(_ scalars: [Unicode.Scalar], from start: Int) -> (String, Int)? {
        var index = start
        while index < scalars.count, scalars[index].properties.isWhitespace { index += 1 }
        guard index < scalars.count, scalars[index] == "{" else {
            // A single-character argument, as in `\text x`.
            guard index < scalars.count else { return nil }
            return (String(Character(scalars[index])), index + 1)
        }
        var depth = 0
        var position = index
        while position < scalars.count {
            let scalar = scalars[position]
            if scalar == "\\" {
                position += 2
                continue
            }
            if scalar == "{" { depth += 1 }
            if scalar == "}" {
                depth -= 1
                if depth == 0 {
                    let content = String(String.UnicodeScalarView(scalars[(index + 1)..<position]))
                    return (content, position + 1)
                }
            }
            position += 1
        }
        return nil
    }

    /// Drops `}` that close nothing and closes `{` left open at the end (`\frac{1}{2`, `5}`):
    /// only TeX groups are repaired; unbalanced parentheses and brackets stay as they are.
    private static func repairingBraces(_ tokens: [Token]) -> [Token] {
        var depth = 0
        var result: [Token] = []
        result.reserveCapacity(tokens.count)
        for token in tokens {
            if token.kind == .open(.brace) {
                depth += 1
            } else if token.kind == .close(.brace) {
                if depth == 0 { continue }
                depth -= 1
            }
            result.append(token)
        }
        for _ in 0..<depth { result.append(Token(kind: .close(.brace), spaceBefore: false)) }
        return result
    }

    /// Removes degree marks: `^\circ`, `^{\circ}` and a lone `\circ`.
    private static func removeDegreeMarks(_ tokens: [Token]) -> [Token] {
        guard tokens.contains(where: { $0.kind == .command("circ") }) else { return tokens }
        var result: [Token] = []
        result.reserveCapacity(tokens.count)
        var index = 0
        while index < tokens.count {
            let kind = tokens[index].kind
            if kind == .symbol("^"), index + 1 < tokens.count {
                if tokens[index + 1].kind == .command("circ") {
                    index += 2
                    continue
                }
                if index + 3 < tokens.count, tokens[index + 1].kind == .open(.brace),
                   tokens[index + 2].kind == .command("circ"), tokens[index + 3].kind == .close(.brace) {
                    index += 4
                    continue
                }
            }
            if kind == .command("circ") {
                index += 1
                continue
            }
            result.append(tokens[index])
            index += 1
        }
        return result
    }

    private static func isDigit(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value >= 48 && scalar.value <= 57
    }

    private static func isLetter(_ scalar: Unicode.Scalar) -> Bool {
        (scalar.value >= 65 && scalar.value <= 90) || (scalar.value >= 97 && scalar.value <= 122)
    }
}
