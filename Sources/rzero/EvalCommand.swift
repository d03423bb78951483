import ArgumentParser
import Foundation
import RZCoordinator
import RZModel
import RZRewards
import RZSampling
import RZTokenizer

struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Accuracy of a model on problems with known answers: greedy decoding and majority-of-m.",
        discussion: """
            --dataset is JSONL as the benchmarks ship it: {"question", "answer"} per line (optional "family", \
            "difficulty" give the breakdowns); GSM8K's lines (the answer after "####"); MATH / MATH-500's \
            {"problem", "answer"} or {"problem", "solution"} (the solution's last \\boxed{}; "type" or "subject" and \
            "level" give the breakdowns). Parquet is not read: convert it to JSONL first. The prompt is --template \
            with {question} replaced (the built-in model's format by default). Prints JSON; --out writes one line \
            per question (atomically).
            """)

    @Option(help: "Hugging Face model folder with tokenizer.json.") var model: String
    @Option(help: "JSONL of problems with answers (plain, GSM8K or MATH lines).") var dataset: String
    @Option(help: "Prompt template; {question} is replaced.") var template = "Q:{question}\nA:"
    @Option(help: "Answers sampled per question for the majority vote (0 or 1: greedy only).") var majority = 10
    @Option(help: "Sampling temperature of the majority answers.") var temperature = 1.0
    @Option(help: "Maximum new tokens per answer.") var maxTokens = 96
    @Option(help: "Random seed of the majority answers.") var seed: UInt64 = 1
    @Option(help: "Per-question results (JSONL).") var out: String?
    @OptionGroup var compute: ComputeOptions

    struct Detail: Encodable {
        var question: String
        var answer: String
        var family: String?
        var difficulty: Int?
        var greedy_response: String
        var greedy_answer: String?
        var greedy_correct: Bool
        var majority_answer: String?
        var majority_share: Double?
        var majority_correct: Bool?
    }

    struct Accuracy: Encodable {
        var count: Int
        var greedy: Double
        var majority: Double?
    }

    struct Output: Encodable {
        var model: String
        var dataset: String
        var overall: Accuracy
        var by_family: [String: Accuracy]
        var by_difficulty: [String: Accuracy]
    }

    func run() throws {
        compute.apply()
        guard template.contains("{question}") else { throw failure("--template must contain {question}") }
        guard (0...64).contains(majority), maxTokens >= 1 else { throw failure("--majority must be 0…64 and --max-tokens ≥ 1") }
        let items: [LabelledProblem]
        do { items = try LabelledDataset.load(dataset) } catch let e as ConfigError { throw failure(e.description) }
        let m: DecoderModel
        let tok: Tokenizer
        do {
            m = try ModelFolder.load(model)
            tok = try Tokenizer(contentsOfFile: model + "/tokenizer.json")
        } catch let e as ModelError { throw failure(e.description) } catch let e as TokenizerError { throw failure(e.description) }
        try compute.configure(m)
        let prompts = items.map { tok.encode(template.replacingOccurrences(of: "{question}", with: $0.question), addSpecialTokens: false) }
        let stops = [tok.eosTokenId].compactMap { $0 }
        func sample(n: Int, temperature: Double) throws -> [[String]] {
            var out: [[String]] = []
            let chunk = max(1, 512 / max(1, n))
            for start in stride(from: 0, to: prompts.count, by: chunk) {
                let slice = Array(prompts[start..<min(start + chunk, prompts.count)])
                let params = SamplingParameters(temperature: temperature, topP: 1, topK: 0, maxTokens: maxTokens, n: n,
                                                stopTokens: stops, stopStrings: [], seed: seed &+ UInt64(start))
                out += try generate(model: m, prompts: slice, parameters: params).map { g in
                    g.map { tok.decode($0.tokens, skipSpecialTokens: true) }
                }
            }
            return out
        }
        let grader = MathGrader()
        let greedy: [[String]]
        var votes: [[String]]? = nil
        do {
            greedy = try sample(n: 1, temperature: 0)
            if majority > 1 { votes = try sample(n: majority, temperature: temperature) }
        } catch let e as SamplingError { throw failure(e.description) }
        var details: [Detail] = []
        for (i, item) in items.enumerated() {
            let response = greedy[i].first ?? ""
            let answer = BoxedAnswer.last(in: response)
            var d = Detail(question: item.question, answer: item.answer, family: item.family, difficulty: item.difficulty,
                           greedy_response: response, greedy_answer: answer,
                           greedy_correct: answer.map { grader.equivalent($0, item.answer) } ?? false)
            if let votes {
                let vote = MajorityVote.vote(responses: votes[i], grader: grader)
                d.majority_answer = vote.majorityAnswer
                d.majority_share = vote.majorityShare
                d.majority_correct = vote.majorityAnswer.map { grader.equivalent($0, item.answer) } ?? false
            }
            details.append(d)
        }
        func accuracy(_ ds: [Detail]) -> Accuracy {
            let n = Double(ds.count)
            return Accuracy(count: ds.count, greedy: Double(ds.filter(\.greedy_correct).count) / n,
                            majority: votes == nil ? nil : Double(ds.filter { $0.majority_correct == true }.count) / n)
        }
        func grouped(_ key: (Detail) -> String?) -> [String: Accuracy] {
            Dictionary(grouping: details.filter { key($0) != nil }) { key($0) ?? "" }.mapValues(accuracy)
        }
        if let out {
            var lines = Data()
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            for d in details { lines.append(try encoder.encode(d)); lines.append(0x0A) }
            do { try AtomicFile.write(lines, to: out) } catch { throw failure("cannot write \(out): \(error)") }
        }
        try printJSON(Output(model: model, dataset: dataset, overall: accuracy(details), by_family: grouped(\.family),
                             by_difficulty: grouped { $0.difficulty.map { String($0) } }))
    }
}
