import Foundation
import RZRewards

/// The parts of the report a person reads rather than plots: what the Challenger wrote and what became of it, what the
/// Solver answered before and after training, and when each phase ran.
extension Report {
    // MARK: Challenger questions across p̂

    /// Questions of one iteration's pool spread over p̂ (evenly over the valid ones sorted by p̂), then one that broke the
    /// format and one duplicate, each with the Solver's votes, the decision and its reason.
    static func questionSamples(_ r: RunSummary, iteration: Int, count: Int = 8) -> String {
        let pool = r.pool.filter { $0.iteration == iteration }
        let valid = pool.filter { $0.question != nil && !$0.duplicate && $0.formatFailure == nil }
            .sorted { ($0.majorityShare, $0.index) < ($1.majorityShare, $1.index) }
        guard !pool.isEmpty else { return "" }
        var picked: [PoolRecord] = []
        if valid.count <= count {
            picked = valid
        } else {
            var seen = Set<Int>()
            for k in 0..<count {
                let i = k * (valid.count - 1) / (count - 1)
                if seen.insert(i).inserted { picked.append(valid[i]) }
            }
        }
        if let bad = pool.first(where: { $0.formatFailure != nil }) { picked.append(bad) }
        if let dup = pool.first(where: \.duplicate) { picked.append(dup) }
        let m = r.config.votes.samples
        var h = "<table class=\"questions\"><tr><th>p̂</th><th>question (as the Challenger wrote it)</th><th>Solver votes (\(m) answers)</th>"
            + "<th>decision</th></tr>"
        for q in picked {
            let shown = q.question ?? q.text
            let share = q.formatFailure == nil && !q.duplicate ? fmt(q.majorityShare, 2) : "–"
            let decision = decision(q, config: r.config)
            h += "<tr><td>\(share)</td><td class=\"text\">\(esc(clip(shown, 300)))\(responses(q))</td>"
                + "<td class=\"text\">\(esc(votes(q)))</td><td class=\"text \(q.kept ? "kept" : "dropped")\">\(esc(decision))</td></tr>"
        }
        return h + "</table>"
    }

    /// The answer tally, most votes first: `42 ×6 · 41 ×3 · (no box) ×1`.
    static func votes(_ q: PoolRecord) -> String {
        guard !q.answers.isEmpty else { return "not voted on" }
        var counts: [String: Int] = [:]
        for a in q.answers { counts[a ?? "(no box)", default: 0] += 1 }
        return counts.sorted { ($1.value, $0.key) < ($0.value, $1.key) }.map { "\($0.key) ×\($0.value)" }.joined(separator: " · ")
    }

    /// The Solver's responses, folded.
    static func responses(_ q: PoolRecord) -> String {
        guard !q.responses.isEmpty else { return "" }
        let body = q.responses.enumerated().map { "[\($0.offset + 1)] \(clip($0.element, 240))" }.joined(separator: "\n")
        return "<details><summary>the Solver's \(q.responses.count) responses</summary><pre>\(esc(body))</pre></details>"
    }

    /// Why a pool question was kept or dropped, in the order the coordinator decides.
    public static func decision(_ q: PoolRecord, config: RunConfig) -> String {
        let band = config.informativeBand
        let bandText = band.map(describe) ?? "no band"
        if q.kept { return "kept: pseudo-label \(q.majorityAnswer ?? "?"), p̂ in \(bandText)" }
        if let failure = q.formatFailure { return "dropped: bad format (\(failure))" }
        if q.duplicate { return "dropped: duplicate of an earlier pool question" }
        guard let majority = q.majorityAnswer else { return "dropped: no response had a boxed answer" }
        if let band, !band.contains(q.majorityShare) { return "dropped: p̂ \(fmt(q.majorityShare, 2)) outside \(bandText)" }
        if config.stabilisers.challengerAnswerAgreement {
            return "dropped: the Challenger's own answer (\(q.challengerAnswer ?? "none")) differs from the majority \(majority)"
        }
        if config.stabilisers.secondOpinion {
            if equivalentText(q.secondOpinion, majority), let share = q.secondOpinionShare {
                return "dropped: the second opinion agrees but only with share \(fmt(share, 2)) (< \(fmt(config.stabilisers.secondOpinionMinShare, 2)))"
            }
            return "dropped: the second opinion (\(q.secondOpinion ?? "none")) differs from the majority \(majority)"
        }
        return "dropped"
    }

    static func equivalentText(_ a: String?, _ b: String) -> Bool { a.map { MathGrader().equivalent($0, b) } ?? false }

    static func describe(_ band: InformativeBand) -> String {
        switch band {
        case .distanceFromHalf(let d): return "[\(fmt(0.5 - d, 2)), \(fmt(0.5 + d, 2))] (|p̂ − ½| ≤ \(fmt(d, 2)))"
        case .shareRange(let low, let high): return "[\(fmt(low, 2)), \(fmt(high, 2))]"
        }
    }

    static func clip(_ s: String, _ n: Int) -> String { s.count <= n ? s : String(s.prefix(n)) + "…" }

    // MARK: Solver answers before and after

    /// The same held-out questions answered (greedy) by the base Solver and after the last evaluated iteration: those
    /// whose verdict changed first (up to half), then the first questions of the set.
    static func beforeAfter(_ r: RunSummary, count: Int = 8) -> String {
        guard let dataset = r.evalDetails.keys.sorted().first, let before = r.evalDetails[dataset]?[0],
              let last = r.evalDetails[dataset]?.keys.filter({ $0 > 0 }).max(), let after = r.evalDetails[dataset]?[last],
              before.count == after.count, !before.isEmpty
        else { return "<p class=\"note\">No held-out evaluation before and after training.</p>" }
        let changed = before.indices.filter { before[$0].greedyCorrect != after[$0].greedyCorrect }
        var chosen = Array(changed.prefix(count / 2))
        for i in before.indices where chosen.count < count && !chosen.contains(i) { chosen.append(i) }
        var h = "<p>Held-out set <code>\(esc(dataset))</code>, greedy answers of the base Solver and after iteration \(last) "
            + "(\(changed.count) of \(before.count) questions changed verdict).</p>"
        h += "<table class=\"questions\"><tr><th>question</th><th>answer</th><th>base Solver</th><th>after iteration \(last)</th></tr>"
        for i in chosen.sorted() {
            h += "<tr><td class=\"text\">\(esc(clip(before[i].question, 200)))</td><td>\(esc(before[i].answer))</td>"
                + answerCell(before[i]) + answerCell(after[i]) + "</tr>"
        }
        return h + "</table>"
    }

    static func answerCell(_ d: EvalDetail) -> String {
        let verdict = d.greedyCorrect ? "✓" : "✗"
        return "<td class=\"text \(d.greedyCorrect ? "kept" : "dropped")\"><b>\(verdict) \(esc(d.greedyAnswer ?? "(no box)"))</b>"
            + "<details><summary>response</summary><pre>\(esc(clip(d.greedyResponse, 600)))</pre></details></td>"
    }

    // MARK: Timeline

    /// The run's units grouped into phases (consecutive units of one kind and iteration), with when each started, how
    /// long it took, and what interrupted it (resumes, service restores, re-runs).
    static func timeline(_ r: RunSummary) -> String {
        guard let first = r.events.first else { return "<p class=\"note\">No units done yet.</p>" }
        struct Phase {
            var name: String
            var units = 0
            var start: Date
            var end: Date
            var seconds = 0.0
            var notes: [String] = []
        }
        var phases: [Phase] = []
        for e in r.events {
            let name = phaseName(e.name)
            let start = e.finishedAt.addingTimeInterval(-e.seconds)
            if phases.last?.name != name { phases.append(Phase(name: name, start: start, end: e.finishedAt)) }
            phases[phases.count - 1].units += 1
            phases[phases.count - 1].end = e.finishedAt
            phases[phases.count - 1].seconds += e.seconds
            phases[phases.count - 1].notes += (e.notes ?? []).map { "unit \(e.unit): \($0)" }
        }
        let origin = min(r.state.startedAt, first.finishedAt.addingTimeInterval(-first.seconds))
        let total = max(1, (phases.last?.end ?? origin).timeIntervalSince(origin))
        var h = "<p>\(r.events.count) units in \(clock(total)) of wall time"
        let interruptions = phases.flatMap(\.notes)
        h += interruptions.isEmpty ? "; nothing interrupted the run.</p>" : "; \(interruptions.count) interruption(s), listed by their phase.</p>"
        h += "<table class=\"timeline\"><tr><th>phase</th><th>units</th><th>started</th><th>duration</th><th>when</th><th>notes</th></tr>"
        for p in phases {
            let offset = p.start.timeIntervalSince(origin), length = p.end.timeIntervalSince(p.start)
            let bar = String(format: "<div class=\"track\"><div class=\"bar\" style=\"margin-left:%.2f%%;width:%.2f%%\"></div></div>",
                             100 * offset / total, max(0.3, 100 * length / total))
            h += "<tr><td>\(esc(p.name))</td><td>\(p.units)</td><td>+\(clock(offset))</td><td>\(clock(p.seconds))</td><td>\(bar)</td>"
                + "<td class=\"text\">\(esc(p.notes.joined(separator: "; ")))</td></tr>"
        }
        return h + "</table>"
    }

    /// A unit's phase: `train-solver[2.7]` → `iteration 2 · Solver training`.
    static func phaseName(_ unit: String) -> String {
        let kind = unit.prefix { $0 != "[" }
        let inside = unit.drop { $0 != "[" }.dropFirst().prefix { $0 != "]" && $0 != "." }
        let label: String
        switch kind {
        case "start": return "start (checkpoints of both services)"
        case "finish": return "finish (final models exported)"
        case "evaluate": return inside == "0" ? "held-out evaluation of the base Solver" : "iteration \(inside) · held-out evaluation"
        case "begin-challenger", "challenger-sample", "train-challenger", "end-challenger": label = "Challenger training"
        case "pool", "dataset": label = "question pool, votes and dataset"
        case "begin-solver", "solver-sample", "train-solver", "end-solver": label = "Solver training"
        default: label = String(kind)
        }
        return "iteration \(inside) · \(label)"
    }

    static func clock(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%d:%02d", s / 60, s % 60)
    }
}
