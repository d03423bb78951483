// swift-openapi-generator ignores `security` in openapi.yaml: neither the generated server nor the client
// touch `Authorization`. These two middlewares implement the spec's `bearerAuth` for both sides.

package import Foundation
import HTTPTypes
package import OpenAPIRuntime

/// The operations that openapi.yaml marks with `security: [bearerAuth: []]` (training, checkpoints, reference, weights).
package enum BearerAuth {
    package static let protectedOperationIDs: Set<String> = [
        Operations.TrainGRPO.id, Operations.TrainSFT.id, Operations.ListCheckpoints.id,
        Operations.SaveCheckpoint.id, Operations.LoadCheckpoint.id, Operations.ResetReference.id,
        Operations.GetWeights.id, Operations.SyncWeights.id, Operations.AverageWeights.id, Operations.DeleteCheckpoint.id, Operations.ExportModel.id,
    ]

    /// Compares in time independent of where the strings differ (length is not hidden).
    package static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        var diff: UInt8 = 0
        for i in x.indices { diff |= x[i] ^ y[i] }
        return diff == 0
    }
}

/// Server side: with a token configured, requests to protected operations without `Authorization: Bearer
/// <token>` fail with 401 `unauthorized` before their body is read. Without a token (nil) everything passes.
/// Put it after `JSONErrorMiddleware`, which renders the error.
package struct BearerAuthMiddleware: ServerMiddleware {
    package let token: String?

    package init(token: String?) { self.token = token }

    package func intercept(
        _ request: HTTPRequest,
        body: HTTPBody?,
        metadata: ServerRequestMetadata,
        operationID: String,
        next: @Sendable (HTTPRequest, HTTPBody?, ServerRequestMetadata) async throws -> (HTTPResponse, HTTPBody?)
    ) async throws -> (HTTPResponse, HTTPBody?) {
        if let token, BearerAuth.protectedOperationIDs.contains(operationID) {
            let header = request.headerFields[.authorization] ?? ""
            let prefix = "bearer "
            guard header.count > prefix.count, header.prefix(prefix.count).lowercased() == prefix,
                BearerAuth.constantTimeEqual(String(header.dropFirst(prefix.count)), token)
            else { throw APIError.unauthorized }
        }
        return try await next(request, body, metadata)
    }
}

/// Client side: adds `Authorization: Bearer <token>` to protected operations (all operations if `always`).
package struct BearerTokenMiddleware: ClientMiddleware {
    package let token: String
    package let always: Bool

    package init(token: String, always: Bool = false) {
        self.token = token
        self.always = always
    }

    package func intercept(
        _ request: HTTPRequest,
        body: HTTPBody?,
        baseURL: URL,
        operationID: String,
        next: @Sendable (HTTPRequest, HTTPBody?, URL) async throws -> (HTTPResponse, HTTPBody?)
    ) async throws -> (HTTPResponse, HTTPBody?) {
        var request = request
        if always || BearerAuth.protectedOperationIDs.contains(operationID) {
            request.headerFields[.authorization] = "Bearer \(token)"
        }
        return try await next(request, body, baseURL)
    }
}
