package import Foundation
// Plain import: the generated Client.swift and Server.swift import HTTPTypes without an access level, and
// mixing explicit and implicit access levels for one module is an error.
import HTTPTypes
package import OpenAPIRuntime

/// An error with the API's JSON body `{"error": {"code": "...", "message": "..."}}` (`ErrorResponse` in
/// openapi.yaml). Handlers throw it; `JSONErrorMiddleware` (or OpenAPIRuntime's `ErrorHandlingMiddleware`,
/// through `HTTPResponseConvertible`) turns it into the response. Middlewares outside the generated router
/// (body limit, unknown route) can write `jsonData()` directly.
package struct APIError: Error, Sendable, Hashable, CustomStringConvertible {
    package var code: Components.Schemas.ErrorCode
    package var message: String
    /// The request field at fault (reported in OpenAI's shape only).
    package var param: String? = nil
    /// Sent as `Retry-After` (a 429).
    package var retryAfterSeconds: Int? = nil

    package init(_ code: Components.Schemas.ErrorCode, _ message: String, param: String? = nil, retryAfterSeconds: Int? = nil) {
        self.code = code
        self.message = message
        self.param = param
        self.retryAfterSeconds = retryAfterSeconds
    }

    package static func invalidJSON(_ message: String) -> APIError { APIError(.invalidJson, message) }
    package static func invalidRequest(_ message: String) -> APIError { APIError(.invalidRequest, message) }
    package static func notFound(_ message: String) -> APIError { APIError(.notFound, message) }
    package static let unauthorized = APIError(.unauthorized, "missing or invalid bearer token")
    package static func internalError(_ message: String = "internal error; see the server log") -> APIError {
        APIError(._internal, message)
    }

    /// The HTTP status that goes with the code (see `ErrorCode` in openapi.yaml).
    package var status: HTTPResponse.Status { code.status }

    /// The response body as the generated type, for handlers that return a typed error case.
    package var body: Components.Schemas.ErrorResponse { .init(error: .init(code: code, message: message)) }

    /// The body in OpenAI's shape (`{"error": {"message", "type", "param", "code"}}`), for the OpenAI-compatible routes.
    package var openAIBody: Components.Schemas.OpenAIErrorResponse {
        let type: String
        switch status.code {
        case 401: type = "authentication_error"
        case 404: type = "not_found_error"
        case 429: type = "rate_limit_error"
        case 503: type = "service_unavailable_error"
        case 400..<500: type = "invalid_request_error"
        default: type = "internal_server_error"
        }
        return .init(error: .init(message: message, _type: type, param: param, code: code))
    }

    /// The response body as JSON bytes (keys sorted, so the bytes are stable), in the API's shape or OpenAI's.
    package func jsonData(openAIShape: Bool = false) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding a struct of strings cannot fail; the fallback only keeps this total.
        let data = openAIShape ? try? encoder.encode(openAIBody) : try? encoder.encode(body)
        return data ?? Data(#"{"error":{"code":"internal","message":""}}"#.utf8)
    }

    package var description: String { "\(code.rawValue) (\(status.code)): \(message)" }
}

extension Components.Schemas.ErrorCode {
    /// The HTTP status of each error code, as documented in openapi.yaml.
    package var status: HTTPResponse.Status {
        switch self {
        case .invalidJson, .invalidRequest: .badRequest
        case .unauthorized: .unauthorized
        case .notFound, .modelNotFound: .notFound
        case .methodNotAllowed: .methodNotAllowed
        case .alreadyExists, .noReference: .conflict
        case .payloadTooLarge, .insufficientMemory: .contentTooLarge
        case .unsupportedMediaType: .unsupportedMediaType
        case ._internal: .internalServerError
        case .notReady, .shuttingDown, .busy: .serviceUnavailable
        case .upstreamFailed: .badGateway
        case .rateLimited: .tooManyRequests
        }
    }
}

extension APIError: HTTPResponseConvertible {
    package var httpStatus: HTTPResponse.Status { status }

    package var httpHeaderFields: HTTPFields {
        var fields: HTTPFields = [.contentType: "application/json"]
        if code == .unauthorized { fields[.wwwAuthenticate] = "Bearer" }
        if let retryAfterSeconds { fields[.retryAfter] = String(retryAfterSeconds) }
        return fields
    }

    package var httpBody: HTTPBody? { HTTPBody(jsonData()) }
}
