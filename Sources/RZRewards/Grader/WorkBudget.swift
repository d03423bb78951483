/// A count of abstract work units that one grading call may spend.
///
/// Every stage of the grader (tokenising, parsing, exact and floating-point evaluation) charges
/// this budget, and big-integer arithmetic charges in proportion to the operand sizes. When the
/// budget runs out the stage gives up and the comparison counts as "not shown equivalent". This is
/// what bounds the grader's running time on any input, without wall-clock timeouts (which make
/// results depend on machine load and are what the reference implementation hangs without).
struct WorkBudget: Sendable {
    private(set) var remaining: Int

    init(units: Int) {
        remaining = max(0, units)
    }

    var isExhausted: Bool { remaining <= 0 }

    /// Charges `units` and returns false once the budget is exhausted.
    @discardableResult
    mutating func spend(_ units: Int) -> Bool {
        // Saturating so an enormous charge can never overflow and trap.
        let (difference, overflow) = remaining.subtractingReportingOverflow(max(0, units))
        remaining = overflow ? Int.min / 2 : difference
        return remaining > 0
    }
}
