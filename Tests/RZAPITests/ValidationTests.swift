import Foundation
import Testing
@testable import RZAPI

@Suite("request validation (the bounds openapi.yaml states)")
struct ValidationTests {
    let spec = Spec.shared

    private func message(_ body: () throws(APIError) -> Void) -> String? {
        do { try body(); return nil } catch { return error.code == .invalidRequest ? error.message : "wrong code \(error.code)" }
    }

    @Test("the spec's request examples are valid")
    func examplesAreValid() throws {
        try spec.example("POST /v1/generate request", as: S.GenerateRequest.self).validate()
        try spec.example("POST /v1/logprobs request", as: S.LogprobsRequest.self).validate()
        try spec.example("POST /v1/train/grpo request", as: S.GRPORequest.self).validate()
        try spec.example("POST /v1/train/sft request", as: S.SFTRequest.self).validate()
        try spec.example("POST /v1/checkpoints request", as: S.SaveCheckpointRequest.self).validate()
        try spec.example("GET /v1/model 200", as: S.ModelInfo.self).trainerSettings.validate()
    }

    @Test("generate limits: prompts 1...256, n 1...64, prompts × n ≤ 1024, max_tokens 1...4096, stops")
    func generateLimits() {
        func g(_ r: S.GenerateRequest) -> String? { message { () throws(APIError) in try r.validate() } }
        let one: [S.Prompt] = [.text("x")]
        #expect(g(.init(prompts: one, n: 64, maxTokens: 4096)) == nil)
        #expect(g(.init(prompts: Array(repeating: .text("x"), count: 256))) == nil)
        #expect(g(.init(prompts: Array(repeating: .text("x"), count: 257)))?.contains("prompts") == true)
        #expect(g(.init(prompts: [])) != nil)
        #expect(g(.init(prompts: one, n: 0)) == "n must be in 1...64 (got 0)")
        #expect(g(.init(prompts: one, n: 65)) != nil)
        #expect(g(.init(prompts: Array(repeating: .text("x"), count: 17), n: 64))?.contains("1024") == true)
        #expect(g(.init(prompts: one, maxTokens: 4097)) == "max_tokens must be in 1...4096 (got 4097)")
        #expect(g(.init(prompts: one, temperature: -0.1)) != nil)
        #expect(g(.init(prompts: one, temperature: 0)) == nil)
        #expect(g(.init(prompts: one, topP: 1.0)) == nil)
        #expect(g(.init(prompts: one, topP: 1.01)) != nil)
        #expect(g(.init(prompts: one, topK: -1)) != nil)
        #expect(g(.init(prompts: one, stop: [""])) != nil)
        #expect(g(.init(prompts: one, stop: Array(repeating: "a", count: 17))) != nil)
        #expect(g(.init(prompts: one, stopTokenIds: Array(repeating: 1, count: 65))) != nil)
        #expect(g(.init(prompts: one, seed: -1)) != nil)
        #expect(g(.init(prompts: [.messages([])])) != nil)
        #expect(g(.init(prompts: [.tokens([])])) == "prompts[0].token_ids must not be empty")
    }

    @Test("logprobs items need exactly one response form")
    func logprobsItems() {
        func l(_ items: [S.LogprobsItem]) -> String? { message { () throws(APIError) in try S.LogprobsRequest(items: items).validate() } }
        #expect(l([.init(prompt: .text("a"), responseTokenIds: [1])]) == nil)
        #expect(l([.init(prompt: .text("a"), responseText: "b")]) == nil)
        #expect(l([.init(prompt: .text("a"))])?.contains("exactly one") == true)
        #expect(l([.init(prompt: .text("a"), responseTokenIds: [1], responseText: "b")])?.contains("exactly one") == true)
        #expect(l([.init(prompt: .text("a"), responseTokenIds: [])]) != nil)
        #expect(l([]) != nil)
    }

    @Test("GRPO batches: whole groups, matching lengths, log-probabilities ≤ 0, settings in range")
    func grpoBatches() {
        func sample(_ group: Int, old: [Float]? = nil, ref: [Float]? = nil) -> S.GRPOSample {
            .init(promptTokenIds: [1, 2], responseTokenIds: [3, 4], oldLogprobs: old, refLogprobs: ref, reward: 1, group: group)
        }
        func v(_ samples: [S.GRPOSample], _ settings: S.TrainingSettings? = nil) -> String? {
            message { () throws(APIError) in try S.GRPORequest(samples: samples, settings: settings).validate() }
        }
        #expect(v([sample(0), sample(0), sample(7), sample(7)]) == nil)
        #expect(v([sample(0), sample(0), sample(7)]) == "group 7 has a single sample; GRPO needs at least 2 per group")
        #expect(v([sample(0, old: [-1]), sample(0)]) == "samples[0].old_logprobs has 1 values for 2 response tokens")
        #expect(v([sample(0), sample(0, ref: [-1, 0.5])])?.contains("samples[1].ref_logprobs[1]") == true)
        #expect(v([sample(0, old: [0, -3]), sample(0, ref: [-1, -2])]) == nil)
        #expect(v([sample(0), sample(0)], .init(klPenalty: .disabled, aggregation: .seqMeanTokenMean)) == nil)
        #expect(v([sample(0), sample(0)], .init(clipRatioLow: 1)) != nil)
        #expect(v([sample(0), sample(0)], .init(clipRatioDual: 1)) != nil)
        #expect(v([sample(0), sample(0)], .init(learningRate: -1)) != nil)
        #expect(v([sample(0), sample(0)], .init(lrSchedule: .init(kind: .cosine))) != nil)
        #expect(v([sample(0), sample(0)], .init(lrSchedule: .init(kind: .cosine, warmupSteps: 2, totalSteps: 10, minRatio: 0.1))) == nil)
        let sft = S.SFTRequest(samples: [.init(promptTokenIds: [1], targetTokenIds: [])])
        #expect(message { () throws(APIError) in try sft.validate() } == "samples[0].target_token_ids must not be empty")
    }

    @Test("checkpoint names cannot leave the checkpoint directory",
          arguments: [
            ("solver-iter1", true), ("a", true), ("0.9_x-y", true), (String(repeating: "a", count: 128), true),
            ("", false), (".", false), ("..", false), (".hidden", false), ("-x", false), ("_x", false), ("a/b", false),
            ("../etc", false), ("a\\b", false), ("a b", false), ("a\u{0}", false), ("é", false), ("a\n", false),
            (String(repeating: "a", count: 129), false), ("%2e%2e", false),
          ])
    func checkpointNames(_ name: String, _ valid: Bool) {
        #expect(CheckpointName.isValid(name) == valid, "\(name.debugDescription)")
        // The same rule as the spec's pattern.
        let regex = try! NSRegularExpression(pattern: "^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
        let ns = name as NSString
        let full = regex.firstMatch(in: name, range: NSRange(location: 0, length: ns.length))?.range == NSRange(location: 0, length: ns.length)
        #expect(full == valid, "pattern disagrees on \(name.debugDescription)")
    }

    @Test("the pattern in openapi.yaml is the one CheckpointName implements")
    func patternInSpec() {
        let schema = spec.root["components"]!["schemas"]!["CheckpointName"]!
        #expect(schema["pattern"]?.stringValue == "^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
    }

    @Test("APILimits agree with the bounds in openapi.yaml")
    func limitsMatchSpec() {
        let schemas = spec.root["components"]!["schemas"]!
        func num(_ v: JSONValue?) -> Int? { if case .number(let d)? = v { Int(d) } else { nil } }
        let gen = schemas["GenerateRequest"]!["properties"]!
        #expect(num(gen["prompts"]!["minItems"]) == APILimits.prompts.lowerBound)
        #expect(num(gen["prompts"]!["maxItems"]) == APILimits.prompts.upperBound)
        #expect(num(gen["n"]!["minimum"]) == APILimits.samplesPerPrompt.lowerBound)
        #expect(num(gen["n"]!["maximum"]) == APILimits.samplesPerPrompt.upperBound)
        #expect(num(gen["max_tokens"]!["minimum"]) == APILimits.maxTokens.lowerBound)
        #expect(num(gen["max_tokens"]!["maximum"]) == APILimits.maxTokens.upperBound)
        #expect(num(gen["max_tokens"]!["default"]) == APIDefaults.maxTokens)
        #expect(num(gen["top_k"]!["maximum"]) == APILimits.topK.upperBound)
        #expect(num(gen["stop"]!["maxItems"]) == APILimits.maxStopStrings)
        #expect(num(gen["stop_token_ids"]!["maxItems"]) == APILimits.maxStopTokenIds)
        #expect(num(schemas["ChatPrompt"]!["properties"]!["messages"]!["maxItems"]) == APILimits.messages.upperBound)
        #expect(num(schemas["LogprobsRequest"]!["properties"]!["items"]!["maxItems"]) == APILimits.logprobsItems.upperBound)
        #expect(num(schemas["GRPORequest"]!["properties"]!["samples"]!["maxItems"]) == APILimits.trainSamples.upperBound)
        #expect(num(schemas["SFTRequest"]!["properties"]!["samples"]!["maxItems"]) == APILimits.trainSamples.upperBound)
        #expect(num(schemas["CheckpointName"]!["maxLength"]) == APILimits.checkpointNameLength.upperBound)
        let description = spec.root["info"]!["description"]!.stringValue!
        #expect(description.contains("at most \(APILimits.maxSamplesPerRequest) samples (prompts × n)"))
        #expect(description.contains("default \(APILimits.defaultMaxBodyBytes >> 20) MiB"))
    }
}
