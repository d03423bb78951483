import Foundation
import RZModel
@testable import RZPretrain
import RZTestSupport
import RZTokenizer
import Testing

@Suite("Built-in model: corpus, byte tokenizer, pretraining")
struct PretrainTests {
    @Test("worked solutions carry and borrow column by column, least significant digit first (hand-derived)")
    func workedSolutions() {
        let add = MathProblem(family: .addition, difficulty: 3, a: 347, b: 58)
        #expect(add.workedSolution == "7+8+0=15,4+5+1=10,3+0+1=04,\\boxed{405}")
        #expect(add.directSolution == "\\boxed{405}")
        #expect(add.challengerText == "<question>347+58</question>\\boxed{405}")
        #expect(MathProblem(family: .addition, difficulty: 2, a: 95, b: 7).workedSolution == "5+7+0=12,9+0+1=10,\\boxed{102}")
        // 503 − 78: 3−8 borrows (13−8=5), 0−7−1 borrows (10−7−1=2), 5−0−1=4.
        let sub = MathProblem(family: .subtraction, difficulty: 3, a: 503, b: 78)
        #expect(sub.workedSolution == "13-8-0=5,10-7-1=2,5-0-1=4,\\boxed{425}")
        #expect(MathProblem(family: .subtraction, difficulty: 1, a: 7, b: 7).workedSolution == "7-7-0=0,\\boxed{0}")
    }

    @Test("worked solutions of the other families (hand-derived)")
    func otherFamilies() {
        #expect(MathProblem(family: .multiplication, difficulty: 3, a: 347, b: 8).workedSolution
                == "7*8+0=56,4*8+5=37,3*8+3=27,\\boxed{2776}")
        #expect(Problem.orderOfOperations(a: 7, b: 4, c: 5, productFirst: false, level: 1).workedSolution == "4*5=20,7+20=27,\\boxed{27}")
        #expect(Problem.orderOfOperations(a: 7, b: 4, c: 5, productFirst: true, level: 1).question == "4*5+7")
        #expect(Problem.linearEquation(x: 5, b: 3, c: 5, level: 1).question == "3x+5=20")
        #expect(Problem.linearEquation(x: 5, b: 3, c: 5, level: 1).workedSolution == "3x=20-5=15,x=15/3=5,\\boxed{5}")
        // 3/4 + 1/6 = 22/24 = 11/12; 1/2 + 1/2 = 4/4 = 1.
        #expect(Problem.fraction(3, 4, 1, 6, level: 3).workedSolution == "3*6+1*4=22,4*6=24,22/24=11/12,\\boxed{11/12}")
        #expect(Problem.fraction(1, 2, 1, 2, level: 1).answer == "1")
        #expect(MathCorpus.trueAnswer("1/2+1/3") == "5/6" && MathCorpus.trueAnswer("1/2+1/2") == "1")
        #expect(MathCorpus.trueAnswer("3x+5=20") == "5" && MathCorpus.trueAnswer("7+4*5") == "27" && MathCorpus.trueAnswer("4*5+7") == "27")
        #expect(MathCorpus.trueAnswer("Tom has 45 apples and buys 27 more. How many apples does Tom have now?") == "72")
        #expect(MathCorpus.trueAnswer("Ann has 52 pens and gives away 18. How many pens does Ann have left?") == "34")
        #expect(MathCorpus.trueAnswer("12*3") == "36" && MathCorpus.trueAnswer("2*3x") == nil && MathCorpus.trueAnswer("7") == nil)
    }

    @Test("every generated worked solution ends in the true answer, and the answer function agrees, for every family")
    func generatedProblems() {
        var rng = SplitMix(seed: 9)
        for family in ProblemFamily.allCases {
            for level in 1...5 {
                for _ in 0..<200 {
                    let p = MathCorpus.problem(family, level: level, rng: &rng)
                    #expect(p.family == family && p.difficulty == level)
                    #expect(p.workedSolution.hasSuffix("\\boxed{\(p.answer)}"), "\(p.question): \(p.workedSolution)")
                    #expect(MathCorpus.trueAnswer(p.question) == p.answer, "\(family) \(p.question)")
                    #expect(!p.answer.hasPrefix("-"), "\(p.question)")
                }
            }
        }
        for family in [ProblemFamily.addition, .subtraction, .multiplication] {
            for level in 1...5 {
                let p = MathCorpus.binary(family, level: level, rng: &rng)
                #expect(String(max(p.a, p.b)).count == level || (family == .multiplication && String(p.a).count == level))
            }
        }
        #expect(MathCorpus.trueAnswer("12+x") == nil && MathCorpus.trueAnswer("") == nil)
        #expect(MathCorpus.trueAnswer(" 40-15") == "25" && MathCorpus.trueAnswer("1+2+3") == "6")
    }

    @Test("a corpus over every family keeps its held-out share out")
    func allFamiliesHeldOut() {
        var settings = CorpusSettings()
        settings.families = ProblemFamily.allCases
        let heldOut = Set(MathCorpus.heldOut(settings, perLevel: 10, seed: 5).map(\.question))
        #expect(heldOut.count > 300)
        var rng = SplitMix(seed: 2)
        for _ in 0..<20_000 {
            let e = MathCorpus.example(settings, rng: &rng)
            let question = e.prompt == settings.challengerPrompt
                ? String(e.target.dropFirst("<question>".count).prefix { $0 != "<" })
                : String(e.prompt.dropFirst(2).dropLast(3))
            #expect(!heldOut.contains(question))
        }
    }

    @Test("held-out questions never occur in the corpus, and the held-out set covers every family and level")
    func heldOutIsDisjoint() {
        let settings = CorpusSettings()
        let heldOut = MathCorpus.heldOut(settings, perLevel: 30, seed: 77)
        let questions = Set(heldOut.map(\.question))
        #expect(questions.count == heldOut.count)
        for family in settings.families {
            for level in 1...settings.levelWeights.count {
                #expect(heldOut.contains { $0.family == family && $0.difficulty == level })
            }
        }
        var rng = SplitMix(seed: 1)
        var corpusQuestions = Set<String>()
        var solverPrompts = 0, challenger = 0
        for _ in 0..<20_000 {
            let e = MathCorpus.example(settings, rng: &rng)
            if e.prompt == settings.challengerPrompt {
                challenger += 1
                if let q = e.target.split(separator: ">").dropFirst().first?.split(separator: "<").first { corpusQuestions.insert(String(q)) }
            } else {
                solverPrompts += 1
                corpusQuestions.insert(String(e.prompt.dropFirst(2).dropLast(3)))
            }
        }
        #expect(corpusQuestions.isDisjoint(with: questions))
        #expect(abs(Double(challenger) / 20_000 - settings.challengerShare) < 0.02)
        #expect(corpusQuestions.count > 1000)
    }

    @Test("the byte vocabulary: one token per byte (ids = byte values), special tokens after, exact round trip")
    func byteVocabulary() throws {
        let tokenizer = try Tokenizer(data: try ByteVocabularyFile.json())
        #expect(tokenizer.vocabularySize == 259)
        let text = "Q:347+58\nA:7+8+0=15,\\boxed{405} é"
        let ids = tokenizer.encode(text, addSpecialTokens: false)
        #expect(ids == Array(text.utf8).map { Int32($0) })
        #expect(tokenizer.decode(ids) == text)
        #expect(tokenizer.endOfTextTokenId == 256)
        #expect(tokenizer.encode("1<|endoftext|>", addSpecialTokens: false) == [49, 256])
    }

    @Test("a short pretraining run lowers the loss, writes a loadable folder with its recipe, and repeats exactly")
    func shortRun() throws {
        var recipe = PretrainRecipe()
        // 50 steps (losses logged at 25 and 50): at 30 the two logged batch losses were within noise of each other.
        recipe.steps = 50
        recipe.batchSize = 16
        recipe.hiddenSize = 32
        recipe.intermediateSize = 64
        recipe.layers = 2
        recipe.heads = 2
        recipe.kvHeads = 1
        recipe.headDim = 16
        recipe.heldOutPerLevel = 3
        recipe.learningRate = 5e-3
        recipe.warmupSteps = 2
        var losses: [Double] = []
        let dir = temporaryDirectory() + "/base"
        try Pretrainer.run(recipe, outDir: dir) { losses.append($0.loss) }
        // Both well below a uniform guess over the 259 tokens (ln 259 ≈ 5.56), and still falling.
        #expect(losses.count == 2 && losses[1] < losses[0] && losses[0] < log(259.0) - 1.5)
        for file in ["config.json", "model.safetensors", "tokenizer.json", "recipe.json", "heldout.jsonl"] {
            #expect(FileManager.default.fileExists(atPath: dir + "/" + file), "\(file)")
        }
        let model = try ModelFolder.load(dir)
        #expect(model.config.hiddenSize == 32 && model.config.tieWordEmbeddings)
        let saved = try JSONDecoder().decode(PretrainRecipe.self, from: Data(contentsOf: URL(fileURLWithPath: dir + "/recipe.json")))
        #expect(saved == recipe)
        let again = temporaryDirectory() + "/again"
        try Pretrainer.run(recipe, outDir: again) { _ in }
        #expect(try Data(contentsOf: URL(fileURLWithPath: dir + "/model.safetensors"))
                == Data(contentsOf: URL(fileURLWithPath: again + "/model.safetensors")))
    }
}

@Suite("Built-in model corpus is stable")
struct CorpusStabilityTests {
    /// FNV-1a over the first 3000 examples of `recipe`'s corpus and its held-out set: `rzero pretrain`
    /// reproduces a recorded model only while these stay the same, so new families must not change them.
    static func fingerprint(_ recipe: PretrainRecipe) throws -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        func eat(_ s: String) { for b in s.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 } }
        var rng = SplitMix(seed: recipe.seed ^ 0x5eed_c0de)
        for _ in 0..<3000 {
            let e = MathCorpus.example(recipe.corpus, rng: &rng)
            eat(e.prompt); eat("\u{1}"); eat(e.target); eat("\u{2}")
        }
        eat(String(decoding: try Pretrainer.heldOutJSONL(recipe), as: UTF8.self))
        return h
    }

    @Test("the earlier addition/subtraction-only recipe still gives the corpus and held-out set it was trained on")
    func additionSubtractionCorpusUnchanged() throws {
        var recipe = PretrainRecipe()
        recipe.corpus.families = [.addition, .subtraction]
        recipe.corpus.excludeCommutedForms = false  // written before the exclusion existed
        #expect(try Self.fingerprint(recipe) == 11_439_256_074_082_661_843)
    }

    @Test("the default recipe's corpus and held-out set are exactly those models/base was trained and evaluated on")
    func defaultCorpusUnchanged() throws {
        let fingerprint = try Self.fingerprint(PretrainRecipe())
        #expect(fingerprint == 16_018_435_497_846_103_770)
        // And the committed model folder holds that recipe and that held-out set.
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let base = root.appendingPathComponent("models/base")
        let recipe = try JSONDecoder().decode(PretrainRecipe.self, from: Data(contentsOf: base.appendingPathComponent("recipe.json")))
        #expect(recipe == PretrainRecipe())
        #expect(try Data(contentsOf: base.appendingPathComponent("heldout.jsonl")) == Pretrainer.heldOutJSONL(recipe))
    }

    @Test("the earlier 1.1M-parameter model's recipe (models/base-1m) still gives its corpus and the same held-out set")
    func earlierModelCorpusUnchanged() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let earlier = try JSONDecoder().decode(PretrainRecipe.self, from: Data(contentsOf: root.appendingPathComponent("models/base-1m/recipe.json")))
        #expect(!earlier.corpus.excludeCommutedForms && earlier.hiddenSize == 128 && earlier.layers == 4)
        #expect(try Self.fingerprint(earlier) == 5_752_594_564_513_667_589)
        // Both models are evaluated on one held-out set: the exclusion changes the corpus, never the reserved questions.
        #expect(try Pretrainer.heldOutJSONL(earlier) == Data(contentsOf: root.appendingPathComponent("models/base/heldout.jsonl")))
        #expect(try Pretrainer.validationJSONL(earlier) == Data(contentsOf: root.appendingPathComponent("models/base/validation.jsonl")))
    }
}

@Suite("Held-out reservation covers commuted forms; the validation set is its own")
struct HeldOutReservationTests {
    @Test("commuted forms of sums and products, and none for other questions")
    func commutedForms() {
        #expect(MathCorpus.commutedForms("347+58") == ["58+347"])
        #expect(Set(MathCorpus.commutedForms("2+3*4")) == ["3*4+2", "2+4*3", "4*3+2"])
        #expect(MathCorpus.commutedForms("1/2+3/4") == ["3/4+1/2"])
        #expect(MathCorpus.commutedForms("12-5").isEmpty && MathCorpus.commutedForms("3x+2=11").isEmpty)
        #expect(MathCorpus.commutedForms("7+7").isEmpty)
    }

    @Test("with exclude_commuted_forms the corpus holds no commuted form of a held-out question; old recipes decode without it")
    func corpusExclusion() throws {
        var settings = CorpusSettings()
        settings.excludeCommutedForms = true
        var rng = SplitMix(seed: 3)
        var leaks = 0, leaksWithout = 0
        var plain = CorpusSettings()
        plain.excludeCommutedForms = false
        var rng2 = SplitMix(seed: 3)
        for _ in 0..<4000 {
            let e = MathCorpus.example(settings, rng: &rng)
            let e2 = MathCorpus.example(plain, rng: &rng2)
            for (example, counter) in [(e, 0), (e2, 1)] {
                guard example.prompt.hasPrefix("Q:") else { continue }
                let q = String(example.prompt.dropFirst(2).prefix { $0 != "\n" })
                if MathCorpus.commutedForms(q).contains(where: { MathCorpus.isHeldOut($0) }) {
                    if counter == 0 { leaks += 1 } else { leaksWithout += 1 }
                }
            }
        }
        #expect(leaks == 0)
        // Without the setting (the earlier model's recipe) the corpus does hold such questions (what the setting removes).
        #expect(leaksWithout > 0)
        let committed = try JSONDecoder().decode(PretrainRecipe.self, from: Data(contentsOf: URL(fileURLWithPath: Fixtures.path("../../models/base/recipe.json"))))
        #expect(committed.corpus.excludeCommutedForms)
        let earlier = try JSONDecoder().decode(PretrainRecipe.self, from: Data(contentsOf: URL(fileURLWithPath: Fixtures.path("../../models/base-1m/recipe.json"))))
        #expect(!earlier.corpus.excludeCommutedForms)
    }

    @Test("validation.jsonl: about the size of heldout.jsonl, never-trained questions, none of them (in any order) held out")
    func validationSet() throws {
        let recipe = try JSONDecoder().decode(PretrainRecipe.self, from: Data(contentsOf: URL(fileURLWithPath: Fixtures.path("../../models/base/recipe.json"))))
        struct Line: Decodable { var question: String; var answer: String }
        func read(_ d: Data) throws -> [Line] { try d.split(separator: 0x0A).map { try JSONDecoder().decode(Line.self, from: Data($0)) } }
        let heldOut = try read(Pretrainer.heldOutJSONL(recipe))
        let validation = try read(Pretrainer.validationJSONL(recipe))
        // The committed held-out set is what the recipe draws.
        #expect(try Pretrainer.heldOutJSONL(recipe) == Data(contentsOf: URL(fileURLWithPath: Fixtures.path("../../models/base/heldout.jsonl"))))
        #expect(try Pretrainer.validationJSONL(recipe) == Data(contentsOf: URL(fileURLWithPath: Fixtures.path("../../models/base/validation.jsonl"))))
        #expect(validation.count >= heldOut.count * 9 / 10)  // small levels have fewer never-trained questions left
        let reserved = Set(heldOut.map(\.question))
        for v in validation {
            #expect(MathCorpus.isHeldOut(v.question))
            #expect(!reserved.contains(v.question) && !MathCorpus.commutedForms(v.question).contains(where: reserved.contains), "\(v.question)")
        }
    }
}
