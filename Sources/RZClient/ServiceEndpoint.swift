package import Foundation
package import Logging
package import OpenAPIRuntime
package import RZAPI

/// Where a service lives: a name for errors and logs (e.g. "solver"), its base URL, and the bearer token
/// for the protected operations when the server has one configured.
package struct ServiceEndpoint: Sendable, Hashable {
    package var name: String
    package var baseURL: URL
    package var token: String?

    package init(name: String, baseURL: URL, token: String? = nil) {
        self.name = name
        self.baseURL = baseURL
        self.token = token
    }

    /// `http://host:port`; nil when that is not a valid URL.
    package init?(name: String, host: String, port: Int, token: String? = nil) {
        let bracketed = host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host  // IPv6 literal
        guard (0...65535).contains(port), let url = URL(string: "http://\(bracketed):\(port)") else { return nil }
        self.init(name: name, baseURL: url, token: token)
    }

    /// `name@host:port`, the service's name in `ServiceCallError` and in logs.
    package var displayName: String {
        guard let host = baseURL.host else { return "\(name)@\(baseURL.absoluteString)" }
        let port = baseURL.port.map { ":\($0)" } ?? ""
        return "\(name)@\(host)\(port)"
    }

    /// A generated client for this service over a `CurlTransport`, adding `Authorization: Bearer <token>` to
    /// the protected operations when a token is set.
    package func makeClient(
        settings: CurlTransport.Settings = .init(), logger: Logger = Logger(label: "rzero.client")
    ) -> Client {
        let transport = CurlTransport(serviceName: displayName, settings: settings, logger: logger)
        return makeClient(transport: transport)
    }

    /// A generated client for this service over `transport` (share one transport to share its connections).
    package func makeClient(transport: any ClientTransport, middlewares: [any ClientMiddleware] = []) -> Client {
        var all = middlewares
        if let token { all.append(BearerTokenMiddleware(token: token)) }
        return Client(serverURL: baseURL, transport: transport, middlewares: all)
    }
}
