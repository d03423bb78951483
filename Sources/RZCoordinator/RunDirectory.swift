import Foundation
import RZModel

/// The state of a run after its last completed unit of work, written atomically after each unit.
public struct RunState: Codable, Sendable, Equatable {
    public var formatVersion = 1
    /// Names this run in idempotency keys and checkpoint names.
    public var runId: String
    /// Index into the run's plan of the next unit to do; equal to the plan's length when done.
    public var nextUnit = 0
    /// Optimizer steps this run has applied, per role ("challenger", "solver").
    public var steps: [String: Int] = ["challenger": 0, "solver": 0]
    /// The service instance each endpoint had when last checked (a change means it restarted).
    public var instances: [String: String] = [:]
    /// Checkpoints this run saved and still keeps, oldest first (`checkpoints.keep_last` deletes older ones).
    public var checkpoints: [CheckpointRecord] = []
    /// Bytes of checkpoints deleted so far, and the final exports (absent in runs made before they existed).
    public var deletedCheckpointBytes: Int?
    public var exports: [ExportRecord]?
    /// Committed byte length of every journal; anything past it is from an interrupted unit.
    public var journalLengths: [String: UInt64] = [:]
    /// The latest training metrics per role (for /status).
    public var lastMetrics: [String: StepRecord] = [:]
    public var startedAt: Date
    public var updatedAt: Date
    public var finishedAt: Date?

    public init(runId: String, now: Date = Date()) {
        self.runId = runId
        startedAt = now
        updatedAt = now
    }
}

public struct CheckpointRecord: Codable, Sendable, Equatable {
    public var role: String
    public var name: String
    public var step: Int
    public var iteration: Int
    /// Bytes on the service's disk when saved (absent in runs made before sizes were recorded).
    public var sizeBytes: Int?
}

/// A model folder the run wrote for other tools (`checkpoints.export_final`).
public struct ExportRecord: Codable, Sendable, Equatable {
    public var role: String
    public var name: String
    /// On the service's host.
    public var path: String
    public var dtype: String
    public var sizeBytes: Int
    public var step: Int
}

/// A run directory: the whole record of a run.
///
/// - `config.json`: the resolved configuration.
/// - `state.json`: `RunState`, replaced atomically after each unit.
/// - `challenger.jsonl`: every Challenger sample with its parse, the Solver's answers, votes and rewards.
/// - `pool.jsonl`: every pool question with answers, votes, p̂ and whether the band kept it.
/// - `solver.jsonl`: every Solver training sample with its reward.
/// - `train.jsonl`: the metrics of every GRPO step.
/// - `eval.jsonl`: held-out results per iteration (per-question files under `eval/`).
/// - `events.jsonl`: one line per completed unit.
/// - `health.jsonl`: the label-free health check of each Solver phase (when the rollback stabiliser is on).
/// - `probe.jsonl`: the probe guard's start and end measurements of each Solver phase (when it is on).
/// - `batches/`: the exact request of every training step (so a restarted service can be replayed).
/// - `datasets/`: the kept questions and pseudo-labels of every iteration.
public final class RunDirectory {
    public let path: String
    public static let journals = ["challenger", "pool", "solver", "train", "eval", "events", "health", "probe"]
    private var handles: [String: FileHandle] = [:]

    public init(path: String) { self.path = path }

    public var configPath: String { path + "/config.json" }
    public var statePath: String { path + "/state.json" }
    func journalPath(_ name: String) -> String { path + "/\(name).jsonl" }
    func batchPath(role: String, step: Int) -> String { path + "/batches/\(role)-\(step).json" }
    func datasetPath(iteration: Int) -> String { path + "/datasets/iteration-\(iteration).jsonl" }
    func evalDetailPath(iteration: Int, dataset: String) -> String { path + "/eval/iteration-\(iteration)-\(dataset).jsonl" }

    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.keyEncodingStrategy = .convertToSnakeCase
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        e.dateEncodingStrategy = .iso8601
        return e
    }()

    static let decoder: JSONDecoder = {
        let d = JSONDecoder()
        d.keyDecodingStrategy = .convertFromSnakeCase
        d.dateDecodingStrategy = .iso8601
        return d
    }()

    public var exists: Bool { FileManager.default.fileExists(atPath: statePath) }

    /// Creates the directory for a new run and writes its configuration and first state.
    public func create(config: RunConfig, state: RunState) throws {
        let fm = FileManager.default
        if fm.fileExists(atPath: statePath) { throw ConfigError("\(path) already holds a run") }
        var isDirectory: ObjCBool = false
        if fm.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue {
            throw ConfigError("\(path) is a file, not a run directory")
        }
        for sub in ["", "/batches", "/datasets", "/eval"] {
            try fm.createDirectory(atPath: path + sub, withIntermediateDirectories: true)
        }
        try AtomicFile.write(config.encoded(), to: configPath)
        try openJournals(lengths: [:])
        try commit(state)
    }

    /// The configuration a run was created with.
    public func loadConfig() throws -> RunConfig {
        guard let data = FileManager.default.contents(atPath: configPath) else {
            throw ConfigError("\(path) has no config.json; is it a run directory?")
        }
        return try RunConfig.parse(data, source: configPath)
    }

    public func loadState() throws -> RunState {
        guard let data = FileManager.default.contents(atPath: statePath) else {
            throw ConfigError("\(path) has no state.json; is it a run directory?")
        }
        do { return try Self.decoder.decode(RunState.self, from: data) } catch {
            throw ConfigError("\(statePath) is damaged: \(error)")
        }
    }

    /// Opens the journals for appending, cutting off anything an interrupted unit wrote after the
    /// last commit.
    public func openJournals(lengths: [String: UInt64]) throws {
        for name in Self.journals {
            let file = journalPath(name)
            if !FileManager.default.fileExists(atPath: file) { _ = FileManager.default.createFile(atPath: file, contents: nil) }
            guard let handle = FileHandle(forUpdatingAtPath: file) else { throw ConfigError("cannot open \(file)") }
            try handle.truncate(atOffset: lengths[name] ?? 0)
            try handle.seekToEnd()
            handles[name] = handle
        }
    }

    /// Appends one JSON line to a journal (made durable at the next commit).
    public func append<T: Encodable>(_ value: T, to journal: String) throws {
        guard let handle = handles[journal] else { throw ConfigError("journal \(journal) is not open") }
        var line = try Self.encoder.encode(value)
        line.append(0x0A)
        try handle.write(contentsOf: line)
    }

    /// Makes the journals durable and records their lengths in `state`, then replaces state.json.
    public func commit(_ state: RunState) throws {
        var state = state
        for (name, handle) in handles {
            try handle.synchronize()
            state.journalLengths[name] = try handle.offset()
        }
        state.updatedAt = Date()
        try AtomicFile.write(Self.encoder.encode(state), to: statePath)
    }

    /// Writes a whole file atomically (batches, datasets, per-question evaluation results).
    public func writeFile<T: Encodable>(_ value: T, to file: String) throws {
        try AtomicFile.write(Self.encoder.encode(value), to: file)
    }

    public func writeLines<T: Encodable>(_ values: [T], to file: String) throws {
        var data = Data()
        for v in values { data.append(try Self.encoder.encode(v)); data.append(0x0A) }
        try AtomicFile.write(data, to: file)
    }

    public func readFile<T: Decodable>(_ type: T.Type, from file: String) throws -> T {
        guard let data = FileManager.default.contents(atPath: file) else { throw ConfigError("missing \(file)") }
        return try Self.decoder.decode(type, from: data)
    }

    /// Decodes every line of a JSONL file in the run directory.
    public func readLines<T: Decodable>(_ type: T.Type, from file: String) throws -> [T] {
        guard let data = FileManager.default.contents(atPath: file) else { return [] }
        return try data.split(separator: 0x0A).map { try Self.decoder.decode(type, from: Data($0)) }
    }

    public func readJournal<T: Decodable>(_ type: T.Type, _ journal: String) throws -> [T] {
        try readLines(type, from: journalPath(journal))
    }
}
