import Foundation
import Logging
import RZClient
import RZCoordinator
import RZHost
import RZModel
import RZServer
import RZTestSupport
import RZTokenizer
import RZTraining

/// A small model taught (by supervised steps, here in the test) to write a few toy questions as the
/// Challenger and to answer each toy question with one of two answers as the Solver, so that a short
/// run has well-formed questions, split votes, kept questions and non-trivial rewards.
enum ToyModel {
    static let questions: [(question: String, answers: [String])] = [
        ("1+1", ["2", "3"]), ("2+2", ["4", "5"]), ("3+4", ["7", "8"]), ("5+1", ["6", "9"]),
    ]

    /// Trains once per test process (deterministic) and returns the folder.
    static let folder: String = {
        do { return try train() } catch { fatalError("toy model: \(error)") }
    }()

    /// The same toy as a Llama (OctoThinker's family): untied, attention and MLP biases, llama3 rope scaling,
    /// and a Llama 3-style tokenizer (its Split regex, `<|end_of_text|>`, the header chat format).
    static let llamaFolder: String = {
        let arch = DecoderArchitecture(qkNorm: false, qkvBias: true, outputBias: true, mlpBias: true)
        let scaling = RotaryScaling.llama3(factor: 8, lowFrequencyFactor: 1, highFrequencyFactor: 4, originalMaxPositions: 32)
        do {
            return try train(family: .llama, architecture: arch, rotaryScaling: scaling, tied: false,
                             tokenizer: "tokenizer/llama3_style.json", steps: 300)
        } catch {
            fatalError("toy Llama model: \(error)")
        }
    }()

    static func train(family: ModelFamily = .qwen3, architecture: DecoderArchitecture? = nil, rotaryScaling: RotaryScaling = .none,
                      tied: Bool = true, tokenizer: String = "tokenizer/qwen_style.json", steps: Int = 150) throws -> String {
        let tokPath = Fixtures.path(tokenizer)
        let tok = try Tokenizer(contentsOfFile: tokPath)
        let model = try DecoderModel(config: DecoderConfig(family: family, architecture: architecture, vocabSize: tok.vocabularySize,
                                                           hiddenSize: 64, intermediateSize: 128, numLayers: 2, numHeads: 4,
                                                           numKVHeads: 2, headDim: 16, rotaryScaling: rotaryScaling,
                                                           tieWordEmbeddings: tied))
        model.initializeRandom(seed: 5, std: 0.05)
        guard let eos = tok.eosTokenId else { fatalError("fixture tokenizer has no end-of-text token") }
        var samples: [SFTSample] = []
        let challengerPrompt = tok.encode("Write a question:", addSpecialTokens: false)
        for (q, answers) in questions {
            samples.append(SFTSample(prompt: challengerPrompt,
                                     target: tok.encode("<question>\(q)</question>\\boxed{\(answers[0])}", addSpecialTokens: false) + [eos]))
            for a in answers {
                samples.append(SFTSample(prompt: tok.encode("Q:\(q)\nA:", addSpecialTokens: false),
                                         target: tok.encode("\\boxed{\(a)}", addSpecialTokens: false) + [eos]))
            }
        }
        var settings = TrainerSettings()
        settings.optimizer.learningRate = 3e-3
        let trainer = PolicyTrainer(model: model, settings: settings)
        for _ in 0..<steps { _ = try trainer.sftStep(samples) }
        let dir = temporaryDirectory() + "/toy-\(family.rawValue)"
        try ModelFolder.save(trainer.model, to: dir)
        try FileManager.default.copyItem(atPath: tokPath, toPath: dir + "/tokenizer.json")
        return dir
    }
}

/// An rzero service on 127.0.0.1 port 0 in this process.
final class LiveService: @unchecked Sendable {
    // @unchecked: the fields are set once in `start` and only read afterwards.
    let url: String
    private let server: Task<Void, any Error>
    private let host: ModelHost

    private init(url: String, server: Task<Void, any Error>, host: ModelHost) {
        self.url = url
        self.server = server
        self.host = host
    }

    static func start(role: Role, modelDir: String = ToyModel.folder, checkpointsDir: String, port: Int = 0,
                      weightsSources: [String] = []) async throws -> LiveService {
        var config = ServerConfig(modelDir: modelDir, checkpointsDir: checkpointsDir)
        config.port = port
        config.weightsSources = weightsSources.compactMap(WeightsSource.init)
        config.role = role
        var logger = Logger(label: "rzero.test.\(role.rawValue)")
        logger.logLevel = .warning
        let host = try ModelHost(modelDir: modelDir, role: role, checkpointsDir: checkpointsDir, logger: logger)
        let (ports, sink) = AsyncStream.makeStream(of: Int.self)
        let app = try buildApplication(host: host, config: config, metrics: ServerMetrics(role: role), logger: logger) { port in
            sink.yield(port)
        }
        let server = Task { try await app.run() }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else { throw ServerConfigError("server did not start") }
        return LiveService(url: "http://127.0.0.1:\(port)", server: server, host: host)
    }

    func stop() async {
        server.cancel()
        await host.shutdown()
    }
}

/// A Challenger and Solver pair, each with its own checkpoint folder.
struct ServicePair {
    var challenger: LiveService
    var solver: LiveService
    var checkpoints: String

    static func start(checkpoints: String = temporaryDirectory(), modelDir: String = ToyModel.folder) async throws -> ServicePair {
        ServicePair(challenger: try await LiveService.start(role: .challenger, modelDir: modelDir, checkpointsDir: checkpoints + "/challenger"),
                    solver: try await LiveService.start(role: .solver, modelDir: modelDir, checkpointsDir: checkpoints + "/solver"),
                    checkpoints: checkpoints)
    }

    func stop() async {
        await challenger.stop()
        await solver.stop()
    }
}

/// Runs `config` to the end on a new Challenger/Solver pair over the toy model; returns the run directory.
func runToEnd(_ config: RunConfig) async throws -> RunDirectory {
    let pair = try await ServicePair.start()
    let services = ServiceSet(challenger: roleService("challenger", pair.challenger.url), solvers: [roleService("solver", pair.solver.url)])
    let dir = RunDirectory(path: temporaryDirectory() + "/run")
    do {
        try await Coordinator(config: config, directory: dir, services: services, logger: quietLogger()).run()
    } catch {
        await pair.stop()
        throw error
    }
    await pair.stop()
    return dir
}

func roleService(_ name: String, _ url: String, retryFor: Duration = .seconds(10)) -> RoleService {
    var settings = CurlTransport.Settings(connectTimeout: .seconds(2), timeout: .seconds(120), retry: .waitingFor(retryFor))
    settings.maxIdleHandles = 8
    var logger = Logger(label: "rzero.test.client")
    logger.logLevel = .error
    // A URL built from "http://127.0.0.1:<port>" is always valid.
    let endpoint = ServiceEndpoint(name: name, baseURL: URL(string: url)!)
    return RoleService(name: endpoint.displayName, url: url, client: endpoint.makeClient(settings: settings, logger: logger))
}

/// A short run configuration over the toy model.
func shortConfig(seed: UInt64 = 3) -> RunConfig {
    var c = RunConfig()
    c.seed = seed
    c.iterations = 2
    c.challenger.steps = 2
    c.challenger.groupsPerStep = 4
    c.challenger.groupSize = 2
    c.challenger.sampling.maxTokens = 24
    c.challenger.optimizer.learningRate = 1e-3
    c.votes.samples = 4
    c.votes.questionsPerRequest = 3
    c.votes.sampling.maxTokens = 12
    c.pool.questions = 12
    c.pool.questionsPerRequest = 6
    c.solver.steps = 2
    c.solver.questionsPerStep = 3
    c.solver.groupSize = 2
    c.solver.sampling.maxTokens = 12
    c.solver.optimizer.learningRate = 1e-3
    return c
}

func quietLogger() -> Logger {
    var l = Logger(label: "rzero.test.coordinator")
    l.logLevel = .error
    return l
}
