import ArgumentParser
import Foundation
import RZPretrain

struct Pretrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Build the built-in base model: a math corpus in both roles' formats, a byte tokenizer, supervised training.",
        discussion: """
            Writes a Hugging Face folder (config.json, model.safetensors, tokenizer.json) plus recipe.json (every \
            setting that decides the weights) and heldout.jsonl (evaluation problems the corpus never contains). \
            With the defaults it reproduces models/base. Options override the recipe; --recipe FILE reads one.
            """)

    @Option(help: "Output folder.") var out: String
    @Option(help: "A recipe.json to start from (e.g. models/base/recipe.json).") var recipe: String?
    @Option(help: "Seed of the initial weights and the corpus.") var seed: UInt64?
    @Option(help: "Supervised steps.") var steps: Int?
    @Option(help: "Examples per step.") var batchSize: Int?
    @Option(help: "Problem families, comma-separated: addition, subtraction, multiplication, order_of_operations, linear_equation, fraction, word_problem (or all).")
    var families: String?
    @Flag(help: "Also keep out of the corpus every question whose commuted form is held out (58+347 when 347+58 is); the default recipe already does, a --recipe written before it existed does not.")
    var excludeCommuted = false
    @Flag(help: "Write only the problem sets (heldout.jsonl, validation.jsonl) of the recipe into --out; no training.")
    var setsOnly = false
    @OptionGroup var compute: ComputeOptions

    func run() throws {
        compute.apply()
        var r = PretrainRecipe()
        if let recipe {
            guard let data = FileManager.default.contents(atPath: recipe) else { throw failure("cannot read \(recipe)") }
            do { r = try JSONDecoder().decode(PretrainRecipe.self, from: data) } catch {
                throw failure("\(recipe) is not a pretraining recipe: \(error)")
            }
        }
        if let seed { r.seed = seed }
        if let steps { r.steps = steps }
        if let batchSize { r.batchSize = batchSize }
        if let families {
            if families == "all" {
                r.corpus.families = ProblemFamily.allCases
            } else {
                var chosen: [ProblemFamily] = []
                for name in families.split(separator: ",") {
                    guard let f = ProblemFamily(rawValue: name.trimmingCharacters(in: .whitespaces)) else {
                        throw failure("unknown family \"\(name)\" (known: \(ProblemFamily.allCases.map(\.rawValue).joined(separator: ", ")))")
                    }
                    chosen.append(f)
                }
                guard !chosen.isEmpty else { throw failure("--families names no family") }
                r.corpus.families = chosen
            }
        }
        guard r.steps >= 1, r.batchSize >= 1, r.hiddenSize >= 1, r.layers >= 1 else { throw failure("steps, batch size and sizes must be positive") }
        if excludeCommuted { r.corpus.excludeCommutedForms = true }
        if setsOnly {
            do { try Pretrainer.writeProblemSets(r, to: out) } catch { throw failure("cannot write the problem sets: \(error)") }
            print("wrote \(out)/\(Pretrainer.heldOutName) and \(out)/\(Pretrainer.validationName)")
            return
        }
        let started = Date()
        do {
            try Pretrainer.run(r, outDir: out) { p in
                FileHandle.standardError.write(Data(String(format: "step %d/%d loss %.4f %.0f tok/s\n", p.step, r.steps, p.loss,
                                                           p.tokensPerSecond).utf8))
            }
        } catch {
            throw failure("pretraining failed: \(error)")
        }
        print("wrote \(out) in \(Int(Date().timeIntervalSince(started))) s")
    }
}
