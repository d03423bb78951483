// Checks of what openapi.yaml states about request values and the generated types cannot express:
// ranges, counts, exactly-one rules, matching lengths, groups, checkpoint names. Each failure is a 400
// `invalid_request` naming the offending field by its JSON path. Checks that need the model (token id
// < vocab_size, prompt + response within the context) are the server's.

private func check(_ ok: Bool, _ message: @autoclosure () -> String) throws(APIError) {
    if !ok { throw .invalidRequest(message()) }
}

private func checkRange<T: Comparable>(_ value: T?, _ range: ClosedRange<T>, _ field: String) throws(APIError) {
    guard let value else { return }
    try check(range.contains(value), "\(field) must be in \(range.lowerBound)...\(range.upperBound) (got \(value))")
}

private func checkFinite(_ value: Double?, _ field: String, _ ok: (Double) -> Bool, _ rule: String) throws(APIError) {
    guard let value else { return }
    try check(value.isFinite && ok(value), "\(field) must be \(rule) (got \(value))")
}

private func checkTokenIds(_ ids: [Int32], _ field: String, nonEmpty: Bool = true) throws(APIError) {
    try check(!nonEmpty || !ids.isEmpty, "\(field) must not be empty")
    if let i = ids.firstIndex(where: { $0 < 0 }) {
        throw .invalidRequest("\(field)[\(i)] must be a token id ≥ 0 (got \(ids[i]))")
    }
}

extension Components.Schemas.Prompt {
    package func validate(_ field: String) throws(APIError) {
        switch self {
        case .TextPrompt(let p):
            try check(!p.text.isEmpty, "\(field).text must not be empty")
        case .ChatPrompt(let p):
            try check(APILimits.messages.contains(p.messages.count),
                      "\(field).messages must have \(APILimits.messages.lowerBound)...\(APILimits.messages.upperBound) messages (got \(p.messages.count))")
        case .TokenPrompt(let p):
            try checkTokenIds(p.tokenIds, "\(field).token_ids")
        }
    }
}

extension Components.Schemas.GenerateRequest {
    package func validate() throws(APIError) {
        try checkRange(prompts.count, APILimits.prompts, "the number of prompts")
        for (i, p) in prompts.enumerated() { try p.validate("prompts[\(i)]") }
        try checkRange(n, APILimits.samplesPerPrompt, "n")
        let samples = prompts.count * (n ?? APIDefaults.n)
        try check(samples <= APILimits.maxSamplesPerRequest,
                  "prompts × n must be at most \(APILimits.maxSamplesPerRequest) (got \(samples))")
        try checkFinite(temperature, "temperature", APILimits.temperature.contains, "in 0...100")
        try checkFinite(topP, "top_p", { $0 > 0 && $0 <= 1 }, "in (0, 1]")
        try checkRange(topK, APILimits.topK, "top_k")
        try checkRange(maxTokens, APILimits.maxTokens, "max_tokens")
        if let stop {
            try check(stop.count <= APILimits.maxStopStrings, "stop must have at most \(APILimits.maxStopStrings) strings (got \(stop.count))")
            try check(!stop.contains(""), "stop strings must not be empty")
        }
        if let stopTokenIds {
            try check(stopTokenIds.count <= APILimits.maxStopTokenIds,
                      "stop_token_ids must have at most \(APILimits.maxStopTokenIds) ids (got \(stopTokenIds.count))")
            try checkTokenIds(stopTokenIds, "stop_token_ids", nonEmpty: false)
        }
        try check((seed ?? 0) >= 0, "seed must be ≥ 0 (got \(seed ?? 0))")
    }
}

extension Components.Schemas.LogprobsRequest {
    package func validate() throws(APIError) {
        try checkRange(items.count, APILimits.logprobsItems, "the number of items")
        for (i, item) in items.enumerated() {
            try item.prompt.validate("items[\(i)].prompt")
            switch (item.responseTokenIds, item.responseText) {
            case (let ids?, nil): try checkTokenIds(ids, "items[\(i)].response_token_ids")
            case (nil, let text?): try check(!text.isEmpty, "items[\(i)].response_text must not be empty")
            default: throw .invalidRequest("items[\(i)] needs exactly one of response_token_ids and response_text")
            }
        }
    }
}

extension Components.Schemas.GRPORequest {
    package func validate() throws(APIError) {
        try checkRange(samples.count, APILimits.trainSamples, "the number of samples")
        var groupSizes: [Int: Int] = [:]
        for (i, s) in samples.enumerated() {
            let field = "samples[\(i)]"
            try checkTokenIds(s.promptTokenIds, "\(field).prompt_token_ids")
            try checkTokenIds(s.responseTokenIds, "\(field).response_token_ids")
            for (name, values) in [("old_logprobs", s.oldLogprobs), ("ref_logprobs", s.refLogprobs)] {
                guard let values else { continue }
                try check(values.count == s.responseTokenIds.count,
                          "\(field).\(name) has \(values.count) values for \(s.responseTokenIds.count) response tokens")
                if let j = values.firstIndex(where: { !$0.isFinite || $0 > 0 }) {
                    throw .invalidRequest("\(field).\(name)[\(j)] must be a finite log-probability ≤ 0 (got \(values[j]))")
                }
            }
            try check(s.reward.isFinite, "\(field).reward must be finite")
            groupSizes[s.group, default: 0] += 1
        }
        if let (group, _) = groupSizes.filter({ $0.value < 2 }).min(by: { $0.key < $1.key }) {
            throw .invalidRequest("group \(group) has a single sample; GRPO needs at least 2 per group")
        }
        try settings?.validate()
    }
}

extension Components.Schemas.SFTRequest {
    package func validate() throws(APIError) {
        try checkRange(samples.count, APILimits.trainSamples, "the number of samples")
        for (i, s) in samples.enumerated() {
            try checkTokenIds(s.promptTokenIds, "samples[\(i)].prompt_token_ids")
            try checkTokenIds(s.targetTokenIds, "samples[\(i)].target_token_ids")
        }
        try settings?.validate()
    }
}

extension Components.Schemas.TrainingSettings {
    package func validate() throws(APIError) {
        try checkFinite(clipRatioLow, "settings.clip_ratio_low", { $0 >= 0 && $0 < 1 }, "in [0, 1)")
        try checkFinite(clipRatioHigh, "settings.clip_ratio_high", { $0 >= 0 && $0 <= 10 }, "in [0, 10]")
        try checkFinite(clipRatioDual, "settings.clip_ratio_dual", { $0 > 1 && $0 <= 100 }, "in (1, 100]")
        try checkFinite(klCoef, "settings.kl_coef", { $0 >= 0 && $0 <= 100 }, "in [0, 100]")
        try checkFinite(advantageEpsilon, "settings.advantage_epsilon", { $0 > 0 && $0 <= 1 }, "in (0, 1]")
        try checkFinite(learningRate, "settings.learning_rate", { $0 >= 0 && $0 <= 1 }, "in [0, 1]")
        try checkFinite(beta1, "settings.beta1", { $0 >= 0 && $0 < 1 }, "in [0, 1)")
        try checkFinite(beta2, "settings.beta2", { $0 >= 0 && $0 < 1 }, "in [0, 1)")
        try checkFinite(adamEpsilon, "settings.adam_epsilon", { $0 > 0 && $0 <= 1 }, "in (0, 1]")
        try checkFinite(weightDecay, "settings.weight_decay", { $0 >= 0 && $0 <= 10 }, "in [0, 10]")
        try checkFinite(maxGradNorm, "settings.max_grad_norm", { $0 > 0 }, "> 0")
        try checkRange(microBatchTokens, 1...1_048_576, "settings.micro_batch_tokens")
        if let s = lrSchedule {
            try check((s.warmupSteps ?? 0) >= 0, "settings.lr_schedule.warmup_steps must be ≥ 0")
            try check((s.totalSteps ?? 1) >= 1, "settings.lr_schedule.total_steps must be ≥ 1")
            try checkFinite(s.minRatio, "settings.lr_schedule.min_ratio", { $0 >= 0 && $0 <= 1 }, "in [0, 1]")
            try check(s.kind != .cosine || s.totalSteps != nil, "settings.lr_schedule.total_steps is required for cosine")
        }
    }
}

extension Components.Schemas.SaveCheckpointRequest {
    package func validate() throws(APIError) { try CheckpointName.validate(name) }
}

extension Components.Schemas.ExportRequest {
    package func validate() throws(APIError) { try CheckpointName.validate(name) }
}

extension Components.Schemas.WeightsAverageRequest {
    package func validate() throws(APIError) {
        try check((1...8).contains(checkpoints.count), "checkpoints must hold 1...8 names (got \(checkpoints.count))")
        try check(weights.count == checkpoints.count, "weights must have one entry per checkpoint (\(weights.count) for \(checkpoints.count))")
        for name in checkpoints { try CheckpointName.validate(name) }
        try check(weights.allSatisfy { $0.isFinite && $0 >= 0 && $0 <= 1 }, "weights must each be in 0...1")
        let total = weights.reduce(0, +)
        try check(abs(total - 1) <= 1e-6, "weights must sum to 1 (got \(total))")
    }
}

/// Checkpoint names: `^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`. A valid name is one path component that is not
/// `.`/`..`, not hidden and has no separator, so `<checkpoint dir>/<name>` stays inside the directory.
package enum CheckpointName {
    package static func isValid(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard APILimits.checkpointNameLength.contains(bytes.count) else { return false }
        func alnum(_ b: UInt8) -> Bool { (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) }
        return alnum(bytes[0]) && bytes.dropFirst().allSatisfy { alnum($0) || $0 == 0x2E || $0 == 0x5F || $0 == 0x2D }
    }

    package static func validate(_ name: String) throws(APIError) {
        try check(isValid(name), "checkpoint name must match ^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$ (got \(name.debugDescription))")
    }
}
