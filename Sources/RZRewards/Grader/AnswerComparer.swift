import BigInt

/// Compares two parsed answers. Every rule is symmetric, so `equivalent(a, b) == equivalent(b, a)`.
struct AnswerComparer {
    var evaluator: ExpressionEvaluator

    /// Number of pseudo-random points at which expressions with variables are compared.
    static let evaluationPoints = 6
    /// Minimum number of points where both sides are defined for a "yes" from evaluation.
    static let minimumDefinedPoints = 2
    static let relativeTolerance = 1e-9
    static let absoluteTolerance = 1e-12

    /// Positive rationals with small numerators and denominators: exact evaluation at them stays
    /// cheap, and coincidences between different expressions are unlikely.
    private static let pointTable: [Rational] = [
        (3, 7), (11, 5), (13, 9), (5, 3), (17, 11), (23, 13), (7, 2), (19, 8), (2, 9),
        (29, 12), (8, 15), (31, 10), (9, 4), (4, 11), (37, 14), (6, 13), (41, 16),
    ].compactMap { Rational(BigInt($0.0), BigInt($0.1)) }

    var isBudgetExhausted: Bool { evaluator.budget.isExhausted }

    mutating func equivalent(_ a: AnswerValue, _ b: AnswerValue) -> Bool {
        guard evaluator.budget.spend(1) else { return false }
        switch (a, b) {
        case (.expression(let x), .expression(let y)):
            return expressionsEqual(x, y)
        case (.text(let s), .text(let t)):
            return s == t
        case (.relation(let l1, let op1, let r1), .relation(let l2, let op2, let r2)):
            if op1 == op2 && expressionsEqual(l1, l2) && expressionsEqual(r1, r2) { return true }
            if let mirrored = AnswerComparer.mirrored(op1), mirrored == op2 {
                return expressionsEqual(l1, r2) && expressionsEqual(r1, l2)
            }
            return false
        case (.sequence(let open1, let items1, let close1), .sequence(let open2, let items2, let close2)):
            guard open1 == open2, close1 == close2, items1.count == items2.count else { return false }
            for (x, y) in zip(items1, items2) where !equivalent(x, y) { return false }
            return true
        case (.set(let xs, _), .set(let ys, _)):
            return sameSet(xs, ys)
        case (.set(let xs, isBareList: true), .sequence(.paren, let items, .paren)) where items.count >= 3,
             (.sequence(.paren, let items, .paren), .set(let xs, isBareList: true)) where items.count >= 3:
            // math-verify reads "1, 2, 3" and "(1, 2, 3)" alike; "(1, 2)" stays an interval.
            return sameSet(xs, items)
        case (.set(let xs, isBareList: false), .expression), (.expression, .set(let xs, isBareList: false)):
            // A one-element set {5} answers the same as 5.
            guard xs.count == 1 else { return false }
            if case .set = a { return equivalent(xs[0], b) }
            return equivalent(a, xs[0])
        case (.union(let xs), .union(let ys)):
            return sameMultiset(xs, ys)
        default:
            return false
        }
    }

    /// A number written with digits after the point (`8.346939`, `-0.5`).
    static func isDecimalLiteral(_ e: Expr) -> Bool {
        switch e {
        case .number(let r): return r.isFiniteDecimalFraction
        case .negate(let inner): return isDecimalLiteral(inner)
        default: return false
        }
    }

    private static func mirrored(_ op: RelationOperator) -> RelationOperator? {
        switch op {
        case .equal: return .equal
        case .notEqual: return .notEqual
        case .less: return .greater
        case .greater: return .less
        case .lessOrEqual: return .greaterOrEqual
        case .greaterOrEqual: return .lessOrEqual
        }
    }

    /// Set equality: each element of one side has an equivalent on the other side.
    private mutating func sameSet(_ xs: [AnswerValue], _ ys: [AnswerValue]) -> Bool {
        if xs.isEmpty || ys.isEmpty { return xs.isEmpty && ys.isEmpty }
        // Sets of plain numbers compare by hashing exact values in linear time; others pairwise.
        if let left = exactNumbers(xs), let right = exactNumbers(ys) {
            return Set(left) == Set(right)
        }
        // Pairwise, but skipping pairs whose values at one fixed point already differ: equal
        // expressions agree at every point, so this only saves work (and keeps big sets fast).
        let xPrints = xs.map { fingerprint($0) }
        let yPrints = ys.map { fingerprint($0) }
        func mayMatch(_ a: Double?, _ b: Double?) -> Bool {
            guard let a, let b else { return true }
            return AnswerComparer.close(a, b)
        }
        for (i, x) in xs.enumerated() where !ys.indices.contains(where: { mayMatch(xPrints[i], yPrints[$0]) && equivalent(x, ys[$0]) }) {
            return false
        }
        for (j, y) in ys.enumerated() where !xs.indices.contains(where: { mayMatch(xPrints[$0], yPrints[j]) && equivalent(xs[$0], y) }) {
            return false
        }
        return true
    }

    /// The value of an expression element at one fixed point (each variable's value chosen from
    /// its name), or nil when it is not an expression or undefined there.
    private mutating func fingerprint(_ value: AnswerValue) -> Double? {
        guard case .expression(let expression) = value, !expression.containsInfinity else { return nil }
        var symbols = Set<String>()
        expression.collectSymbols(into: &symbols)
        var variables: [String: Double] = [:]
        for symbol in symbols {
            // FNV-1a: a hash that is the same in every process (Swift's Hasher is seeded).
            var hash: UInt64 = 0xCBF2_9CE4_8422_2325
            for byte in symbol.utf8 { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
            variables[symbol] = AnswerComparer.pointTable[Int(hash % UInt64(AnswerComparer.pointTable.count))].doubleValue
        }
        return evaluator.floatValue(expression, variables)
    }

    /// The exact values of the elements when every element is a number without variables.
    private mutating func exactNumbers(_ values: [AnswerValue]) -> [Rational]? {
        var numbers: [Rational] = []
        numbers.reserveCapacity(values.count)
        for value in values {
            guard case .expression(let expression) = value, !expression.containsInfinity else { return nil }
            var symbols = Set<String>()
            expression.collectSymbols(into: &symbols)
            guard symbols.isEmpty, let number = evaluator.exactValue(expression, [:]) else { return nil }
            numbers.append(number)
        }
        return numbers
    }

    /// Equal counts and a one-to-one matching (greedy; equivalence is transitive in practice).
    private mutating func sameMultiset(_ xs: [AnswerValue], _ ys: [AnswerValue]) -> Bool {
        guard xs.count == ys.count else { return false }
        var unmatched = Array(ys.indices)
        for x in xs {
            guard let position = unmatched.firstIndex(where: { equivalent(x, ys[$0]) }) else { return false }
            unmatched.remove(at: position)
        }
        return true
    }

    // MARK: Expressions

    mutating func expressionsEqual(_ x: Expr, _ y: Expr) -> Bool {
        if x == y { return true }
        if x.containsInfinity || y.containsInfinity {
            guard let sign = x.infinitySign else { return false }
            return sign == y.infinitySign
        }
        var symbolSet = Set<String>()
        x.collectSymbols(into: &symbolSet)
        y.collectSymbols(into: &symbolSet)
        let symbols = symbolSet.sorted()
        // Collecting and sorting the variable names allocates: charge it.
        guard evaluator.budget.spend(16 + 4 * symbols.count) else { return false }

        if symbols.isEmpty {
            if let exactX = evaluator.exactValue(x, [:]), let exactY = evaluator.exactValue(y, [:]) {
                if exactX == exactY { return true }
                // As math-verify: a number written as a decimal agrees with a non-integer value to 6 decimal places, so
                // `8.346939` is `\frac{409}{49}` (8.3469387…) while `0.333` is not `\frac13` and `7.0000001` is not 7.
                guard AnswerComparer.isDecimalLiteral(x) || AnswerComparer.isDecimalLiteral(y),
                      exactX.denominator != 1, exactY.denominator != 1 else { return false }
                return exactX.roundedToMillionths == exactY.roundedToMillionths
            }
            let floatX = evaluator.floatValue(x, [:])
            let floatY = evaluator.floatValue(y, [:])
            switch (floatX, floatY) {
            case let (fx?, fy?): return AnswerComparer.close(fx, fy)
            case (nil, nil): return structurallyEqual(x, y)
            default: return false
            }
        }

        var definedPoints = 0
        for point in 0..<AnswerComparer.evaluationPoints {
            // Building the two variable maps allocates; charge it like a few exact steps.
            guard evaluator.budget.spend(8 * (symbols.count + 1)) else { return false }
            var exactVariables: [String: Rational] = [:]
            var floatVariables: [String: Double] = [:]
            for (index, symbol) in symbols.enumerated() {
                let table = AnswerComparer.pointTable
                var value = table[(point * 7 + index * 3) % table.count]
                // Alternate signs so that |x| and x, or sqrt(x^2) and x, are told apart.
                if (point + index) % 2 == 1 { value = -value }
                exactVariables[symbol] = value
                floatVariables[symbol] = value.doubleValue
            }
            if let exactX = evaluator.exactValue(x, exactVariables), let exactY = evaluator.exactValue(y, exactVariables) {
                if exactX != exactY { return false }
                definedPoints += 1
                continue
            }
            switch (evaluator.floatValue(x, floatVariables), evaluator.floatValue(y, floatVariables)) {
            case let (fx?, fy?):
                if !AnswerComparer.close(fx, fy) { return false }
                definedPoints += 1
            case (nil, nil):
                continue
            default:
                // Defined on one side only: different domains, so not the same expression.
                return false
            }
        }
        if definedPoints >= AnswerComparer.minimumDefinedPoints { return true }
        return structurallyEqual(x, y)
    }

    /// Last resort when evaluation cannot decide (both sides overflow or are undefined).
    private mutating func structurallyEqual(_ x: Expr, _ y: Expr) -> Bool {
        guard evaluator.budget.spend(32) else { return false }
        let foldedX = evaluator.folded(x)
        let foldedY = evaluator.folded(y)
        if foldedX == foldedY { return true }
        var budget = evaluator.budget
        let equal = foldedX.canonicalText(budget: &budget) == foldedY.canonicalText(budget: &budget)
        evaluator.budget = budget
        return equal && !budget.isExhausted
    }

    static func close(_ a: Double, _ b: Double) -> Bool {
        let difference = abs(a - b)
        return difference <= absoluteTolerance || difference <= relativeTolerance * max(abs(a), abs(b))
    }
}
