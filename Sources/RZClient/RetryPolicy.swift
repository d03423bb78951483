internal import Foundation
internal import Synchronization

/// When `CurlTransport` tries a call again, and for how long.
///
/// The limit is a number of attempts, a total duration, or both (whichever is reached first). With
/// `maxElapsed`, the last wait is shortened so that a final attempt starts at the deadline; that is the shape
/// for "wait up to 30 s for a restarting service": `RetryPolicy.waitingFor(.seconds(30))`.
///
/// The wait before retry k (k = 1, 2, ...) is `initialBackoff · multiplier^(k-1)`, capped at `maxBackoff`,
/// then reduced by a random fraction of up to `jitter` (0 = no randomness). A 503 with `Retry-After: <seconds>`
/// waits that long instead, also capped at `maxBackoff`.
package struct RetryPolicy: Sendable, Hashable {
    /// Attempts in total, including the first (nil: no count limit). At least 1.
    package var maxAttempts: Int?
    /// Time from the start of the first attempt after which no new attempt starts (nil: no time limit).
    package var maxElapsed: Duration?
    package var initialBackoff: Duration
    package var maxBackoff: Duration
    package var multiplier: Double
    /// 0...1: each wait is multiplied by (1 − jitter · u), u uniform in [0, 1).
    package var jitter: Double

    /// At least one of `maxAttempts` and `maxElapsed` must be given (otherwise a dead service would be
    /// retried forever).
    package init(
        maxAttempts: Int? = 3, maxElapsed: Duration? = nil,
        initialBackoff: Duration = .milliseconds(100), maxBackoff: Duration = .seconds(2),
        multiplier: Double = 2, jitter: Double = 0
    ) {
        precondition(maxAttempts != nil || maxElapsed != nil, "RetryPolicy needs maxAttempts or maxElapsed")
        self.maxAttempts = maxAttempts.map { max(1, $0) }
        self.maxElapsed = maxElapsed.map { max(.zero, $0) }
        self.initialBackoff = max(.zero, initialBackoff)
        self.maxBackoff = max(.zero, maxBackoff)
        self.multiplier = max(1, multiplier)
        self.jitter = min(max(0, jitter), 1)
    }

    /// One attempt, no retries.
    package static let never = RetryPolicy(maxAttempts: 1)

    /// 3 attempts, 100 ms then 200 ms apart.
    package static let standard = RetryPolicy()

    /// Keep trying for `budget` (e.g. a service restart), backing off from 100 ms up to 2 s, with jitter.
    package static func waitingFor(_ budget: Duration, maxBackoff: Duration = .seconds(2)) -> RetryPolicy {
        RetryPolicy(maxAttempts: nil, maxElapsed: budget, initialBackoff: .milliseconds(100), maxBackoff: maxBackoff, jitter: 0.2)
    }

    /// The base wait before retry `retry` (1-based), before jitter.
    package func backoff(retry: Int) -> Duration {
        let seconds = Self.seconds(initialBackoff) * pow(multiplier, Double(min(max(0, retry - 1), 200)))
        return Self.duration(min(seconds, Self.seconds(maxBackoff)))
    }

    /// The wait before attempt `attempt + 1`, or nil when the policy says to stop. `elapsed` is the time since
    /// the first attempt started; `retryAfter` a server's `Retry-After`; `unit` a random number in [0, 1).
    package func delay(after attempt: Int, elapsed: Duration, retryAfter: Duration?, unit: Double) -> Duration? {
        if let maxAttempts, attempt >= maxAttempts { return nil }
        var wait: Duration
        if let retryAfter {
            wait = min(max(.zero, retryAfter), maxBackoff)
        } else {
            wait = Self.duration(Self.seconds(backoff(retry: attempt)) * (1 - jitter * min(max(unit, 0), 1)))
        }
        if let maxElapsed {
            if elapsed >= maxElapsed { return nil }
            wait = min(wait, maxElapsed - elapsed)
        }
        return wait
    }

    static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
    }

    static func duration(_ seconds: Double) -> Duration {
        .nanoseconds(Int64((max(0, seconds) * 1e9).rounded()))
    }
}

/// SplitMix64 behind a mutex: the jitter source, seedable so that tests are deterministic.
final class JitterSource: Sendable {
    private let state: Mutex<UInt64>

    init(seed: UInt64) { state = Mutex(seed) }

    /// Uniform in [0, 1).
    func next() -> Double {
        let bits = state.withLock { s -> UInt64 in
            s &+= 0x9E37_79B9_7F4A_7C15
            var z = s
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        return Double(bits >> 11) * 0x1p-53
    }
}
