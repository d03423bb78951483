import Foundation
import HTTPTypes
import OpenAPIRuntime
import Testing
@testable import RZAPI

/// Records what the handlers received.
final class Recorder: @unchecked Sendable {
    private let lock = NSLock()
    private var inputs: [String: any Sendable] = [:]
    func record(_ operation: String, _ input: any Sendable) { lock.withLock { inputs[operation] = input } }
    func input<T>(_ operation: String, as _: T.Type) -> T? { lock.withLock { inputs[operation] as? T } }
}

struct SimulatedBug: Error {}

/// A handler that validates like the real server, then answers with the examples from openapi.yaml.
struct ExampleAPI: APIProtocol {
    let recorder = Recorder()
    let spec = Spec.shared

    func generate(_ input: Operations.Generate.Input) async throws -> Operations.Generate.Output {
        guard case .json(let body) = input.body else { throw APIError.invalidJSON("expected JSON") }
        try body.validate()
        if body.seed == 666 { throw SimulatedBug() }
        recorder.record("generate", body)
        return .ok(.init(body: .json(try spec.example("POST /v1/generate 200", as: S.GenerateResponse.self))))
    }

    func computeLogprobs(_ input: Operations.ComputeLogprobs.Input) async throws -> Operations.ComputeLogprobs.Output {
        guard case .json(let body) = input.body else { throw APIError.invalidJSON("expected JSON") }
        try body.validate()
        if body.model == .reference { throw APIError(.noReference, "no reference has been frozen") }
        recorder.record("computeLogprobs", body)
        return .ok(.init(body: .json(try spec.example("POST /v1/logprobs 200", as: S.LogprobsResponse.self))))
    }

    func trainGRPO(_ input: Operations.TrainGRPO.Input) async throws -> Operations.TrainGRPO.Output {
        guard case .json(let body) = input.body else { throw APIError.invalidJSON("expected JSON") }
        try body.validate()
        recorder.record("trainGRPO", body)
        return .ok(.init(body: .json(try spec.example("POST /v1/train/grpo 200", as: S.TrainResponse.self))))
    }

    func trainSFT(_ input: Operations.TrainSFT.Input) async throws -> Operations.TrainSFT.Output {
        guard case .json(let body) = input.body else { throw APIError.invalidJSON("expected JSON") }
        try body.validate()
        recorder.record("trainSFT", body)
        return .ok(.init(body: .json(try spec.example("POST /v1/train/sft 200", as: S.TrainResponse.self))))
    }

    func listCheckpoints(_ input: Operations.ListCheckpoints.Input) async throws -> Operations.ListCheckpoints.Output {
        .ok(.init(body: .json(try spec.example("GET /v1/checkpoints 200", as: S.CheckpointList.self))))
    }

    func saveCheckpoint(_ input: Operations.SaveCheckpoint.Input) async throws -> Operations.SaveCheckpoint.Output {
        guard case .json(let body) = input.body else { throw APIError.invalidJSON("expected JSON") }
        try body.validate()
        recorder.record("saveCheckpoint", body)
        return .created(.init(body: .json(try spec.example("POST /v1/checkpoints 201", as: S.CheckpointSaved.self))))
    }

    func loadCheckpoint(_ input: Operations.LoadCheckpoint.Input) async throws -> Operations.LoadCheckpoint.Output {
        try CheckpointName.validate(input.path.name)
        guard input.path.name == "solver-iter1" else { throw APIError.notFound("no checkpoint named '\(input.path.name)'") }
        return .ok(.init(body: .json(try spec.example("POST /v1/checkpoints/{name}/load 200", as: S.CheckpointLoaded.self))))
    }

    func deleteCheckpoint(_ input: Operations.DeleteCheckpoint.Input) async throws -> Operations.DeleteCheckpoint.Output {
        try CheckpointName.validate(input.path.name)
        guard input.path.name == "solver-iter1" else { throw APIError.notFound("no checkpoint named '\(input.path.name)'") }
        return .ok(.init(body: .json(try spec.example("DELETE /v1/checkpoints/{name} 200", as: S.CheckpointDeleted.self))))
    }

    func exportModel(_ input: Operations.ExportModel.Input) async throws -> Operations.ExportModel.Output {
        guard case .json(let body) = input.body else { throw APIError.invalidJSON("expected JSON") }
        try body.validate()
        recorder.record("exportModel", body)
        return .created(.init(body: .json(try spec.example("POST /v1/exports 201", as: S.ExportResult.self))))
    }

    func resetReference(_ input: Operations.ResetReference.Input) async throws -> Operations.ResetReference.Output {
        .ok(.init(body: .json(try spec.example("POST /v1/reference/reset 200", as: S.ReferenceReset.self))))
    }

    func getWeights(_ input: Operations.GetWeights.Input) async throws -> Operations.GetWeights.Output {
        guard input.path.version == 12 else { throw APIError.notFound("no weights at version \(input.path.version) (current: 12)") }
        return .ok(.init(headers: .init(xWeightsSha256: String(repeating: "0", count: 64), xModelVersion: 12), body: .binary(HTTPBody([1, 2, 3]))))
    }

    func syncWeights(_ input: Operations.SyncWeights.Input) async throws -> Operations.SyncWeights.Output {
        guard case .json(let body) = input.body else { throw APIError.invalidJSON("expected JSON") }
        recorder.record("syncWeights", body)
        return .ok(.init(body: .json(try spec.example("POST /v1/weights/sync 200", as: S.WeightsSynced.self))))
    }

    func averageWeights(_ input: Operations.AverageWeights.Input) async throws -> Operations.AverageWeights.Output {
        guard case .json(let body) = input.body else { throw APIError.invalidJSON("expected JSON") }
        try body.validate()
        return .ok(.init(body: .json(try spec.example("POST /v1/weights/average 200", as: S.WeightsAveraged.self))))
    }

    func getModel(_ input: Operations.GetModel.Input) async throws -> Operations.GetModel.Output {
        .ok(.init(body: .json(try spec.example("GET /v1/model 200", as: S.ModelInfo.self))))
    }

    func getHealth(_ input: Operations.GetHealth.Input) async throws -> Operations.GetHealth.Output {
        .ok(.init(body: .json(.init(status: .ok))))
    }

    func getReadiness(_ input: Operations.GetReadiness.Input) async throws -> Operations.GetReadiness.Output {
        .ok(.init(body: .json(.init(status: .ready))))
    }

    func listModels(_ input: Operations.ListModels.Input) async throws -> Operations.ListModels.Output {
        .ok(.init(body: .json(try spec.example("GET /v1/models 200", as: S.ModelList.self))))
    }

    func createCompletion(_ input: Operations.CreateCompletion.Input) async throws -> Operations.CreateCompletion.Output {
        guard case .json(let body) = input.body else { throw APIError.invalidJSON("expected JSON") }
        recorder.record("createCompletion", body)
        if body.stream == true {
            let event = spec.example("POST /v1/completions 200 text/event-stream")["data"]!.stringValue!
            return .ok(.init(body: .textEventStream(HTTPBody("data: \(event)\n\ndata: [DONE]\n\n"))))
        }
        return .ok(.init(body: .json(try spec.example("POST /v1/completions 200", as: S.CompletionResponse.self))))
    }

    func createChatCompletion(_ input: Operations.CreateChatCompletion.Input) async throws -> Operations.CreateChatCompletion.Output {
        guard case .json(let body) = input.body else { throw APIError.invalidJSON("expected JSON") }
        recorder.record("createChatCompletion", body)
        return .ok(.init(body: .json(try spec.example("POST /v1/chat/completions 200", as: S.ChatCompletionResponse.self))))
    }

    func tokenize(_ input: Operations.Tokenize.Input) async throws -> Operations.Tokenize.Output {
        .ok(.init(body: .json(try spec.example("POST /tokenize 200", as: S.TokenizeResponse.self))))
    }

    func detokenize(_ input: Operations.Detokenize.Input) async throws -> Operations.Detokenize.Output {
        .ok(.init(body: .json(try spec.example("POST /detokenize 200", as: S.DetokenizeResponse.self))))
    }

    func getMetrics(_ input: Operations.GetMetrics.Input) async throws -> Operations.GetMetrics.Output {
        .ok(.init(body: .plainText(HTTPBody(spec.example("GET /metrics 200 text/plain").stringValue!))))
    }
}

/// Client → in-memory transport → generated server → ExampleAPI, with the RZAPI middlewares.
struct Harness {
    let api = ExampleAPI()
    let transport = InMemoryTransport()
    let client: Client

    init(token: String? = nil, clientToken: String? = nil) throws {
        try api.registerHandlers(on: transport, middlewares: [JSONErrorMiddleware(), BearerAuthMiddleware(token: token)])
        client = Client(serverURL: URL(string: "http://127.0.0.1:8080")!, transport: transport,
                        middlewares: clientToken.map { [BearerTokenMiddleware(token: $0)] } ?? [])
    }
}

@Suite("generated client and server, through an in-memory transport")
struct ClientServerTests {
    let spec = Spec.shared

    @Test("the generated server registers every path of openapi.yaml")
    func routes() throws {
        let h = try Harness()
        var expected: [String] = []
        for (path, item) in spec.root["paths"]!.objectValue! {
            for method in item.objectValue!.keys { expected.append("\(method.uppercased()) \(path)") }
        }
        #expect(h.transport.registeredRoutes.sorted() == expected.sorted())
    }

    @Test("each operation carries its example request to the handler and its example response back")
    func examplesEndToEnd() async throws {
        let h = try Harness()
        let c = h.client

        let generate = try spec.example("POST /v1/generate request", as: S.GenerateRequest.self)
        #expect(try await c.generate(body: .json(generate)).ok.body.json == spec.example("POST /v1/generate 200", as: S.GenerateResponse.self))
        #expect(h.api.recorder.input("generate", as: S.GenerateRequest.self) == generate)

        let logprobs = try spec.example("POST /v1/logprobs request", as: S.LogprobsRequest.self)
        #expect(try await c.computeLogprobs(body: .json(logprobs)).ok.body.json == spec.example("POST /v1/logprobs 200", as: S.LogprobsResponse.self))
        #expect(h.api.recorder.input("computeLogprobs", as: S.LogprobsRequest.self) == logprobs)

        let grpo = try spec.example("POST /v1/train/grpo request", as: S.GRPORequest.self)
        #expect(try await c.trainGRPO(body: .json(grpo)).ok.body.json == spec.example("POST /v1/train/grpo 200", as: S.TrainResponse.self))
        #expect(h.api.recorder.input("trainGRPO", as: S.GRPORequest.self) == grpo)

        let sft = try spec.example("POST /v1/train/sft request", as: S.SFTRequest.self)
        #expect(try await c.trainSFT(body: .json(sft)).ok.body.json == spec.example("POST /v1/train/sft 200", as: S.TrainResponse.self))
        #expect(h.api.recorder.input("trainSFT", as: S.SFTRequest.self) == sft)

        let save = try spec.example("POST /v1/checkpoints request", as: S.SaveCheckpointRequest.self)
        #expect(try await c.saveCheckpoint(body: .json(save)).created.body.json == spec.example("POST /v1/checkpoints 201", as: S.CheckpointSaved.self))
        #expect(h.api.recorder.input("saveCheckpoint", as: S.SaveCheckpointRequest.self) == save)

        #expect(try await c.listCheckpoints().ok.body.json == spec.example("GET /v1/checkpoints 200", as: S.CheckpointList.self))
        #expect(try await c.loadCheckpoint(path: .init(name: "solver-iter1")).ok.body.json
            == spec.example("POST /v1/checkpoints/{name}/load 200", as: S.CheckpointLoaded.self))
        #expect(try await c.resetReference().ok.body.json == spec.example("POST /v1/reference/reset 200", as: S.ReferenceReset.self))
        #expect(try await c.getModel().ok.body.json == spec.example("GET /v1/model 200", as: S.ModelInfo.self))
        #expect(try await c.getHealth().ok.body.json.status == .ok)
        #expect(try await c.getReadiness().ok.body.json.status == .ready)
        let metrics = try await String(collecting: c.getMetrics().ok.body.plainText, upTo: 1 << 16)
        #expect(metrics.contains("rzero_generate_tokens_total"))
    }

    @Test("a validation error reaches the client as the documented 400 body")
    func validationErrorThroughClient() async throws {
        let h = try Harness()
        let request = S.GenerateRequest(prompts: [.text("1 + 1 =")], n: 100)
        let error = try await h.client.generate(body: .json(request)).badRequest.body.json.error
        #expect(error.code == .invalidRequest)
        #expect(error.message == "n must be in 1...64 (got 100)")
        let missing = try await h.client.loadCheckpoint(path: .init(name: "solver-iter9")).notFound.body.json.error
        #expect(missing.code == .notFound)
        let conflict = try await h.client.computeLogprobs(body: .json(.init(items: [.init(prompt: .text("a"), responseText: "b")], model: .reference)))
        #expect(try conflict.conflict.body.json.error.code == .noReference)
    }

    @Test("bad bodies get 400 invalid_json / 415 with the JSON error body, never a 500")
    func badBodies() async throws {
        let t = try Harness().transport
        let cases: [(body: String, contentType: String?, status: Int, code: String, mentions: String)] = [
            (#"{"prompts": ["#, "application/json", 400, "invalid_json", ""),
            ("not json", "application/json", 400, "invalid_json", ""),
            (#"{"prompts": "1 + 1"}"#, "application/json", 400, "invalid_json", "prompts"),
            (#"{"n": 2}"#, "application/json", 400, "invalid_json", "prompts"),
            (#"{"prompts": [{"text": "x"}], "max_token": 5}"#, "application/json", 400, "invalid_json", "max_token"),
            (#"{"prompts": [{"text": "x", "token_ids": [1]}]}"#, "application/json", 400, "invalid_json", "prompts[0]"),
            (#"{"prompts": [{"token_ids": [1.5]}]}"#, "application/json", 400, "invalid_json", #"prompts[0]: expected exactly one of {"text""#),
            (#"{"prompts": [{"token_ids": [99999999999]}]}"#, "application/json", 400, "invalid_json", "prompts[0]"),
            (#"{"prompts": [{"text": "x"}], "n": 2.5}"#, "application/json", 400, "invalid_json", "does not fit its field"),
            (#"{"prompts": []}"#, "application/json", 400, "invalid_request", "prompts"),
            (#"{"prompts": [{"text": ""}]}"#, "application/json", 400, "invalid_request", "prompts[0].text"),
            (#"{"prompts": [{"token_ids": [-1]}]}"#, "application/json", 400, "invalid_request", "prompts[0].token_ids[0]"),
            (#"{"prompts": [{"text": "x"}], "max_tokens": 0}"#, "application/json", 400, "invalid_request", "max_tokens"),
            (#"{"prompts": [{"text": "x"}], "top_p": 0}"#, "application/json", 400, "invalid_request", "top_p"),
            (#"{"prompts": [{"text": "x"}]}"#, "text/plain", 415, "unsupported_media_type", "application/json"),
            (#"{"prompts": [{"text": "x"}], "seed": 666}"#, "application/json", 500, "internal", ""),
        ]
        for c in cases {
            let r = try await t.raw(.post, "/v1/generate", contentType: c.contentType, body: c.body)
            #expect(r.status == c.status, "\(c.body): \(r.status) \(r.body)")
            #expect(r.headers[.contentType] == "application/json", "\(c.body)")
            let error = try Coding.decoder.decode(S.ErrorResponse.self, from: Data(r.body.utf8)).error
            #expect(error.code.rawValue == c.code, "\(c.body): \(r.body)")
            #expect(c.mentions.isEmpty || error.message.contains(c.mentions), "\(c.body): \(error.message)")
        }
        // No body at all.
        let empty = try await t.raw(.post, "/v1/generate", contentType: nil, body: nil)
        #expect(empty.status == 400 && empty.body.contains("invalid_json"), "\(empty)")
    }

    @Test("the error body is exactly {\"error\": {\"code\", \"message\"}}")
    func errorBodyBytes() {
        let e = APIError.invalidRequest("n must be in 1...64 (got 100)")
        #expect(String(decoding: e.jsonData(), as: UTF8.self)
            == #"{"error":{"code":"invalid_request","message":"n must be in 1...64 (got 100)"}}"#)
        #expect(e.status == .badRequest)
        #expect(APIError.unauthorized.httpHeaderFields[.wwwAuthenticate] == "Bearer")
    }

    @Test("with a token configured, protected operations need it; others never do")
    func bearerAuth() async throws {
        let noToken = try Harness(token: "s3cret")
        let denied = try await noToken.client.resetReference()
        #expect(try denied.unauthorized.body.json.error.code == .unauthorized)
        #expect(try denied.unauthorized.headers.wwwAuthenticate == "Bearer")
        #expect(try await noToken.client.getModel().ok.body.json.role == .solver)  // not protected
        let generate = S.GenerateRequest(prompts: [.text("x")])
        _ = try await noToken.client.generate(body: .json(generate)).ok

        let wrong = try Harness(token: "s3cret", clientToken: "s3creT")
        #expect(try await wrong.client.listCheckpoints().unauthorized.body.json.error.code == .unauthorized)
        let right = try Harness(token: "s3cret", clientToken: "s3cret")
        #expect(try await right.client.resetReference().ok.body.json.referenceVersion == 12)
        let open = try Harness(token: nil)
        #expect(try await open.client.resetReference().ok.body.json.referenceVersion == 12)

        // Auth is checked before the body: a bad body without a token is a 401, not a 400.
        let raw = try await noToken.transport.raw(.post, "/v1/train/grpo", body: "not json")
        #expect(raw.status == 401, "\(raw)")
    }

    @Test("BearerAuth.protectedOperationIDs is exactly the operations with security in openapi.yaml")
    func protectedOperationsMatchSpec() {
        var secured: Set<String> = []
        for (_, item) in spec.root["paths"]!.objectValue! {
            for (_, op) in item.objectValue! where op["security"] != nil { secured.insert(op["operationId"]!.stringValue!) }
        }
        #expect(secured == BearerAuth.protectedOperationIDs)
        #expect(spec.root["security"] == nil, "no global security: inference and service endpoints are open")
    }
}
