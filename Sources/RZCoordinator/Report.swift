import Foundation
import RZModel
import RZRewards

/// Per-iteration numbers of one run, computed from its run directory alone.
public struct IterationSummary: Codable, Sendable, Equatable {
    public var iteration: Int
    public var challengerSamples = 0
    public var challengerFormatRate: Double?
    public var challengerMeanReward: Double?
    public var challengerMeanShare: Double?
    public var poolQuestions = 0
    public var poolValid = 0
    public var poolDuplicates = 0
    public var kept = 0
    /// Mean p̂ of the valid pool questions; 1 − it is the label-free difficulty of the questions.
    public var poolMeanShare: Double?
    public var poolShares: [Double] = []
    public var solverMeanReward: Double?
    public var solverKL: Double?
    /// Whether the rollback stabiliser discarded this iteration's Solver training (nil: not checked).
    public var rolledBack: Bool?
    public var challengerKL: Double?
    /// Share of kept pseudo-labels equal to the true answer (needs an answer oracle; report only).
    public var pseudoLabelAccuracy: Double?
    public var pseudoLabelChecked = 0
    /// Pseudo-label accuracy of every valid pool question (kept or not) by its p̂ (report only).
    public var calibration: [CalibrationBin] = []
    public var heldOut: [EvalRecord] = []
}

/// Pool questions whose majority share p̂ lies in [low, high) (the last bin includes 1), and how many
/// of their majority answers are right.
public struct CalibrationBin: Codable, Sendable, Equatable {
    public var low: Double
    public var high: Double
    public var checked = 0
    public var right = 0

    /// Bin edges: the band filters act on p̂ in these ranges (paper: 0.25…0.75; default: 0.5…0.9).
    public static let edges: [Double] = [0, 0.3, 0.5, 0.7, 0.9, 1]

    /// Buckets the pool questions the oracle can answer by p̂. Shares are multiples of 1/m, so a share on
    /// an edge (0.9 of 10 votes) goes to the bin it starts, whatever its floating-point rounding.
    public static func bins(_ pool: [PoolRecord], oracle: (String) -> String?, grader: MathGrader) -> [CalibrationBin] {
        bins(graded(pool, oracle: oracle, grader: grader))
    }

    static func bins(_ graded: [GradedPoolQuestion]) -> [CalibrationBin] {
        var bins = zip(edges, edges.dropFirst()).map { CalibrationBin(low: $0, high: $1) }
        for g in graded {
            let k = bins.lastIndex { g.record.majorityShare >= $0.low - 1e-9 } ?? 0
            bins[k].checked += 1
            if g.right { bins[k].right += 1 }
        }
        return bins
    }

    /// The valid, non-duplicate pool questions the oracle can answer, each with whether its majority is right.
    static func graded(_ pool: [PoolRecord], oracle: (String) -> String?, grader: MathGrader) -> [GradedPoolQuestion] {
        pool.compactMap { r in
            guard !r.duplicate, let q = r.question, let label = r.majorityAnswer, let truth = oracle(q) else { return nil }
            return GradedPoolQuestion(record: r, right: grader.equivalent(label, truth))
        }
    }
}

struct GradedPoolQuestion {
    let record: PoolRecord
    let right: Bool
}

/// Reads a run directory into per-iteration summaries.
public struct RunSummary: Sendable {
    public var name: String
    public var config: RunConfig
    public var state: RunState
    public var iterations: [IterationSummary]
    public var baseEval: [EvalRecord]
    public var steps: [StepRecord]
    /// Every pool question of the run (for the report's question samples).
    public var pool: [PoolRecord] = []
    /// The completed units, in order (the report's timeline).
    public var events: [EventRecord] = []
    /// Per held-out set and iteration (0: the base Solver), its per-question evaluation.
    public var evalDetails: [String: [Int: [EvalDetail]]] = [:]

    /// `oracle` maps a question to its true answer when it can (procedural families); it is used
    /// for the pseudo-label accuracy column only.
    public init(directory: RunDirectory, oracle: (@Sendable (String) -> String?)? = nil) throws {
        name = (directory.path as NSString).lastPathComponent
        config = try directory.loadConfig()
        state = try directory.loadState()
        let committed = state.journalLengths
        func journal<T: Decodable>(_ type: T.Type, _ name: String) throws -> [T] {
            // Only what the state file vouches for: lines past the committed length are from a unit in progress.
            guard let data = FileManager.default.contents(atPath: directory.journalPath(name)) else { return [] }
            let valid = data.prefix(Int(committed[name] ?? UInt64(data.count)))
            return try valid.split(separator: 0x0A).map { try RunDirectory.decoder.decode(type, from: Data($0)) }
        }
        let challenger = try journal(ChallengerRecord.self, "challenger")
        let pool = try journal(PoolRecord.self, "pool")
        let solver = try journal(SolverRecord.self, "solver")
        let trainSteps = try journal(StepRecord.self, "train")
        steps = trainSteps
        let evals = try journal(EvalRecord.self, "eval")
        let health = try journal(HealthRecord.self, "health")
        let probe = try journal(ProbeRecord.self, "probe")
        self.pool = pool
        events = try journal(EventRecord.self, "events")
        for e in evals {
            // Detail files of evaluations the state vouches for; a missing or unreadable one leaves that cell out.
            if let details = try? directory.readLines(EvalDetail.self, from: directory.evalDetailPath(iteration: e.iteration, dataset: e.dataset)),
               !details.isEmpty {
                evalDetails[e.dataset, default: [:]][e.iteration] = details
            }
        }
        baseEval = evals.filter { $0.iteration == 0 }
        let grader = MathGrader()
        func mean(_ xs: [Double]) -> Double? { xs.isEmpty ? nil : xs.reduce(0, +) / Double(xs.count) }
        let iterationCount = config.iterations
        iterations = (1...iterationCount).map { it in
            var s = IterationSummary(iteration: it)
            let c = challenger.filter { $0.iteration == it }
            s.challengerSamples = c.count
            if !c.isEmpty {
                s.challengerFormatRate = Double(c.filter { $0.formatFailure == nil }.count) / Double(c.count)
                s.challengerMeanReward = mean(c.map(\.reward))
                s.challengerMeanShare = mean(c.filter { $0.formatFailure == nil }.map(\.majorityShare))
            }
            let p = pool.filter { $0.iteration == it }
            s.poolQuestions = p.count
            let valid = p.filter { $0.question != nil && !$0.duplicate }
            s.poolValid = valid.count
            s.poolDuplicates = p.filter(\.duplicate).count
            s.kept = p.filter(\.kept).count
            s.poolShares = valid.map(\.majorityShare)
            s.poolMeanShare = mean(s.poolShares)
            s.solverMeanReward = mean(solver.filter { $0.iteration == it }.map(\.reward))
            s.solverKL = mean(trainSteps.filter { $0.role == "solver" && $0.iteration == it }.compactMap(\.kl))
            // Either stabiliser that can discard a phase: no reward progress (health) or ground lost on the probe.
            let discards = [health.last { $0.iteration == it }?.rolledBack, probe.last { $0.iteration == it && $0.point == "end" }?.rolledBack]
            s.rolledBack = discards.allSatisfy { $0 == nil } ? nil : discards.contains(true)
            s.challengerKL = mean(trainSteps.filter { $0.role == "challenger" && $0.iteration == it }.compactMap(\.kl))
            if let oracle {
                // Every question is graded once: the kept ones give the pseudo-label accuracy (duplicates
                // are never kept), all of them the calibration.
                let graded = CalibrationBin.graded(p, oracle: oracle, grader: grader)
                let kept = graded.filter(\.record.kept)
                s.pseudoLabelChecked = kept.count
                s.pseudoLabelAccuracy = kept.isEmpty ? nil : Double(kept.filter(\.right).count) / Double(kept.count)
                s.calibration = CalibrationBin.bins(graded)
            }
            s.heldOut = evals.filter { $0.iteration == it }
            return s
        }
    }
}

/// The HTML report of one run, optionally beside other runs (ablations): self-contained, charts as SVG.
public enum Report {
    public static func html(main: RunSummary, compared: [RunSummary] = []) -> String {
        var h = """
        <!doctype html><html><head><meta charset="utf-8"><title>rzero run \(esc(main.name))</title>
        <style>
        body{font:14px/1.45 -apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px auto;max-width:1100px;color:#222}
        table{border-collapse:collapse;margin:8px 0 20px}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
        th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}pre{background:#f7f7f7;padding:8px;overflow:auto;max-height:400px}
        .charts{display:flex;flex-wrap:wrap;gap:16px}.note{color:#666}
        td.text{text-align:left;vertical-align:top;max-width:520px}.kept{color:#17652b}.dropped{color:#9b1c1c}
        details summary{color:#555;cursor:pointer;font-size:12px}details pre{white-space:pre-wrap;max-height:240px;font-size:12px}
        .track{width:260px;height:10px;background:#f1f1f1}.bar{height:10px;background:#4a78c2}
        </style></head><body>
        <h1>rzero run <code>\(esc(main.name))</code></h1>
        <p>Run id \(esc(main.state.runId)); \(main.state.finishedAt == nil ? "<b>unfinished</b> (\(main.state.nextUnit) units done)" : "finished") ·
        started \(esc(iso(main.state.startedAt)))\(main.state.finishedAt.map { " · finished " + esc(iso($0)) } ?? "").</p>
        """
        h += "<h2>Per iteration</h2>" + iterationTable(main)
        h += "<h2>Held-out accuracy (Solver, greedy)</h2>" + heldOutTable([main] + compared)
        h += "<div class=\"charts\">"
        h += lineChart("Held-out greedy accuracy", yLabel: "accuracy", series: ([main] + compared).flatMap(accuracySeries))
        h += lineChart("Pseudo-label accuracy (kept questions, vs true answers)", yLabel: "accuracy",
                       series: ([main] + compared).map { r in (r.name, r.iterations.compactMap { i in i.pseudoLabelAccuracy.map { (Double(i.iteration), $0) } }) })
        h += lineChart("Challenger reward per step", yLabel: "mean reward",
                       series: ([main] + compared).map { r in (r.name, indexed(r.steps.filter { $0.role == "challenger" }.map(\.meanReward))) })
        h += lineChart("Solver reward per step", yLabel: "mean reward",
                       series: ([main] + compared).map { r in (r.name, indexed(r.steps.filter { $0.role == "solver" }.map(\.meanReward))) })
        h += lineChart("KL to the reference per step", yLabel: "KL",
                       series: ([main] + compared).flatMap { r in
                           ["challenger", "solver"].map { role in ("\(r.name) \(role)", indexed(r.steps.filter { $0.role == role }.compactMap(\.kl))) }
                       })
        h += lineChart("Question difficulty (1 − mean p̂ of the pool)", yLabel: "1 − p̂",
                       series: ([main] + compared).map { r in (r.name, r.iterations.compactMap { i in i.poolMeanShare.map { (Double(i.iteration), 1 - $0) } }) })
        h += barChart("Kept questions per iteration", labels: main.iterations.map { "it \($0.iteration)" },
                      series: ([main] + compared).map { r in (r.name, r.iterations.map { Double($0.kept) }) })
        for it in main.iterations where !it.poolShares.isEmpty {
            h += histogram("p̂ of the pool, iteration \(it.iteration)", values: it.poolShares, bins: 10)
        }
        h += "</div>"
        h += "<h2>What the Challenger wrote, and what became of it</h2>"
            + "<p class=\"note\">Per iteration, pool questions spread over p̂ (the share of the Solver's answers that agree with "
            + "the majority), then one that broke the format and one duplicate when there were any.</p>"
        for it in main.iterations {
            let samples = questionSamples(main, iteration: it.iteration)
            if !samples.isEmpty { h += "<h3>Iteration \(it.iteration)</h3>" + samples }
        }
        h += "<h2>The Solver before and after training</h2>" + beforeAfter(main)
        h += "<h2>Timeline</h2>" + timeline(main)
        h += "<h2>Disk</h2>" + diskTable(main.state)
        h += "<h2>Settings</h2><pre>\(esc(String(decoding: (try? main.config.encoded()) ?? Data(), as: UTF8.self)))</pre>"
        if !compared.isEmpty {
            h += "<h2>Compared runs: differing settings</h2>" + settingsDiff(main: main, compared: compared)
        }
        h += "<p class=\"note\">Held-out answers are used only for these tables and charts; the run never read them.</p></body></html>"
        return h
    }

    /// The run's checkpoints kept on the services' disks, what retention freed, and the final exports.
    static func diskTable(_ state: RunState) -> String {
        func mb(_ b: Int) -> String { String(format: "%.1f MB", Double(b) / 1e6) }
        var h = "<table><tr><th>role</th><th>checkpoints kept</th><th>on disk</th></tr>"
        for role in ["challenger", "solver"] {
            let kept = state.checkpoints.filter { $0.role == role }
            h += "<tr><td>\(role)</td><td>\(esc(kept.map(\.name).joined(separator: ", ")))</td>"
                + "<td>\(mb(kept.reduce(0) { $0 + ($1.sizeBytes ?? 0) }))</td></tr>"
        }
        h += "</table><p>Deleted by retention (<code>checkpoints.keep_last</code>): \(mb(state.deletedCheckpointBytes ?? 0)).</p>"
        if let exports = state.exports, !exports.isEmpty {
            h += "<table><tr><th>final model</th><th>folder (on the service's host)</th><th>dtype</th><th>size</th><th>step</th></tr>"
            for e in exports {
                h += "<tr><td>\(esc(e.role))</td><td><code>\(esc(e.path))</code></td><td>\(esc(e.dtype))</td><td>\(mb(e.sizeBytes))</td><td>\(e.step)</td></tr>"
            }
            h += "</table>"
        }
        return h
    }

    /// Writes the report atomically; returns its path.
    @discardableResult
    public static func write(main: RunSummary, compared: [RunSummary], to path: String) throws -> String {
        try AtomicFile.write(Data(html(main: main, compared: compared).utf8), to: path)
        return path
    }

    static func esc(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    static func iso(_ d: Date) -> String { ISO8601DateFormatter().string(from: d) }

    static func fmt(_ x: Double?, _ digits: Int = 3) -> String { x.map { String(format: "%.\(digits)f", $0) } ?? "–" }

    static func indexed(_ ys: [Double]) -> [(Double, Double)] { ys.enumerated().map { (Double($0.offset + 1), $0.element) } }

    static func accuracySeries(_ r: RunSummary) -> [(String, [(Double, Double)])] {
        let names = Set((r.baseEval + r.iterations.flatMap(\.heldOut)).map(\.dataset)).sorted()
        return names.map { set in
            var points: [(Double, Double)] = r.baseEval.filter { $0.dataset == set }.map { (0, $0.greedyAccuracy) }
            for i in r.iterations { points += i.heldOut.filter { $0.dataset == set }.map { (Double(i.iteration), $0.greedyAccuracy) } }
            return (names.count == 1 ? r.name : "\(r.name) \(set)", points)
        }
    }

    static func iterationTable(_ r: RunSummary) -> String {
        var t = "<table><tr><th>iteration</th><th>Challenger format ok</th><th>Challenger reward</th><th>Challenger mean p̂</th>"
            + "<th>pool valid / duplicates</th><th>kept</th><th>pool mean p̂</th><th>pseudo-label acc.</th><th>Solver reward</th>"
            + "<th>Solver KL</th><th>Solver rolled back</th><th>held-out greedy</th><th>held-out maj@m</th></tr>"
        for d in r.baseEval {
            t += "<tr><td>base (\(esc(d.dataset)))</td><td colspan=\"9\"></td><td>\(fmt(d.greedyAccuracy))</td><td>\(fmt(d.majorityAccuracy))</td></tr>"
        }
        for i in r.iterations {
            let greedy = i.heldOut.map { fmt($0.greedyAccuracy) }.joined(separator: " / ")
            let majority = i.heldOut.map { fmt($0.majorityAccuracy) }.joined(separator: " / ")
            t += "<tr><td>\(i.iteration)</td><td>\(fmt(i.challengerFormatRate))</td><td>\(fmt(i.challengerMeanReward))</td>"
                + "<td>\(fmt(i.challengerMeanShare))</td><td>\(i.poolValid) / \(i.poolDuplicates)</td><td>\(i.kept)</td>"
                + "<td>\(fmt(i.poolMeanShare))</td><td>\(fmt(i.pseudoLabelAccuracy)) (\(i.pseudoLabelChecked))</td>"
                + "<td>\(fmt(i.solverMeanReward))</td><td>\(fmt(i.solverKL, 4))</td>"
                + "<td>\(i.rolledBack.map { $0 ? "yes" : "no" } ?? "–")</td><td>\(greedy.isEmpty ? "–" : greedy)</td>"
                + "<td>\(majority.isEmpty ? "–" : majority)</td></tr>"
        }
        t += "</table>"
        if r.iterations.contains(where: { !$0.calibration.isEmpty }) {
            t += "<h3>Pseudo-label accuracy by p̂ (every valid pool question, against the true answers)</h3>"
                + "<table><tr><th>iteration</th>" + zip(CalibrationBin.edges, CalibrationBin.edges.dropFirst()).map { low, high in
                    "<th>\(fmt(low, 1)) ≤ p̂ \(high == 1 ? "≤" : "&lt;") \(fmt(high, 1))</th>"
                }.joined() + "</tr>"
            for i in r.iterations where !i.calibration.isEmpty {
                t += "<tr><td>\(i.iteration)</td>" + i.calibration.map { b in
                    "<td>\(b.checked == 0 ? "–" : fmt(Double(b.right) / Double(b.checked), 2)) (\(b.checked))</td>"
                }.joined() + "</tr>"
            }
            t += "</table>"
        }
        let families = Set(r.iterations.flatMap { $0.heldOut.flatMap { $0.byFamily.map(\.name) } } + r.baseEval.flatMap { $0.byFamily.map(\.name) }).sorted()
        if !families.isEmpty {
            t += "<h3>Held-out greedy accuracy by family and difficulty</h3><table><tr><th>slice</th><th>base</th>"
            t += r.iterations.map { "<th>it \($0.iteration)</th>" }.joined() + "</tr>"
            let difficulties = Set(r.baseEval.flatMap { $0.byDifficulty.map(\.name) }).sorted()
            for (kind, names) in [("family", families), ("difficulty", difficulties)] {
                for n in names {
                    func acc(_ e: [EvalRecord]) -> String {
                        let slices = e.flatMap { kind == "family" ? $0.byFamily : $0.byDifficulty }.filter { $0.name == n }
                        let count = slices.reduce(0) { $0 + $1.count }
                        return count == 0 ? "–" : fmt(Double(slices.reduce(0) { $0 + $1.greedyCorrect }) / Double(count))
                    }
                    t += "<tr><td>\(kind) \(esc(n))</td><td>\(acc(r.baseEval))</td>" + r.iterations.map { "<td>\(acc($0.heldOut))</td>" }.joined() + "</tr>"
                }
            }
            t += "</table>"
        }
        return t
    }

    static func heldOutTable(_ runs: [RunSummary]) -> String {
        let iterations = runs.map(\.config.iterations).max() ?? 0
        var t = "<table><tr><th>run</th><th>base</th>" + (1...max(1, iterations)).map { "<th>it \($0)</th>" }.joined() + "</tr>"
        for r in runs {
            t += "<tr><td>\(esc(r.name))</td><td>\(r.baseEval.map { fmt($0.greedyAccuracy) }.joined(separator: " / "))</td>"
            for it in 1...max(1, iterations) {
                let e = r.iterations.first { $0.iteration == it }?.heldOut ?? []
                t += "<td>\(e.isEmpty ? "–" : e.map { fmt($0.greedyAccuracy) }.joined(separator: " / "))</td>"
            }
            t += "</tr>"
        }
        return t + "</table>"
    }

    static func settingsDiff(main: RunSummary, compared: [RunSummary]) -> String {
        func flatten(_ c: RunConfig) -> [String: String] {
            guard let data = try? c.encoded(), let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return [:] }
            var out: [String: String] = [:]
            func walk(_ v: Any, _ path: String) {
                if let o = v as? [String: Any] { for (k, x) in o { walk(x, path.isEmpty ? k : path + "." + k) } } else { out[path] = "\(v)" }
            }
            walk(object, "")
            return out
        }
        let base = flatten(main.config)
        var t = "<table><tr><th>run</th><th>settings that differ from \(esc(main.name))</th></tr>"
        for r in compared {
            let other = flatten(r.config)
            let diff = other.keys.sorted().filter { other[$0] != base[$0] && !$0.hasPrefix("services.") }
                .map { "\($0) = \(other[$0] ?? "")" }
            t += "<tr><td>\(esc(r.name))</td><td style=\"text-align:left\">\(esc(diff.joined(separator: "; ")))</td></tr>"
        }
        return t + "</table>"
    }

    // MARK: SVG

    static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]
    static let width = 520.0, height = 260.0, left = 50.0, right = 10.0, top = 28.0, bottom = 36.0

    static func frame(_ title: String, yLabel: String, yMin: Double, yMax: Double, xMin: Double, xMax: Double,
                      categories: [String]? = nil, xLabel: String? = nil) -> String {
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" font-size=\"11\">"
        s += "<text x=\"\(width / 2)\" y=\"16\" text-anchor=\"middle\" font-size=\"13\" font-weight=\"bold\">\(esc(title))</text>"
        s += "<line x1=\"\(left)\" y1=\"\(height - bottom)\" x2=\"\(width - right)\" y2=\"\(height - bottom)\" stroke=\"#444\"/>"
        s += "<line x1=\"\(left)\" y1=\"\(top)\" x2=\"\(left)\" y2=\"\(height - bottom)\" stroke=\"#444\"/>"
        for k in 0...4 {
            let v = yMin + (yMax - yMin) * Double(k) / 4
            let y = height - bottom - (height - bottom - top) * Double(k) / 4
            s += "<text x=\"\(left - 4)\" y=\"\(y + 4)\" text-anchor=\"end\">\(String(format: "%.3g", v))</text>"
            s += "<line x1=\"\(left)\" y1=\"\(y)\" x2=\"\(width - right)\" y2=\"\(y)\" stroke=\"#eee\"/>"
        }
        if let categories {
            // Bar charts: each category's name under the middle of its slot.
            let slot = (width - left - right) / Double(max(categories.count, 1))
            for (i, name) in categories.enumerated() {
                s += "<text x=\"\(left + slot * (Double(i) + 0.5))\" y=\"\(height - bottom + 13)\" text-anchor=\"middle\">\(esc(name))</text>"
            }
        } else {
            // Every integer on a short axis (iterations), else the two ends (steps).
            let everyInteger = xMax - xMin <= 12 && xMin == xMin.rounded()
            let xTicks = everyInteger ? stride(from: xMin, through: xMax, by: 1).map { $0 } : [xMin, xMax]
            for x in xTicks {
                let px = left + (width - left - right) * (x - xMin) / max(xMax - xMin, 1e-9)
                s += "<text x=\"\(px)\" y=\"\(height - 6)\" text-anchor=\"middle\">\(String(format: "%.3g", x))</text>"
            }
        }
        if let xLabel {
            s += "<text x=\"\(left + (width - left - right) / 2)\" y=\"\(height - 2)\" text-anchor=\"middle\">\(esc(xLabel))</text>"
        }
        s += "<text x=\"12\" y=\"\(top + (height - top - bottom) / 2)\" transform=\"rotate(-90 12 \(top + (height - top - bottom) / 2))\" text-anchor=\"middle\">\(esc(yLabel))</text>"
        return s
    }

    /// The smallest of 1, 2, 2.5 and 5 times a power of ten that is at least `raw` (a readable grid step).
    static func niceStep(_ raw: Double) -> Double {
        guard raw > 0, raw.isFinite else { return 1 }
        let magnitude = pow(10, (log10(raw)).rounded(.down))
        for m in [1, 2, 2.5, 5, 10] where m * magnitude >= raw * (1 - 1e-12) { return m * magnitude }
        return 10 * magnitude
    }

    static func lineChart(_ title: String, yLabel: String, series: [(String, [(Double, Double)])]) -> String {
        let points = series.flatMap(\.1)
        guard !points.isEmpty else { return "" }
        let xs = points.map(\.0), ys = points.map(\.1)
        var yMin = min(0, ys.min() ?? 0), yMax = ys.max() ?? 1
        if yMax - yMin < 1e-9 { yMax = yMin + 1 }
        yMin = yMin < 0 ? yMin : 0
        yMax = yMin + 4 * niceStep((yMax - yMin) / 4)
        let xMin = xs.min() ?? 0, xMax = max((xs.max() ?? 1), xMin + 1)
        func px(_ x: Double) -> Double { left + (width - left - right) * (x - xMin) / (xMax - xMin) }
        func py(_ y: Double) -> Double { height - bottom - (height - bottom - top) * (y - yMin) / (yMax - yMin) }
        var s = frame(title, yLabel: yLabel, yMin: yMin, yMax: yMax, xMin: xMin, xMax: xMax)
        for (k, (name, pts)) in series.enumerated() where !pts.isEmpty {
            let color = palette[k % palette.count]
            let path = pts.map { String(format: "%.1f,%.1f", px($0.0), py($0.1)) }.joined(separator: " ")
            s += "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"1.8\" points=\"\(path)\"/>"
            for p in pts where pts.count <= 40 { s += String(format: "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" fill=\"\(color)\"/>", px(p.0), py(p.1)) }
            s += "<text x=\"\(left + 8)\" y=\"\(top + 12 + Double(k) * 13)\" fill=\"\(color)\">\(esc(name))</text>"
        }
        return s + "</svg>"
    }

    static func barChart(_ title: String, labels: [String], series: [(String, [Double])], xLabel: String? = nil) -> String {
        let values = series.flatMap(\.1)
        guard !values.isEmpty, !labels.isEmpty else { return "" }
        let yMax = max(values.max() ?? 1, 1)
        var s = frame(title, yLabel: "count", yMin: 0, yMax: yMax, xMin: 1, xMax: Double(labels.count), categories: labels, xLabel: xLabel)
        let slot = (width - left - right) / Double(labels.count)
        let barWidth = slot * 0.8 / Double(max(series.count, 1))
        for (k, (name, vs)) in series.enumerated() {
            let color = palette[k % palette.count]
            for (i, v) in vs.enumerated() {
                let h = (height - top - bottom) * v / yMax
                s += String(format: "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"\(color)\"/>",
                            left + slot * Double(i) + slot * 0.1 + barWidth * Double(k), height - bottom - h, barWidth, h)
            }
            s += "<text x=\"\(left + 8)\" y=\"\(top + 12 + Double(k) * 13)\" fill=\"\(color)\">\(esc(name))</text>"
        }
        return s + "</svg>"
    }

    static func histogram(_ title: String, values: [Double], bins: Int) -> String {
        var counts = [Double](repeating: 0, count: bins)
        for v in values { counts[min(bins - 1, max(0, Int(v * Double(bins))))] += 1 }
        // Each bar is labelled with where its p̂ bin starts; the last bin includes p̂ = 1.
        let labels = (0..<bins).map { String(format: "%.1f", Double($0) / Double(bins)) }
        return barChart(title, labels: labels, series: [("questions", counts)], xLabel: "p̂ (majority share; bin start)")
    }
}
