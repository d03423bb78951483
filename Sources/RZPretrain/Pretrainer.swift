import Foundation
import RZModel
import RZTokenizer
import RZTraining

/// The built-in base model's recipe: architecture, corpus and optimisation. Everything that decides
/// the weights is here, and it is written beside them (`recipe.json`) so `rzero pretrain` reproduces
/// the model from it.
///
/// The defaults are models/base: 3.3M parameters (hidden 192, 6 layers), 1800 steps, about 23 minutes on 2 cores. The
/// earlier 1.1M-parameter model (hidden 128, 4 layers, 2400 steps, no commuted-form exclusion) is models/base-1m; its
/// recipe.json still reproduces its corpus. The larger model is the default because on it the Challenger's training
/// pays in iterations 1-2 and the Solver ends 3 points higher (docs/self-evolution.md); on the smaller one it never
/// paid.
public struct PretrainRecipe: Codable, Sendable, Equatable {
    public var seed: UInt64 = 1
    public var steps = 1800
    public var batchSize = 96
    public var learningRate = 2e-3
    public var warmupSteps = 50
    public var hiddenSize = 192
    public var intermediateSize = 768
    public var layers = 6
    public var heads = 6
    public var kvHeads = 2
    public var headDim = 32
    public var corpus = CorpusSettings()
    /// Held-out problems per family and level written beside the model.
    public var heldOutPerLevel = 40

    public init() {}
}

/// What one logged pretraining step reports.
public struct PretrainProgress: Sendable {
    public var step: Int
    public var loss: Double
    public var tokensPerSecond: Double
}

public enum Pretrainer {
    public static let recipeName = "recipe.json"
    public static let heldOutName = "heldout.jsonl"

    /// Trains the base model of `recipe` and writes it (config.json, model.safetensors, tokenizer.json,
    /// recipe.json, heldout.jsonl) into `outDir`, each file atomically.
    public static func run(_ recipe: PretrainRecipe, outDir: String, progress: (PretrainProgress) -> Void) throws {
        let tokenizerData = try ByteVocabularyFile.json()
        let tokenizer = try Tokenizer(data: tokenizerData)
        guard let eos = tokenizer.endOfTextTokenId else { throw ModelError.invalidConfig("the byte vocabulary has no <|endoftext|>") }
        var config = DecoderConfig(vocabSize: tokenizer.vocabularySize, hiddenSize: recipe.hiddenSize,
                                 intermediateSize: recipe.intermediateSize, numLayers: recipe.layers, numHeads: recipe.heads,
                                 numKVHeads: recipe.kvHeads, headDim: recipe.headDim, maxPositionEmbeddings: 1024,
                                 tieWordEmbeddings: true, eosTokenId: Int(eos))
        config.dtype = "float32"
        let model = try DecoderModel(config: config)
        model.initializeRandom(seed: recipe.seed, std: 0.02)
        var settings = TrainerSettings()
        settings.optimizer = AdamWSettings(learningRate: recipe.learningRate, weightDecay: 0.01,
                                           schedule: .cosine(warmupSteps: recipe.warmupSteps, totalSteps: recipe.steps, minRatio: 0.05))
        let trainer = PolicyTrainer(model: model, settings: settings)
        var rng = SplitMix(seed: recipe.seed ^ 0x5eed_c0de)
        var clock = Date()
        var tokens = 0
        for step in 1...max(1, recipe.steps) {
            var batch: [SFTSample] = []
            for _ in 0..<recipe.batchSize {
                let e = MathCorpus.example(recipe.corpus, rng: &rng)
                batch.append(SFTSample(prompt: tokenizer.encode(e.prompt, addSpecialTokens: false),
                                       target: tokenizer.encode(e.target, addSpecialTokens: false) + [eos]))
            }
            let m = try trainer.sftStep(batch)
            tokens += batch.reduce(0) { $0 + $1.prompt.count + $1.target.count }
            if step % 25 == 0 || step == recipe.steps {
                let seconds = Date().timeIntervalSince(clock)
                progress(PretrainProgress(step: step, loss: m.loss, tokensPerSecond: Double(tokens) / max(seconds, 1e-9)))
                clock = Date()
                tokens = 0
            }
        }
        try FileManager.default.createDirectory(atPath: outDir, withIntermediateDirectories: true)
        try ModelFolder.save(model, to: outDir, metadata: ["recipe": "rzero pretrain"])
        try AtomicFile.write(tokenizerData, to: outDir + "/tokenizer.json")
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(encoder.encode(recipe), to: outDir + "/" + recipeName)
        try writeProblemSets(recipe, to: outDir)
    }

    /// Writes heldout.jsonl and validation.jsonl: the final evaluation set, and a second one drawn with its own seed from
    /// the same never-trained share, disjoint from the first (commuted forms included), for choosing settings.
    public static func writeProblemSets(_ recipe: PretrainRecipe, to outDir: String) throws {
        try FileManager.default.createDirectory(atPath: outDir, withIntermediateDirectories: true)
        try AtomicFile.write(heldOutJSONL(recipe), to: outDir + "/" + heldOutName)
        try AtomicFile.write(validationJSONL(recipe), to: outDir + "/" + validationName)
    }

    public static let validationName = "validation.jsonl"

    /// The held-out evaluation set: `{"question", "answer", "family", "difficulty"}` lines. Drawn with a
    /// seed of its own from the held-out share, which the corpus never contains.
    public static func heldOutJSONL(_ recipe: PretrainRecipe) throws -> Data {
        try lines(heldOutProblems(recipe))
    }

    static func heldOutProblems(_ recipe: PretrainRecipe) -> [Problem] {
        MathCorpus.heldOut(recipe.corpus, perLevel: recipe.heldOutPerLevel, seed: recipe.seed &+ 0x4e1d_0ff7)
    }

    /// The validation set: as many problems as the held-out set, drawn with another seed from the same share, none of them
    /// (in any order) in the held-out set.
    public static func validationJSONL(_ recipe: PretrainRecipe) throws -> Data {
        let heldOut = Set(heldOutProblems(recipe).map(\.question))
        return try lines(MathCorpus.heldOut(recipe.corpus, perLevel: recipe.heldOutPerLevel, seed: recipe.seed &+ 0x7a11_da7e, excluding: heldOut))
    }

    private static func lines(_ problems: [Problem]) throws -> Data {
        struct Line: Encodable {
            var question: String
            var answer: String
            var family: String
            var difficulty: Int
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        var data = Data()
        for p in problems {
            data.append(try encoder.encode(Line(question: p.question, answer: p.answer, family: p.family.rawValue,
                                                difficulty: p.difficulty)))
            data.append(0x0A)
        }
        return data
    }
}
