import Foundation

/// What the run is doing now: read by `GET /status` and the progress display, written by the loop.
public struct RunStatus: Codable, Sendable, Equatable {
    public var runId = ""
    public var state = "starting"
    public var iteration = 0
    public var iterations = 0
    public var phase = ""
    public var unit = ""
    public var unitIndex = 0
    public var unitCount = 0
    /// Done and total units of the current phase, and its estimated seconds to go.
    public var phaseDone = 0
    public var phaseTotal = 0
    public var phaseEtaSeconds: Double?
    public var runEtaSeconds: Double?
    public var lastMetrics: [String: StepRecord] = [:]
    public var lastEval: [EvalRecord] = []
    /// Bytes the run's kept checkpoints take on each role's service, and the final exports.
    public var checkpointBytes: [String: Int] = [:]
    public var exports: [ExportRecord] = []
    public var error: String?
}

/// Thread-safe holder of the current `RunStatus`.
public final class StatusBoard: @unchecked Sendable {
    // @unchecked: every access to `status` goes through `lock`.
    private let lock = NSLock()
    private var status = RunStatus()

    public init() {}

    public var current: RunStatus {
        lock.lock(); defer { lock.unlock() }
        return status
    }

    public func update(_ body: (inout RunStatus) -> Void) {
        lock.lock(); defer { lock.unlock() }
        body(&status)
    }

    public func json() -> Data {
        (try? RunDirectory.encoder.encode(current)) ?? Data("{}".utf8)
    }
}
