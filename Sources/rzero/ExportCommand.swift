import ArgumentParser
import Foundation
import RZModel

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a model folder other tools load: adapters merged in, weights in the source dtype, tokenizer.",
        discussion: """
            --model is a model folder, a PEFT adapter folder over a local base, or an rzero checkpoint (full or LoRA). \
            The output has config.json, model.safetensors (--dtype, default the source checkpoint's), the tokenizer \
            files and generation_config.json: transformers' AutoModelForCausalLM loads it as it is \
            (scripts/check_export.py compares its logits with `rzero score`).
            """)

    @Option(help: "Model folder, PEFT adapter folder or rzero checkpoint.") var model: String
    @Option(help: "Output folder (written atomically).") var out: String
    @Option(help: "float32, bfloat16 or float16 (default: the source checkpoint's dtype).") var dtype: String?
    @Option(help: "Base model folder for an adapter folder (default: its base_model_name_or_path).") var base: String?
    @Flag(help: "Replace --out if it exists.") var overwrite = false

    struct Output: Encodable {
        let out: String
        let dtype: String
        let bytes: Int
        let mergedAdapters: Bool
    }

    func run() throws {
        if let dtype, ModelExport.dtypes[dtype] == nil {
            throw failure("--dtype must be one of \(ModelExport.dtypes.keys.sorted().joined(separator: ", ")) (got \(dtype))")
        }
        guard overwrite || !FileManager.default.fileExists(atPath: out) else { throw failure("\(out) exists; pass --overwrite to replace it") }
        guard ModelFolder.absolutePath(out) != ModelFolder.absolutePath(model) else { throw failure("--out must differ from --model") }
        do {
            let isAdapter = !FileManager.default.fileExists(atPath: model + "/" + ModelFolder.configName) && AdapterFolder.isAdapterFolder(model)
            let baseDir = isAdapter ? try base ?? ModelFolder.adapterBasePath(model) : nil
            let m = isAdapter ? try ModelFolder.loadAdapted(model, base: baseDir) : try ModelFolder.load(model)
            let merged = m.adapters != nil
            let written = try ModelExport.write(m, to: out, dtype: dtype, companionFiles: ModelFolder.companionFiles(of: model, fallback: baseDir))
            try printJSON(Output(out: out, dtype: written, bytes: AtomicFolder.size(out), mergedAdapters: merged))
        } catch let e as ModelError {
            throw failure(e.description)
        }
    }
}
