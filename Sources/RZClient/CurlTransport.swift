internal import CCurl
package import Foundation
package import HTTPTypes
package import Logging
package import OpenAPIRuntime
internal import RZAPI

/// A `ClientTransport` for the generated `RZAPI.Client` built on libcurl, with retries.
///
/// - Each attempt runs `curl_easy_perform` on its own thread (never on Swift's cooperative pool); easy
///   handles are pooled, so connections stay open between calls (keep-alive).
/// - The request body is collected in full first (bodies here are JSON of at most tens of MB), then sent
///   with `Content-Length` and an empty `Expect:`; the response body is collected in full.
/// - Connection failures (refused, reset, timed out, empty or partial reply) and 5xx responses are retried
///   per `Settings.retry`, but only for idempotent calls: GET/HEAD, the operations in
///   `Settings.idempotentOperationIDs`, and requests carrying an `Idempotency-Key` header. Other calls are
///   repeated only when the previous attempt's request cannot have reached the server (connection refused,
///   host not found, connect timeout before any byte was sent). Such calls also go out on a fresh connection,
///   because libcurl re-sends a request on its own when a reused connection closes before answering.
/// - A 503's or 429's `Retry-After: <seconds>` replaces the computed backoff (capped at `maxBackoff`). A 429 (a token
///   budget spent; nothing started) is retried even for calls that are not idempotent.
/// - Giving up throws `ServiceCallError`. Responses below 500 (including 4xx) are returned to the client.
package struct CurlTransport: ClientTransport {
    package struct Settings: Sendable {
        /// Time allowed to establish a connection (per attempt).
        package var connectTimeout: Duration = .seconds(5)
        /// Time allowed for a whole attempt, connection to last byte. Training steps and large generations
        /// take minutes on a CPU; set it to what the slowest call may take.
        package var timeout: Duration = .seconds(600)
        package var retry: RetryPolicy = .standard
        /// Operations that are safe to repeat (their effect does not depend on how often they run).
        package var idempotentOperationIDs: Set<String> = CurlTransport.defaultIdempotentOperationIDs
        /// Seed for the retry jitter (nil: a random seed). Only matters when `retry.jitter > 0`.
        package var jitterSeed: UInt64? = nil
        /// Idle easy handles (and thus keep-alive connection sets) kept for reuse.
        package var maxIdleHandles: Int = 16
        package var maxRequestBytes: Int = 64 << 20
        package var maxResponseBytes: Int = 256 << 20

        package init(
            connectTimeout: Duration = .seconds(5), timeout: Duration = .seconds(600), retry: RetryPolicy = .standard
        ) {
            self.connectTimeout = connectTimeout
            self.timeout = timeout
            self.retry = retry
        }
    }

    /// GET-like operations of openapi.yaml plus `loadCheckpoint` (loading the same checkpoint twice leaves
    /// the same weights) and `generate`/`computeLogprobs` (they do not change the model).
    package static let defaultIdempotentOperationIDs: Set<String> = [
        Operations.Generate.id, Operations.ComputeLogprobs.id, Operations.GetModel.id, Operations.ListCheckpoints.id,
        Operations.LoadCheckpoint.id, Operations.GetHealth.id, Operations.GetReadiness.id, Operations.GetMetrics.id,
    ]

    package static let idempotencyKey = HTTPField.Name("Idempotency-Key")!  // a valid token, cannot fail

    /// Names the service in errors and logs, e.g. `solver@127.0.0.1:8101`.
    package let serviceName: String
    package let settings: Settings
    private let logger: Logger
    private let pool: HandlePool
    private let jitter: JitterSource

    package init(serviceName: String, settings: Settings = Settings(), logger: Logger = Logger(label: "rzero.client")) {
        self.serviceName = serviceName
        self.settings = settings
        self.logger = logger
        self.pool = HandlePool(capacity: settings.maxIdleHandles)
        self.jitter = JitterSource(seed: settings.jitterSeed ?? UInt64.random(in: .min ... .max))
    }

    /// Idle pooled handles (for tests and diagnostics).
    package var idleHandles: Int { pool.idleCount }

    /// Whether a failed attempt of this call may be repeated even though its request may have reached the server.
    package func isIdempotent(_ request: HTTPRequest, operationID: String) -> Bool {
        request.method == .get || request.method == .head || settings.idempotentOperationIDs.contains(operationID)
            || request.headerFields[Self.idempotencyKey] != nil
    }

    package func send(
        _ request: HTTPRequest, body: HTTPBody?, baseURL: URL, operationID: String
    ) async throws -> (HTTPResponse, HTTPBody?) {
        var bodyData: Data? = nil
        if let body { bodyData = try await Data(collecting: body, upTo: settings.maxRequestBytes) }
        if bodyData == nil, [.post, .put, .patch].contains(request.method) { bodyData = Data() }
        let idempotent = isIdempotent(request, operationID: operationID)
        var curlRequest = makeCurlRequest(request, body: bodyData, baseURL: baseURL)
        curlRequest.freshConnection = !idempotent

        let clock = ContinuousClock()
        let start = clock.now
        var attempt = 0
        var reached = false
        while true {
            attempt += 1
            try Task.checkCancellation()
            guard let handle = pool.checkOut() else {
                throw ServiceCallError(service: serviceName, operationID: operationID, attempts: attempt,
                                       elapsed: clock.now - start, cause: .connection(code: Int(CURLE_FAILED_INIT.rawValue),
                                                                                      message: "curl_easy_init failed"),
                                       mayHaveReachedServer: reached)
            }
            let outcome = await Curl.perform(curlRequest, on: handle)
            pool.checkIn(handle)

            let cause: ServiceCallError.Cause
            let retryable: Bool
            var retryAfter: Duration? = nil
            switch outcome {
            case .success(let response) where response.status == 429:
                // Refused before anything started (a service's token budget is spent): safe to retry, even a non-idempotent call.
                reached = true
                let error = Self.errorBody(response.body)
                cause = .status(response.status, code: error?.code, message: error?.message)
                retryable = true
                retryAfter = Self.retryAfter(response.headers)
            case .success(let response) where response.status < 500:
                return (makeResponse(response), request.method == .head ? nil : HTTPBody(response.body))
            case .success(let response):
                reached = true
                let error = Self.errorBody(response.body)
                cause = .status(response.status, code: error?.code, message: error?.message)
                retryable = idempotent
                if response.status == 503 { retryAfter = Self.retryAfter(response.headers) }
            case .failure(let failure):
                if failure.isCancelled { throw CancellationError() }
                reached = reached || failure.requestSent
                cause = .connection(code: Int(failure.code.rawValue), message: failure.message)
                retryable = failure.isConnectionFailure && (idempotent || !failure.requestSent)
            }
            let elapsed = clock.now - start
            guard retryable,
                let wait = settings.retry.delay(after: attempt, elapsed: elapsed, retryAfter: retryAfter, unit: jitter.next())
            else {
                throw ServiceCallError(service: serviceName, operationID: operationID, attempts: attempt, elapsed: elapsed,
                                       cause: cause, mayHaveReachedServer: reached)
            }
            logger.warning("retrying service call", metadata: [
                "service": "\(serviceName)", "operation": "\(operationID)", "attempt": "\(attempt)",
                "cause": "\(cause)", "retry_in_ms": "\(Int(RetryPolicy.seconds(wait) * 1000))",
            ])
            try await Task.sleep(for: wait)
        }
    }

    private func makeCurlRequest(_ request: HTTPRequest, body: Data?, baseURL: URL) -> CurlRequest {
        var base = baseURL.absoluteString
        while base.hasSuffix("/") { base.removeLast() }
        var path = request.path ?? "/"
        if !path.hasPrefix("/") { path = "/" + path }
        var lines = request.headerFields.map { "\($0.name.rawName): \($0.value)" }
        // No `Expect: 100-continue` round trip, and no curl default Content-Type for a POST without one.
        lines.append("Expect:")
        if body != nil, request.headerFields[.contentType] == nil { lines.append("Content-Type:") }
        return CurlRequest(
            url: base + path, method: request.method.rawValue, headerLines: lines, body: body,
            connectTimeoutMilliseconds: Self.milliseconds(settings.connectTimeout),
            timeoutMilliseconds: Self.milliseconds(settings.timeout), maxResponseBytes: settings.maxResponseBytes)
    }

    private func makeResponse(_ response: CurlResponse) -> HTTPResponse {
        var fields = HTTPFields()
        for (name, value) in response.headers {
            guard let fieldName = HTTPField.Name(name) else { continue }  // not a valid token: drop it
            fields.append(HTTPField(name: fieldName, value: value))
        }
        return HTTPResponse(status: .init(code: response.status), headerFields: fields)
    }

    static func milliseconds(_ d: Duration) -> Int {
        Int(min(RetryPolicy.seconds(d) * 1000, Double(Int32.max)).rounded(.up))
    }

    /// `Retry-After` as delta-seconds (the HTTP-date form is ignored: the services send seconds).
    static func retryAfter(_ headers: [(name: String, value: String)]) -> Duration? {
        guard let value = headers.last(where: { $0.name.lowercased() == "retry-after" })?.value,
            let seconds = Int(value.trimmingCharacters(in: .whitespaces)), seconds >= 0
        else { return nil }
        return .seconds(seconds)
    }

    /// `{"error": {"code", "message"}}` from an error response, when the body is that.
    static func errorBody(_ data: Data) -> (code: String?, message: String?)? {
        struct Body: Decodable {
            struct Detail: Decodable { var code: String?; var message: String? }
            var error: Detail
        }
        guard let body = try? JSONDecoder().decode(Body.self, from: data) else { return nil }
        return (body.error.code, body.error.message)
    }
}
