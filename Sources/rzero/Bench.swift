import ArgumentParser
import Foundation
import RZModel
import RZTensor
import RZSampling
import RZTokenizer
import RZTraining

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Benchmarks: sgemm peak and training-step throughput (forward + backward).",
        subcommands: [SGEMMPeak.self, TrainStep.self, GRPOStepBench.self, GenerateBench.self, DecodeProfileBench.self, PrecisionBench.self, RewardsBench.self])
}

/// The two model sizes the engine is benchmarked on (issue 2).
enum BenchModel: String, ExpressibleByArgument, CaseIterable {
    case tiny, small

    var config: DecoderConfig {
        switch self {
        case .tiny:
            return DecoderConfig(vocabSize: 512, hiddenSize: 256, intermediateSize: 768, numLayers: 4, numHeads: 4,
                               numKVHeads: 2, headDim: 64, tieWordEmbeddings: true)
        case .small:
            return DecoderConfig(vocabSize: 2048, hiddenSize: 512, intermediateSize: 1536, numLayers: 8, numHeads: 8,
                               numKVHeads: 4, headDim: 64, tieWordEmbeddings: true)
        }
    }
}

/// FLOPs of one forward + backward over `batch` sequences of `length` tokens, counting what is computed:
/// 6 · tokens · (matmul parameters incl. LM head) plus full (unmasked) attention score and value
/// products, 4 · NH · HD · len² per sequence and layer forward, twice that backward.
func trainingStepFLOPs(_ c: DecoderConfig, batch: Int, length: Int) -> Double {
    let C = Double(c.hiddenSize), F = Double(c.intermediateSize), V = Double(c.vocabSize)
    let QD = Double(c.numHeads * c.headDim), KD = Double(c.numKVHeads * c.headDim)
    let perLayer = C * QD * 2 + C * KD * 2 + 3 * C * F
    let matmulParams = Double(c.numLayers) * perLayer + V * C
    let tokens = Double(batch * length)
    let attention = 12 * Double(c.numLayers) * QD * Double(batch) * Double(length * length)
    return 6 * tokens * matmulParams + attention
}

struct SGEMMPeak: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sgemm", abstract: "Measure OpenBLAS sgemm GFLOP/s on training-like shapes; prints JSON.")
    @OptionGroup var compute: ComputeOptions
    @Option(help: "Repetitions per shape.") var repeats = 20

    func run() throws {
        compute.apply()
        // Shapes of the benchmark models' training GEMMs (M = 16 × 128 tokens) plus a square one.
        let shapes = [(2048, 768, 256), (2048, 1536, 512), (1024, 1024, 1024)]
        var best: [String: Double] = [:]
        for (M, N, K) in shapes {
            let a = FloatBuffer(count: M * K), b = FloatBuffer(count: K * N), c = FloatBuffer(count: M * N)
            for i in 0..<a.count { a[i] = Float(i % 7) * 0.01 }
            for i in 0..<b.count { b[i] = Float(i % 5) * 0.01 }
            var top = 0.0
            for _ in 0..<repeats {
                let t0 = DispatchTime.now().uptimeNanoseconds
                gemm(.none, .none, M: M, N: N, K: K, A: a.base, lda: K, B: b.base, ldb: N, C: c.base, ldc: N)
                let dt = Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
                top = max(top, 2 * Double(M * N * K) / dt / 1e9)
            }
            best["\(M)x\(N)x\(K)"] = top
        }
        struct Out: Encodable { let gflops: Double; let shapes: [String: Double]; let threads: Int }
        try printJSON(Out(gflops: best.values.max() ?? 0, shapes: best, threads: Parallelism.workers))
    }
}

struct TrainStep: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train", abstract: "Time forward + backward on a random model; prints JSON.")
    @OptionGroup var compute: ComputeOptions
    @Option(help: "Model size: tiny or small.") var model: BenchModel = .tiny
    @Option(help: "Sequences per batch.") var batch = 16
    @Option(help: "Tokens per sequence.") var length = 128
    @Option(help: "Timed steps.") var steps = 5
    @Option(help: "Untimed warm-up steps.") var warmup = 1

    func run() throws {
        compute.apply()
        let config = model.config
        let m = try DecoderModel(config: config)
        m.initializeRandom(seed: 1)
        var rng = SeededRandom(seed: 2)
        let seqs = (0..<batch).map { _ in (0..<length).map { _ in Int32(rng.next() % UInt64(config.vocabSize)) } }
        let weights = seqs.map { [Float](repeating: 1, count: $0.count - 1) }
        var seconds: [Double] = []
        for i in 0..<(warmup + steps) {
            let t0 = DispatchTime.now().uptimeNanoseconds
            _ = try m.forward(seqs)
            try m.backward(weights: weights)
            let dt = Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
            if i >= warmup { seconds.append(dt) }
        }
        let flops = trainingStepFLOPs(config, batch: batch, length: length)
        let median = seconds.sorted()[seconds.count / 2]
        struct Out: Encodable {
            let model: String; let tokens_per_step: Int; let step_seconds: [Double]; let median_tokens_per_s: Double
            let flops_per_step: Double; let median_gflops: Double; let parameters: Int; let threads: Int
        }
        try printJSON(Out(
            model: model.rawValue, tokens_per_step: batch * length, step_seconds: seconds,
            median_tokens_per_s: Double(batch * length) / median, flops_per_step: flops, median_gflops: flops / median / 1e9,
            parameters: m.parameterCount, threads: Parallelism.workers))
    }
}

struct GRPOStepBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "grpo",
        abstract: "Time full GRPO optimizer steps (reference forward, policy forward + backward, clipping, AdamW); prints JSON.")
    @OptionGroup var compute: ComputeOptions
    @Option(help: "Model size: tiny or small.") var model: BenchModel = .tiny
    @Option(help: "Sequences per step (groups of 4).") var batch = 16
    @Option(help: "Prompt tokens per sequence.") var promptLength = 32
    @Option(help: "Response tokens per sequence.") var responseLength = 96
    @Option(help: "Timed steps.") var steps = 3

    func run() throws {
        compute.apply()
        let m = try DecoderModel(config: model.config)
        m.initializeRandom(seed: 1)
        let trainer = PolicyTrainer(model: m)
        try trainer.resetReference()
        var rng = SeededRandom(seed: 3)
        let V = UInt64(model.config.vocabSize)
        let samples = (0..<batch).map { i in
            GRPOSample(prompt: (0..<promptLength).map { _ in Int32(rng.next() % V) },
                       response: (0..<responseLength).map { _ in Int32(rng.next() % V) },
                       reward: Double(rng.next() % 2), group: i / 4)
        }
        _ = try trainer.grpoStep(samples)  // warm-up (allocates activations)
        var seconds: [Double] = []
        for _ in 0..<steps {
            let t0 = DispatchTime.now().uptimeNanoseconds
            _ = try trainer.grpoStep(samples)
            seconds.append(Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9)
        }
        let tokens = batch * (promptLength + responseLength)
        let median = seconds.sorted()[seconds.count / 2]
        struct Out: Encodable {
            let model: String; let tokens_per_step: Int; let step_seconds: [Double]; let median_tokens_per_s: Double
        }
        try printJSON(Out(model: model.rawValue, tokens_per_step: tokens, step_seconds: seconds,
                          median_tokens_per_s: Double(tokens) / median))
    }
}

struct GenerateBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate", abstract: "Time KV-cache sampling (prefill + decode); prints JSON.")
    @OptionGroup var compute: ComputeOptions
    @Option(help: "Model size: tiny or small (a random model), unless --folder is given.") var model: BenchModel = .tiny
    @Option(help: "Load this Hugging Face model folder instead of a random model.") var folder: String?
    @Option(help: "Prompts per call.") var prompts = 16
    @Option(help: "Samples per prompt.") var n = 4
    @Option(help: "Prompt tokens.") var promptLength = 32
    @Option(help: "New tokens per sample.") var maxTokens = 64

    func run() throws {
        compute.apply()
        let m: DecoderModel
        if let folder {
            m = try loadBenchModel(folder)
        } else {
            m = try DecoderModel(config: model.config)
            m.initializeRandom(seed: 1)
        }
        try compute.configure(m)
        var rng = SeededRandom(seed: 4)
        let V = UInt64(m.config.vocabSize)
        let ps = (0..<prompts).map { _ in (0..<promptLength).map { _ in Int32(rng.next() % V) } }
        func time(_ ps: [[Int32]], n: Int) throws -> (Double, Int) {
            let t0 = DispatchTime.now().uptimeNanoseconds
            let out = try generate(model: m, prompts: ps, parameters: SamplingParameters(temperature: 1, maxTokens: maxTokens, n: n, seed: 1))
            let dt = Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
            return (dt, out.joined().reduce(0) { $0 + $1.tokens.count })
        }
        _ = try time([ps[0]], n: 1)  // warm-up
        let (batchSeconds, batchTokens) = try time(ps, n: n)
        let (singleSeconds, singleTokens) = try time([ps[0]], n: 1)
        struct Out: Encodable {
            let model: String; let samples: Int; let batched_tokens_per_s: Double; let single_sequence_tokens_per_s: Double
        }
        try printJSON(Out(model: folder ?? model.rawValue, samples: prompts * n, batched_tokens_per_s: Double(batchTokens) / batchSeconds,
                          single_sequence_tokens_per_s: Double(singleTokens) / singleSeconds))
    }
}

struct DecodeProfileBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "decode-profile",
        abstract: "Where a decode step's time goes at S parallel sequences; prints one JSON line per S.",
        discussion: """
            For each S: prompts of --prompt-length random tokens, S/8 prompts × n 8 (S < 8: S × n 1), sampled at \
            temperature 1 through the same generate() the services use. One run generates 1 token (prefill), one \
            generates --max-tokens; their difference is --max-tokens − 1 decode steps, split by the model's parts \
            (DecodeProfile) and the rest (sampling from the logits and the batcher's bookkeeping).
            """)
    @OptionGroup var compute: ComputeOptions
    @Option(help: "Hugging Face model folder (e.g. a Qwen3-0.6B-shaped one from make scale-check).") var folder: String
    @Option(help: "Parallel sequences, comma-separated.") var parallel = "1,8,64,256"
    @Option(help: "Prompt tokens.") var promptLength = 32
    @Option(help: "New tokens per sequence.") var maxTokens = 17
    @Option(help: "Sampling top-k (0: off; the loop's votes use 40).") var topK = 0
    @Option(help: "Sampling top-p (1: off).") var topP = 1.0

    func run() throws {
        compute.apply()
        let m: DecoderModel
        m = try loadBenchModel(folder)
        try compute.configure(m)
        var rng = SeededRandom(seed: 4)
        let V = UInt64(m.config.vocabSize)
        struct Out: Encodable {
            let parallel: Int
            let decodeTokensPerSecond: Double
            let msPerDecodeStep: Double
            /// Milliseconds per decode step by part; `samplingAndBookkeeping` is what the model did not spend.
            let parts: [String: Double]
        }
        // Warm-up (thread pool, first-touch of weights), so that the first measured prefill is not inflated.
        _ = try generate(model: m, prompts: [[1, 2, 3]], parameters: SamplingParameters(maxTokens: 4, seed: 1))
        for S in parallel.split(separator: ",").compactMap({ Int($0) }) where S > 0 {
            let n = min(S, 8), prompts = max(1, S / n)
            let ps = (0..<prompts).map { _ in (0..<promptLength).map { _ in Int32(rng.next() % V) } }
            func profiled(_ tokens: Int) throws -> (seconds: Double, parts: DecodeProfile.Parts) {
                let profile = DecodeProfile()
                m.decodeProfile = profile
                defer { m.decodeProfile = nil }
                let t0 = DispatchTime.now().uptimeNanoseconds
                _ = try generate(model: m, prompts: ps, parameters: SamplingParameters(temperature: 1, topP: topP, topK: topK,
                                                                                         maxTokens: tokens, n: n, seed: 1))
                return (Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9, profile.parts)
            }
            let prefill = try profiled(1), full = try profiled(maxTokens)
            let steps = Double(maxTokens - 1)
            let seconds = full.seconds - prefill.seconds
            var parts: [String: Double] = [:]
            let a = try JSONSerialization.jsonObject(with: JSONEncoder().encode(full.parts)) as? [String: Double] ?? [:]
            let b = try JSONSerialization.jsonObject(with: JSONEncoder().encode(prefill.parts)) as? [String: Double] ?? [:]
            for (k, v) in a { parts[k] = (v - (b[k] ?? 0)) / steps * 1000 }
            parts["samplingAndBookkeeping"] = (seconds / steps * 1000) - parts.values.reduce(0, +)
            try printJSON(Out(parallel: prompts * n, decodeTokensPerSecond: Double(prompts * n) * steps / seconds,
                              msPerDecodeStep: seconds / steps * 1000, parts: parts.mapValues { ($0 * 100).rounded() / 100 }))
        }
    }
}

struct PrecisionBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sampling-precision",
        abstract: "How far BF16 sampling moves the next-token distributions from float32's; prints one JSON line.",
        discussion: """
            Feeds the same sequences through the KV-cache forward in float32 and in BF16 and compares the next-token \
            distributions at every position: KL(float32 ‖ BF16) in nats (mean, 99th percentile, max), how often the \
            most likely token agrees, and the total variation distance. Sequences are --texts lines (tokenized with the \
            folder's tokenizer) or, without it, random tokens; random weights give near-uniform distributions, so the \
            built-in (trained) model is the meaningful case.
            """)
    @OptionGroup var compute: ComputeOptions
    @Option(help: "Hugging Face model folder.") var folder: String
    @Option(help: "A text file, one sequence per line (else random tokens).") var texts: String?
    @Option(help: "Sequences.") var sequences = 16
    @Option(help: "Tokens per random sequence (texts are cut to it).") var length = 64

    func run() throws {
        compute.apply()
        let m: DecoderModel
        m = try loadBenchModel(folder)
        var seqs: [[Int32]] = []
        if let texts {
            guard let body = try? String(contentsOfFile: texts, encoding: .utf8) else { throw failure("cannot read --texts \(texts)") }
            let tok: Tokenizer
            do { tok = try Tokenizer(contentsOfFile: folder + "/tokenizer.json") } catch { throw failure("\(error)") }
            for line in body.split(separator: "\n").prefix(sequences) {
                let ids = Array(tok.encode(String(line), addSpecialTokens: false).prefix(length))
                if ids.count > 1 { seqs.append(ids) }
            }
        } else {
            var rng = SeededRandom(seed: 5)
            seqs = (0..<sequences).map { _ in (0..<length).map { _ in Int32(rng.next() % UInt64(m.config.vocabSize)) } }
        }
        guard !seqs.isEmpty else { throw failure("no sequences of two or more tokens") }
        func logits(_ p: SamplingPrecision) throws -> [[Float]] {
            m.samplingPrecision = p
            let cache = KVCache(config: m.config, slots: seqs.count, capacity: seqs.map(\.count).max() ?? 1, precision: p)
            return try m.forwardCached(slots: Array(seqs.indices), tokens: seqs, cache: cache, allLogits: true)
        }
        let a = try logits(.float32), b = try logits(.bfloat16)
        let V = m.config.vocabSize
        var kls: [Double] = [], tvs: [Double] = [], agree = 0
        for (x, y) in zip(a, b) {
            for t in 0..<(x.count / V) {
                let p = softmax(Array(x[(t * V)..<((t + 1) * V)])), q = softmax(Array(y[(t * V)..<((t + 1) * V)]))
                var kl = 0.0, tv = 0.0
                for i in 0..<V where p[i] > 0 { kl += p[i] * (log(p[i]) - log(max(q[i], 1e-300))) }
                for i in 0..<V { tv += abs(p[i] - q[i]) / 2 }
                kls.append(max(0, kl))
                tvs.append(tv)
                if p.indices.max(by: { p[$0] < p[$1] }) == q.indices.max(by: { q[$0] < q[$1] }) { agree += 1 }
            }
        }
        let sorted = kls.sorted()
        struct Out: Encodable {
            let positions: Int; let klMean: Double; let klP99: Double; let klMax: Double; let tvMean: Double; let top1Agreement: Double
            let kernels: String
        }
        try printJSON(Out(positions: kls.count, klMean: kls.reduce(0, +) / Double(kls.count),
                          klP99: sorted[min(sorted.count - 1, Int(Double(sorted.count) * 0.99))], klMax: sorted.last ?? 0,
                          tvMean: tvs.reduce(0, +) / Double(tvs.count), top1Agreement: Double(agree) / Double(kls.count),
                          kernels: RowKernels.level.description))
    }

    private func softmax(_ z: [Float]) -> [Double] {
        let mx = Double(z.max() ?? 0)
        let e = z.map { exp(Double($0) - mx) }
        let s = e.reduce(0, +)
        return e.map { $0 / s }
    }
}

/// A model folder for a bench; a one-line error when it cannot be loaded.
func loadBenchModel(_ folder: String) throws -> DecoderModel {
    do { return try ModelFolder.load(folder) } catch let e as ModelError { throw failure(e.description) }
}
