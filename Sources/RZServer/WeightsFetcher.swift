import Foundation
import Logging
import OpenAPIRuntime
import RZAPI
import RZClient
import RZHost

/// Downloads another service's weights at one version over libcurl and checks their SHA-256. Every
/// failure is `upstream_failed` (502) naming the source: the caller's weights stay as they were.
package struct WeightsFetcher: Sendable {
    let token: String?
    let transport: CurlTransport
    /// The largest body accepted: what this model's weights can take in float32, plus room for the header.
    let maxBytes: Int

    package init(token: String?, maxBytes: Int = 64 << 30) {
        self.token = token
        self.maxBytes = maxBytes
        var logger = Logger(label: "rzero.weights")
        logger.logLevel = .warning
        var settings = CurlTransport.Settings(connectTimeout: .seconds(5), timeout: .seconds(600), retry: .standard)
        settings.maxResponseBytes = maxBytes
        transport = CurlTransport(serviceName: "weights source", settings: settings, logger: logger)
    }

    package func fetch(from source: URL, version: Int) async throws -> WeightsSnapshot {
        let client = ServiceEndpoint(name: "source", baseURL: source, token: token).makeClient(transport: transport)
        let name = source.absoluteString
        let response: Operations.GetWeights.Output
        do { response = try await client.getWeights(path: .init(version: Int64(version))) } catch {
            throw APIError(.upstreamFailed, "\(name): \(error.serviceCallError?.description ?? "\(error)")")
        }
        switch response {
        case .ok(let ok):
            let data: Data
            do { data = try await Data(collecting: try ok.body.binary, upTo: maxBytes) } catch {
                throw APIError(.upstreamFailed, "\(name): reading the weights failed: \(error)")
            }
            let digest = SHA256Digest.hex(data)
            guard digest == ok.headers.xWeightsSha256.lowercased() else {
                throw APIError(.upstreamFailed, "\(name): checksum mismatch (header \(ok.headers.xWeightsSha256), body \(digest))")
            }
            guard ok.headers.xModelVersion == Int64(version) else {
                throw APIError(.upstreamFailed, "\(name): sent version \(ok.headers.xModelVersion), asked for \(version)")
            }
            return WeightsSnapshot(version: version, data: data, sha256: digest)
        case .notFound(let e):
            throw APIError(.upstreamFailed, "\(name): \((try? e.body.json.error.message) ?? "no weights at version \(version)")")
        case .unauthorized:
            throw APIError(.upstreamFailed, "\(name): unauthorized (the replica's bearer token is not the source's)")
        case .badRequest(let e):
            throw APIError(.upstreamFailed, "\(name): \((try? e.body.json.error.message) ?? "bad request")")
        case .internalServerError, .serviceUnavailable:
            throw APIError(.upstreamFailed, "\(name): server error")
        case .undocumented(let status, _):
            throw APIError(.upstreamFailed, "\(name): HTTP \(status)")
        }
    }
}

/// A service weights may be pulled from (`rzero serve --weights-source`): its scheme, host and port, and a path
/// prefix. A sync names a URL; it is contacted only if it falls under one of these.
package struct WeightsSource: Sendable, Equatable, CustomStringConvertible {
    let scheme: String
    let host: String
    let port: Int
    let path: String

    /// An http(s) URL with a host; nil otherwise.
    package init?(_ text: String) {
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme),
            let host = url.host?.lowercased(), !host.isEmpty
        else { return nil }
        self.scheme = scheme
        self.host = host
        port = url.port ?? (scheme == "https" ? 443 : 80)
        path = url.path.hasSuffix("/") ? String(url.path.dropLast()) : url.path
    }

    /// Whether `url` is this source (same scheme, host and port, under its path).
    func covers(_ url: URL) -> Bool {
        guard let other = WeightsSource(url.absoluteString) else { return false }
        return other.scheme == scheme && other.host == host && other.port == port
            && (path.isEmpty || other.path == path || other.path.hasPrefix(path + "/"))
    }

    package var description: String { "\(scheme)://\(host):\(port)\(path)" }
}
