/// The limits and defaults openapi.yaml documents (schema bounds and descriptions). The generated code does
/// not check schema bounds (minimum, maxItems, pattern, ...); `validate()` in Validation.swift does, with
/// these numbers. Change a number here and in openapi.yaml together.
package enum APILimits {
    /// `/v1/generate`: prompts per request.
    package static let prompts = 1...256
    /// `/v1/generate`: samples per prompt (`n`).
    package static let samplesPerPrompt = 1...64
    /// `/v1/generate`: prompts × n.
    package static let maxSamplesPerRequest = 1024
    /// `/v1/generate`: `max_tokens`.
    package static let maxTokens = 1...4096
    package static let temperature = 0.0...100.0
    package static let topK = 0...1_000_000
    package static let maxStopStrings = 16
    package static let maxStopTokenIds = 64
    /// Chat messages per prompt.
    package static let messages = 1...64
    /// `/v1/logprobs`: items per request.
    package static let logprobsItems = 1...256
    /// `/v1/train/grpo` and `/v1/train/sft`: samples per request.
    package static let trainSamples = 1...1024
    /// Checkpoint names: `^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`.
    package static let checkpointNameLength = 1...128
    /// The server's default request body limit (a server setting; reported as `max_body_bytes`).
    package static let defaultMaxBodyBytes = 16 << 20
}

/// Values the server uses for omitted request fields (the `default`s in openapi.yaml).
package enum APIDefaults {
    package static let n = 1
    package static let temperature = 1.0
    package static let topP = 1.0
    package static let topK = 0
    package static let maxTokens = 256
    package static let ignoreEOS = false
    package static let returnSamplingLogprobs = false
    package static let scoringModel = Components.Schemas.ScoringModel.policy
    package static let overwrite = false
}
