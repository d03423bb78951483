import Testing
@testable import RZRewards

@Suite("Sentence BLEU against NLTK")
struct BLEUTests {
    struct Pair: Decodable {
        var hypothesis: String
        var reference: String
        var bleu: Double
    }

    struct File: Decodable {
        var pairs: [Pair]
    }

    @Test("matches nltk sentence_bleu with method1 smoothing to 1e-9 on every fixture pair")
    func matchesNLTK() throws {
        let file = try Fixtures.load("bleu_pairs.json", as: File.self)
        #expect(file.pairs.count >= 200)
        var worst = 0.0
        for pair in file.pairs {
            let score = SentenceBLEU.score(hypothesis: pair.hypothesis, reference: pair.reference)
            worst = max(worst, abs(score - pair.bleu))
            #expect(abs(score - pair.bleu) <= 1e-9, "hyp \(pair.hypothesis.debugDescription) ref \(pair.reference.debugDescription): \(score) vs nltk \(pair.bleu)")
        }
        #expect(worst <= 1e-9)
    }

    @Test("identical sentences of four or more tokens score 1; shorter ones are smoothed below 1")
    func identicalSentences() {
        #expect(abs(SentenceBLEU.score(hypothesis: "a b c d", reference: "a b c d") - 1) < 1e-15)
        // Three tokens: p4 = 0.1 / 1 after smoothing, so BLEU = 0.1^(1/4).
        #expect(abs(SentenceBLEU.score(hypothesis: "x = 5", reference: "x = 5") - 0.1.squareRoot().squareRoot()) < 1e-15)
    }

    @Test("no shared unigram or an empty hypothesis scores 0")
    func zeroScores() {
        #expect(SentenceBLEU.score(hypothesis: "a b c", reference: "d e f") == 0)
        #expect(SentenceBLEU.score(hypothesis: "", reference: "d e f") == 0)
        #expect(SentenceBLEU.score(hypothesis: "", reference: "") == 0)
    }

    @Test("the corpus distance matrix mirrors BLEU(earlier as hypothesis, later as reference)")
    func distanceMatrixOrientation() {
        let sentences = ["a b c d e f", "a b c", "a b c d e f g h"]
        let corpus = BLEUCorpus(sentences: sentences)
        let condensed = corpus.condensedDistanceMatrix()
        #expect(condensed.count == 3)
        #expect(condensed[0] == 1 - SentenceBLEU.score(hypothesis: sentences[0], reference: sentences[1]))
        #expect(condensed[1] == 1 - SentenceBLEU.score(hypothesis: sentences[0], reference: sentences[2]))
        #expect(condensed[2] == 1 - SentenceBLEU.score(hypothesis: sentences[1], reference: sentences[2]))
        // BLEU is not symmetric, so the orientation matters.
        #expect(SentenceBLEU.score(hypothesis: sentences[0], reference: sentences[1])
            != SentenceBLEU.score(hypothesis: sentences[1], reference: sentences[0]))
    }

    @Test("tokens split like Python str.split, including U+001C..U+001F and non-breaking spaces")
    func tokenization() {
        let tokens = SentenceBLEU.tokens(" a\tb\u{1C}c\u{00A0}d\n\ne ")
        #expect(tokens.map { String(decoding: $0, as: UTF8.self) } == ["a", "b", "c", "d", "e"])
        // Canonically equivalent but differently encoded tokens differ, as in Python.
        #expect(SentenceBLEU.score(hypothesis: "caf\u{E9}", reference: "cafe\u{301}") == 0)
    }
}
