import Foundation
import RZModel
import RZTensor

/// A trainer checkpoint is a folder: a Hugging Face model folder (`config.json`, `model.safetensors`, so
/// transformers can load the weights as they are) plus
///   optimizer.safetensors   AdamW moments `exp_avg.<param>` / `exp_avg_sq.<param>` in the parameter layout
///   reference.safetensors   the frozen KL reference's weights, when there is one
///   trainer_state.json      format, version, optimizer step count and the settings used
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
    }

    /// Writes the checkpoint folder atomically. `companionFiles` (paths; e.g. the model folder's tokenizer.json)
    /// are copied in under their own names, so the checkpoint is a complete model folder.
    public static func save(_ trainer: PolicyTrainer, to dir: String, metadata: [String: String] = [:],
                            companionFiles: [String] = []) throws {
        let url = URL(fileURLWithPath: dir)
        let parent = url.deletingLastPathComponent().path
        try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
        let suffix = "\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let tmp = parent + "/." + url.lastPathComponent + ".tmp-" + suffix
        defer { try? FileManager.default.removeItem(atPath: tmp) }
        try ModelFolder.save(trainer.model, to: tmp, metadata: metadata)
        for file in companionFiles {
            let name = URL(fileURLWithPath: file).lastPathComponent
            do { try FileManager.default.copyItem(atPath: file, toPath: tmp + "/" + name) } catch {
                throw ModelError.unreadable(path: file, reason: "cannot copy it into the checkpoint: \(error.localizedDescription)")
            }
        }
        let layout = trainer.model.layout
        func tensors(_ buffer: FloatBuffer, prefix: String) -> [(name: String, shape: [Int], values: UnsafeBufferPointer<Float>)] {
            layout.tensors.map { (prefix + $0.name, $0.shape, UnsafeBufferPointer(start: buffer.base + $0.offset, count: $0.count)) }
        }
        let moments: [(name: String, shape: [Int], values: UnsafeBufferPointer<Float>)]
        // Kept alive until the file is written when the moments do not exist yet (no step taken).
        let zeros: FloatBuffer?
        if trainer.optimizer.isAllocated {
            zeros = nil
            moments = tensors(trainer.optimizer.m, prefix: "exp_avg.") + tensors(trainer.optimizer.v, prefix: "exp_avg_sq.")
        } else {
            // The file keeps its format, but every tensor is written from one zero buffer of the largest
            // tensor's size instead of allocating both moments.
            let z = FloatBuffer(count: layout.tensors.map(\.count).max() ?? 0)
            zeros = z
            moments = ["exp_avg.", "exp_avg_sq."].flatMap { prefix in
                layout.tensors.map { (prefix + $0.name, $0.shape, UnsafeBufferPointer(start: z.base, count: $0.count)) }
            }
        }
        try withExtendedLifetime(zeros) {
            try SafetensorsFile.write(path: tmp + "/" + optimizerName, tensors: moments,
                                      metadata: ["format": "rzero-optimizer", "step": String(trainer.optimizer.step)])
        }
        if let ref = trainer.reference {
            try SafetensorsFile.write(path: tmp + "/" + referenceName, tensors: tensors(ref.parameters, prefix: ""))
        }
        let state = State(format: format, version: version, step: trainer.optimizer.step, hasReference: trainer.reference != nil,
                          settings: trainer.settings, metadata: metadata)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(try encoder.encode(state), to: tmp + "/" + stateName)
        // Swap into place: rename the old folder aside, the new one in, then delete the old.
        let fm = FileManager.default
        var old: String? = nil
        if fm.fileExists(atPath: dir) {
            let aside = parent + "/." + url.lastPathComponent + ".old-" + suffix
            guard rename(dir, aside) == 0 else { throw ModelError.unreadable(path: dir, reason: "cannot move the old checkpoint aside") }
            old = aside
        }
        guard rename(tmp, dir) == 0 else {
            if let old { _ = rename(old, dir) }
            throw ModelError.unreadable(path: dir, reason: "cannot rename the new checkpoint into place")
        }
        if let old { try? fm.removeItem(atPath: old) }
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
    public static func load(from dir: String) throws -> PolicyTrainer {
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
        let model = try ModelFolder.load(dir)
        let trainer = PolicyTrainer(model: model, settings: state.settings)
        let opt = try SafetensorsFile(path: dir + "/" + optimizerName)
        // Before the first step the moments are zero by definition: checked for shape, not allocated.
        let trained = state.step > 0
        try read(opt, into: trained ? trainer.optimizer.m : nil, layout: model.layout, prefix: "exp_avg.", file: optimizerName)
        try read(opt, into: trained ? trainer.optimizer.v : nil, layout: model.layout, prefix: "exp_avg_sq.", file: optimizerName)
        trainer.optimizer.step = state.step
        if state.hasReference {
            let refFile = try SafetensorsFile(path: dir + "/" + referenceName)
            let buffer = FloatBuffer(count: model.parameterCount)
            try read(refFile, into: buffer, layout: model.layout, prefix: "", file: referenceName)
            try trainer.setReference(parameters: buffer)
        }
        return trainer
    }

    /// Checks `f` holds exactly the layout's tensors under `prefix` and reads them into `buffer` (only checks
    /// when `buffer` is nil).
    private static func read(_ f: SafetensorsFile, into buffer: FloatBuffer?, layout: ParameterLayout, prefix: String, file: String) throws {
        let expected = Set(layout.tensors.map { prefix + $0.name })
        for spec in layout.tensors {
            guard let e = f.entries[prefix + spec.name] else {
                throw ModelError.invalidConfig("\(file) does not match the model: it lacks \(prefix + spec.name)")
            }
            guard e.shape == spec.shape else {
                throw ModelError.invalidConfig("\(file) does not match the model: \(prefix + spec.name) has shape \(e.shape), the model's is \(spec.shape)")
            }
            if let buffer { try f.read(prefix + spec.name, into: buffer.base + spec.offset) }
        }
        if let extra = f.entries.keys.filter({ $0.hasPrefix(prefix) && !expected.contains($0) }).sorted().first,
            prefix.isEmpty || extra.hasPrefix(prefix)
        {
            throw ModelError.invalidConfig("\(file) does not match the model: unexpected tensor \(extra)")
        }
    }
}
