import Foundation
import RZModel
import RZTensor

/// A trainer checkpoint is a folder: a Hugging Face model folder (`config.json`, `model.safetensors`, so
/// transformers can load the weights as they are) or, under LoRA, a PEFT adapter folder (`adapter_config.json`,
/// `adapter_model.safetensors`, naming its base in `base_model_name_or_path`; megabytes, not gigabytes) plus
///   optimizer.safetensors   AdamW moments `exp_avg.<param>` / `exp_avg_sq.<param>` of what trains
///   reference.safetensors   the frozen KL reference's weights, when there is one (never under LoRA)
///   trainer_state.json      format, version, optimizer step count, the settings used, the LoRA settings
/// The folder is written under a temporary name and renamed into place, so a reader sees the old
/// checkpoint or the new one, never a mixture.
public enum TrainerCheckpoint {
    public static let stateName = "trainer_state.json"
    public static let optimizerName = "optimizer.safetensors"
    public static let referenceName = "reference.safetensors"
    static let format = "rzero-trainer"
    static let version = 1

    struct State: Codable {
        var format: String
        var version: Int
        var step: Int
        var hasReference: Bool
        var settings: TrainerSettings
        var metadata: [String: String]
        /// Under LoRA: the adapters' settings and the base folder (absent in checkpoints of full fine-tuning).
        var lora: LoRAConfig?
        var baseModel: String?
    }

    /// The tensors that train (the adapters', or every parameter's) as views of `buffer` under `prefix`.
    static func trainableTensors(_ model: DecoderModel, _ buffer: FloatBuffer, prefix: String)
        -> [(name: String, shape: [Int], values: UnsafeBufferPointer<Float>)]
    {
        trainableSpecs(model).map { (prefix + $0.name, $0.shape, UnsafeBufferPointer(start: buffer.base + $0.offset, count: $0.count)) }
    }

    static func trainableSpecs(_ model: DecoderModel) -> [TensorSpec] { model.adapters?.layout.tensors ?? model.layout.tensors }

    /// Writes the checkpoint folder atomically. `companionFiles` (paths; e.g. the model folder's tokenizer.json)
    /// are copied in under their own names, so the checkpoint is a complete model folder. `baseModel` is the
    /// folder of the frozen base under LoRA (what the adapter folder names).
    public static func save(_ trainer: PolicyTrainer, to dir: String, metadata: [String: String] = [:],
                            companionFiles: [String] = [], baseModel: String? = nil) throws {
        try AtomicFolder.write(to: dir) { tmp in
            if let adapters = trainer.model.adapters {
                try AdapterFolder.save(adapters, to: tmp, baseModel: baseModel, metadata: metadata)
            } else {
                try ModelFolder.save(trainer.model, to: tmp, metadata: metadata)
            }
            for file in companionFiles {
                let name = URL(fileURLWithPath: file).lastPathComponent
                do { try FileManager.default.copyItem(atPath: file, toPath: tmp + "/" + name) } catch {
                    throw ModelError.unreadable(path: file, reason: "cannot copy it into the checkpoint: \(error.localizedDescription)")
                }
            }
            try writeTrainerFiles(trainer, to: tmp, metadata: metadata, baseModel: baseModel)
        }
    }

    /// The optimizer state, the reference and trainer_state.json.
    private static func writeTrainerFiles(_ trainer: PolicyTrainer, to tmp: String, metadata: [String: String], baseModel: String?) throws {
        let model = trainer.model
        let specs = trainableSpecs(model)
        let moments: [(name: String, shape: [Int], values: UnsafeBufferPointer<Float>)]
        // Kept alive until the file is written when the moments do not exist yet (no step taken).
        let zeros: FloatBuffer?
        if trainer.optimizer.isAllocated {
            zeros = nil
            moments = trainableTensors(model, trainer.optimizer.m, prefix: "exp_avg.")
                + trainableTensors(model, trainer.optimizer.v, prefix: "exp_avg_sq.")
        } else {
            // The file keeps its format, but every tensor is written from one zero buffer of the largest
            // tensor's size instead of allocating both moments.
            let z = FloatBuffer(count: specs.map(\.count).max() ?? 0)
            zeros = z
            moments = ["exp_avg.", "exp_avg_sq."].flatMap { prefix in
                specs.map { (prefix + $0.name, $0.shape, UnsafeBufferPointer(start: z.base, count: $0.count)) }
            }
        }
        try withExtendedLifetime(zeros) {
            try SafetensorsFile.write(path: tmp + "/" + optimizerName, tensors: moments,
                                      metadata: ["format": "rzero-optimizer", "step": String(trainer.optimizer.step)])
        }
        if let ref = trainer.reference {
            let specs = ref.layout.tensors
            if let weights = ref.bf16Parameters {
                // Written in BF16, widened one tensor at a time (exact: the values are BF16 already).
                let scratch = FloatBuffer(count: specs.map(\.count).max() ?? 0)
                try SafetensorsFile.write(path: tmp + "/" + referenceName, tensors: specs.map { ($0.name, $0.shape) }, dtype: .bf16) { i in
                    let spec = specs[i]
                    weights.widen(spec.offset..<(spec.offset + spec.count), into: scratch.base - spec.offset)
                    return UnsafeBufferPointer(start: scratch.base, count: spec.count)
                }
            } else {
                let base = ref.parameters.base
                try SafetensorsFile.write(path: tmp + "/" + referenceName, tensors: specs.map {
                    ($0.name, $0.shape, UnsafeBufferPointer(start: base + $0.offset, count: $0.count))
                })
            }
        }
        let state = State(format: format, version: version, step: trainer.optimizer.step, hasReference: trainer.reference != nil,
                          settings: trainer.settings, metadata: metadata, lora: model.adapters?.config,
                          baseModel: model.adapters == nil ? nil : baseModel)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(try encoder.encode(state), to: tmp + "/" + stateName)
    }

    /// Whether the checkpoint holds LoRA adapters (over a base it names) rather than a whole model.
    public static func isAdapterCheckpoint(_ dir: String) -> Bool {
        AdapterFolder.isAdapterFolder(dir) && !FileManager.default.fileExists(atPath: dir + "/" + ModelFolder.configName)
    }

    /// The step count and metadata of a checkpoint, without loading its tensors.
    public static func summary(of dir: String) throws -> (step: Int, metadata: [String: String]) {
        let statePath = dir + "/" + stateName
        guard let data = FileManager.default.contents(atPath: statePath),
            let state = try? JSONDecoder().decode(State.self, from: data), state.format == format
        else { throw ModelError.invalidConfig("\(statePath) is missing or not a valid rzero trainer state") }
        return (state.step, state.metadata)
    }

    /// Loads model, optimizer state, reference and settings; every tensor's name and shape is checked.
    /// For an adapter checkpoint, `base` (a model whose base weights are the checkpoint's base, i.e. frozen
    /// since it was loaded from that folder) is reused instead of reading the base again: its adapters are
    /// replaced, and only once everything read has been checked.
    public static func load(from dir: String, base: DecoderModel? = nil) throws -> PolicyTrainer {
        let statePath = dir + "/" + stateName
        guard FileManager.default.fileExists(atPath: statePath) else { throw ModelError.fileNotFound(statePath) }
        let state: State
        do {
            state = try JSONDecoder().decode(State.self, from: Data(contentsOf: URL(fileURLWithPath: statePath)))
        } catch {
            throw ModelError.invalidConfig("\(statePath) is not a valid rzero trainer state")
        }
        guard state.format == format, state.version == version else {
            throw ModelError.unsupported("\(statePath): format \(state.format) version \(state.version), expected \(format) \(version)")
        }
        let opt = try SafetensorsFile(path: dir + "/" + optimizerName)
        // Before the first step the moments are zero by definition: checked for shape, not allocated.
        let trained = state.step > 0
        let model: DecoderModel
        if isAdapterCheckpoint(dir) {
            if let base {
                let adapters = try AdapterFolder.load(dir, for: base.config)
                // Checked before the live model's adapters are replaced.
                for prefix in ["exp_avg.", "exp_avg_sq."] {
                    try read(opt, adapters.layout.tensors, prefix: prefix, into: nil, file: optimizerName)
                }
                try base.attachAdapters(adapters)
                model = base
            } else {
                model = try ModelFolder.loadAdapted(dir)
            }
        } else {
            model = try ModelFolder.load(dir)
        }
        let trainer = PolicyTrainer(model: model, settings: state.settings)
        for (prefix, moments) in [("exp_avg.", trained ? trainer.optimizer.m : nil), ("exp_avg_sq.", trained ? trainer.optimizer.v : nil)] {
            try read(opt, trainableSpecs(model), prefix: prefix, into: moments, file: optimizerName)
        }
        trainer.optimizer.step = state.step
        if state.hasReference {
            let refFile = try SafetensorsFile(path: dir + "/" + referenceName)
            if refFile.entries.values.allSatisfy({ $0.dtype == .bf16 }) {
                // A BF16-held reference comes back as one, without a float32 copy in between.
                try read(refFile, model.layout.tensors, prefix: "", into: nil, file: referenceName)
                let weights = BF16Weights(count: model.parameterCount)
                let scratch = FloatBuffer(count: model.layout.tensors.map(\.count).max() ?? 0)
                for spec in model.layout.tensors {
                    try refFile.read(spec.name, into: scratch.base)
                    weights.store(scratch.base, at: spec.offset..<(spec.offset + spec.count))
                }
                try trainer.setReference(bf16: weights)
            } else {
                let buffer = FloatBuffer(count: model.parameterCount)
                try read(refFile, model.layout.tensors, prefix: "", into: buffer, file: referenceName)
                try trainer.setReference(parameters: buffer)
            }
        }
        return trainer
    }

    /// Checks `f` holds exactly `specs` under `prefix` and reads them into `buffer` (only checks when it is nil);
    /// a mismatch names the file.
    private static func read(_ f: SafetensorsFile, _ specs: [TensorSpec], prefix: String, into buffer: FloatBuffer?, file: String) throws {
        do { try f.readTensors(specs, prefix: prefix, into: buffer?.base) } catch let e as ModelError {
            throw ModelError.invalidConfig("\(file) does not match the model: \(e)")
        }
    }
}
