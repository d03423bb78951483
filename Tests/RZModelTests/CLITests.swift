import Foundation
import Testing
import RZModel
import RZTestSupport

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
