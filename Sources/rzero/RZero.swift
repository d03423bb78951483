import ArgumentParser
import Foundation
import RZModel
import RZTensor

@main
struct RZero: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rzero",
        abstract: "R-Zero on the CPU: a Qwen3 decoder with exact backward, trained by self-play.",
        subcommands: [Score.self, Export.self, Tokenize.self, Generate.self, Serve.self, Grade.self, Pretrain.self, Eval.self, Coordinate.self, ReportCommand.self, Bench.self]
    )
}

/// Options every compute command shares.
struct ComputeOptions: ParsableArguments {
    @Option(help: "Compute threads (default: all cores).")
    var threads: Int?
    @Option(help: ArgumentHelp(
        "Precision of sampling's weight products: auto, float32 or bfloat16.",
        discussion: "bfloat16 rounds weights and activations to BF16 for the products (sums stay float32; AVX512-BF16 where "
            + "the CPU has it); training and scoring stay float32. auto (default): bfloat16 on CPUs with AVX512-BF16 for "
            + "models of 50M parameters or more, where it measures faster; float32 otherwise."))
    var samplingPrecision = "auto"

    func apply() {
        Parallelism.configure(threads: threads ?? ProcessInfo.processInfo.activeProcessorCount)
    }

    /// The precision asked for, nil for auto; a one-line error for anything else.
    func precision() throws -> SamplingPrecision? {
        if samplingPrecision == "auto" { return nil }
        guard let p = SamplingPrecision(rawValue: samplingPrecision) else {
            throw failure("--sampling-precision must be auto, float32 or bfloat16 (got \(samplingPrecision))")
        }
        return p
    }

    /// Sets what the options say on a model that samples.
    func configure(_ model: DecoderModel) throws {
        model.samplingPrecision = try precision() ?? .preferred(parameterCount: model.parameterCount)
    }
}

/// Prints a one-line error to stderr and exits non-zero: the CLI's answer to bad input.
func failure(_ message: String) -> ExitCode {
    FileHandle.standardError.write(Data(("error: " + message + "\n").utf8))
    return ExitCode(1)
}

/// Encodes a JSON value to stdout on one line.
func printJSON(_ value: some Encodable, keys: JSONEncoder.KeyEncodingStrategy = .useDefaultKeys) throws {
    let encoder = JSONEncoder()
    encoder.keyEncodingStrategy = keys
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    FileHandle.standardOutput.write(try encoder.encode(value))
    FileHandle.standardOutput.write(Data("\n".utf8))
}
