// Plain import: the generated Client.swift and Server.swift import HTTPTypes without an access level, and
// mixing explicit and implicit access levels for one module is an error.
import HTTPTypes
package import OpenAPIRuntime

/// Turns every error thrown below it into the API's JSON error response (use instead of OpenAPIRuntime's
/// `ErrorHandlingMiddleware`, which answers 500 without a body for handler errors and
/// `application/problem+json` for request errors; openapi.yaml documents `application/json` `ErrorResponse`):
/// - an `APIError` from a handler → its own status and body;
/// - a request the generated code could not parse (bad JSON, wrong type, missing or unknown field, bad
///   path parameter) → 400 `invalid_json`;
/// - a body that is not `application/json` → 415 `unsupported_media_type`;
/// - any other client error the runtime reports (e.g. an unsatisfiable `Accept`) → 400 `invalid_request`;
/// - anything else → 500 `internal` (a bug), with `onInternalError` called to log it.
///
/// Register it first: `handler.registerHandlers(on: transport, middlewares: [JSONErrorMiddleware()])`.
package struct JSONErrorMiddleware: ServerMiddleware {
    package var onInternalError: @Sendable (_ operationID: String, _ error: any Error) -> Void

    package init(onInternalError: @escaping @Sendable (_ operationID: String, _ error: any Error) -> Void = { _, _ in }) {
        self.onInternalError = onInternalError
    }

    package func intercept(
        _ request: HTTPRequest,
        body: HTTPBody?,
        metadata: ServerRequestMetadata,
        operationID: String,
        next: @Sendable (HTTPRequest, HTTPBody?, ServerRequestMetadata) async throws -> (HTTPResponse, HTTPBody?)
    ) async throws -> (HTTPResponse, HTTPBody?) {
        do {
            return try await next(request, body, metadata)
        } catch {
            let apiError = Self.apiError(for: error)
            if apiError.code == ._internal { onInternalError(operationID, error) }
            let body = HTTPBody(apiError.jsonData(openAIShape: OpenAIRoutes.operationIDs.contains(operationID)))
            return (HTTPResponse(status: apiError.httpStatus, headerFields: apiError.httpHeaderFields), body)
        }
    }

    /// The API error a thrown error stands for.
    package static func apiError(for error: any Error) -> APIError {
        if let e = error as? APIError { return e }
        guard let serverError = error as? ServerError else { return .internalError() }
        if let e = serverError.underlyingError as? APIError { return e }
        // A body the generated code could not decode: the runtime reports the DecodingError as the cause.
        if let e = serverError.underlyingError as? DecodingError { return .invalidJSON(describe(e)) }
        switch serverError.httpStatus {
        case .unsupportedMediaType:
            return APIError(.unsupportedMediaType, "expected Content-Type application/json")
        case .badRequest where serverError.causeDescription.lowercased().contains("request body"):
            return .invalidJSON(serverError.causeDescription)
        case let status where (400..<500).contains(status.code):
            return .invalidRequest(serverError.causeDescription)
        default:
            return .internalError()
        }
    }

    /// A short, human-readable account of a decoding error: the JSON path and what was wrong.
    package static func describe(_ error: DecodingError) -> String {
        func path(_ keys: [any CodingKey]) -> String {
            let p = keys.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
            return p.isEmpty ? "the body" : String(p.drop(while: { $0 == "." }))
        }
        switch error {
        case .typeMismatch(let type, let c):
            return "\(path(c.codingPath)): expected \(type)"
        case .valueNotFound(let type, let c) where c.debugDescription.contains("oneOf"):
            // The generated decoder of a `oneOf` tried every alternative and none fitted.
            let shapes = type == Components.Schemas.Prompt.self
                ? #"exactly one of {"text": ...}, {"messages": [...]}, {"token_ids": [...]}"# : "one of the documented shapes"
            return "\(path(c.codingPath)): expected \(shapes)"
        case .valueNotFound(let type, let c):
            return "\(path(c.codingPath)): expected \(type), found null"
        case .keyNotFound(let key, let c):
            return "\(path(c.codingPath + [key])): required field missing"
        case .dataCorrupted(let c) where c.codingPath.isEmpty && c.debugDescription.contains("not valid JSON"):
            // Foundation on Linux also reports a number that does not fit its field (2.5 or 1e20 for an
            // integer) this way, without a path.
            return "the body is not valid JSON, or a number in it does not fit its field "
                + "(a fraction or an out-of-range value where an integer is expected)"
        case .dataCorrupted(let c):
            return "\(path(c.codingPath)): \(c.debugDescription)"
        @unknown default:
            return "\(error)"
        }
    }
}
