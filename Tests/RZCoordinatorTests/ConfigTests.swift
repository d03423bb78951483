import Foundation
import Testing
@testable import RZCoordinator
import RZAPI
import RZRewards
import RZTestSupport

@Suite("Run configuration, plan and report")
struct ConfigTests {
    @Test("a file's keys overlay the defaults; unknown keys and bad values are errors naming the setting")
    func parsing() throws {
        let c = try RunConfig.parse(Data(#"{"iterations": 2, "votes": {"samples": 6}, "pool": {"band": "share_range"}}"#.utf8))
        var expected = RunConfig()
        expected.iterations = 2
        expected.votes.samples = 6
        expected.pool.band = .shareRange
        #expect(c == expected)
        func error(_ json: String) -> String {
            do { _ = try RunConfig.parse(Data(json.utf8)); return "" } catch { return "\(error)" }
        }
        #expect(error(#"{"votes": {"sample": 6}}"#).contains("votes.sample"))
        #expect(error(#"{"iterations": "three"}"#).contains("iterations"))
        #expect(error(#"{"iterations": 0}"#).contains("iterations"))
        #expect(error(#"{"votes": 3}"#).contains("votes"))
        #expect(error(#"{"pool": {"band": "wide"}}"#).contains("pool.band must be one of distance_from_half, share_range, none (got \"wide\")"))
        #expect(error(#"{"solver": {"optimizer": {"kl_penalty": "k4"}}}"#)
            .contains("solver.optimizer.kl_penalty must be one of low_var_kl, kl, mse, abs, none"))
        #expect(error(#"{"checkpoints": {"export_dtype": 16}}"#).contains("wrong type at checkpoints.export_dtype"))
        // Every variant decodes from its own name and writes it back.
        for (key, names) in [("pool.band", BandChoice.allCases.map(\.rawValue)), ("solver.reference", SolverReferenceChoice.allCases.map(\.rawValue)),
                             ("challenger.optimizer.old_logprobs", OldLogprobsChoice.allCases.map(\.rawValue)),
                             ("challenger.reward.format_failure", FormatFailureChoice.allCases.map(\.rawValue))] {
            let parts = key.split(separator: ".").map(String.init)
            for name in names {
                var json = "\"\(name)\""
                for part in parts.reversed() { json = "{\"\(part)\": \(json)}" }
                let parsed = try RunConfig.parse(Data(json.utf8))
                #expect(String(decoding: try parsed.encoded(), as: UTF8.self).contains("\"\(parts.last!)\" : \"\(name)\""), "\(key) \(name)")
            }
        }
        #expect(error(#"{"services": {"solvers": []}}"#).contains("services.solvers"))
        #expect(error("[1]").contains("object"))
        #expect(error("{").contains("not valid JSON"))
        // The resolved configuration round-trips.
        #expect(try RunConfig.parse(c.encoded()) == c)
    }

    @Test("the plan has every unit once, in phase order; the base-Challenger ablation has no Challenger training")
    func plan() {
        var c = RunConfig()
        c.evaluation.datasets = ["x.jsonl"]
        let plan = c.plan()
        #expect(plan.first == .start && plan[1] == .evaluate(iteration: 0))
        #expect(plan.filter { if case .train(.challenger, _, _) = $0 { return true } else { return false } }.count == c.iterations * c.challenger.steps)
        #expect(plan.filter { if case .train(.solver, _, _) = $0 { return true } else { return false } }.count == c.iterations * c.solver.steps)
        #expect(Set(plan.map(\.description)).count == plan.count)
        c.challenger.train = false
        #expect(!c.plan().contains { if case .challengerSample = $0 { return true } else { return false } })
    }

    @Test("every configuration shipped in configs/ parses, and the ablations differ from the default where they say")
    func shippedConfigurations() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
        let main = try RunConfig.load(path: root + "/configs/default.json")
        #expect(main.evaluation.datasets == ["models/base/heldout.jsonl"] && main.iterations == 3)
        #expect(main.stabilisers.probeGuard && main.stabilisers.probeZ == 1.64)
        let names = try FileManager.default.contentsOfDirectory(atPath: root + "/configs/ablations").filter { $0.hasSuffix(".json") }
        #expect(names.count >= 7)
        for name in names {
            let c = try RunConfig.load(path: root + "/configs/ablations/" + name)
            #expect(c != main, "\(name) is the default configuration")
            // The rows are the default with one change (scripts/make_ablation_configs.py), except the two fixed references.
            let stem = String(name.dropLast(5))
            if !["paper", "upper-band"].contains(stem) {
                #expect(c.evaluation == main.evaluation && c.iterations == main.iterations, "\(name)")
                #expect(c.solver.averageWithPhaseStart == (stem == "no-average" ? 0 : main.solver.averageWithPhaseStart), "\(name)")
                #expect(c.stabilisers.probeGuard == (stem == "no-probe-guard" ? false : main.stabilisers.probeGuard), "\(name)")
                #expect(c.stabilisers.probeZ == (["no-probe-guard", "strict-probe-guard"].contains(stem) ? 0 : main.stabilisers.probeZ), "\(name)")
            }
        }
        let base = try RunConfig.load(path: root + "/configs/ablations/base-challenger.json")
        #expect(!base.challenger.train && base.pool == main.pool)
    }

    @Test("derived seeds differ per unit and repeat exactly")
    func seeds() {
        #expect(UnitSeed.derive(1, 2, 3) == UnitSeed.derive(1, 2, 3))
        #expect(UnitSeed.derive(1, 2, 3) != UnitSeed.derive(1, 3, 2))
        #expect(UnitSeed.derive(1, 2, 3) != UnitSeed.derive(2, 2, 3))
    }

    @Test("pseudo-label calibration bins p̂ on edges as the band does and grades labels like the Solver reward (hand-derived)")
    func calibrationBins() throws {
        func record(_ question: String?, _ label: String?, _ share: Double, duplicate: Bool = false) throws -> PoolRecord {
            // A pool.jsonl line, as the coordinator writes it.
            let line: [String: Any] = ["iteration": 1, "index": 0, "text": "", "question": question ?? NSNull(), "duplicate": duplicate,
                                       "responses": [String](), "answers": [String](), "cluster_sizes": [Int](),
                                       "majority_answer": label ?? NSNull(), "majority_share": share, "kept": false]
            let decoder = JSONDecoder()
            decoder.keyDecodingStrategy = .convertFromSnakeCase
            return try decoder.decode(PoolRecord.self, from: JSONSerialization.data(withJSONObject: line))
        }
        let truth = ["1+1": "2", "2+2": "4", "3+3": "6", "half": "1/2"]
        let pool = try [
            record("1+1", "2", 0.1),                     // [0, 0.3): right
            record("2+2", "5", 0.3 - 1e-12),             // 0.3 rounded down still starts [0.3, 0.5): wrong
            record("half", "0.5", 0.5),                  // [0.5, 0.7): right (equivalent form)
            record("3+3", "6", 0.7 + 0.2),               // 0.9 (0.8999…): [0.9, 1]: right
            record("3+3", "7", 1.0),                     // [0.9, 1]: wrong
            record("1+1", "2", 0.6, duplicate: true),    // duplicates are not counted
            record("unknown", "1", 0.6),                 // no true answer: not counted
            record(nil, nil, 0),                         // format failure: not counted
        ]
        let bins = CalibrationBin.bins(pool, oracle: { truth[$0] }, grader: MathGrader())
        #expect(bins.map(\.low) == [0, 0.3, 0.5, 0.7, 0.9])
        #expect(bins.map(\.checked) == [1, 1, 1, 0, 2])
        #expect(bins.map(\.right) == [1, 0, 1, 0, 1])
    }
}

@Suite("What the coordinator sends for a run's optimizer settings")
struct TrainingSettingsMappingTests {
    @Test("kl_penalty none is sent as disabled with coefficient 0 (no reference forward); the estimators map by name")
    func klPenalty() {
        var o = OptimizerConfig()
        o.klCoef = 0.05
        let cases: [(KLPenaltyChoice, Components.Schemas.KLPenalty, Double)] = [
            (.none, .disabled, 0), (.lowVarKL, .lowVarKl, 0.05), (.kl, .kl, 0.05), (.mse, .mse, 0.05), (.abs, .abs, 0.05),
        ]
        for (name, expected, coef) in cases {
            o.klPenalty = name
            let s = Coordinator.trainingSettings(o)
            #expect(s.klPenalty == expected && s.klCoef == coef, "\(name)")
        }
    }
}

@Suite("Held-out datasets as the benchmarks ship them")
struct LabelledDatasetFormatTests {
    func load(_ lines: [String]) throws -> [LabelledProblem] {
        let path = temporaryDirectory() + "/set.jsonl"
        try lines.joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
        return try LabelledDataset.load(path)
    }

    @Test("GSM8K and MATH lines give the same problems as the plain form")
    func formats() throws {
        let plain = try load([
            #"{"question": "Tom has 1,200 apples and eats 2. How many are left?", "answer": "1198"}"#,
            #"{"question": "What is 1/2 + 1/4?", "answer": "\\frac{3}{4}", "family": "Algebra", "difficulty": 2}"#,
        ])
        let gsm8k = try load([
            #"{"question": "Tom has 1,200 apples and eats 2. How many are left?", "answer": "1200 - 2 = <<1200-2=1198>>1,198\n#### 1,198"}"#,
        ])
        let mathSolution = try load([
            #"{"problem": "What is 1/2 + 1/4?", "solution": "We get $\\frac{2}{4}+\\frac{1}{4}=\\boxed{\\frac{3}{4}}$.", "level": "Level 2", "type": "Algebra"}"#,
        ])
        let math500 = try load([
            #"{"problem": "What is 1/2 + 1/4?", "solution": "... \\boxed{0.75}", "answer": "\\frac{3}{4}", "level": 2, "subject": "Algebra"}"#,
        ])
        #expect(gsm8k == [plain[0]])
        #expect(mathSolution == [plain[1]])
        #expect(math500 == [plain[1]])
    }

    @Test("a line of no known form, or a solution without a box, is an error naming the line")
    func errors() throws {
        #expect(throws: ConfigError.self) { _ = try load([#"{"question": "1+1", "answer": "2"}"#, #"{"prompt": "x"}"#]) }
        do {
            _ = try load([#"{"problem": "p", "solution": "no box here"}"#])
            Issue.record("expected an error")
        } catch let e as ConfigError {
            #expect(e.description.contains("line 1") && e.description.contains("boxed"))
        }
    }
}
