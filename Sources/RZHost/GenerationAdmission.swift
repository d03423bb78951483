import Foundation
import RZSampling
import Synchronization

/// The tokens generation requests may ask for, across the service: each accepted request reserves prompts × n ×
/// max_tokens until it finishes. A request beyond the budget is refused at once (`HostError.overloaded`, with a wait
/// estimated from the service's recent generation rate) instead of queueing without bound.
final class TokenBudget: Sendable {
    let limit: Int
    private struct State {
        var reserved = 0
        /// (finish time, tokens generated) of requests finished in the last `window` seconds.
        var recent: [(time: Double, tokens: Int)] = []
    }
    private let state = Mutex(State())
    static let window = 30.0

    init(limit: Int) { self.limit = limit }

    var reserved: Int { state.withLock { $0.reserved } }

    /// Reserves `tokens`, or throws `overloaded` when they do not fit beside what is reserved (a lone request always
    /// fits: the per-request limit is checked before).
    func reserve(_ tokens: Int) throws(HostError) {
        let now = Self.now()
        let refusal: (Int, Int)? = state.withLock { s in
            if s.reserved == 0 || s.reserved + tokens <= limit {
                s.reserved += tokens
                return nil
            }
            s.recent.removeAll { now - $0.time > Self.window }
            let generated = s.recent.reduce(0) { $0 + $1.tokens }
            // Tokens per second over the window (or since the oldest finish in it); 100 before anything finished.
            let span = max(1, now - (s.recent.first?.time ?? now))
            let rate = generated > 0 ? Double(generated) / span : 100
            let excess = s.reserved + tokens - limit
            return (s.reserved, min(60, max(1, Int((Double(excess) / rate).rounded(.up)))))
        }
        if let (held, wait) = refusal {
            throw .overloaded("the service has \(held) generation tokens in flight of its \(limit) (prompts × n × max_tokens); "
                                + "this request asks for \(tokens): retry after \(wait) s", retryAfterSeconds: wait)
        }
    }

    /// Returns a reservation; `generated` is what the request actually produced (for the rate estimate).
    func release(_ tokens: Int, generated: Int) {
        let now = Self.now()
        state.withLock { s in
            s.reserved -= tokens
            s.recent.append((now, generated))
            s.recent.removeAll { now - $0.time > Self.window }
        }
    }

    private static func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }
}

/// A generate request's way back to its caller: its continuation, its per-token callback, and whether the caller gave
/// up (a client that went away): the worker then drops the request from the batch instead of finishing it.
struct GenerationTicket: Sendable {
    let continuation: CheckedContinuation<GenerateResult, any Error>
    let onToken: (@Sendable (TokenEvent) -> Void)?
    let cancellation: CancellationFlag

    var isCancelled: Bool { cancellation.isSet }
}

/// Set once, from any thread, when a caller stops waiting.
final class CancellationFlag: Sendable {
    private let flag = Atomic<Bool>(false)
    var isSet: Bool { flag.load(ordering: .acquiring) }
    func set() { flag.store(true, ordering: .releasing) }
}

/// A generation's progress for streaming callers: its tokens as they are drawn, then the whole result.
public enum GenerationUpdate: Sendable {
    case token(TokenEvent)
    case finished(GenerateResult)
}

/// A generation as a stream (`ModelHost.generateStream`). `cancel()` takes the request out of the batch; a consumer
/// that stops iterating early should call it (dropping the iterator alone does not reach the producer).
public struct GenerationStream: Sendable {
    public let updates: AsyncThrowingStream<GenerationUpdate, any Error>
    let task: Task<Void, Never>

    public func cancel() { task.cancel() }
}
