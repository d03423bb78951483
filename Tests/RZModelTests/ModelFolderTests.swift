import Foundation
import Testing
import RZModel
import RZTestSupport


@Suite("config.json parsing and validation")
struct ConfigTests {
    func decode(_ json: String) throws -> DecoderConfig {
        try JSONDecoder().decode(DecoderConfig.self, from: Data(json.utf8))
    }

    let base = """
        "vocab_size": 50, "hidden_size": 16, "intermediate_size": 24, "num_hidden_layers": 1,
        "num_attention_heads": 4, "num_key_value_heads": 2
        """

    @Test("newer and older spellings of rope_theta and dtype")
    func spellings() throws {
        let newer = try decode("{\(base), \"rope_parameters\": {\"rope_theta\": 5000.0, \"rope_type\": \"default\"}, \"dtype\": \"bfloat16\"}")
        let older = try decode("{\(base), \"rope_theta\": 5000.0, \"torch_dtype\": \"bfloat16\", \"model_type\": \"qwen3\"}")
        #expect(newer == older)
        #expect(newer.ropeTheta == 5000 && newer.dtype == "bfloat16")
        #expect(newer.headDim == 4, "head_dim defaults to hidden / heads")
        #expect(try decode("{\(base), \"head_dim\": 8}").headDim == 8)
        #expect(try decode("{\(base), \"eos_token_id\": [7, 8]}").eosTokenId == 7)
    }

    @Test("unsupported models and inconsistent sizes are clear errors", arguments: [
        ("\"model_type\": \"mistral\"", "model_type"),
        ("\"num_key_value_heads\": 3", "multiple"),
        ("\"head_dim\": 7", "head_dim"),
        ("\"rope_scaling\": {\"rope_type\": \"yarn\", \"factor\": 4}", "yarn"),
        ("\"mlp_bias\": true", "mlp_bias"),
        ("\"rope_scaling\": {\"rope_type\": \"linear\", \"factor\": 2}", "linear"),
        ("\"model_type\": \"llama\", \"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 8}", "low_freq_factor"),
        ("\"partial_rotary_factor\": 0.5", "partial_rotary_factor"),
        ("\"architectures\": [\"LlamaForCausalLM\"]", "LlamaForCausalLM"),
        ("\"model_type\": \"qwen2\", \"layer_types\": [\"sliding_attention\"]", "sliding_attention"),
        ("\"use_sliding_window\": true", "sliding"),
        ("\"hidden_act\": \"gelu\"", "gelu"),
    ])
    func rejects(extra: String, mentions: String) throws {
        var json = "{\(base), \(extra)}"
        if extra.contains("num_key_value_heads") { json = json.replacingOccurrences(of: "\"num_key_value_heads\": 2,", with: "") }
        do {
            _ = try decode(json.replacingOccurrences(of: "\"num_key_value_heads\": 2\n", with: "\"num_key_value_heads\": 2"))
            Issue.record("accepted \(extra)")
        } catch let e as ModelError {
            #expect(e.description.contains(mentions), "\(e.description)")
        }
    }

    @Test("a missing required field is named")
    func missingField() {
        #expect(throws: ModelError.invalidConfig("missing required field \"hidden_size\"")) {
            try decode("{\"vocab_size\": 5, \"intermediate_size\": 4, \"num_hidden_layers\": 1, \"num_attention_heads\": 1}")
        }
    }
}

@Suite("Safetensors and model folders: strict, atomic, never crashing")
struct ModelFolderTests {
    let tied = Fixtures.path("engine/tied")

    func copyOfTied() throws -> String {
        let dir = temporaryDirectory()
        for f in ["config.json", "model.safetensors"] {
            try FileManager.default.copyItem(atPath: tied + "/" + f, toPath: dir + "/" + f)
        }
        return dir
    }

    @Test("save then load round-trips every parameter bit for bit; no temporary files remain")
    func roundTrip() throws {
        let model = try ModelFolder.load(tied)
        let dir = temporaryDirectory()
        try ModelFolder.save(model, to: dir)
        let again = try ModelFolder.load(dir)
        #expect(again.config == model.config)
        #expect(again.parameters.toArray() == model.parameters.toArray())
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).sorted() == ["config.json", "model.safetensors"])
    }

    @Test("missing folder, config or weights")
    func missingFiles() throws {
        #expect(throws: ModelError.fileNotFound("/nonexistent/config.json")) { try ModelFolder.load("/nonexistent") }
        let dir = try copyOfTied()
        try FileManager.default.removeItem(atPath: dir + "/model.safetensors")
        #expect(throws: ModelError.self) { try ModelFolder.load(dir) }
    }

    @Test("truncated and corrupt files are errors", arguments: [0, 5, 8, 100, 2000, -4])
    func truncated(keep: Int) throws {
        let dir = try copyOfTied()
        let path = dir + "/model.safetensors"
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let n = keep >= 0 ? keep : data.count + keep
        try data.prefix(n).write(to: URL(fileURLWithPath: path))
        #expect(throws: ModelError.self) { try ModelFolder.load(dir) }
    }

    @Test("garbage headers are errors", arguments: [
        "not json at all", "[1, 2, 3]", "{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 4]}}",
        "{\"a\": {\"dtype\": \"I8\", \"shape\": [2], \"data_offsets\": [0, 2]}}",
        "{\"a\": {\"dtype\": \"F32\", \"shape\": [-1], \"data_offsets\": [0, 4]}}",
        "{\"a\": {\"dtype\": \"F32\", \"shape\": [9223372036854775807, 4], \"data_offsets\": [0, 4]}}",
        "{\"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [4, 0]}}",
    ])
    func garbage(header: String) throws {
        let path = temporaryDirectory() + "/x.safetensors"
        var d = Data()
        var n = UInt64(header.utf8.count).littleEndian
        withUnsafeBytes(of: &n) { d.append(contentsOf: $0) }
        d.append(Data(header.utf8))
        d.append(Data(repeating: 0, count: 4))
        try d.write(to: URL(fileURLWithPath: path))
        #expect(throws: ModelError.self) { try SafetensorsFile(path: path) }
    }

    /// Rewrites the tied checkpoint with a tensor added, removed or reshaped.
    func rewrite(_ edit: (inout [(name: String, shape: [Int], values: [Float])]) -> Void) throws -> String {
        let dir = try copyOfTied()
        let f = try SafetensorsFile(path: dir + "/model.safetensors")
        var tensors = try f.entries.keys.sorted().map { (name: $0, shape: f.entries[$0]!.shape, values: try f.floats($0)) }
        edit(&tensors)
        // SafetensorsFile.write takes buffer pointers; keep the arrays alive while it runs.
        let buffers = tensors.map { t -> UnsafeMutableBufferPointer<Float> in
            let p = UnsafeMutableBufferPointer<Float>.allocate(capacity: t.values.count)
            _ = p.initialize(from: t.values)
            return p
        }
        defer { buffers.forEach { $0.deallocate() } }
        try SafetensorsFile.write(
            path: dir + "/model.safetensors",
            tensors: zip(tensors, buffers).map { (name: $0.0.name, shape: $0.0.shape, values: UnsafeBufferPointer($0.1)) })
        return dir
    }

    @Test("a missing, extra or mis-shaped tensor is an error naming it")
    func strictNames() throws {
        let missing = try rewrite { $0.removeAll { $0.name == "model.layers.1.mlp.up_proj.weight" } }
        #expect(throws: ModelError.missingTensor("model.layers.1.mlp.up_proj.weight")) { try ModelFolder.load(missing) }
        let extra = try rewrite { $0.append((name: "model.layers.9.bogus", shape: [2], values: [1, 2])) }
        #expect(throws: ModelError.unexpectedTensor("model.layers.9.bogus")) { try ModelFolder.load(extra) }
        let reshaped = try rewrite { ts in
            if let i = ts.firstIndex(where: { $0.name == "model.norm.weight" }) { ts[i].shape = [6, 8] }
        }
        #expect(throws: ModelError.shapeMismatch(name: "model.norm.weight", expected: [48], found: [6, 8])) {
            try ModelFolder.load(reshaped)
        }
        // A tied checkpoint that still carries lm_head.weight loads (the copy is dropped).
        let withHead = try rewrite { ts in
            if let e = ts.first(where: { $0.name == "model.embed_tokens.weight" }) {
                ts.append((name: "lm_head.weight", shape: e.shape, values: e.values))
            }
        }
        #expect(try ModelFolder.load(withHead).parameterCount == ModelFolder.load(tied).parameterCount)
    }
}
