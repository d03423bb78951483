#!/usr/bin/env python3
"""Markdown tables of finished runs, as docs/self-evolution.md shows them.

    scripts/ablation_table.py [--rzero .build/debug/rzero] RUN_DIR...

Reads every run through `rzero report --json` (the numbers the HTML report shows) and prints:
1. per run: held-out greedy accuracy (base -> each iteration), majority-of-m after the last iteration,
   and the pseudo-label accuracy of the kept questions per iteration (report only: the run never saw it);
2. per configuration (runs named NAME-sSEED): the mean over seeds and the worst drop from one
   iteration to the next;
3. per run: pseudo-label accuracy by p-hat bin and iteration (calibration);
4. with --pair A:B (configuration names, seeds matched): the paired difference of held-out greedy
   accuracy after the last iteration, over every question of every seed, with its standard error
   (sqrt(discordant) / n); and for each configuration, the paired change from iteration 1 to the last
   (with --steps, of every iteration against the one before). --iteration N compares after iteration N instead of
   the last (runs of different lengths: a 3-iteration row against the first three of a 5-iteration default).
   --dataset picks the evaluation set (default heldout;
   settings are chosen on validation).
"""
import os
import argparse
import collections
import functools
import json
import re
import subprocess
import sys


def summaries(rzero, runs):
    compare = ["--compare", *runs[1:]] if len(runs) > 1 else []
    out = subprocess.run([rzero, "report", "--run", runs[0], *compare, "--json"],
                         check=True, capture_output=True, text=True).stdout
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def pct(x):
    return "–" if x is None else f"{100 * x:.1f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rzero", default=".build/debug/rzero")
    ap.add_argument("--pair", action="append", default=[], help="A:B, two configuration names to compare")
    ap.add_argument("--dataset", default="heldout",
                    help="which evaluation set the tables use (its file name without .jsonl; choose settings on 'validation')")
    ap.add_argument("--steps", action="store_true", help="also the paired change of every iteration against the one before")
    ap.add_argument("--iteration", type=int, help="compare after this iteration (default: the first run's last)")
    ap.add_argument("runs", nargs="+")
    args = ap.parse_args()
    rows = summaries(args.rzero, args.runs)
    global DATASET
    DATASET = args.dataset

    def pick(records):
        """The chosen set's record among an iteration's evaluations (None if it was not evaluated)."""
        return next((e for e in records if e.get("dataset") == DATASET), None)

    print("| run | greedy: base → " + " → ".join(str(i["iteration"]) for i in rows[0]["iterations"])
          + " | maj@m last | pseudo-label acc. per iteration | kept per iteration |")
    print("|---|---|---|---|---|")
    by_config = collections.defaultdict(list)
    runs_of = collections.defaultdict(dict)  # configuration -> seed -> run directory
    for path, r in zip(args.runs, rows):
        name, seed = config_and_seed(r["run"])
        if seed is not None:
            runs_of[name][seed] = path
        base = (pick(r["base"]) or {}).get("greedy_accuracy")
        greedy = [(pick(i["held_out"]) or {}).get("greedy_accuracy") for i in r["iterations"]]
        majority = (pick(r["iterations"][-1]["held_out"]) or {}).get("majority_accuracy")
        pl = [i.get("pseudo_label_accuracy") for i in r["iterations"]]
        kept = [i["kept"] for i in r["iterations"]]
        print(f"| {r['run']} | {pct(base)} → " + " → ".join(pct(g) for g in greedy)
              + f" | {pct(majority)} | " + " / ".join("–" if p is None else f"{p:.2f}" for p in pl)
              + " | " + " / ".join(map(str, kept)) + " |")
        by_config[name].append([base] + greedy)

    print()
    print("| configuration | seeds | mean greedy: base → iterations | worst drop between iterations |")
    print("|---|---|---|---|")
    for name, curves in by_config.items():
        if any(None in c for c in curves):
            continue
        means = [sum(c[k] for c in curves) / len(curves) for k in range(len(curves[0]))]
        worst = min(min(c[k + 1] - c[k] for k in range(1, len(c) - 1)) if len(c) > 2 else 0 for c in curves)
        print(f"| {name} | {len(curves)} | " + " → ".join(pct(m) for m in means) + f" | {100 * worst:+.1f} |")

    print()
    for r in rows:
        cal = [i["calibration"] for i in r["iterations"] if i.get("calibration")]
        if not cal:
            continue
        edges = [(b["low"], b["high"]) for b in cal[0]]
        print(f"\n{r['run']}: pseudo-label accuracy (count) by p̂\n")
        print("| iteration | " + " | ".join(f"{lo:.1f}–{hi:.1f}" for lo, hi in edges) + " |")
        print("|---" * (len(edges) + 1) + "|")
        for i in r["iterations"]:
            if i.get("calibration"):
                print(f"| {i['iteration']} | " + " | ".join(
                    "–" if b["checked"] == 0 else f"{b['right'] / b['checked']:.2f} ({b['checked']})" for b in i["calibration"]) + " |")
    print()
    print("| comparison | paired difference (points) | standard error | discordant questions | questions |")
    print("|---|---|---|---|---|")
    last = args.iteration or len(rows[0]["iterations"])
    comparisons = [((a, last), (b, last)) for a, b in (p.split(":", 1) for p in args.pair)]
    comparisons += [((name, last), (name, 1)) for name in runs_of if last > 1]
    if args.steps:
        comparisons += [((name, k), (name, k - 1)) for name in runs_of for k in range(1, last + 1)]
    for (a, ia), (b, ib) in comparisons:
        seeds = sorted(set(runs_of[a]) & set(runs_of[b]))
        if not seeds:
            continue
        better = worse = n = 0
        for seed in seeds:
            x, y = correct(runs_of[a][seed], ia), correct(runs_of[b][seed], ib)
            n += len(x)
            better += sum(1 for u, v in zip(x, y) if u and not v)
            worse += sum(1 for u, v in zip(x, y) if v and not u)
        label = f"{a} vs {b}" if a != b else f"{a}: iteration {ia} vs {ib}"
        print(f"| {label} (seeds {', '.join(seeds)}) | {100 * (better - worse) / n:+.2f} | "
              f"{100 * (better + worse) ** 0.5 / n:.2f} | {better} / {worse} | {n} |")
    return 0


DATASET = "heldout"


def config_and_seed(run_name):
    """`NAME-sSEED` -> (NAME, SEED); any other name is its own configuration with no seed."""
    m = re.match(r"(.*)-s(\d+)$", run_name)
    return (m.group(1), m.group(2)) if m else (run_name, None)


@functools.lru_cache(maxsize=None)  # a run's last iteration is read once, however many comparisons use it
def correct(run, iteration):
    """Per-question greedy correctness of a run's held-out evaluation after `iteration`."""
    path = os.path.join(run, "eval", f"iteration-{iteration}-{DATASET}.jsonl")
    with open(path) as f:
        return [json.loads(line)["greedy_correct"] for line in f if line.strip()]


if __name__ == "__main__":
    sys.exit(main())
