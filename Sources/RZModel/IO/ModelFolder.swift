import Foundation

/// A Hugging Face model folder: `config.json` plus `model.safetensors` or sharded
/// `model-0000x-of-0000y.safetensors` files listed by `model.safetensors.index.json`.
public enum ModelFolder {
    public static let configName = "config.json"
    public static let weightsName = "model.safetensors"
    public static let indexName = "model.safetensors.index.json"

    public static func loadConfig(_ dir: String) throws -> DecoderConfig {
        let path = dir + "/" + configName
        guard FileManager.default.fileExists(atPath: path) else { throw ModelError.fileNotFound(path) }
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw ModelError.unreadable(path: path, reason: error.localizedDescription)
        }
        do {
            return try JSONDecoder().decode(DecoderConfig.self, from: data)
        } catch let e as ModelError {
            throw e
        } catch let DecodingError.typeMismatch(_, ctx), let DecodingError.valueNotFound(_, ctx) {
            let field = ctx.codingPath.map(\.stringValue).joined(separator: ".")
            throw ModelError.invalidConfig("field \"\(field)\" has the wrong type")
        } catch {
            throw ModelError.invalidConfig("\(path) is not valid JSON")
        }
    }

    /// Loads config and weights, checking every tensor's name and shape against the architecture. A PEFT
    /// adapter folder (no config.json, an adapter_config.json) loads as its base with the adapter attached.
    public static func load(_ dir: String) throws -> DecoderModel {
        if !FileManager.default.fileExists(atPath: dir + "/" + configName) && AdapterFolder.isAdapterFolder(dir) {
            return try loadAdapted(dir)
        }
        let config = try loadConfig(dir)
        let model = try DecoderModel(config: config)
        try loadWeights(into: model, from: dir)
        return model
    }

    /// The base model an adapter folder names (or `base`, when given) with the adapter attached. A relative
    /// `base_model_name_or_path` is taken relative to the adapter folder; a hub id cannot be resolved here.
    public static func loadAdapted(_ dir: String, base: String? = nil) throws -> DecoderModel {
        let basePath = try base ?? adapterBasePath(dir)
        guard FileManager.default.fileExists(atPath: basePath + "/" + configName) else {
            throw ModelError.fileNotFound("the adapter's base model folder \(basePath) (a local folder with config.json is needed)")
        }
        let model = try load(basePath)
        try model.attachAdapters(try AdapterFolder.load(dir, for: model.config))
        return model
    }

    /// Files of a model folder that are not weights and belong with them (tokenizer, generation settings).
    public static let companionNames = ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "generation_config.json"]

    /// The companion files of `dir`, each taken from `dir` or else from `fallback` (an adapter folder's base).
    public static func companionFiles(of dir: String, fallback: String? = nil) -> [String] {
        companionNames.compactMap { name in
            ([dir] + (fallback.map { [$0] } ?? [])).map { $0 + "/" + name }.first { FileManager.default.fileExists(atPath: $0) }
        }
    }

    /// The base folder an adapter folder names, as an absolute path (relative ones are relative to the folder).
    public static func adapterBasePath(_ dir: String) throws -> String {
        guard let named = try AdapterFolder.loadConfig(dir).baseModel else {
            throw ModelError.invalidConfig("\(dir)/\(AdapterFolder.configName) names no base model (base_model_name_or_path)")
        }
        return absolutePath(named, relativeTo: dir)
    }

    /// `path` made absolute (relative to `dir`) and standardised.
    public static func absolutePath(_ path: String, relativeTo dir: String = FileManager.default.currentDirectoryPath) -> String {
        let base = dir.hasPrefix("/") ? dir : FileManager.default.currentDirectoryPath + "/" + dir
        return (path.hasPrefix("/") ? URL(fileURLWithPath: path) : URL(fileURLWithPath: base).appendingPathComponent(path)).standardized.path
    }

    /// Tensor name → the file that holds it.
    static func weightFiles(_ dir: String) throws -> [String: SafetensorsFile] {
        let fm = FileManager.default
        let indexPath = dir + "/" + indexName
        if fm.fileExists(atPath: indexPath) {
            let data: Data
            do { data = try Data(contentsOf: URL(fileURLWithPath: indexPath)) } catch {
                throw ModelError.unreadable(path: indexPath, reason: error.localizedDescription)
            }
            guard let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                let map = obj["weight_map"] as? [String: String]
            else { throw ModelError.invalidConfig("\(indexPath) has no weight_map object") }
            var files: [String: SafetensorsFile] = [:]
            var byName: [String: SafetensorsFile] = [:]
            for (name, file) in map {
                guard !file.contains("/") else { throw ModelError.invalidConfig("\(indexPath) names a file outside the folder: \(file)") }
                if files[file] == nil { files[file] = try SafetensorsFile(path: dir + "/" + file) }
                guard let f = files[file], f.entries[name] != nil else {
                    throw ModelError.safetensors(path: dir + "/" + file, reason: "index says it holds \(name), but it does not")
                }
                byName[name] = f
            }
            // A shard may hold tensors the index forgot; they are still part of the checkpoint.
            for f in files.values { for name in f.entries.keys where byName[name] == nil { byName[name] = f } }
            return byName
        }
        let single = dir + "/" + weightsName
        guard fm.fileExists(atPath: single) else {
            throw ModelError.fileNotFound("\(single) (nor \(indexName))")
        }
        let f = try SafetensorsFile(path: single)
        return Dictionary(uniqueKeysWithValues: f.entries.keys.map { ($0, f) })
    }

    public static func loadWeights(into model: DecoderModel, from dir: String) throws {
        let byName = try checkedWeightFiles(dir, for: model)
        for spec in model.layout.tensors {
            guard let file = byName[spec.name] else { throw ModelError.missingTensor(spec.name) }
            try file.read(spec.name, into: model.parameters.base + spec.offset)
        }
    }

    /// The weight files of the folder `dir`, by tensor name, checked against `model`'s layout: every tensor present with
    /// its shape, nothing else.
    public static func checkedWeightFiles(_ dir: String, for model: DecoderModel) throws -> [String: SafetensorsFile] {
        var byName = try weightFiles(dir)
        // Tied checkpoints sometimes still carry lm_head.weight; the tied model has no such tensor.
        if model.config.tieWordEmbeddings { byName.removeValue(forKey: ParameterLayout.lmHeadName) }
        for spec in model.layout.tensors {
            guard let file = byName[spec.name], let entry = file.entries[spec.name] else {
                throw ModelError.missingTensor(spec.name)
            }
            guard entry.shape == spec.shape else {
                throw ModelError.shapeMismatch(name: spec.name, expected: spec.shape, found: entry.shape)
            }
        }
        let expected = Set(model.layout.tensors.map(\.name))
        if let extra = byName.keys.sorted().first(where: { !expected.contains($0) }) {
            throw ModelError.unexpectedTensor(extra)
        }
        return byName
    }

    /// Writes `Σ weights[k] · checkpoint k` into `destination` (laid out as `tensors`: a model's or an adapter's layout),
    /// from weight files checked against that layout (`checkedWeightFiles`), one tensor at a time through a scratch buffer the size of the largest tensor: a weighted
    /// sum of checkpoints never holds a second model. Each element is summed in checkpoint order from zero, so two
    /// checkpoints at 0.5 give exactly the rounded mean.
    public static func writeWeightedSum(of files: [[String: SafetensorsFile]], weights: [Float], tensors: [TensorSpec],
                                        into destination: UnsafeMutablePointer<Float>) throws {
        precondition(files.count == weights.count, "one weight per checkpoint")
        let largest = tensors.map(\.count).max() ?? 0
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: max(1, largest))
        defer { scratch.deallocate() }
        for spec in tensors {
            let out = destination + spec.offset
            out.update(repeating: 0, count: spec.count)
            for (byName, w) in zip(files, weights) {
                guard let file = byName[spec.name] else { throw ModelError.missingTensor(spec.name) }
                try file.read(spec.name, into: scratch)
                for i in 0..<spec.count { out[i] += w * scratch[i] }
            }
        }
    }

    /// Writes `config.json` and `model.safetensors` (Float32) into `dir`, each file atomically.
    public static func save(_ model: DecoderModel, to dir: String, metadata: [String: String] = [:]) throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var config = model.config
        config.dtype = "float32"
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(try encoder.encode(config), to: dir + "/" + configName)
        let base = model.parameters.base
        let tensors = model.layout.tensors.map { spec in
            (name: spec.name, shape: spec.shape, values: UnsafeBufferPointer(start: base + spec.offset, count: spec.count))
        }
        var meta = metadata
        meta["format"] = "pt"
        try SafetensorsFile.write(path: dir + "/" + weightsName, tensors: tensors, metadata: meta)
    }
}
