import Foundation
import HTTPTypes
import OpenAPIRuntime

/// A server transport and a client transport in one, with no sockets: the generated `Client` sends straight
/// into the handlers that the generated `registerHandlers(on:)` registered. Unknown routes get a 404 with no body.
final class InMemoryTransport: ServerTransport, ClientTransport, @unchecked Sendable {
    typealias Handler = @Sendable (HTTPRequest, HTTPBody?, ServerRequestMetadata) async throws -> (HTTPResponse, HTTPBody?)

    private let lock = NSLock()
    private var routes: [(method: HTTPRequest.Method, components: [Substring], handler: Handler)] = []

    func register(_ handler: @escaping Handler, method: HTTPRequest.Method, path: String) throws {
        lock.withLock { routes.append((method, path.split(separator: "/"), handler)) }
    }

    var registeredRoutes: [String] {
        lock.withLock { routes.map { "\($0.method.rawValue) /\($0.components.joined(separator: "/"))" } }
    }

    func send(_ request: HTTPRequest, body: HTTPBody?, baseURL: URL, operationID: String) async throws -> (HTTPResponse, HTTPBody?) {
        try await handle(request, body: body)
    }

    /// Routes a request like an HTTP server would (`{param}` matches one path component).
    func handle(_ request: HTTPRequest, body: HTTPBody?) async throws -> (HTTPResponse, HTTPBody?) {
        let path = (request.path ?? "/").split(separator: "?", maxSplits: 1).first ?? "/"
        let components = path.split(separator: "/")
        let candidates = lock.withLock { routes }
        for route in candidates where route.method == request.method && route.components.count == components.count {
            var parameters: [String: Substring] = [:]
            var matched = true
            for (pattern, component) in zip(route.components, components) {
                if pattern.hasPrefix("{") && pattern.hasSuffix("}") {
                    let name = pattern[pattern.index(after: pattern.startIndex)..<pattern.index(before: pattern.endIndex)]
                    parameters[String(name)] = String(component).removingPercentEncoding.map { Substring($0) } ?? component
                } else if pattern != component {
                    matched = false
                    break
                }
            }
            if matched { return try await route.handler(request, body, ServerRequestMetadata(pathParameters: parameters)) }
        }
        return (HTTPResponse(status: .notFound), nil)
    }

    /// Sends raw bytes, for requests the generated client cannot produce (bad JSON, wrong content type).
    func raw(_ method: HTTPRequest.Method, _ path: String, contentType: String? = "application/json", body: String?)
        async throws -> (status: Int, headers: HTTPFields, body: String)
    {
        var request = HTTPRequest(method: method, scheme: "http", authority: "127.0.0.1", path: path)
        if let contentType { request.headerFields[.contentType] = contentType }
        request.headerFields[.accept] = "application/json"
        let (response, responseBody) = try await handle(request, body: body.map { HTTPBody($0) })
        let text = if let responseBody { try await String(collecting: responseBody, upTo: 1 << 20) } else { "" }
        return (response.status.code, response.headerFields, text)
    }
}
