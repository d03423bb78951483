import Foundation
import RZTensor

/// A PEFT LoRA adapter folder: `adapter_config.json` + `adapter_model.safetensors`, what
/// `PeftModel.save_pretrained` writes and `PeftModel.from_pretrained` / `AutoPeftModelForCausalLM` read.
/// rzero reads the LoRA subset it can apply exactly (no DoRA, no bias training, no per-layer ranks, the same
/// modules in every layer) and refuses the rest by name.
public enum AdapterFolder {
    public static let configName = "adapter_config.json"
    public static let weightsName = "adapter_model.safetensors"

    public static func isAdapterFolder(_ dir: String) -> Bool {
        FileManager.default.fileExists(atPath: dir + "/" + configName)
    }

    /// The adapter's LoRA settings and the base model it names (`base_model_name_or_path`; nil when absent).
    public static func loadConfig(_ dir: String) throws -> (lora: LoRAConfig, baseModel: String?) {
        let path = dir + "/" + configName
        guard FileManager.default.fileExists(atPath: path) else { throw ModelError.fileNotFound(path) }
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw ModelError.unreadable(path: path, reason: error.localizedDescription)
        }
        guard let obj = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw ModelError.invalidConfig("\(path) is not a JSON object")
        }
        func fail(_ m: String) -> ModelError { .unsupported("\(path): \(m)") }
        guard (obj["peft_type"] as? String) == "LORA" else { throw fail("peft_type must be LORA") }
        guard let r = obj["r"] as? Int else { throw fail("r must be an integer") }
        guard let alpha = (obj["lora_alpha"] as? NSNumber)?.doubleValue else { throw fail("lora_alpha must be a number") }
        let modules: [LoRAModule]
        switch obj["target_modules"] {
        case let name as String:
            guard name == "all-linear" else { throw fail("target_modules as a pattern (\(name)) is not supported; list the modules") }
            modules = LoRAModule.allCases
        case let names as [String]:
            // PEFT matches by suffix: "q_proj" and "model.layers.0.self_attn.q_proj" name the same module.
            var found: [LoRAModule] = []
            for n in names {
                guard let m = LoRAModule(rawValue: String(n.split(separator: ".").last ?? "")) else {
                    throw fail("target module \(n) is not one of \(LoRAModule.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                found.append(m)
            }
            modules = found
        default:
            throw fail("target_modules must be a list of module names or \"all-linear\"")
        }
        // Features that change what the adapter computes, and rzero does not implement.
        let mustBeOff: [(String, String)] = [
            ("use_dora", "DoRA"), ("fan_in_fan_out", "fan_in_fan_out"), ("lora_bias", "LoRA biases"),
            ("use_qalora", "QALoRA"), ("use_bdlora", "BD-LoRA"),
        ]
        for (key, what) in mustBeOff where (obj[key] as? Bool) == true { throw fail("\(what) is not supported") }
        if let bias = obj["bias"] as? String, bias != "none" { throw fail("bias \"\(bias)\" is not supported (only \"none\")") }
        for key in ["modules_to_save", "layers_to_transform", "layer_replication", "target_parameters", "trainable_token_indices"] {
            if let value = obj[key], !(value is NSNull) {
                if let list = value as? [Any], list.isEmpty { continue }
                throw fail("\(key) is not supported")
            }
        }
        for key in ["rank_pattern", "alpha_pattern"] {
            if let map = obj[key] as? [String: Any], !map.isEmpty { throw fail("\(key) (per-module ranks) is not supported") }
        }
        let lora = LoRAConfig(rank: r, alpha: alpha, targetModules: modules, useRSLoRA: (obj["use_rslora"] as? Bool) ?? false)
        do { try lora.validate() } catch { throw fail("\(error)") }
        return (lora, obj["base_model_name_or_path"] as? String)
    }

    /// Reads the adapter for a model of `config`, checking every tensor's name and shape.
    public static func load(_ dir: String, for config: DecoderConfig) throws -> LoRAAdapters {
        let (lora, _) = try loadConfig(dir)
        let adapters = try LoRAAdapters(config: lora, model: config)
        let file = try SafetensorsFile(path: dir + "/" + weightsName)
        try file.readTensors(adapters.layout.tensors, into: adapters.parameters.base)
        return adapters
    }

    /// The adapter's tensors as views of `buffer` (its parameters, or state in the same layout) under `prefix`.
    public static func tensors(_ layout: AdapterLayout, _ buffer: FloatBuffer, prefix: String = "")
        -> [(name: String, shape: [Int], values: UnsafeBufferPointer<Float>)]
    {
        layout.tensors.map { (prefix + $0.name, $0.shape, UnsafeBufferPointer(start: buffer.base + $0.offset, count: $0.count)) }
    }

    /// Writes `adapter_config.json` and `adapter_model.safetensors` (F32) into `dir`, each atomically.
    /// `baseModel` goes into `base_model_name_or_path`, which `AutoPeftModelForCausalLM` loads the base from.
    public static func save(_ adapters: LoRAAdapters, to dir: String, baseModel: String?, metadata: [String: String] = [:]) throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try AtomicFile.write(configJSON(adapters.config, baseModel: baseModel), to: dir + "/" + configName)
        var meta = metadata
        meta["format"] = "pt"
        try SafetensorsFile.write(path: dir + "/" + weightsName, tensors: tensors(adapters.layout, adapters.parameters), metadata: meta)
    }

    /// PEFT's `LoraConfig` fields for these settings (the ones rzero does not use at their defaults).
    public static func configJSON(_ lora: LoRAConfig, baseModel: String?) throws -> Data {
        let obj: [String: Any] = [
            "peft_type": "LORA", "task_type": "CAUSAL_LM", "r": lora.rank, "lora_alpha": lora.alpha, "lora_dropout": 0.0,
            "target_modules": lora.targetModules.map(\.rawValue), "bias": "none", "use_rslora": lora.useRSLoRA,
            "use_dora": false, "fan_in_fan_out": false, "init_lora_weights": true, "inference_mode": true,
            "modules_to_save": NSNull(), "layers_to_transform": NSNull(), "rank_pattern": [String: Any](),
            "alpha_pattern": [String: Any](), "base_model_name_or_path": baseModel.map { $0 as Any } ?? NSNull(),
        ]
        return try JSONSerialization.data(withJSONObject: obj, options: [.prettyPrinted, .sortedKeys])
    }
}
