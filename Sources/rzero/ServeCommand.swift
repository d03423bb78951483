import ArgumentParser
import Foundation
import Hummingbird
import Logging
import RZHost
import RZModel
import RZServer

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve one model over HTTP as the Challenger or the Solver (API: openapi.yaml).",
        discussion: """
            Binds 127.0.0.1 by default. Training, checkpoint and reference endpoints need `Authorization: Bearer \
            <token>` when a token is configured (RZERO_TOKEN, or --token-file); without a token the server refuses \
            to bind a non-loopback address. SIGTERM/SIGINT: in-flight requests finish, then the process exits 0.
            """)

    @Option(help: "challenger or solver.") var role: String = "solver"
    @Option(help: "Hugging Face model folder (tokenizer.json there enables text prompts).") var model: String
    @Option(help: "Address to bind.") var host = "127.0.0.1"
    @Option(help: "Port (0 picks a free one and prints it).") var port = 8080
    @Option(help: "Folder for named checkpoints (default: <model>/checkpoints).") var checkpoints: String?
    @Option(help: "File holding the bearer token (else the RZERO_TOKEN environment variable).") var tokenFile: String?
    @Option(help: "Largest accepted request body, in bytes.") var maxBodyBytes = 16 << 20
    @Option(help: ArgumentHelp(
        "Memory a training step may plan for: a size (20G, 1500M, bytes) or 'none'.",
        discussion: "Default: what the cgroup or the free memory allows, less a tenth. Steps that do not fit run with "
            + "activation recomputation or smaller micro-batches, or are refused with 413 insufficient_memory."))
    var memoryLimit: String?
    @Option(help: ArgumentHelp(
        "Train LoRA adapters of this rank instead of all weights.",
        discussion: "The base is frozen and is the KL reference; checkpoints are PEFT adapter folders; replicas receive "
            + "only the adapters. To continue training saved adapters, pass their folder as --model instead."))
    var loraRank: Int?
    @Option(help: "LoRA alpha (default: twice the rank); the adapters' output is scaled by alpha / rank.") var loraAlpha: Double?
    @Option(help: "Layers that get adapters: all-linear, or a comma-separated list of q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj.")
    var loraTargets = "all-linear"
    @Flag(help: "rsLoRA scaling: alpha / sqrt(rank).") var rslora = false
    @Option(help: "Seed of the adapters' initialisation.") var loraSeed: UInt64 = 0
    @Option(name: .customLong("weights-source"), help: ArgumentHelp(
        "A service this one may pull weights from (POST /v1/weights/sync): a replica's trainer URL. Repeatable.",
        discussion: "Default: the space- or comma-separated URLs in RZERO_WEIGHTS_SOURCES. Only these are contacted and "
            + "sent the bearer token; a sync naming any other URL is refused (400)."))
    var weightsSources: [String] = []
    @Option(help: "The model name of the OpenAI-compatible routes (/v1/models, the `model` field; default: the model folder's name).")
    var servedModelName: String?
    @Option(help: ArgumentHelp(
        "The most tokens one generation request may ask for (prompts × n × max_tokens); more is a 400.",
        discussion: "Applies to /v1/generate, /v1/completions and /v1/chat/completions."))
    var maxRequestTokens = HostLimits().maxRequestTokens
    @Option(help: ArgumentHelp(
        "The most tokens all accepted, unfinished generation requests may ask for together; beyond it, 429 with Retry-After.",
        discussion: "Must be at least --max-request-tokens."))
    var maxTokensInFlight = HostLimits().maxTokensInFlight
    @OptionGroup var compute: ComputeOptions

    func run() async throws {
        compute.apply()
        guard let role = Role(rawValue: role) else { throw failure("--role must be challenger or solver") }
        var config = ServerConfig(modelDir: model, checkpointsDir: checkpoints ?? model + "/checkpoints")
        config.host = host
        config.port = port
        config.role = role
        config.maxBodyBytes = maxBodyBytes
        if let servedModelName {
            guard !servedModelName.isEmpty, servedModelName.count <= 256 else { throw failure("--served-model-name must be 1…256 characters") }
            config.servedModelName = servedModelName
        }
        let sourceTexts = weightsSources.isEmpty
            ? (ProcessInfo.processInfo.environment["RZERO_WEIGHTS_SOURCES"] ?? "").split(whereSeparator: { $0 == " " || $0 == "," }).map(String.init)
            : weightsSources
        config.weightsSources = try sourceTexts.map { text in
            guard let source = WeightsSource(text) else { throw failure("--weights-source must be an http(s) URL with a host (got \(text))") }
            return source
        }
        if let tokenFile {
            guard let t = try? String(contentsOfFile: tokenFile, encoding: .utf8) else { throw failure("cannot read --token-file \(tokenFile)") }
            config.token = t.trimmingCharacters(in: .whitespacesAndNewlines)
        } else if let t = ProcessInfo.processInfo.environment["RZERO_TOKEN"], !t.isEmpty {
            config.token = t
        }
        do { try config.validate() } catch let e as ServerConfigError { throw failure(e.description) }
        var limits = HostLimits()
        guard maxRequestTokens >= 1, maxTokensInFlight >= maxRequestTokens else {
            throw failure("--max-request-tokens must be ≥ 1 and --max-tokens-in-flight at least as large")
        }
        limits.maxRequestTokens = maxRequestTokens
        limits.maxTokensInFlight = maxTokensInFlight
        switch memoryLimit {
        case nil: limits.memoryLimitBytes = MemoryPlan.defaultLimitBytes()
        case "none"?: limits.memoryLimitBytes = nil
        case let text?:
            guard let bytes = MemoryPlan.parseBytes(text) else {
                throw failure("--memory-limit must be a size such as 20G, 1500M or a byte count, or 'none' (got \(text))")
            }
            limits.memoryLimitBytes = bytes
        }
        let precision = try compute.precision()
        var lora: LoRAConfig? = nil
        if let loraRank {
            do {
                let l = LoRAConfig(rank: loraRank, alpha: loraAlpha, targetModules: try LoRAConfig.parseModules(loraTargets), useRSLoRA: rslora)
                try l.validate()
                lora = l
            } catch { throw failure("\(error)") }
        } else if loraAlpha != nil || rslora || loraTargets != "all-linear" {
            throw failure("--lora-alpha, --lora-targets and --rslora need --lora-rank")
        }
        var logger = Logger(label: "rzero.\(role.rawValue)")
        logger.logLevel = .info
        let modelHost: ModelHost
        do {
            modelHost = try ModelHost(modelDir: config.modelDir, role: role, checkpointsDir: config.checkpointsDir, limits: limits,
                                      lora: lora, loraSeed: loraSeed, samplingPrecision: precision, logger: logger)
        } catch {
            throw failure("cannot load the model: \(error)")
        }
        let metrics = ServerMetrics(role: role)
        let boundHost = config.host
        let app = try buildApplication(host: modelHost, config: config, metrics: metrics, logger: logger) { port in
            print("rzero \(role.rawValue) listening on http://\(boundHost):\(port)")
            fflush(nil)
        }
        try await app.runService()
        await modelHost.shutdown()
        logger.info("stopped")
    }
}
