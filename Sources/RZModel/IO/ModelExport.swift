import Foundation
import RZTensor

/// A model as a complete Hugging Face folder for other tools: `config.json`, `model.safetensors` in a chosen
/// dtype (the source's by default), the tokenizer files and `generation_config.json`. Adapters are merged
/// into the weights as they are written (W + s·B·A, one tensor at a time), so the model itself is not changed
/// and a service can export while it keeps training its adapters.
public enum ModelExport {
    /// The dtypes an export can be written in, by their config.json names.
    public static let dtypes: [String: SafetensorsFile.DType] = ["float32": .f32, "bfloat16": .bf16, "float16": .f16]

    /// Writes the folder atomically. `dtype` nil means the source checkpoint's (`config.dtype`; float32 when
    /// that is not one of `dtypes`). `companionFiles` are copied in by name; a `generation_config.json` with the
    /// config's special tokens is written when none is among them. Returns the dtype written.
    @discardableResult
    public static func write(_ model: DecoderModel, to dir: String, dtype: String? = nil, companionFiles: [String] = [],
                             metadata: [String: String] = [:]) throws -> String {
        let dtypeName = dtype ?? (dtypes[model.config.dtype] != nil ? model.config.dtype : "float32")
        guard let stored = dtypes[dtypeName] else {
            throw ModelError.invalidInput("export dtype \(dtypeName) is not one of \(dtypes.keys.sorted().joined(separator: ", "))")
        }
        try AtomicFolder.write(to: dir) { tmp in
            var config = model.config
            config.dtype = dtypeName
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try AtomicFile.write(try encoder.encode(config), to: tmp + "/" + ModelFolder.configName)
            let merged = MergedTensors(model)
            var meta = metadata
            meta["format"] = "pt"
            try SafetensorsFile.write(path: tmp + "/" + ModelFolder.weightsName, tensors: model.layout.tensors.map { ($0.name, $0.shape) },
                                      dtype: stored, metadata: meta) { merged.values(of: model.layout.tensors[$0]) }
            var names = Set<String>()
            for file in companionFiles {
                let name = URL(fileURLWithPath: file).lastPathComponent
                names.insert(name)
                do { try FileManager.default.copyItem(atPath: file, toPath: tmp + "/" + name) } catch {
                    throw ModelError.unreadable(path: file, reason: "cannot copy it into the export: \(error.localizedDescription)")
                }
            }
            if !names.contains("generation_config.json") {
                var generation: [String: Any] = ["_from_model_config": true]
                if let bos = model.config.bosTokenId { generation["bos_token_id"] = bos }
                if let eos = model.config.eosTokenId { generation["eos_token_id"] = eos }
                try AtomicFile.write(try JSONSerialization.data(withJSONObject: generation, options: [.prettyPrinted, .sortedKeys]),
                                     to: tmp + "/generation_config.json")
            }
        }
        return dtypeName
    }

    /// Each tensor's values with the adapters merged in: the parameters themselves where no adapter sits,
    /// else W + s·B·A computed into one scratch buffer (reused from tensor to tensor).
    private final class MergedTensors {
        let model: DecoderModel
        /// Base offset of each adapted weight → its factors.
        let adapted: [Int: AdapterLayout.Factors]
        var scratch = FloatBuffer(count: 0)

        init(_ model: DecoderModel) {
            self.model = model
            var adapted: [Int: AdapterLayout.Factors] = [:]
            if let a = model.adapters {
                for (l, row) in a.layout.layers.enumerated() {
                    let offsets = model.layout.layers[l]
                    for (i, m) in LoRAModule.allCases.enumerated() {
                        if let f = row[i] { adapted[offsets.weight(m)] = f }
                    }
                }
            }
            self.adapted = adapted
        }

        func values(of spec: TensorSpec) -> UnsafeBufferPointer<Float> {
            let source = model.parameters.base + spec.offset
            guard let f = adapted[spec.offset], let a = model.adapters else {
                return UnsafeBufferPointer(start: source, count: spec.count)
            }
            if scratch.count < spec.count { scratch = FloatBuffer(count: spec.count) }
            scratch.base.update(from: source, count: spec.count)
            a.merge(f, into: scratch.base)
            return UnsafeBufferPointer(start: scratch.base, count: spec.count)
        }
    }
}
