import Foundation
import Hummingbird
import HTTPTypes
import Logging
import NIOCore
import OpenAPIHummingbird
import OpenAPIRuntime
import RZAPI
import RZHost

/// Everything a service process is told on its command line.
package struct ServerConfig: Sendable {
    package var host = "127.0.0.1"
    package var port = 8080
    package var role: Role = .solver
    package var modelDir: String
    package var checkpointsDir: String
    /// Bearer token for training, checkpoint and reference endpoints; nil leaves them open (loopback only).
    package var token: String?
    package var maxBodyBytes = APILimits.defaultMaxBodyBytes
    /// The services this one may pull weights from (`POST /v1/weights/sync`): only these are contacted, and only
    /// they are sent the bearer token. Empty: syncing is refused.
    package var weightsSources: [WeightsSource] = []
    /// The `model` name of the OpenAI-compatible routes (nil: the model folder's name).
    package var servedModelName: String?

    package init(modelDir: String, checkpointsDir: String) {
        self.modelDir = modelDir
        self.checkpointsDir = checkpointsDir
    }

    /// Refuses to expose unauthenticated training endpoints beyond this machine.
    package func validate() throws {
        let loopback = ["127.0.0.1", "localhost", "::1"].contains(host)
        if token == nil && !loopback {
            throw ServerConfigError("binding \(host) needs a bearer token (RZERO_TOKEN or --token-file): without one, anyone who can reach the port could train or overwrite the model")
        }
        if let token, token.count < 16 { throw ServerConfigError("the bearer token must be at least 16 characters") }
        guard (0...65535).contains(port) else { throw ServerConfigError("port \(port) is out of range") }
        guard maxBodyBytes >= 1024 else { throw ServerConfigError("--max-body-bytes must be at least 1024") }
    }
}

package struct ServerConfigError: Error, CustomStringConvertible {
    package let description: String
    package init(_ d: String) { description = d }
}

/// The JSON error body for errors Hummingbird raises before the OpenAPI layer (unknown route, wrong
/// method, body too large), so every error the server sends has the documented shape.
struct JSONRouterErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError {
            let apiError: APIError
            switch error.status {
            case .notFound: apiError = .notFound("no such endpoint: \(request.method.rawValue) \(request.uri.path)")
            case .methodNotAllowed: apiError = APIError(.methodNotAllowed, "\(request.method.rawValue) is not allowed on \(request.uri.path)")
            case .contentTooLarge: apiError = APIError(.payloadTooLarge, "the request body is larger than the server's limit")
            default: apiError = .invalidRequest(error.body ?? error.status.reasonPhrase)
            }
            return Self.response(apiError, path: request.uri.path)
        }
    }

    /// The error response, in OpenAI's shape on the OpenAI-compatible paths.
    static func response(_ e: APIError, path: String) -> Response {
        Response(status: e.httpStatus, headers: [.contentType: "application/json"],
                 body: ResponseBody(byteBuffer: ByteBuffer(bytes: e.jsonData(openAIShape: OpenAIRoutes.paths.contains(path)))))
    }
}

/// OpenAPIHummingbird ignores Hummingbird's upload limit, so the body is bounded here: a declared
/// Content-Length over the limit is refused at once, and a chunked body is collected only up to it.
struct BodyLimitMiddleware<Context: RequestContext>: RouterMiddleware {
    let maxBytes: Int

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let tooLarge = APIError(.payloadTooLarge, "the request body is larger than \(maxBytes) bytes")
        if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > maxBytes {
            return JSONRouterErrorMiddleware<Context>.response(tooLarge, path: request.uri.path)
        }
        var request = request
        do {
            _ = try await request.collectBody(upTo: maxBytes)
        } catch {
            return JSONRouterErrorMiddleware<Context>.response(tooLarge, path: request.uri.path)
        }
        return try await next(request, context)
    }
}

/// Builds the HTTP application for a host (tests call this too, with port 0).
package func buildApplication(
    host: ModelHost, config: ServerConfig, metrics: ServerMetrics, logger: Logger,
    onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
) throws -> some ApplicationProtocol {
    let router = Router()
    router.add(middleware: JSONRouterErrorMiddleware())
    router.add(middleware: BodyLimitMiddleware(maxBytes: config.maxBodyBytes))
    let handler = Handler(host: host, metrics: metrics, maxBodyBytes: config.maxBodyBytes, upstreamToken: config.token,
                          weightsSources: config.weightsSources,
                          openAI: config.servedModelName.map { OpenAIServing(servedModelName: $0) })
    let errorLogger = logger
    try handler.registerHandlers(on: router, middlewares: [
        JSONErrorMiddleware(onInternalError: { operation, error in
            errorLogger.error("internal error", metadata: ["operation": "\(operation)", "error": "\(error)"])
        }),
        BearerAuthMiddleware(token: config.token),
        OpenAIAcceptMiddleware(),
    ])
    return Application(
        router: router,
        configuration: .init(address: .hostname(config.host, port: config.port), serverName: "rzero-\(config.role.rawValue)"),
        onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? config.port) },
        logger: logger)
}
