import Foundation
import Testing
import RZCoordinator
import RZTestSupport

@Suite("Run configuration, plan and report")
struct ConfigTests {
    @Test("a file's keys overlay the defaults; unknown keys and bad values are errors naming the setting")
    func parsing() throws {
        let c = try RunConfig.parse(Data(#"{"iterations": 2, "votes": {"samples": 6}, "pool": {"band": "share_range"}}"#.utf8))
        var expected = RunConfig()
        expected.iterations = 2
        expected.votes.samples = 6
        expected.pool.band = "share_range"
        #expect(c == expected)
        func error(_ json: String) -> String {
            do { _ = try RunConfig.parse(Data(json.utf8)); return "" } catch { return "\(error)" }
        }
        #expect(error(#"{"votes": {"sample": 6}}"#).contains("votes.sample"))
        #expect(error(#"{"iterations": "three"}"#).contains("iterations"))
        #expect(error(#"{"iterations": 0}"#).contains("iterations"))
        #expect(error(#"{"votes": 3}"#).contains("votes"))
        #expect(error(#"{"pool": {"band": "wide"}}"#).contains("pool.band"))
        #expect(error(#"{"services": {"solvers": []}}"#).contains("services.solvers"))
        #expect(error("[1]").contains("object"))
        #expect(error("{").contains("not valid JSON"))
        // The resolved configuration round-trips.
        #expect(try RunConfig.parse(c.encoded()) == c)
    }

    @Test("the plan has every unit once, in phase order; the base-Challenger ablation has no Challenger training")
    func plan() {
        var c = RunConfig()
        c.evaluation.datasets = ["x.jsonl"]
        let plan = c.plan()
        #expect(plan.first == .start && plan[1] == .evaluate(iteration: 0))
        #expect(plan.filter { if case .train(.challenger, _, _) = $0 { return true } else { return false } }.count == c.iterations * c.challenger.steps)
        #expect(plan.filter { if case .train(.solver, _, _) = $0 { return true } else { return false } }.count == c.iterations * c.solver.steps)
        #expect(Set(plan.map(\.description)).count == plan.count)
        c.challenger.train = false
        #expect(!c.plan().contains { if case .challengerSample = $0 { return true } else { return false } })
    }

    @Test("every configuration shipped in configs/ parses, and the ablations differ from the default where they say")
    func shippedConfigurations() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
        let main = try RunConfig.load(path: root + "/configs/default.json")
        #expect(main.evaluation.datasets == ["models/base/heldout.jsonl"] && main.iterations == 3)
        let names = try FileManager.default.contentsOfDirectory(atPath: root + "/configs/ablations").filter { $0.hasSuffix(".json") }
        #expect(names.count >= 7)
        for name in names {
            let c = try RunConfig.load(path: root + "/configs/ablations/" + name)
            #expect(c != main, "\(name) is the default configuration")
        }
        let base = try RunConfig.load(path: root + "/configs/ablations/base-challenger.json")
        #expect(!base.challenger.train && base.pool == main.pool)
    }

    @Test("derived seeds differ per unit and repeat exactly")
    func seeds() {
        #expect(UnitSeed.derive(1, 2, 3) == UnitSeed.derive(1, 2, 3))
        #expect(UnitSeed.derive(1, 2, 3) != UnitSeed.derive(1, 3, 2))
        #expect(UnitSeed.derive(1, 2, 3) != UnitSeed.derive(2, 2, 3))
    }
}
