package import Foundation
internal import OpenAPIRuntime

/// A call to a service that `CurlTransport` gave up on: the connection kept failing, or the server kept
/// answering with a 5xx, until the retry policy ran out (or the call was not safe to repeat).
///
/// 4xx responses are not errors of the transport: they reach the generated client, which returns them as
/// the operation's documented cases. The generated client wraps this error in `ClientError`; use
/// `ServiceCallError.unwrap(_:)` (or `error.serviceCallError`) to get it back.
package struct ServiceCallError: Error, Sendable, CustomStringConvertible, LocalizedError {
    package enum Cause: Sendable, Hashable, CustomStringConvertible {
        /// libcurl could not complete the exchange (`code` is the `CURLcode`).
        case connection(code: Int, message: String)
        /// The server answered with this status (5xx); `code` and `message` come from the JSON error body
        /// (`{"error": {"code", "message"}}`) when it has one.
        case status(Int, code: String?, message: String?)

        package var description: String {
            switch self {
            case .connection(let code, let message):
                return "\(message) (curl error \(code))"
            case .status(let status, let code, let message):
                var text = "HTTP \(status)"
                if let code { text += " \(code)" }
                if let message, !message.isEmpty { text += ": \(message)" }
                return text
            }
        }
    }

    /// The service's name as given to the transport, e.g. `solver@127.0.0.1:8101`.
    package var service: String
    package var operationID: String
    /// Attempts made (at least 1).
    package var attempts: Int
    /// Time from the first attempt's start to giving up.
    package var elapsed: Duration
    /// The last attempt's failure.
    package var cause: Cause
    /// False only when no attempt's request can have reached the server (e.g. every attempt was refused),
    /// so a non-idempotent call certainly did not happen.
    package var mayHaveReachedServer: Bool

    package init(service: String, operationID: String, attempts: Int, elapsed: Duration, cause: Cause, mayHaveReachedServer: Bool) {
        self.service = service
        self.operationID = operationID
        self.attempts = attempts
        self.elapsed = elapsed
        self.cause = cause
        self.mayHaveReachedServer = mayHaveReachedServer
    }

    package var description: String {
        let seconds = String(format: "%.2f", RetryPolicy.seconds(elapsed))
        let tries = attempts == 1 ? "1 attempt" : "\(attempts) attempts"
        return "\(service) \(operationID) failed after \(tries) in \(seconds) s: \(cause)"
    }

    package var errorDescription: String? { description }

    /// The `ServiceCallError` in `error`, looking inside the generated client's `ClientError`.
    package static func unwrap(_ error: any Error) -> ServiceCallError? {
        if let error = error as? ServiceCallError { return error }
        if let error = error as? ClientError { return unwrap(error.underlyingError) }
        return nil
    }
}

extension Error {
    /// The `ServiceCallError` this error is or wraps (the generated client wraps transport errors in `ClientError`).
    package var serviceCallError: ServiceCallError? { ServiceCallError.unwrap(self) }
}
