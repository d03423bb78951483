// Plain import: see APIError.swift.
import HTTPTypes
package import OpenAPIRuntime

/// The OpenAI-compatible routes (tag `openai` in openapi.yaml): their errors use OpenAI's shape, and they do not
/// consult `Accept` (OpenAI clients send `Accept: application/json` when they ask for a stream).
package enum OpenAIRoutes {
    package static let operationIDs: Set<String> = [
        Operations.ListModels.id, Operations.CreateCompletion.id, Operations.CreateChatCompletion.id,
        Operations.Tokenize.id, Operations.Detokenize.id,
    ]
    /// Their paths, for errors raised before routing (unknown method, body over the limit).
    package static let paths: Set<String> = ["/v1/models", "/v1/completions", "/v1/chat/completions", "/tokenize", "/detokenize"]
}

/// Drops `Accept` from requests to the OpenAI-compatible routes: the generated server checks a response's content
/// type against it, and OpenAI clients ask for `application/json` even when they stream (`text/event-stream`).
package struct OpenAIAcceptMiddleware: ServerMiddleware {
    package init() {}

    package func intercept(
        _ request: HTTPRequest,
        body: HTTPBody?,
        metadata: ServerRequestMetadata,
        operationID: String,
        next: @Sendable (HTTPRequest, HTTPBody?, ServerRequestMetadata) async throws -> (HTTPResponse, HTTPBody?)
    ) async throws -> (HTTPResponse, HTTPBody?) {
        guard OpenAIRoutes.operationIDs.contains(operationID) else { return try await next(request, body, metadata) }
        var request = request
        request.headerFields[.accept] = nil
        return try await next(request, body, metadata)
    }
}
