import Foundation
import Testing
import RZModel
import RZTestSupport

/// Runs the `rzero` executable built next to the test bundle (`swift build --build-tests` builds both).
enum CLI {
    static var executable: String? {
        let dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for candidate in [dir, dir.deletingLastPathComponent()] {
            let p = candidate.appendingPathComponent("rzero").path
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return nil
    }

    static func run(_ args: [String], stdin: String? = nil) throws -> (status: Int32, stdout: String, stderr: String) {
        let exe = try #require(executable, "rzero executable not found next to the test bundle; build with `swift build --build-tests`")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe)
        p.arguments = args
        let out = Pipe(), err = Pipe(), inp = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = inp
        try p.run()
        if let stdin { inp.fileHandleForWriting.write(Data(stdin.utf8)) }
        try inp.fileHandleForWriting.close()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }
}

@Suite("rzero score")
struct ScoreCommandTests {
    @Test("agrees with transformers on a model folder no other test uses")
    func unseenModel() throws {
        let fx = try EngineFixture("unseen")
        for (s, seq) in fx.meta.sequences.enumerated() where seq.count > 1 {
            let r = try CLI.run(["score", "--model", fx.dir, "--ids", seq.map(String.init).joined(separator: ",")])
            #expect(r.status == 0, "\(r.stderr)")
            struct Out: Decodable { let logprobs: [Float] }
            let out = try JSONDecoder().decode(Out.self, from: Data(r.stdout.utf8))
            let ref = try fx.reference.floats("logprobs_\(s)")
            #expect(TestData.maxAbsError(out.logprobs, ref) < 1e-4)
        }
    }

    @Test("bad input: one-line error, non-zero exit", arguments: [
        ["score", "--model", "/nonexistent", "--ids", "1,2"],
        ["score", "--model", Fixtures.path("engine/unseen"), "--ids", "1,abc"],
        ["score", "--model", Fixtures.path("engine/unseen"), "--ids", "1,77"],
        ["score", "--model", Fixtures.path("engine/unseen"), "--ids", ""],
    ])
    func badInput(args: [String]) throws {
        let r = try CLI.run(args)
        #expect(r.status != 0)
        #expect(r.stdout.isEmpty)
        #expect(r.stderr.hasPrefix("error:") && r.stderr.split(separator: "\n").count == 1, "\(r.stderr)")
    }
}
