import Foundation
import Testing
import RZCoordinator
import RZModel
import RZSampling
import RZTestSupport
import RZTokenizer

/// The evaluator checked from outside: a run with an evaluation set, its recorded accuracies recounted from the
/// per-question records with an extraction of its own, and the base Solver's greedy answers regenerated locally.
@Suite("Held-out evaluation, recounted independently", .serialized)
struct EvaluationRecountTests {
    /// The last `\boxed{...}` of a response, by plain brace matching (not the grader's parser).
    static func lastBoxed(_ text: String) -> String? {
        guard let start = text.range(of: "\\boxed{", options: .backwards) else { return nil }
        var depth = 1, out = ""
        for c in text[start.upperBound...] {
            if c == "{" { depth += 1 }
            if c == "}" { depth -= 1; if depth == 0 { return out } }
            out.append(c)
        }
        return nil
    }

    @Test("recorded greedy and majority accuracies equal a recount; the base Solver's answers equal local greedy decoding")
    func recount() async throws {
        let dir = temporaryDirectory()
        // The toy Solver's questions, with the answer it was taught first (it also learned a wrong one for each).
        let items = ToyModel.questions.map { (question: $0.question, answer: $0.answers[0]) }
        let lines = items.map { #"{"question": "\#($0.question)", "answer": "\#($0.answer)"}"# }.joined(separator: "\n") + "\n"
        try lines.write(toFile: dir + "/eval.jsonl", atomically: true, encoding: .utf8)
        var config = shortConfig(seed: 17)
        config.evaluation.datasets = [dir + "/eval.jsonl"]
        config.evaluation.majoritySamples = 3
        config.evaluation.maxTokens = 12
        let run = try await runToEnd(config)

        let records = try run.readJournal(EvalRecord.self, "eval")
        #expect(records.map(\.iteration) == [0, 1, 2])
        for record in records {
            let details = try run.readLines(EvalDetail.self, from: run.path + "/eval/iteration-\(record.iteration)-eval.jsonl")
            #expect(details.map(\.question) == items.map(\.question) && record.count == items.count)
            var greedyRight = 0, majorityRight = 0
            for (d, item) in zip(details, items) {
                let mine = Self.lastBoxed(d.greedyResponse)
                #expect(mine == d.greedyAnswer, "\(d.greedyResponse)")
                if mine?.trimmingCharacters(in: .whitespaces) == item.answer { greedyRight += 1 }
                #expect(d.greedyCorrect == (mine?.trimmingCharacters(in: .whitespaces) == item.answer))
                if d.majorityAnswer?.trimmingCharacters(in: .whitespaces) == item.answer { majorityRight += 1 }
            }
            #expect(abs(record.greedyAccuracy - Double(greedyRight) / Double(items.count)) < 1e-12, "iteration \(record.iteration)")
            #expect(abs((record.majorityAccuracy ?? -1) - Double(majorityRight) / Double(items.count)) < 1e-12, "iteration \(record.iteration)")
        }
        // Iteration 0 is the untouched base Solver: its greedy responses are what local decoding of the same prompts gives.
        let model = try ModelFolder.load(ToyModel.folder)
        let tokenizer = try Tokenizer(contentsOfFile: ToyModel.folder + "/tokenizer.json")
        let base = try run.readLines(EvalDetail.self, from: run.path + "/eval/iteration-0-eval.jsonl")
        for (d, item) in zip(base, items) {
            let prompt = tokenizer.encode(config.prompts.solverTemplate.replacingOccurrences(of: "{question}", with: item.question),
                                          addSpecialTokens: false)
            let stops = ChatFormat(tokenizer: tokenizer).stopTokenIds + [tokenizer.eosTokenId].compactMap { $0 }
            let g = try generate(model: model, prompts: [prompt],
                                 parameters: SamplingParameters(temperature: 0, maxTokens: config.evaluation.maxTokens, stopTokens: stops))[0][0]
            #expect(tokenizer.decode(g.tokens, skipSpecialTokens: true) == d.greedyResponse, "\(item.question)")
        }
    }
}

@Suite("Solver replay of earlier iterations' kept questions", .serialized)
struct ReplayTests {
    @Test("with replay_iterations 1, iteration 2's dataset is its kept questions then iteration 1's, each question once")
    func replay() async throws {
        var config = shortConfig(seed: 23)
        config.pool.band = .none
        config.solver.replayIterations = 1
        let run = try await runToEnd(config)
        let pool = try run.readJournal(PoolRecord.self, "pool")
        func kept(_ it: Int) -> [String] { pool.filter { $0.iteration == it && $0.kept }.compactMap(\.question) }
        let dataset = try run.readLines(DatasetItem.self, from: run.path + "/datasets/iteration-2.jsonl").map(\.question)
        var expected: [String] = []
        for q in kept(2) + kept(1) where !expected.contains(q) { expected.append(q) }
        #expect(!kept(1).isEmpty && dataset == expected)
        // Iteration 1 has nothing before it.
        #expect(try run.readLines(DatasetItem.self, from: run.path + "/datasets/iteration-1.jsonl").map(\.question) == kept(1))
    }
}

@Suite("Solver weights averaged with the phase start", .serialized)
struct PhaseAverageTests {
    @Test("with average_with_phase_start 0.5, each phase's end checkpoint is the mean of its start and what it trained")
    func average() async throws {
        var config = shortConfig(seed: 29)
        config.solver.averageWithPhaseStart = 0.5
        config.checkpoints.keepLast = 0
        let pair = try await ServicePair.start()
        let services = ServiceSet(challenger: roleService("challenger", pair.challenger.url), solvers: [roleService("solver", pair.solver.url)])
        let run = RunDirectory(path: temporaryDirectory() + "/run")
        do { try await Coordinator(config: config, directory: run, services: services, logger: quietLogger()).run() } catch {
            await pair.stop()
            throw error
        }
        await pair.stop()
        let state = try run.loadState()
        var trainedPhases = 0
        for it in 1...config.iterations {
            func weights(_ suffix: String) throws -> [Float] {
                try ModelFolder.load(pair.checkpoints + "/solver/\(state.runId)-solver-it\(it)\(suffix)").parameters.toArray()
            }
            let start = try weights(""), trained = try weights("-trained"), end = try weights("-end")
            if start != trained { trainedPhases += 1 }
            var worst = 0.0
            for i in end.indices { worst = max(worst, abs(Double(end[i]) - (0.5 * Double(start[i]) + 0.5 * Double(trained[i])))) }
            #expect(worst < 1e-6, "iteration \(it)")
        }
        #expect(trainedPhases >= 1)
    }
}

@Suite("A confident second opinion", .serialized)
struct SecondOpinionShareTests {
    @Test("with second_opinion_min_share, every kept question's second opinion agrees and reaches the share")
    func minShare() async throws {
        var config = shortConfig(seed: 31)
        config.pool.band = .none
        config.stabilisers.secondOpinion = true
        config.stabilisers.secondOpinionMinShare = 0.75
        let run = try await runToEnd(config)
        let pool = try run.readJournal(PoolRecord.self, "pool").filter { $0.question != nil && !$0.duplicate }
        let kept = pool.filter(\.kept)
        #expect(!kept.isEmpty && kept.allSatisfy { ($0.secondOpinionShare ?? 0) >= 0.75 && $0.secondOpinion != nil })
        #expect(pool.contains { !$0.kept && $0.majorityAnswer != nil && $0.secondOpinion == $0.majorityAnswer && ($0.secondOpinionShare ?? 1) < 0.75 })
        // Some agreeing questions were dropped for the share alone, or every agreeing one was sure (either way the rule held).
        #expect(pool.contains { $0.secondOpinionShare != nil })
    }
}

@Suite("A Challenger rewarded only for questions the pool could keep", .serialized)
struct ChallengerSecondOpinionRewardTests {
    @Test("with challenger.reward.second_opinion, a question the second opinion does not reach earns at most 0; the rest keep the paper's reward")
    func gate() async throws {
        var config = shortConfig(seed: 37)
        config.challenger.reward.secondOpinion = true
        config.stabilisers.secondOpinionMinShare = 0.5
        let run = try await runToEnd(config)
        let records = try run.readJournal(ChallengerRecord.self, "challenger").filter { $0.question != nil && $0.majorityAnswer != nil }
        #expect(!records.isEmpty && records.allSatisfy { $0.secondOpinionAgrees != nil && $0.secondOpinionShare != nil })
        var gated = 0
        for r in records {
            let paper = max(0, (r.uncertainty ?? 0) - r.repetitionPenalty)
            let reaches = r.secondOpinion == r.majorityAnswer && (r.secondOpinionShare ?? 0) >= 0.5
            #expect(r.secondOpinionAgrees == reaches, "\(r.question ?? "")")
            if reaches {
                #expect(abs(r.reward - paper) < 1e-9)
            } else {
                #expect(r.reward == 0)
                if paper > 0 { gated += 1 }
            }
        }
        // The gate changed some rewards, and left some positive ones: it is neither a no-op nor zero everywhere.
        #expect(gated > 0 && records.contains { $0.secondOpinionAgrees == true && $0.reward > 0 })
    }
}

@Suite("The probe guard", .serialized)
struct ProbeGuardTests {
    static func start(_ config: RunConfig) async throws -> (pair: ServicePair, coordinator: Coordinator, run: RunDirectory) {
        let pair = try await ServicePair.start()
        let services = ServiceSet(challenger: roleService("challenger", pair.challenger.url), solvers: [roleService("solver", pair.solver.url)])
        let run = RunDirectory(path: temporaryDirectory() + "/run")
        return (pair, try Coordinator(config: config, directory: run, services: services, logger: quietLogger()), run)
    }

    static func config() -> RunConfig {
        var config = shortConfig(seed: 41)
        config.iterations = 3
        config.pool.band = .none
        config.checkpoints.keepLast = 0
        config.stabilisers.probeGuard = true
        config.stabilisers.probeMargin = 0.1
        return config
    }

    @Test("each phase is measured on the earlier iterations' kept questions, at its start and its end; the start's agreement equals a local recount")
    func measurements() async throws {
        let config = Self.config()
        let (pair, coordinator, run) = try await Self.start(config)
        do { try await coordinator.run() } catch { await pair.stop(); throw error }
        await pair.stop()
        let runId = try run.loadState().runId
        let pool = try run.readJournal(PoolRecord.self, "pool")
        let probe = try run.readJournal(ProbeRecord.self, "probe")
        #expect(probe.map(\.iteration) == [1, 1, 2, 2, 3, 3] && probe.map(\.point) == ["start", "end", "start", "end", "start", "end"])
        let tokenizer = try Tokenizer(contentsOfFile: ToyModel.folder + "/tokenizer.json")
        let stops = ChatFormat(tokenizer: tokenizer).stopTokenIds + [tokenizer.eosTokenId].compactMap { $0 }
        var measured = 0
        for it in 1...config.iterations {
            let start = probe[2 * (it - 1)], end = probe[2 * (it - 1) + 1]
            // The probe: questions kept before this iteration, with the newest pseudo-label each was kept with.
            var labels: [String: String] = [:]
            for r in pool.sorted(by: { $0.iteration > $1.iteration }) where r.iteration < it && r.kept {
                if let q = r.question, labels[q] == nil { labels[q] = r.majorityAnswer }
            }
            #expect(start.count == labels.count && end.count == labels.count, "iteration \(it)")
            #expect(end.rolledBack == (end.accuracy < start.accuracy - 0.1 - 1e-12), "iteration \(it)")
            guard !labels.isEmpty else { continue }
            measured += 1
            // The phase start's weights (its checkpoint), decoded greedily here and compared with the pseudo-labels.
            let model = try ModelFolder.load(pair.checkpoints + "/solver/\(runId)-solver-it\(it)")
            var agreeing = 0
            for (q, label) in labels {
                let prompt = tokenizer.encode(config.prompts.solverTemplate.replacingOccurrences(of: "{question}", with: q), addSpecialTokens: false)
                let g = try generate(model: model, prompts: [prompt],
                                     parameters: SamplingParameters(temperature: 0, maxTokens: config.votes.sampling.maxTokens, stopTokens: stops))[0][0]
                if EvaluationRecountTests.lastBoxed(tokenizer.decode(g.tokens, skipSpecialTokens: true))?
                    .trimmingCharacters(in: .whitespaces) == label { agreeing += 1 }
            }
            #expect(agreeing == start.agreeing && start.agreed?.filter { $0 }.count == start.agreeing, "iteration \(it)")
        }
        #expect(measured >= 2)
    }

    @Test("a phase whose end is below its recorded start by more than the margin is discarded: the Solver ends the phase at its start")
    func discard() async throws {
        var config = Self.config()
        // A learning rate at which iteration 2's phase still trains (rewards differ) but leaves the toy Solver agreeing less.
        config.solver.optimizer.learningRate = 0.004
        let (pair, coordinator, run) = try await Self.start(config)
        // Run up to iteration 2's Solver phase end, then make the start's record claim full agreement (same bytes long, written
        // in place where the coordinator appends), so the end, whatever it is, falls short of it.
        let plan = config.plan()
        guard let endIndex = plan.firstIndex(of: .endPhase(role: .solver, iteration: 2)) else { Issue.record("no end of iteration 2's Solver phase"); return }
        do { try await coordinator.run(maxUnits: endIndex) } catch { await pair.stop(); throw error }
        let path = run.path + "/probe.jsonl"
        let text = try String(contentsOfFile: path, encoding: .utf8)
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard let k = lines.lastIndex(where: { $0.contains("\"iteration\":2") && $0.contains("\"point\":\"start\"") }),
              let count = Self.field("count", in: lines[k]), let count = Int(count), count > 0, count < 10 else {
            await pair.stop(); Issue.record("no usable start record for iteration 2 in \(text)"); return
        }
        // Full agreement: agreeing = count (one digit, as before) and accuracy 1, padded as "1.000…" to the old length.
        var edited = lines[k].replacingOccurrences(of: "\"agreeing\":\(Self.field("agreeing", in: lines[k]) ?? "")",
                                                   with: "\"agreeing\":\(count)")
        let accuracy = Self.field("accuracy", in: edited) ?? ""
        let padded = "1." + String(repeating: "0", count: max(0, accuracy.count - 2))
        edited = edited.replacingOccurrences(of: "\"accuracy\":\(accuracy)", with: "\"accuracy\":\(accuracy.count >= 3 ? padded : "1")")
        #expect(edited.utf8.count == lines[k].utf8.count, "\(edited) vs \(lines[k])")
        lines[k] = edited
        let handle = try #require(FileHandle(forUpdatingAtPath: path))
        try handle.write(contentsOf: Data(lines.joined(separator: "\n").utf8))
        try handle.close()
        do { try await coordinator.run() } catch { await pair.stop(); throw error }
        await pair.stop()
        let runId = try run.loadState().runId
        let end = try #require(try run.readJournal(ProbeRecord.self, "probe").last { $0.iteration == 2 && $0.point == "end" })
        #expect(end.rolledBack == true && end.accuracy < 1 - 0.1)
        func weights(_ suffix: String) throws -> [Float] {
            try ModelFolder.load(pair.checkpoints + "/solver/\(runId)-solver-it2\(suffix)").parameters.toArray()
        }
        #expect(try weights("-end") == weights(""), "the discarded phase ends where it started")
        #expect(try run.readJournal(StepRecord.self, "train").contains { $0.role == "solver" && $0.iteration == 2 && !$0.skipped },
                "the phase did train")
    }

    /// The text of a number field `"name":value` in one JSON line.
    static func field(_ name: String, in line: String) -> String? {
        guard let r = line.range(of: "\"\(name)\":") else { return nil }
        return String(line[r.upperBound...].prefix { "0123456789.e-+".contains($0) })
    }
}

@Suite("The probe guard's rule, hand-derived")
struct ProbeRuleTests {
    static func record(_ agreed: [Bool]) -> ProbeRecord {
        let n = agreed.filter { $0 }.count
        return ProbeRecord(iteration: 2, point: "x", count: agreed.count, agreeing: n, accuracy: Double(n) / Double(agreed.count),
                           agreed: agreed, solverStep: 0)
    }

    @Test("margin alone; margin with a sign test over the questions lost and gained")
    func rule() {
        let start = Self.record(Array(repeating: true, count: 9) + [false])  // 0.9
        // Lost questions 0 and 1, gained question 9: 0.8, lost − gained = 1.
        let mixed = Self.record([false, false] + Array(repeating: true, count: 7) + [true])
        #expect(ProbeRecord.discards(start: start, end: mixed, margin: 0, z: 0))
        #expect(!ProbeRecord.discards(start: start, end: mixed, margin: 0.1, z: 0), "0.8 is not below 0.9 − 0.1")
        #expect(!ProbeRecord.discards(start: start, end: mixed, margin: 0, z: 2), "1 < 2·√3 = 3.46")
        #expect(ProbeRecord.discards(start: start, end: mixed, margin: 0, z: 0.5), "1 ≥ 0.5·√3 = 0.87")
        // Lost five, gained none: 5 ≥ 2·√5 = 4.47.
        let worse = Self.record(Array(repeating: false, count: 5) + Array(repeating: true, count: 4) + [false])
        #expect(ProbeRecord.discards(start: start, end: worse, margin: 0, z: 2))
        #expect(!ProbeRecord.discards(start: start, end: worse, margin: 0, z: 2.5), "5 < 2.5·√5 = 5.59")
        // No loss at all is never discarded.
        #expect(!ProbeRecord.discards(start: start, end: start, margin: 0, z: 0))
    }
}
