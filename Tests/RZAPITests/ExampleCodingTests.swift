import Foundation
import Testing
@testable import RZAPI

typealias S = Components.Schemas

/// Decodes an example into its generated type and encodes it back; returns what came out.
private func roundTrip<T: Codable & Sendable>(_: T.Type) -> @Sendable (JSONValue) throws -> JSONValue {
    { value in
        let decoded = try Coding.decoder.decode(T.self, from: value.data())
        return try Coding.decoder.decode(JSONValue.self, from: Coding.encoder.encode(decoded))
    }
}

/// A server-sent event's example (`{"data": ...}`): its data decodes into `T` (the example is returned unchanged, so the
/// round-trip comparison only confirms the check ran).
private func eventStream<T: Codable & Sendable>(_: T.Type) -> @Sendable (JSONValue) throws -> JSONValue {
    { value in
        guard let data = value["data"]?.stringValue else {
            throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "no data in the event example"))
        }
        _ = try Coding.decoder.decode(T.self, from: Data(data.utf8))
        return value
    }
}

/// The generated type of every example in openapi.yaml. An example without an entry fails the test, so a new
/// operation or response must be added here.
private let exampleTypes: [String: @Sendable (JSONValue) throws -> JSONValue] = {
    var m: [String: @Sendable (JSONValue) throws -> JSONValue] = [
        "POST /v1/generate request": roundTrip(S.GenerateRequest.self),
        "POST /v1/generate 200": roundTrip(S.GenerateResponse.self),
        "POST /v1/logprobs request": roundTrip(S.LogprobsRequest.self),
        "POST /v1/logprobs 200": roundTrip(S.LogprobsResponse.self),
        "POST /v1/train/grpo request": roundTrip(S.GRPORequest.self),
        "POST /v1/train/grpo 200": roundTrip(S.TrainResponse.self),
        "POST /v1/train/sft request": roundTrip(S.SFTRequest.self),
        "POST /v1/train/sft 200": roundTrip(S.TrainResponse.self),
        "GET /v1/checkpoints 200": roundTrip(S.CheckpointList.self),
        "POST /v1/checkpoints request": roundTrip(S.SaveCheckpointRequest.self),
        "POST /v1/checkpoints 201": roundTrip(S.CheckpointSaved.self),
        "POST /v1/checkpoints/{name}/load 200": roundTrip(S.CheckpointLoaded.self),
        "DELETE /v1/checkpoints/{name} 200": roundTrip(S.CheckpointDeleted.self),
        "POST /v1/exports request": roundTrip(S.ExportRequest.self),
        "POST /v1/exports 201": roundTrip(S.ExportResult.self),
        "POST /v1/reference/reset 200": roundTrip(S.ReferenceReset.self),
        "GET /v1/model 200": roundTrip(S.ModelInfo.self),
        "GET /healthz 200": roundTrip(S.HealthStatus.self),
        "GET /readyz 200": roundTrip(S.HealthStatus.self),
        "GET /metrics 200 text/plain": { $0 },
        "GET /v1/weights/{version} 200 application/octet-stream": { $0 },
        "GET /v1/models 200": roundTrip(S.ModelList.self),
        "POST /v1/completions request": roundTrip(S.CompletionRequest.self),
        "POST /v1/completions 200": roundTrip(S.CompletionResponse.self),
        "POST /v1/completions 200 text/event-stream": eventStream(S.CompletionChunk.self),
        "POST /v1/chat/completions request": roundTrip(S.ChatCompletionRequest.self),
        "POST /v1/chat/completions 200": roundTrip(S.ChatCompletionResponse.self),
        "POST /v1/chat/completions 200 text/event-stream": eventStream(S.ChatCompletionChunk.self),
        "POST /tokenize request": roundTrip(S.TokenizeRequest.self),
        "POST /tokenize 200": roundTrip(S.TokenizeResponse.self),
        "POST /detokenize request": roundTrip(S.DetokenizeRequest.self),
        "POST /detokenize 200": roundTrip(S.DetokenizeResponse.self),
        "POST /v1/weights/sync request": roundTrip(S.WeightsSyncRequest.self),
        "POST /v1/weights/sync 200": roundTrip(S.WeightsSynced.self),
        "POST /v1/weights/average request": roundTrip(S.WeightsAverageRequest.self),
        "POST /v1/weights/average 200": roundTrip(S.WeightsAveraged.self),
    ]
    for key in Spec.shared.examples.keys {
        let parts = key.split(separator: " ")
        if let status = Int(parts.last!), status >= 400 {
            m[key] = OpenAIRoutes.paths.contains(String(parts[1])) ? roundTrip(S.OpenAIErrorResponse.self) : roundTrip(S.ErrorResponse.self)
        }
    }
    return m
}()

@Suite("openapi.yaml examples")
struct ExampleCodingTests {
    @Test("Fixtures/openapi.json is the current openapi.yaml")
    func fixtureIsCurrent() throws {
        #expect(try Spec.fnv1a64(Spec.yamlURL) == Spec.shared.stamp,
                "openapi.yaml changed since Fixtures/openapi.json was written: run scripts/check_openapi.py --write-fixture")
    }

    @Test("every example decodes into its generated type and encodes back unchanged",
          arguments: Spec.shared.examples.keys.sorted())
    func exampleRoundTrips(_ key: String) throws {
        let example = Spec.shared.example(key)
        let convert = try #require(exampleTypes[key], "no generated type registered for the example \(key)")
        let back = try convert(example)
        #expect(back.matches(example), "\(key):\n  spec:    \(example)\n  encoded: \(back)")
    }

    @Test("every operation has a request example (if it takes a body) and an example for each response")
    func examplesCoverEveryOperation() {
        let examples = Spec.shared.examples
        var operations = 0
        for (path, item) in Spec.shared.root["paths"]!.objectValue! {
            for (method, op) in item.objectValue! {
                operations += 1
                let name = "\(method.uppercased()) \(path)"
                if op["requestBody"] != nil { #expect(examples["\(name) request"] != nil, "\(name): no request example") }
                for status in op["responses"]!.objectValue!.keys {
                    let key = "\(name) \(status)"
                    #expect(examples.keys.contains { $0 == key || $0.hasPrefix(key + " ") }, "\(key): no example")
                }
            }
        }
        #expect(operations == 22)
    }

    @Test("every error code in the spec has a status, and the documented 4xx/5xx examples agree with it")
    func errorCodesAndStatuses() throws {
        for (key, example) in Spec.shared.examples {
            let parts = key.split(separator: " ")
            guard let status = Int(parts.last!), status >= 400 else { continue }
            let code = OpenAIRoutes.paths.contains(String(parts[1]))
                ? try Coding.decoder.decode(S.OpenAIErrorResponse.self, from: example.data()).error.code
                : try Coding.decoder.decode(S.ErrorResponse.self, from: example.data()).error.code
            #expect(Int(code.status.code) == status, "\(key): code \(code.rawValue)")
        }
        #expect(S.ErrorCode.allCases.count == 17)
        #expect(S.ErrorCode.rateLimited.status.code == 429)
        #expect(S.ErrorCode.modelNotFound.status.code == 404)
        #expect(S.ErrorCode.insufficientMemory.status.code == 413)
        #expect(S.ErrorCode.upstreamFailed.status.code == 502)
        #expect(S.ErrorCode.invalidJson.status == .badRequest)
        #expect(S.ErrorCode.payloadTooLarge.status.code == 413)
        #expect(S.ErrorCode.busy.status.code == 503)
    }

    @Test("prompt variants decode to the matching case; mixed or unknown keys are rejected")
    func promptOneOf() throws {
        func decode(_ json: String) throws -> S.Prompt { try Coding.decoder.decode(S.Prompt.self, from: Data(json.utf8)) }
        #expect(try decode(#"{"text": "hi"}"#) == .text("hi"))
        #expect(try decode(#"{"token_ids": [1, 2]}"#) == .tokens([1, 2]))
        #expect(try decode(#"{"messages": [{"role": "user", "content": "hi"}]}"#) == .messages([.user("hi")]))
        #expect(throws: DecodingError.self) { try decode(#"{"text": "hi", "token_ids": [1]}"#) }
        #expect(throws: DecodingError.self) { try decode(#"{"txt": "hi"}"#) }
        #expect(throws: DecodingError.self) { try decode(#"{"messages": [{"role": "robot", "content": "hi"}]}"#) }
    }

    @Test("request objects reject unknown fields; response objects ignore them")
    func additionalProperties() throws {
        #expect(throws: DecodingError.self) {
            try Coding.decoder.decode(S.GenerateRequest.self, from: Data(#"{"prompts": [{"text": "x"}], "max_token": 5}"#.utf8))
        }
        let response = #"{"reference_version": 3, "added_later": true}"#
        #expect(try Coding.decoder.decode(S.ReferenceReset.self, from: Data(response.utf8)).referenceVersion == 3)
    }

    @Test("optional fields that are nil are omitted, not sent as null")
    func nilIsOmitted() throws {
        let metrics = S.StepMetrics(loss: nil, policyLoss: nil, kl: nil, clipFractionHigher: 0, clipFractionLower: 0,
                                    gradNorm: nil, meanReward: 0, meanAdvantage: 0, entropy: nil, tokens: 3, sequences: 2,
                                    learningRate: 0, skipped: true, step: 7)
        let json = String(decoding: try Coding.encoder.encode(metrics), as: UTF8.self)
        #expect(!json.contains("null") && !json.contains("grad_norm") && json.contains(#""skipped":true"#))
    }
}
