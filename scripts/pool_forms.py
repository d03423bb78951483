#!/usr/bin/env python3
"""Pool questions by form per iteration, over the seeds of one configuration (kept ones in brackets), as
docs/self-evolution.md shows them.

    scripts/pool_forms.py runs/larger/larger-3 runs/larger/larger-base-challenger-3   # reads PREFIX-s1..s9/pool.jsonl

The form is read from the question's text alone (no answer key): letters make a word problem, `=` or `x` an
equation, `/` a fraction, several operators between numbers mixed operations, one operator a+b, a-b or a*b.
"""
import collections
import json
import os
import re
import sys

COLUMNS = ["a+b", "a-b", "a*b", "mixed", "equation", "fraction", "word", "other"]


def form(question):
    if re.search(r"[A-Za-z]{3,}", question):
        return "word"
    if "=" in question or "x" in question:
        return "equation"
    if "/" in question:
        return "fraction"
    ops = re.findall(r"(?<=\d)\s*[-+*]\s*(?=\d)", question)
    if len(ops) > 1:
        return "mixed"
    if len(ops) == 1:
        return {"+": "a+b", "-": "a-b", "*": "a*b"}[ops[0].strip()]
    return "other"


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    print("| configuration | iteration | questions | " + " | ".join(COLUMNS) + " | kept |")
    print("|---" * (len(COLUMNS) + 4) + "|")
    for prefix in sys.argv[1:]:
        by_iteration = collections.defaultdict(lambda: (collections.Counter(), collections.Counter()))
        for seed in range(1, 10):
            path = f"{prefix}-s{seed}/pool.jsonl"
            if not os.path.exists(path):
                continue
            with open(path) as f:
                for line in f:
                    r = json.loads(line)
                    seen, kept = by_iteration[r["iteration"]]
                    name = form(r.get("question") or "")
                    seen[name] += 1
                    if r["kept"]:
                        kept[name] += 1
        for iteration in sorted(by_iteration):
            seen, kept = by_iteration[iteration]
            cells = " | ".join(f"{seen[c]} ({kept[c]})" for c in COLUMNS)
            print(f"| {os.path.basename(prefix)} | {iteration} | {sum(seen.values())} | {cells} | {sum(kept.values())} |")


if __name__ == "__main__":
    main()
