import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing
import RZCoordinator
import RZModel
import RZTokenizer
import RZRewards
import RZTestSupport

/// What a run wrote that must not depend on interruptions: every journal except timings and service-side
/// version counters.
func comparableRecords(_ dir: String) throws -> [String: String] {
    let run = RunDirectory(path: dir)
    var out: [String: String] = [:]
    for name in ["challenger", "pool", "solver"] {
        out[name] = (try? String(contentsOfFile: dir + "/\(name).jsonl", encoding: .utf8)) ?? ""
    }
    let steps = try run.readJournal(StepRecord.self, "train").map { s -> String in
        var s = s
        s.seconds = 0
        // The service's own counter: a restored service also counts its checkpoint load.
        s.modelVersion = 0
        return String(describing: s)
    }
    out["train"] = steps.joined(separator: "\n")
    let evals = try run.readJournal(EvalRecord.self, "eval").map { String(describing: $0) }
    out["eval"] = evals.joined(separator: "\n")
    for it in 1...2 {
        out["dataset\(it)"] = (try? String(contentsOfFile: dir + "/datasets/iteration-\(it).jsonl", encoding: .utf8)) ?? ""
    }
    return out
}

@Suite("Coordinator: the R-Zero loop over live services", .serialized)
struct LoopTests {
    @Test("a short run writes a consistent run directory: votes add up to m, rewards follow the formulas")
    func consistentRunDirectory() async throws { try await checkConsistentRun(modelDir: ToyModel.folder) }

    @Test("the same on a Llama model: services, coordinator, checkpoints and report; checkpoints stay Llama folders")
    func llamaRun() async throws {
        let checkpoints = try await checkConsistentRun(modelDir: ToyModel.llamaFolder)
        let saved = try FileManager.default.contentsOfDirectory(atPath: checkpoints + "/solver").filter { !$0.hasPrefix(".") && $0 != "exports" }
        #expect(!saved.isEmpty)
        for name in saved {
            let config = try ModelFolder.loadConfig(checkpoints + "/solver/" + name)
            #expect(config.family == .llama && config.architecture.mlpBias && !config.tieWordEmbeddings)
            #expect(config.rotaryScaling != .none)
            // A checkpoint is a whole model folder: its tokenizer travels with it.
            let tok = try Tokenizer(contentsOfFile: checkpoints + "/solver/" + name + "/tokenizer.json")
            #expect(ChatFormat(tokenizer: tok).layout == .llama3)
        }
    }

    @Test("a Llama service reports its family and stops at the Llama 3 tokens, and renders chat prompts in the header format")
    func llamaService() async throws {
        let service = try await LiveService.start(role: .solver, modelDir: ToyModel.llamaFolder, checkpointsDir: temporaryDirectory())
        defer { Task { await service.stop() } }
        let (data, _) = try await URLSession.shared.data(from: try #require(URL(string: service.url + "/v1/model")))
        let info = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let config = try #require(info["config"] as? [String: Any])
        #expect(config["model_type"] as? String == "llama")
        let tok = try Tokenizer(contentsOfFile: ToyModel.llamaFolder + "/tokenizer.json")
        let eot = try #require(tok.encode("<|eot_id|>", addSpecialTokens: false).first)
        let eos = try #require(tok.eosTokenId)
        #expect(Set(info["eos_token_ids"] as? [Int] ?? []) == [Int(eot), Int(eos)])
        // A chat prompt is rendered in Llama 3's header format and generation runs on it.
        var request = URLRequest(url: try #require(URL(string: service.url + "/v1/generate")))
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.httpBody = Data(#"{"prompts": [{"messages": [{"role": "user", "content": "1+1"}]}], "n": 2, "max_tokens": 4, "seed": 1}"#.utf8)
        let (body, response) = try await URLSession.shared.data(for: request)
        #expect((response as? HTTPURLResponse)?.statusCode == 200, "\(String(decoding: body, as: UTF8.self))")
        #expect(ChatFormat(tokenizer: tok).layout == .llama3)
    }

    /// Runs `shortConfig()` on `modelDir` and checks the run directory; returns the services' checkpoint folder.
    @discardableResult
    func checkConsistentRun(modelDir: String) async throws -> String {
        let pair = try await ServicePair.start(modelDir: modelDir)
        let dir = temporaryDirectory() + "/run"
        let config = shortConfig()
        let services = ServiceSet(challenger: roleService("challenger", pair.challenger.url), solvers: [roleService("solver", pair.solver.url)])
        let coordinator = try Coordinator(config: config, directory: RunDirectory(path: dir), services: services, logger: quietLogger())
        try await coordinator.run()
        await pair.stop()
        #expect(coordinator.isFinished)

        let run = RunDirectory(path: dir)
        let state = try run.loadState()
        #expect(state.nextUnit == config.plan().count && state.finishedAt != nil)
        #expect(try run.loadConfig() == config)

        // Challenger phase: B = groups × group size samples a step, m answers for each valid question.
        let challenger = try run.readJournal(ChallengerRecord.self, "challenger")
        #expect(challenger.count == config.iterations * config.challenger.steps * config.challenger.groupsPerStep * config.challenger.groupSize)
        let valid = challenger.filter { $0.formatFailure == nil }
        #expect(valid.count > challenger.count / 2, "the toy Challenger writes well-formed questions")
        for r in valid {
            #expect(r.answers.count == config.votes.samples && r.responses.count == config.votes.samples)
            let boxed = r.answers.compactMap { $0 }.count
            #expect(r.clusterSizes.reduce(0, +) == boxed)
            let top = r.clusterSizes.max() ?? 0
            #expect(abs(r.majorityShare - Double(top) / Double(config.votes.samples)) < 1e-12)
            let expected = max(0, 1 - 2 * abs(r.majorityShare - 0.5) - Double(r.repetitionClusterSize) / Double(8))
            #expect(abs(r.reward - expected) < 1e-9, "reward of \(r.question ?? "")")
        }
        for r in challenger where r.formatFailure != nil { #expect(r.reward == 0 && r.answers.isEmpty) }
        // Cluster sizes recorded per sample agree with the labels within each step.
        for it in 1...config.iterations {
            for s in 0..<config.challenger.steps {
                let batch = challenger.filter { $0.iteration == it && $0.step == s }
                for r in batch { #expect(batch.filter { $0.repetitionCluster == r.repetitionCluster }.count == r.repetitionClusterSize) }
            }
        }

        // Pool: kept = has a majority and |p̂ − ½| ≤ δ; the dataset is exactly the kept questions.
        let pool = try run.readJournal(PoolRecord.self, "pool")
        #expect(pool.count == config.iterations * config.pool.questions)
        for r in pool {
            let inBand = r.majorityAnswer != nil && abs(r.majorityShare - 0.5) <= config.pool.delta + 1e-12
            #expect(r.kept == (inBand && !r.duplicate && r.question != nil))
            if r.question != nil && !r.duplicate { #expect(r.answers.count == config.votes.samples) }
        }
        for it in 1...config.iterations {
            let kept = pool.filter { $0.iteration == it && $0.kept }
            let dataset = try run.readLines(DatasetItem.self, from: dir + "/datasets/iteration-\(it).jsonl")
            #expect(dataset.map(\.question) == kept.compactMap(\.question))
            #expect(dataset.map(\.pseudoLabel) == kept.compactMap(\.majorityAnswer))
        }
        #expect(pool.contains { $0.kept }, "split votes keep some questions")

        // Solver samples: reward 1 exactly when the box matches the pseudo-label.
        let solver = try run.readJournal(SolverRecord.self, "solver")
        #expect(!solver.isEmpty)
        for r in solver { #expect(r.reward == ((r.answer.map { equivalent($0, r.pseudoLabel) } ?? false) ? 1 : 0)) }

        // Training: one record per step, service steps consecutive, mean reward = the batch's mean.
        let steps = try run.readJournal(StepRecord.self, "train")
        let challengerSteps = steps.filter { $0.role == "challenger" }
        #expect(challengerSteps.count == config.iterations * config.challenger.steps)
        #expect(challengerSteps.map(\.serviceStep) == Array(1...challengerSteps.count))
        for s in challengerSteps {
            let batch = challenger.filter { $0.iteration == s.iteration && $0.step == s.step }
            #expect(abs(s.meanReward - batch.map(\.reward).reduce(0, +) / Double(batch.count)) < 1e-6)
        }
        let solverSteps = steps.filter { $0.role == "solver" }
        for s in solverSteps {
            let batch = solver.filter { $0.iteration == s.iteration && $0.step == s.step }
            #expect(abs(s.meanReward - batch.map(\.reward).reduce(0, +) / Double(batch.count)) < 1e-6)
        }
        // Checkpoints: base, phase starts and ends of both roles were saved; retention keeps each role's newest two.
        let kept = state.checkpoints.filter { $0.role == "solver" }
        #expect(kept.map(\.name) == ["\(state.runId)-solver-it\(config.iterations)", "\(state.runId)-solver-it\(config.iterations)-end"])
        #expect((state.deletedCheckpointBytes ?? 0) > 0 && state.checkpoints.allSatisfy { ($0.sizeBytes ?? 0) > 0 })
        let onDisk = try FileManager.default.contentsOfDirectory(atPath: pair.checkpoints + "/solver").filter { !$0.hasPrefix(".") }
        #expect(Set(onDisk) == Set(kept.map(\.name) + ["exports"]))
        #expect(state.steps["challenger"] == challengerSteps.count)
        // The final models: complete folders with the last checkpoints' weights and the tokenizer.
        let exports = state.exports ?? []
        #expect(exports.map(\.role) == ["challenger", "solver"])
        for e in exports {
            let exported = try ModelFolder.load(e.path)
            let last = try #require(state.checkpoints.last { $0.role == e.role })
            let checkpoint = try ModelFolder.load(pair.checkpoints + "/" + e.role + "/" + last.name)
            #expect(exported.parameters.toArray() == checkpoint.parameters.toArray(), "\(e.role)")
            #expect(FileManager.default.fileExists(atPath: e.path + "/tokenizer.json") && e.step == state.steps[e.role])
        }

        // The report summarises the same numbers and draws the charts.
        let summary = try RunSummary(directory: run)
        #expect(summary.iterations.map(\.kept) == (1...config.iterations).map { it in pool.filter { $0.iteration == it && $0.kept }.count })
        let html = Report.html(main: summary)
        #expect(html.contains("<svg") && html.contains("Challenger reward per step") && html.contains("Kept questions"))
        #expect(!html.contains("<script"))
        #expect(html.contains("<h2>Disk</h2>") && html.contains(exports.last?.path ?? "none"))
        // What a person reads: sampled questions with their votes and decisions, answers before and after, the timeline.
        let firstKept = try #require(pool.first { $0.kept })
        #expect(Report.decision(firstKept, config: config).hasPrefix("kept: pseudo-label \(firstKept.majorityAnswer ?? "")"))
        #expect(html.contains("What the Challenger wrote") && html.contains("Solver votes (\(config.votes.samples) answers)"))
        #expect(html.contains("kept: pseudo-label") && html.contains("dropped: "))
        #expect(html.contains("The Solver before and after training") && html.contains("<h2>Timeline</h2>"))
        #expect(summary.events.count == state.nextUnit && html.contains("iteration 1 · Solver training"))
        #expect(html.contains("p̂ (majority share; bin start)"))
        return pair.checkpoints
    }

    @Test("a run stopped between units and resumed by a new coordinator writes what an uninterrupted run writes")
    func resumeIsExact() async throws {
        let config = shortConfig(seed: 11)
        var outputs: [[String: String]] = []
        for stops in [[Int](), [1, 3, 4, 9, 2]] {
            let pair = try await ServicePair.start()
            let services = ServiceSet(challenger: roleService("challenger", pair.challenger.url), solvers: [roleService("solver", pair.solver.url)])
            let dir = temporaryDirectory() + "/run"
            for n in stops {
                let c = try Coordinator(config: config, directory: RunDirectory(path: dir), services: services, logger: quietLogger())
                try await c.run(maxUnits: n)
            }
            let last = try Coordinator(config: config, directory: RunDirectory(path: dir), services: services, logger: quietLogger())
            try await last.run()
            await pair.stop()
            outputs.append(try comparableRecords(dir))
            // Every coordinator after the first says on its first unit that the run resumed there (the report's timeline).
            let events = try RunDirectory(path: dir).readJournal(EventRecord.self, "events")
            #expect(events.filter { ($0.notes ?? []).contains { $0.hasPrefix("run resumed") } }.count == stops.count)
        }
        for key in outputs[0].keys.sorted() { #expect(outputs[0][key] == outputs[1][key], "\(key) differs after resuming") }
    }

    @Test("a restarted Solver service is restored from the run's checkpoint and replayed batches",
          arguments: [false, true])
    func restartedServiceIsRestored(stabilised: Bool) async throws {
        var config = shortConfig(seed: 5)
        if stabilised {
            // The default's stabilisers: a base KL reference must survive the restore, in a later iteration too.
            config.solver.reference = .base
            config.stabilisers.secondOpinion = true
        }
        let plan = config.plan()
        // Stop in the middle of a Solver phase, after a trained step.
        let iteration = stabilised ? 2 : 1
        guard let cut = plan.indices.first(where: { plan[$0] == .train(role: .solver, iteration: iteration, step: 0) }) else {
            Issue.record("plan has no Solver step"); return
        }
        var outputs: [[String: String]] = []
        for restart in [false, true] {
            let root = temporaryDirectory()
            let pair = try await ServicePair.start(checkpoints: root)
            let dir = root + "/run"
            var services = ServiceSet(challenger: roleService("challenger", pair.challenger.url), solvers: [roleService("solver", pair.solver.url)])
            let first = try Coordinator(config: config, directory: RunDirectory(path: dir), services: services, logger: quietLogger())
            try await first.run(maxUnits: cut + 1)
            var replacement: LiveService? = nil
            if restart {
                await pair.solver.stop()
                // A new process from the base model, with the same checkpoint folder.
                let fresh = try await LiveService.start(role: .solver, checkpointsDir: root + "/solver")
                services.solvers = [roleService("solver", fresh.url)]
                replacement = fresh
            }
            let second = try Coordinator(config: nil, directory: RunDirectory(path: dir), services: services, logger: quietLogger())
            try await second.run()
            await pair.challenger.stop()
            if let replacement { await replacement.stop() } else { await pair.solver.stop() }
            outputs.append(try comparableRecords(dir))
        }
        for key in outputs[0].keys.sorted() { #expect(outputs[0][key] == outputs[1][key], "\(key) differs after the restart") }
    }

    @Test("votes fan out over every Solver endpoint, and a run with two Solvers writes what a run with one writes")
    func twoSolvers() async throws {
        let config = shortConfig(seed: 8)
        var outputs: [[String: String]] = []
        var replicaGenerations = 0
        for count in [1, 2] {
            let root = temporaryDirectory()
            let challenger = try await LiveService.start(role: .challenger, checkpointsDir: root + "/challenger")
            // Replicas pull the trainer's weights over HTTP: no shared folder.
            var solvers: [LiveService] = []
            for i in 0..<count {
                solvers.append(try await LiveService.start(role: .solver, checkpointsDir: root + "/solver\(i)",
                                                           weightsSources: solvers.first.map { [$0.url] } ?? []))
            }
            let services = ServiceSet(challenger: roleService("challenger", challenger.url),
                                      solvers: solvers.enumerated().map { roleService("solver\($0.offset)", $0.element.url) })
            let dir = root + "/run"
            let c = try Coordinator(config: config, directory: RunDirectory(path: dir), services: services, logger: quietLogger())
            try await c.run()
            if count == 2 { replicaGenerations = try generateRequests(solvers[1].url) }
            await challenger.stop()
            for s in solvers { await s.stop() }
            outputs.append(try comparableRecords(dir))
        }
        #expect(replicaGenerations > 0, "the second Solver answered vote requests")
        for key in outputs[0].keys.sorted() { #expect(outputs[0][key] == outputs[1][key], "\(key) differs with two Solvers") }
    }

    @Test("Challenger sampling split in two requests goes to a Challenger replica too, with the same records as one Challenger")
    func challengerReplica() async throws {
        var config = shortConfig(seed: 9)
        config.challenger.splitRequests = 2
        var outputs: [[String: String]] = []
        var replicaRequests = 0
        for replicas in [0, 1] {
            let root = temporaryDirectory()
            var challengers: [LiveService] = []
            for i in 0...replicas {
                challengers.append(try await LiveService.start(role: .challenger, checkpointsDir: root + "/challenger\(i)",
                                                               weightsSources: challengers.first.map { [$0.url] } ?? []))
            }
            let solver = try await LiveService.start(role: .solver, checkpointsDir: root + "/solver")
            let services = ServiceSet(challenger: roleService("challenger", challengers[0].url),
                                      challengerReplicas: challengers.dropFirst().map { roleService("challenger-replica", $0.url) },
                                      solvers: [roleService("solver", solver.url)])
            let c = try Coordinator(config: config, directory: RunDirectory(path: root + "/run"), services: services, logger: quietLogger())
            try await c.run()
            if replicas == 1 { replicaRequests = try generateRequests(challengers[1].url) }
            for s in challengers { await s.stop() }
            await solver.stop()
            outputs.append(try comparableRecords(root + "/run"))
        }
        #expect(replicaRequests > 0, "the Challenger replica sampled")
        for key in outputs[0].keys.sorted() { #expect(outputs[0][key] == outputs[1][key], "\(key) differs with a Challenger replica") }
    }

    @Test("a Solver replica that dies is left out, the run goes on, and the replica is used again when it returns")
    func replicaDiesAndReturns() async throws {
        let config = shortConfig(seed: 8)
        let root = temporaryDirectory()
        let challenger = try await LiveService.start(role: .challenger, checkpointsDir: root + "/challenger")
        let trainer = try await LiveService.start(role: .solver, checkpointsDir: root + "/solver0")
        var replica = try await LiveService.start(role: .solver, checkpointsDir: root + "/solver1", weightsSources: [trainer.url])
        let replicaURL = replica.url
        let port = try #require(Int(replicaURL.split(separator: ":").last ?? ""))
        let services = ServiceSet(challenger: roleService("challenger", challenger.url),
                                  solvers: [roleService("solver0", trainer.url), roleService("solver1", replicaURL, retryFor: .milliseconds(300))])
        let dir = root + "/run"
        let plan = config.plan()
        let firstPool = try #require(plan.firstIndex(of: .poolChunk(iteration: 1, chunk: 0)))
        let secondIteration = try #require(plan.firstIndex(of: .beginPhase(role: .challenger, iteration: 2)))
        let c = try Coordinator(config: config, directory: RunDirectory(path: dir), services: services, logger: quietLogger())
        try await c.run(maxUnits: firstPool)
        await replica.stop()                      // dies before the first pool's votes
        try await c.run(maxUnits: secondIteration - firstPool)
        replica = try await LiveService.start(role: .solver, checkpointsDir: root + "/solver1-new", port: port, weightsSources: [trainer.url])
        c.retryReplicasNow()                      // do not wait out the 30 s back-off in a test
        try await c.run()
        #expect(c.isFinished)
        #expect(try generateRequests(replica.url) > 0, "the returned replica voted again")
        await challenger.stop()
        await trainer.stop()
        await replica.stop()
        // The same records as an uninterrupted single-Solver run (votes do not depend on who answers).
        let pair = try await ServicePair.start()
        let single = temporaryDirectory() + "/run"
        let s = try Coordinator(config: config, directory: RunDirectory(path: single),
                                services: ServiceSet(challenger: roleService("challenger", pair.challenger.url),
                                                     solvers: [roleService("solver", pair.solver.url)]), logger: quietLogger())
        try await s.run()
        await pair.stop()
        let a = try comparableRecords(dir), b = try comparableRecords(single)
        for key in a.keys.sorted() { #expect(a[key] == b[key], "\(key) differs") }
    }

    @Test("the rollback stabiliser discards a Solver phase without reward progress and records it")
    func rollback() async throws {
        var config = shortConfig(seed: 4)
        config.stabilisers.rollbackWithoutProgress = true
        config.stabilisers.progressWindow = 1
        config.stabilisers.progressMargin = 2  // rewards lie in [0, 1]: every phase is rolled back
        let pair = try await ServicePair.start()
        let services = ServiceSet(challenger: roleService("challenger", pair.challenger.url), solvers: [roleService("solver", pair.solver.url)])
        let dir = temporaryDirectory() + "/run"
        let c = try Coordinator(config: config, directory: RunDirectory(path: dir), services: services, logger: quietLogger())
        try await c.run()
        await pair.stop()
        let run = RunDirectory(path: dir)
        let health = try run.readJournal(HealthRecord.self, "health")
        #expect(health.count == config.iterations && health.allSatisfy(\.rolledBack))
        #expect(health.allSatisfy { $0.solverStep == 0 }, "every phase went back to the base Solver's step")
        let state = try run.loadState()
        #expect(state.steps["solver"] == 0)
        #expect(state.checkpoints.filter { $0.role == "solver" && $0.name.hasSuffix("-end") }.allSatisfy { $0.step == 0 })
        // Solver steps were taken (and journaled) before each rollback.
        #expect(try run.readJournal(StepRecord.self, "train").filter { $0.role == "solver" }.count == config.iterations * config.solver.steps)
    }

    @Test("solver.reference base keeps the base Solver as the KL reference; phase_start resets it every phase")
    func baseReference() async throws {
        /// The KL of the first trained Solver step of iterations 1 and 2.
        func firstSolverKL(reference: SolverReferenceChoice) async throws -> [Double?] {
            var config = shortConfig(seed: 5)
            config.solver.reference = reference
            let steps = try await runToEnd(config).readJournal(StepRecord.self, "train").filter { $0.role == "solver" && !$0.skipped }
            return [1, 2].map { it in steps.first { $0.iteration == it }?.kl }
        }
        // A phase's first step starts at its reference (KL exactly 0) only when the reference was reset.
        let phaseStart = try await firstSolverKL(reference: .phaseStart), base = try await firstSolverKL(reference: .base)
        #expect(phaseStart == [0, 0])
        #expect(base[0] == 0, "iteration 1 starts at the base model, its reference")
        let drift = try #require(base[1])
        #expect(drift > 0)
    }

    @Test("the second-opinion stabiliser keeps only questions whose Challenger-model majority agrees, and changes nothing else in the pool")
    func secondOpinion() async throws {
        func pool(secondOpinion: Bool) async throws -> [PoolRecord] {
            var config = shortConfig(seed: 6)
            config.iterations = 1
            config.pool.band = .none
            config.stabilisers.secondOpinion = secondOpinion
            return try await runToEnd(config).readJournal(PoolRecord.self, "pool")
        }
        let plain = try await pool(secondOpinion: false), checked = try await pool(secondOpinion: true)
        let grader = MathGrader()
        #expect(plain.count == checked.count)
        var dropped = 0
        for (a, b) in zip(plain, checked) {
            #expect(a.question == b.question && a.answers == b.answers && a.majorityAnswer == b.majorityAnswer)
            #expect(a.secondOpinion == nil && a.secondOpinionShare == nil)
            guard b.question != nil && !b.duplicate else { continue }
            #expect(b.secondOpinionShare != nil, "every voted question has a second opinion")
            let agrees = b.secondOpinion.flatMap { s in b.majorityAnswer.map { grader.equivalent(s, $0) } } ?? false
            #expect(b.kept == (a.kept && agrees))
            if a.kept && !agrees { dropped += 1 }
        }
        #expect(checked.contains(where: \.kept) || dropped > 0)
    }

    @Test("a run directory refuses a different configuration")
    func differentConfigRefused() async throws {
        let pair = try await ServicePair.start()
        let services = ServiceSet(challenger: roleService("challenger", pair.challenger.url), solvers: [roleService("solver", pair.solver.url)])
        let dir = temporaryDirectory() + "/run"
        let c = try Coordinator(config: shortConfig(), directory: RunDirectory(path: dir), services: services, logger: quietLogger())
        try await c.run(maxUnits: 1)
        var other = shortConfig()
        other.votes.samples = 5
        #expect(throws: ConfigError.self) {
            _ = try Coordinator(config: other, directory: RunDirectory(path: dir), services: services, logger: quietLogger())
        }
        var moved = shortConfig()
        moved.services.solvers = ["http://127.0.0.1:1"]
        _ = try Coordinator(config: moved, directory: RunDirectory(path: dir), services: services, logger: quietLogger())
        await pair.stop()
    }
}

/// Successful generate requests a service has answered, from its Prometheus metrics.
func generateRequests(_ url: String) throws -> Int {
    let text = try String(contentsOf: URL(string: url + "/metrics")!, encoding: .utf8)  // a loopback URL: always valid
    for line in text.split(separator: "\n") where line.hasPrefix("rzero_requests_total") && line.contains("operation=\"generate\"") {
        if let value = line.split(separator: " ").last, let n = Double(value) { return Int(n) }
    }
    return 0
}
