#!/usr/bin/env python3
"""How often rzero's grader agrees with math-verify on answer pairs that look like real model outputs.

Writes a fresh set of (reference, prediction) pairs, drawn with a fixed seed from templates of how models write
final answers (fractions as \\frac, \\dfrac, a/b or decimals to various precisions, `x = ...`, units, `\\text{ or }`
lists, sets, intervals, percents, radicals, LaTeX spacing, truncated LaTeX, near misses), grades each with
math-verify (`verify(parse(gold), parse(pred))`, both wrapped in `$...$`) and with `rzero grade`, and prints the
agreement and every disagreement. The pairs and math-verify's verdicts are written to
Tests/Fixtures/rewards/grader_agreement.jsonl, which a Swift test replays.

Run by hand (needs: pip install math-verify):
    scripts/grader_agreement.py [--rzero .build/debug/rzero] [--seed 20261203] [--pairs 600] [--write-fixture]
"""
import argparse
import json
import random
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

from math_verify import parse, verify

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "Tests" / "Fixtures" / "rewards" / "grader_agreement.jsonl"


def fraction_forms(f: Fraction, rng):
    """Ways a model writes the value f (equal to it) and near misses (not equal)."""
    p, q = f.numerator, f.denominator
    equal, wrong = [], []
    if q == 1:
        equal += [str(p), f"{p}.0", f"{p}.00", f"x = {p}", f"{p}\\,", f"\\text{{{p}}}", f"{{{p}}}"]
        wrong += [str(p + 1), str(-p) if p else "1", f"{p}.5", f"{p}0"]
    else:
        sign = "-" if p < 0 else ""
        a = abs(p)
        equal += [f"{sign}\\frac{{{a}}}{{{q}}}", f"{sign}\\dfrac{{{a}}}{{{q}}}", f"{p}/{q}", f"{sign}\\frac{a}{q}" if a < 10 and q < 10 else f"{p}/{q}",
                  f"{sign}\\frac{{{2 * a}}}{{{2 * q}}}"]
        value = p / q
        for digits in (1, 2, 3, 4, 6, 7, 8):
            text = f"{value:.{digits}f}"
            (equal if round(value, 6) == round(float(text), 6) else wrong).append(text)
        wrong += [f"{sign}\\frac{{{a + 1}}}{{{q}}}", f"{sign}\\frac{{{q}}}{{{a}}}" if a else "1", f"{sign}\\frac{{{a}}}{{{q}"]
    return equal, wrong


def pairs(rng, count):
    out = []
    templates = []
    # Numbers: integers, fractions, decimals.
    for _ in range(count // 3):
        f = Fraction(rng.randint(-60, 400), rng.choice([1, 1, 1, 2, 3, 4, 6, 7, 8, 9, 11, 12, 49]))
        gold = str(f.numerator) if f.denominator == 1 else f"\\frac{{{f.numerator}}}{{{f.denominator}}}" \
            if f.numerator > 0 else f"-\\frac{{{-f.numerator}}}{{{f.denominator}}}"
        equal, wrong = fraction_forms(f, rng)
        templates.append((gold, rng.choice(equal)))
        templates.append((gold, rng.choice(wrong)))
    # Radicals and pi.
    for _ in range(count // 12):
        k, n = rng.randint(2, 9), rng.choice([2, 3, 5, 6, 7])
        gold = f"{k}\\sqrt{{{n}}}"
        templates += [(gold, rng.choice([f"{k}\\sqrt{n}", f"{k} \\sqrt{{{n}}}", f"\\sqrt{{{k * k * n}}}", f"{k}*\\sqrt{{{n}}}"])),
                      (gold, rng.choice([f"{k + 1}\\sqrt{{{n}}}", f"{k}\\sqrt{{{n + 1}}}", f"{k}\\sqrt{{{n}", f"\\sqrt{{{k * n}}}"]))]
        m = rng.randint(2, 12)
        templates += [(f"{m}\\pi", rng.choice([f"{m} \\pi", f"\\pi {m}", f"{m}\\cdot\\pi"])), (f"{m}\\pi", f"{m + 1}\\pi")]
    # Lists written with "or", sets and intervals.
    for _ in range(count // 10):
        a, b = sorted(rng.sample(range(-9, 30), 2))
        gold = f"{a}, {b}"
        templates += [(gold, rng.choice([f"{a} \\text{{ or }} {b}", f"{b} \\text{{ or }} {a}", f"\\{{{a}, {b}\\}}", f"x = {a} \\text{{ or }} x = {b}"])),
                      (gold, rng.choice([f"{a} \\text{{ or }} {b + 1}", f"{a}", f"{a} \\text{{ and }} {b + 2}"])),
                      (f"({a}, {b})", rng.choice([f"\\left({a}, {b}\\right)", f"({a},{b})", f"({b}, {a})", f"[{a}, {b}]"]))]
    # Percents and units.
    for _ in range(count // 12):
        v = rng.randint(1, 99)
        templates += [(str(v), rng.choice([f"{v}\\%", f"{v}\\text{{ cm}}", f"{v} \\text{{ dollars}}", f"\\${v}", f"{v}^\\circ"])),
                      (f"{v}\\%", rng.choice([f"{v / 100}", f"{v + 1}\\%", f"{v}"]))]
    # Unbalanced and truncated LaTeX against the balanced form.
    for _ in range(count // 15):
        a, b = rng.randint(1, 20), rng.randint(2, 21)
        templates += [(f"\\frac{{{a}}}{{{b}}}", f"\\frac{{{a}}}{{{b}"), (f"\\sqrt{{{a}}}", f"\\sqrt{{{a}"), (f"{a}", f"{{{a}")]
    rng.shuffle(templates)
    seen = set()
    for gold, pred in templates:
        if (gold, pred) in seen:
            continue
        seen.add((gold, pred))
        out.append({"reference": gold, "prediction": pred})
    return out


def math_verify(gold, pred):
    try:
        return bool(verify(parse(f"${gold}$"), parse(f"${pred}$")))
    except Exception:
        return False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rzero", default=str(ROOT / ".build" / "debug" / "rzero"))
    ap.add_argument("--seed", type=int, default=20261203)
    ap.add_argument("--pairs", type=int, default=600)
    ap.add_argument("--write-fixture", action="store_true")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    items = pairs(rng, args.pairs)
    for it in items:
        it["math_verify"] = math_verify(it["reference"], it["prediction"])
    lines = "".join(json.dumps({"prediction": it["prediction"], "reference": it["reference"]}) + "\n" for it in items)
    out = subprocess.run([args.rzero, "grade"], input=lines, capture_output=True, text=True, check=True).stdout.splitlines()
    disagreements = []
    for it, line in zip(items, out):
        it["rzero"] = bool(json.loads(line)["equivalent"])
        if it["rzero"] != it["math_verify"]:
            disagreements.append(it)
    agree = len(items) - len(disagreements)
    equal = sum(it["math_verify"] for it in items)
    print(f"{len(items)} pairs (seed {args.seed}; math-verify says equal for {equal}): rzero agrees on {agree} "
          f"({100 * agree / len(items):.1f} %)")
    for d in disagreements:
        print(f"  reference {d['reference']!r:28} prediction {d['prediction']!r:28} math-verify {d['math_verify']}  rzero {d['rzero']}")
    if args.write_fixture:
        FIXTURE.write_text("".join(json.dumps({"reference": it["reference"], "prediction": it["prediction"],
                                               "math_verify": it["math_verify"]}, ensure_ascii=False) + "\n" for it in items))
        print(f"wrote {FIXTURE.relative_to(ROOT)}")


if __name__ == "__main__":
    sys.exit(main())
