import ArgumentParser
import Foundation
import RZModel
import RZTensor

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Benchmarks (placeholder, filled in below).")
    func run() throws {}
}
