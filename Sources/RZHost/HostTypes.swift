import Foundation
import RZModel
import RZSampling
import RZTokenizer
import RZTraining

/// Which role a process plays; the API is the same for both.
public enum Role: String, Codable, Sendable, CaseIterable {
    case challenger
    case solver
}

/// A prompt as a client sends it: text, chat messages (formatted with the model's tokenizer), or ids.
public enum PromptInput: Sendable, Equatable {
    case text(String)
    case messages([ChatMessage])
    case tokenIds([Int32])
}

/// What the host refuses, with the HTTP-facing code it maps to. Everything here is the client's fault
/// (a 4xx); anything else escaping the host is a bug (a 5xx).
public enum HostError: Error, Equatable, CustomStringConvertible, Sendable {
    case invalidRequest(String)
    case notFound(String)
    case alreadyExists(String)
    case noReference(String)
    case unavailable(String)
    /// The request's step cannot fit the service's memory limit, however it is split.
    case insufficientMemory(String)
    /// The service's budget of generation tokens in flight is spent; nothing was started. Retry after the given seconds.
    case overloaded(String, retryAfterSeconds: Int)

    public var code: String {
        switch self {
        case .invalidRequest: return "invalid_request"
        case .notFound: return "not_found"
        case .alreadyExists: return "already_exists"
        case .noReference: return "no_reference"
        case .unavailable: return "shutting_down"
        case .insufficientMemory: return "insufficient_memory"
        case .overloaded: return "rate_limited"
        }
    }

    public var message: String {
        switch self {
        case .invalidRequest(let m), .notFound(let m), .alreadyExists(let m), .noReference(let m), .unavailable(let m),
            .insufficientMemory(let m), .overloaded(let m, _):
            return m
        }
    }

    public var description: String { "\(code): \(message)" }
}

/// Limits on one request, enforced before any compute (documented in openapi.yaml).
public struct HostLimits: Sendable, Equatable {
    public var maxPrompts = 256
    public var maxSamplesPerPrompt = 64
    public var maxNewTokens = 4096
    public var maxTrainSamples = 4096
    public var maxTokensPerSequence = 8192
    /// The memory a training step may plan for (`MemoryPlan`); nil: no limit, steps run as asked.
    public var memoryLimitBytes: Int?
    /// The tokens one generation request may ask for (prompts × n × max_tokens); more is refused as invalid.
    public var maxRequestTokens = 1 << 20
    /// The tokens all accepted, unfinished generation requests may ask for together; beyond it a request is refused as
    /// `overloaded` (429 with Retry-After), so a flood of requests cannot queue without bound.
    public var maxTokensInFlight = 4 << 20

    public init() {}
}

public struct GenerateRequest: Sendable {
    public var prompts: [PromptInput]
    public var parameters: SamplingParameters
    /// Do not add the tokenizer's end-of-turn / end-of-text ids to the stop tokens.
    public var ignoreEOS: Bool
    public init(prompts: [PromptInput], parameters: SamplingParameters, ignoreEOS: Bool = false) {
        self.prompts = prompts
        self.parameters = parameters
        self.ignoreEOS = ignoreEOS
    }
}

public struct GeneratedSample: Sendable, Equatable {
    public var text: String?
    public var generation: Generation
}

public struct GenerateResult: Sendable {
    public var modelVersion: Int
    public var promptTokenIds: [[Int32]]
    /// Per prompt, its samples.
    public var samples: [[GeneratedSample]]
    public var promptTokens: Int { promptTokenIds.reduce(0) { $0 + $1.count } }
    public var completionTokens: Int { samples.joined().reduce(0) { $0 + $1.generation.tokens.count } }
}

public enum ResponseInput: Sendable, Equatable {
    case tokenIds([Int32])
    case text(String)
}

public struct LogprobsItem: Sendable {
    public var prompt: PromptInput
    public var response: ResponseInput
    public init(prompt: PromptInput, response: ResponseInput) {
        self.prompt = prompt
        self.response = response
    }
}

public struct LogprobsResult: Sendable {
    public var modelVersion: Int
    public var items: [(promptTokenIds: [Int32], responseTokenIds: [Int32], logprobs: [Float])]
}

public struct TrainResult: Sendable {
    public var metrics: StepMetrics
    public var modelVersion: Int
}

public struct CheckpointInfo: Sendable, Equatable {
    public var name: String
    public var modelVersion: Int?
    public var step: Int?
    public var createdAt: Date?
    public var referenceVersion: Int?
    /// Bytes on disk, when listed.
    public var sizeBytes: Int?
}

/// A model folder written for other tools (`POST /v1/exports`).
public struct ExportInfo: Sendable, Equatable {
    public var name: String
    public var path: String
    public var dtype: String
    public var modelVersion: Int
    public var sizeBytes: Int
}

public struct ModelInfo: Sendable {
    public var role: Role
    public var config: DecoderConfig
    public var modelVersion: Int
    /// Drawn when the process starts, so clients can tell a restarted service from a running one.
    public var instanceId: String
    public var parameterCount: Int
    public var referenceVersion: Int?
    public var step: Int
    public var hasTokenizer: Bool
    /// The ids generation stops at by default (end of turn, end of text).
    public var eosTokenIds: [Int32]
    public var trainerSettings: TrainerSettings
    /// What memory goes to, by part, and the last step's plan.
    public var memory: MemoryPlan
    /// The adapters' settings and size when the service trains LoRA adapters.
    public var lora: (config: LoRAConfig, parameterCount: Int)? = nil
    /// What sampling's products and KV cache run in.
    public var samplingPrecision: SamplingPrecision = .float32
}

/// Which weights score a logprobs request.
public enum ScoringModel: String, Sendable {
    case policy
    case reference
}
