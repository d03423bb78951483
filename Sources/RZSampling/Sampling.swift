import Foundation
import RZTensor

/// How to pick the next token. Validated by `validate()`; defaults sample from the model as it is.
public struct SamplingParameters: Codable, Sendable, Equatable {
    /// 0 (or anything below 1e-5) means greedy (argmax, ties to the lowest id).
    public var temperature: Double = 1.0
    /// Nucleus sampling: keep the smallest set of most likely tokens whose probability reaches top-p.
    public var topP: Double = 1.0
    /// Keep only the k most likely tokens; 0 disables.
    public var topK: Int = 0
    public var maxTokens: Int = 256
    /// Samples per prompt.
    public var n: Int = 1
    public var stopTokens: [Int32] = []
    /// Generation of a sample ends once its decoded text contains one of these (needs a detokenizer).
    public var stopStrings: [String] = []
    public var seed: UInt64 = 0
    /// Also return each token's log-probability under the distribution it was sampled from.
    public var returnSamplingLogprobs: Bool = false
    /// Also return, per token, this many most likely tokens under the model (0: none).
    public var topLogprobs: Int = 0

    public init(temperature: Double = 1.0, topP: Double = 1.0, topK: Int = 0, maxTokens: Int = 256, n: Int = 1,
                stopTokens: [Int32] = [], stopStrings: [String] = [], seed: UInt64 = 0, returnSamplingLogprobs: Bool = false,
                topLogprobs: Int = 0) {
        self.temperature = temperature
        self.topP = topP
        self.topK = topK
        self.maxTokens = maxTokens
        self.n = n
        self.stopTokens = stopTokens
        self.stopStrings = stopStrings
        self.seed = seed
        self.returnSamplingLogprobs = returnSamplingLogprobs
        self.topLogprobs = topLogprobs
    }

    /// Temperatures below this sample greedily.
    public static let greedyBelowTemperature = 1e-5

    /// The most alternatives a token may come with (OpenAI's and vLLM's limit).
    public static let maxTopLogprobs = 20

    public func validate() throws {
        func check(_ ok: Bool, _ m: String) throws { if !ok { throw SamplingError.invalidParameter(m) } }
        try check(temperature.isFinite && temperature >= 0, "temperature must be ≥ 0 (got \(temperature))")
        try check(topP.isFinite && topP > 0 && topP <= 1, "top_p must be in (0, 1] (got \(topP))")
        try check(topK >= 0, "top_k must be ≥ 0 (got \(topK))")
        try check(maxTokens >= 1, "max_tokens must be ≥ 1 (got \(maxTokens))")
        try check(n >= 1, "n must be ≥ 1 (got \(n))")
        try check(stopStrings.allSatisfy { !$0.isEmpty }, "stop strings must not be empty")
        try check((0...Self.maxTopLogprobs).contains(topLogprobs), "top_logprobs must be in 0...\(Self.maxTopLogprobs) (got \(topLogprobs))")
    }

    /// The sampler these parameters describe (mlx-swift-lm's `GenerateParameters.sampler()` pattern).
    public func sampler() -> any LogitSampler {
        // Below 1e-5 (vLLM's threshold) sampling is greedy: 1/T of a denormal temperature overflows to inf, and the
        // scaled logits would turn to NaN.
        if temperature < Self.greedyBelowTemperature { return GreedySampler() }
        return TemperatureSampler(temperature: temperature, topK: topK, topP: topP)
    }
}

public enum SamplingError: Error, Equatable, CustomStringConvertible, Sendable {
    case invalidParameter(String)
    public var description: String {
        switch self {
        case .invalidParameter(let m): return "invalid sampling parameter: \(m)"
        }
    }
}

/// Picks a token from one row of logits; returns it with its log-probability under the distribution it
/// was drawn from (after temperature and truncation).
public protocol LogitSampler: Sendable {
    func sample(logits: UnsafePointer<Float>, vocabularySize V: Int, rng: inout SeededRandom) -> (token: Int32, logprob: Float)
    /// The same draw, plus the token's log-probability under the model (log softmax of the logits), when the
    /// sampler's own pass over the logits already gives it; nil when it does not.
    func sampleWithModelLogprob(logits: UnsafePointer<Float>, vocabularySize V: Int, rng: inout SeededRandom)
        -> (token: Int32, logprob: Float, modelLogprob: Float?)
}

extension LogitSampler {
    public func sampleWithModelLogprob(logits: UnsafePointer<Float>, vocabularySize V: Int, rng: inout SeededRandom)
        -> (token: Int32, logprob: Float, modelLogprob: Float?)
    {
        let (token, logprob) = sample(logits: logits, vocabularySize: V, rng: &rng)
        return (token, logprob, nil)
    }
}

/// Argmax; the lowest id wins ties. Its distribution is a point mass, so the log-probability is 0.
public struct GreedySampler: LogitSampler {
    public init() {}
    public func sample(logits: UnsafePointer<Float>, vocabularySize V: Int, rng: inout SeededRandom) -> (token: Int32, logprob: Float) {
        var best = 0
        for v in 1..<V where logits[v] > logits[best] { best = v }
        return (Int32(best), 0)
    }
}

/// Softmax(logits / T), then top-k, then top-p, renormalised — the order of transformers' logits warpers
/// (TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper). Top-p keeps a token when the mass of
/// the tokens ranked above it is < p, so the most likely token is always kept.
public struct TemperatureSampler: LogitSampler {
    public let temperature: Double
    public let topK: Int
    public let topP: Double

    public init(temperature: Double, topK: Int = 0, topP: Double = 1) {
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
    }

    public func sample(logits: UnsafePointer<Float>, vocabularySize V: Int, rng: inout SeededRandom) -> (token: Int32, logprob: Float) {
        let d = sampleWithModelLogprob(logits: logits, vocabularySize: V, rng: &rng)
        return (d.token, d.logprob)
    }

    /// At temperature 1 the draw's softmax is the model's, so its maximum and normaliser give the token's model
    /// log-probability, computed as `logSoftmaxAt` computes it (the same bits) without a second pass over V.
    public func sampleWithModelLogprob(logits: UnsafePointer<Float>, vocabularySize V: Int, rng: inout SeededRandom)
        -> (token: Int32, logprob: Float, modelLogprob: Float?)
    {
        let (token, logprob, maxv, z) = draw(logits: logits, vocabularySize: V, rng: &rng)
        let model: Float? = temperature == 1 ? Float(Double(logits[Int(token)]) - maxv - Foundation.log(z)) : nil
        return (token, logprob, model)
    }

    /// The draw, with the softmax's maximum and normaliser (of logits / T).
    private func draw(logits: UnsafePointer<Float>, vocabularySize V: Int, rng: inout SeededRandom)
        -> (token: Int32, logprob: Float, maxv: Double, z: Double)
    {
        let invT = 1 / temperature
        var maxv = -Double.infinity
        for v in 0..<V { maxv = max(maxv, Double(logits[v]) * invT) }
        var probs = [Double](repeating: 0, count: V)
        var z = 0.0
        for v in 0..<V {
            probs[v] = Foundation.exp(Double(logits[v]) * invT - maxv)
            z += probs[v]
        }
        let truncate = (topK > 0 && topK < V) || topP < 1
        if !truncate {
            // Plain categorical draw over the full distribution.
            var u = rng.nextUniformDouble() * z
            for v in 0..<V {
                u -= probs[v]
                if u < 0 { return (Int32(v), Float(Foundation.log(probs[v] / z)), maxv, z) }
            }
            let last = (0..<V).last(where: { probs[$0] > 0 }) ?? 0
            return (Int32(last), Float(Foundation.log(probs[last] / z)), maxv, z)
        }
        // Candidates in descending probability (ties: lower id first), cut by k, then by p. With top-k only the
        // k best are ranked (a bounded heap, one pass over V); they are the same k, in the same order, as the
        // first k of a full sort, so the draw is the same.
        func ranksBefore(_ a: Int, _ b: Int) -> Bool { probs[a] > probs[b] || (probs[a] == probs[b] && a < b) }
        var order: [Int]
        if topK > 0 && topK < V {
            order = Self.best(topK, of: V, ranksBefore: ranksBefore)
        } else {
            order = Self.ranked(probs)
        }
        var keep = topK > 0 ? min(topK, V) : V
        if topP < 1 {
            // transformers applies top-p to the top-k survivors, renormalised.
            let massK = order[0..<keep].reduce(0.0) { $0 + probs[$1] }
            var above = 0.0
            var kept = 0
            for j in 0..<keep {
                if j > 0 && above >= topP * massK { break }
                above += probs[order[j]]
                kept += 1
            }
            keep = kept
        }
        let mass = order[0..<keep].reduce(0.0) { $0 + probs[$1] }
        var u = rng.nextUniformDouble() * mass
        for j in 0..<keep {
            u -= probs[order[j]]
            if u < 0 { return (Int32(order[j]), Float(Foundation.log(probs[order[j]] / mass)), maxv, z) }
        }
        let last = order[keep - 1]
        return (Int32(last), Float(Foundation.log(probs[last] / mass)), maxv, z)
    }

    /// All indices of `probs` (non-negative) in rank order: descending probability, ties by lower index — the
    /// order a comparison sort with that rule gives, by a stable least-significant-digit radix sort on the
    /// probabilities' bits (non-negative doubles order as their bit patterns), 11 bits a pass. Starting from
    /// ascending indices, stability keeps ties in index order. About ten times faster than the comparison sort
    /// over a 151,936-token vocabulary.
    public static func ranked(_ probs: [Double]) -> [Int] {
        let n = probs.count
        guard n > 1 else { return Array(0..<n) }
        var order = Array(0..<n), next = [Int](repeating: 0, count: n)
        // Descending: sort ascending on the complemented bits.
        let keys = probs.map { ~$0.bitPattern }
        var counts = [Int](repeating: 0, count: 2049)
        var shift: UInt64 = 0
        while shift < 64 {
            for i in counts.indices { counts[i] = 0 }
            var same = true
            let first = (keys[order[0]] >> shift) & 0x7FF
            for i in order {
                let d = Int((keys[i] >> shift) & 0x7FF)
                counts[d + 1] += 1
                if UInt64(d) != first { same = false }
            }
            if !same {
                for d in 1..<counts.count { counts[d] += counts[d - 1] }
                for i in order {
                    let d = Int((keys[i] >> shift) & 0x7FF)
                    next[counts[d]] = i
                    counts[d] += 1
                }
                swap(&order, &next)
            }
            shift += 11
        }
        return order
    }

    /// The `k` of `0..<n` that rank first, in rank order: a heap of the best so far whose root is the worst of
    /// them, replaced whenever a candidate ranks before it.
    public static func best(_ k: Int, of n: Int, ranksBefore: (Int, Int) -> Bool) -> [Int] {
        var heap: [Int] = []
        heap.reserveCapacity(k)
        // `ranksBefore(heap[parent], heap[child])` never holds: each parent ranks after its children.
        func siftDown(_ start: Int) {
            var i = start
            while true {
                let l = 2 * i + 1, r = l + 1
                var worst = i
                if l < heap.count && ranksBefore(heap[worst], heap[l]) { worst = l }
                if r < heap.count && ranksBefore(heap[worst], heap[r]) { worst = r }
                if worst == i { return }
                heap.swapAt(i, worst)
                i = worst
            }
        }
        for v in 0..<n {
            if heap.count < k {
                heap.append(v)
                var i = heap.count - 1
                while i > 0 && ranksBefore(heap[(i - 1) / 2], heap[i]) {
                    heap.swapAt(i, (i - 1) / 2)
                    i = (i - 1) / 2
                }
            } else if ranksBefore(v, heap[0]) {
                heap[0] = v
                siftDown(0)
            }
        }
        return heap.sorted(by: ranksBefore)
    }
}
