import ArgumentParser
import Foundation
import Hummingbird
import Logging
import RZClient
import RZCoordinator
import RZPretrain
import ServiceLifecycle

struct Coordinate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run (or resume) an R-Zero run against a Challenger and Solver services.",
        discussion: """
            Starts a run in --run DIR with the settings of --config FILE (JSON; docs/run-config.md), or resumes the \
            run in DIR from its last completed unit (a run directory from a different configuration is refused). \
            Serves GET /status (JSON) on 127.0.0.1:--status-port while it runs. Shows progress bars when stderr is \
            a terminal (--progress/--no-progress to force), structured logs otherwise.
            """)

    @Option(help: "Run configuration file (JSON). Needed to start a run; optional when resuming.") var config: String?
    @Option(help: "Run directory.") var run: String
    @Option(help: "Port for GET /status on 127.0.0.1 (0: any free port, -1: none; write --status-port=-1).") var statusPort = 8100
    @Flag(inversion: .prefixedNo, help: "Progress bars on stderr (default: when stderr is a terminal).") var progress: Bool?
    @Option(help: "Override the configuration's seed (when starting a run).") var seed: UInt64?
    @Option(help: "Override services.challenger (URL).") var challenger: String?
    @Option(parsing: .upToNextOption, help: "Override services.challenger_replicas (URLs).") var challengerReplica: [String] = []
    @Option(parsing: .upToNextOption, help: "Override services.solvers (URLs).") var solver: [String] = []

    func run() async throws {
        var logger = Logger(label: "rzero.coordinator")
        let showProgress = progress ?? (isatty(STDERR_FILENO) == 1)
        // With progress bars, per-unit info lines would break the bar: only warnings and errors are logged.
        logger.logLevel = showProgress ? .warning : .info
        var runConfig: RunConfig?
        do {
            if let config { runConfig = try RunConfig.load(path: config) }
            if let seed {
                guard runConfig != nil else { throw ConfigError("--seed needs --config (a resumed run keeps its seed)") }
                runConfig?.seed = seed
            }
        } catch let e as ConfigError { throw failure(e.description) }
        let directory = RunDirectory(path: run)
        if runConfig == nil && !directory.exists { throw failure("\(run) holds no run; give --config FILE to start one") }
        var effective: RunConfig
        do { effective = try runConfig ?? directory.loadConfig() } catch { throw failure("\(error)") }
        // Service addresses are where the run is served, not what it computes: they may change on resume.
        if let challenger { effective.services.challenger = challenger }
        if !solver.isEmpty { effective.services.solvers = solver }
        if !challengerReplica.isEmpty { effective.services.challengerReplicas = challengerReplica }
        let services = try makeServices(effective.services, logger: logger)
        let status = StatusBoard()
        if var given = runConfig {
            given.services = effective.services
            runConfig = given
        }
        let coordinator: Coordinator
        do {
            coordinator = try Coordinator(config: runConfig, directory: directory, services: services, status: status, logger: logger)
        } catch let e as ConfigError {
            throw failure(e.description)
        } catch {
            throw failure("cannot use \(run) as a run directory: \(error.localizedDescription)")
        }
        if coordinator.isFinished {
            print("run \(run) is already finished; `rzero report --run \(run)` writes its report")
            return
        }
        // SIGTERM/SIGINT stop the run at once: the run directory is consistent at every moment (a unit in
        // progress is redone on resume), so there is nothing to drain. Without handlers a coordinator that
        // is a container's first process would ignore SIGTERM.
        let signalSources = [Int32(SIGTERM), Int32(SIGINT)].map { (sig: Int32) -> any DispatchSourceSignal in
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            let runPath = run
            source.setEventHandler {
                FileHandle.standardError.write(Data("\nstopped by signal \(sig); resume with: rzero coordinate --run \(runPath)\n".utf8))
                Foundation.exit(128 + sig)
            }
            source.resume()
            return source
        }
        defer { signalSources.forEach { $0.cancel() } }
        let statusServer = statusPort >= 0 ? statusService(status, port: statusPort, logger: logger) : nil
        let statusLogger = logger
        let statusTask = statusServer.map { server in
            Task {
                do { try await server.run() } catch { statusLogger.warning("status board stopped: \(error)") }
            }
        }
        let progressTask = showProgress ? Task { await drawProgress(status) } : nil
        // Shut the status server down gracefully: cancelling a Hummingbird server logs an error.
        func stopBackgroundTasks() async {
            progressTask?.cancel()
            await statusServer?.triggerGracefulShutdown()
            await statusTask?.value
        }
        do {
            try await coordinator.run()
        } catch {
            await stopBackgroundTasks()
            throw failure("run stopped at \(status.current.unit): \(error.serviceCallError?.description ?? "\(error)"). Resume with: rzero coordinate --run \(run)")
        }
        await stopBackgroundTasks()
        if showProgress { FileHandle.standardError.write(Data("\n".utf8)) }
        print("run finished: \(run) (report: rzero report --run \(run))")
    }

    func makeServices(_ s: ServicesConfig, logger: Logger) throws -> ServiceSet {
        let token = ProcessInfo.processInfo.environment[s.tokenEnv].flatMap { $0.isEmpty ? nil : $0 }
        func settings(retryFor seconds: Double, timeout: Double) -> CurlTransport.Settings {
            var settings = CurlTransport.Settings(connectTimeout: .milliseconds(Int64(s.connectTimeoutSeconds * 1000)),
                                                  timeout: .milliseconds(Int64(timeout * 1000)),
                                                  retry: .waitingFor(.milliseconds(Int64(seconds * 1000))))
            settings.maxIdleHandles = max(16, s.concurrentRequests * 2)
            return settings
        }
        func service(_ role: String, _ url: String, replica: Bool) throws -> RoleService {
            guard let base = URL(string: url) else { throw failure("bad service URL \(url)") }
            let endpoint = ServiceEndpoint(name: role, baseURL: base, token: token)
            let transport = replica ? settings(retryFor: s.replicaRetryForSeconds, timeout: s.replicaRequestTimeoutSeconds)
                : settings(retryFor: s.retryForSeconds, timeout: s.requestTimeoutSeconds)
            return RoleService(name: endpoint.displayName, url: url, client: endpoint.makeClient(settings: transport, logger: logger))
        }
        // The run waits for a trainer that is down; a replica that is down is left out instead.
        return ServiceSet(
            challenger: try service("challenger", s.challenger, replica: false),
            challengerReplicas: try s.challengerReplicas.enumerated().map { try service("challenger\($0.offset + 1)", $0.element, replica: true) },
            solvers: try s.solvers.enumerated().map { i, url in try service(i == 0 ? "solver" : "solver\(i)", url, replica: i > 0) })
    }
}

/// `GET /status` on loopback while the run goes on: a service group to run and then shut down gracefully.
func statusService(_ status: StatusBoard, port: Int, logger: Logger) -> ServiceGroup {
    let router = Router()
    router.get("/status") { _, _ -> Response in
        Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(data: status.json())))
    }
    let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)), onServerRunning: { channel in
        FileHandle.standardError.write(Data("status: http://127.0.0.1:\(channel.localAddress?.port ?? port)/status\n".utf8))
    }, logger: logger)
    return ServiceGroup(configuration: .init(services: [app], gracefulShutdownSignals: [], logger: logger))
}

/// One progress line on stderr, redrawn twice a second.
func drawProgress(_ status: StatusBoard) async {
    func clock(_ s: Double?) -> String {
        guard let s, s.isFinite else { return "?" }
        let t = Int(s.rounded())
        return t >= 3600 ? "\(t / 3600)h\((t % 3600) / 60)m" : t >= 60 ? "\(t / 60)m\(t % 60)s" : "\(t)s"
    }
    while !Task.isCancelled {
        let s = status.current
        let width = 24
        let filled = s.phaseTotal == 0 ? 0 : width * s.phaseDone / s.phaseTotal
        let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
        let line = "\r[iteration \(s.iteration)/\(s.iterations)] \(s.phase.padding(toLength: 10, withPad: " ", startingAt: 0)) \(bar) "
            + "\(s.phaseDone)/\(s.phaseTotal) ETA \(clock(s.phaseEtaSeconds)) | run \(s.unitIndex)/\(s.unitCount) ETA \(clock(s.runEtaSeconds))   "
        FileHandle.standardError.write(Data(line.utf8))
        try? await Task.sleep(nanoseconds: 500_000_000)
    }
}

struct ReportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write the HTML report of a run (optionally beside other runs, e.g. ablations).")

    @Option(help: "Run directory.") var run: String
    @Option(parsing: .upToNextOption, help: "Other run directories to show side by side.") var compare: [String] = []
    @Option(help: "Output file (default: <run>/report.html).") var out: String?
    @Flag(help: "Print the runs' per-iteration summaries as JSON (one object per run) instead of writing HTML.") var json = false

    func run() async throws {
        do {
            let main = try RunSummary(directory: RunDirectory(path: run), oracle: reportOracle)
            let others = try compare.map { try RunSummary(directory: RunDirectory(path: $0), oracle: reportOracle) }
            if json {
                struct Summary: Encodable { var run: String; var base: [EvalRecord]; var iterations: [IterationSummary] }
                for r in [main] + others {
                    try printJSON(Summary(run: r.name, base: r.baseEval, iterations: r.iterations), keys: .convertToSnakeCase)
                }
                return
            }
            let path = try Report.write(main: main, compared: others, to: out ?? run + "/report.html")
            print(path)
        } catch let e as ConfigError {
            throw failure(e.description)
        } catch {
            throw failure("cannot write the report: \(error)")
        }
    }
}

/// Maps a generated question to its true answer for the report's pseudo-label accuracy: the built-in
/// model's problem forms are solved exactly; other questions have no known answer.
let reportOracle: (@Sendable (String) -> String?)? = { MathCorpus.trueAnswer($0) }
