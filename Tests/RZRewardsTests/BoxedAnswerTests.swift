import Testing
@testable import RZRewards

@Suite("Boxed answer extraction")
struct BoxedAnswerTests {
    @Test("the last balanced box is the answer")
    func lastBox() {
        #expect(BoxedAnswer.last(in: "first \\boxed{1} then \\boxed{2}.") == "2")
        #expect(BoxedAnswer.last(in: "\\boxed{\\frac{1}{2}}") == "\\frac{1}{2}")
        #expect(BoxedAnswer.last(in: "so $\\boxed{ 42 }$") == "42")
        #expect(BoxedAnswer.last(in: "\\fbox{7}") == "7")
        #expect(BoxedAnswer.last(in: "\\boxed {8}") == "8")
        #expect(BoxedAnswer.last(in: "\\boxed 5 is it") == "5")
        #expect(BoxedAnswer.last(in: "\\boxed{\\boxed{3}}") == "3")
    }

    @Test("no box, an unclosed box, and look-alike commands give no answer or the earlier box")
    func missing() {
        #expect(BoxedAnswer.last(in: "The answer is 5.") == nil)
        #expect(BoxedAnswer.last(in: "None") == nil)
        #expect(BoxedAnswer.last(in: "\\boxed{5") == nil)
        #expect(BoxedAnswer.last(in: "\\boxed{4} and then \\boxed{5") == "4")
        #expect(BoxedAnswer.last(in: "\\boxedx{5}") == nil)
        #expect(BoxedAnswer.last(in: "") == nil)
    }

    @Test("escaped braces do not count towards the balance")
    func escapedBraces() {
        #expect(BoxedAnswer.last(in: "\\boxed{\\{1, 2\\}}") == "\\{1, 2\\}")
        #expect(BoxedAnswer.last(in: "\\boxed{\\{1, 2}") == "\\{1, 2")
        #expect(BoxedAnswer.last(in: "\\boxed{a \\} b}") == "a \\} b")
    }

    @Test("all boxes in order")
    func allBoxes() {
        #expect(BoxedAnswer.all(in: "\\boxed{1} \\fbox{2} \\boxed{3") == ["1", "2"])
    }
}
