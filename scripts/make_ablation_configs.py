#!/usr/bin/env python3
"""Writes configs/ablations/*.json: each is configs/default.json with one change (or, for `paper` and
`upper-band`, a fixed reference configuration), so the ablations always measure against the current default.

    scripts/make_ablation_configs.py            # rewrite every file
    scripts/make_ablation_configs.py --check    # exit 1 if a file differs from what it would write

Run it after changing configs/default.json; `make ablations` then measures every row against the new default.
"""
import argparse
import copy
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# name -> (what it tests, the change to the default). A change is a nested dict merged over the default;
# a value of None removes the key. ONLY_IF: rows that switch off something the default may not have.
CHANGES = {
    "answer-agreement": ("the Challenger's own answer must agree with the Solver majority",
                         {"stabilisers": {"challenger_answer_agreement": True}}),
    "base-challenger": ("the paper's Base Challenger: the Challenger is never trained",
                        {"challenger": {"train": False}}),
    "challenger-second-opinion": ("the Challenger rewarded only for questions the pool could keep",
                                  {"challenger": {"reward": {"second_opinion": True}}}),
    "no-average": ("no weight averaging at the end of each Solver phase (the default before 2026-12-03)",
                   {"solver": {"average_with_phase_start": 0}}),
    "no-band": ("no band: every voted question is kept", {"pool": {"band": "none", "low": None, "high": None}}),
    "no-base-reference": ("the KL reference reset at each Solver phase, with the paper's coefficient",
                          {"solver": {"reference": "phase_start", "optimizer": {"kl_coef": 0.01}}}),
    "no-probe-guard": ("no probe guard", {"stabilisers": {"probe_guard": False, "probe_z": None}}),
    "strict-probe-guard": ("the probe guard discards any loss on the probe, however small (no sign test)",
                           {"stabilisers": {"probe_z": None}}),
    "no-repetition": ("no repetition penalty", {"challenger": {"reward": {"repetition_weight": 0}}}),
    "no-second-opinion": ("no second opinion on pool questions", {"stabilisers": {"second_opinion": False}}),
    "reference-reward": ("the reference implementation's Challenger reward",
                         {"challenger": {"reward": {"uncertainty": "reference", "clip_at_zero": False,
                                                    "format_failure": "minus_one_minus_repetition"}}}),
    "rollback": ("roll back a Solver phase whose reward did not rise", {"stabilisers": {"rollback_without_progress": True}}),
    "target-share": ("the Challenger's reward peaks at p̂ 0.7", {"challenger": {"reward": {"target_share": 0.7}}}),
}

ONLY_IF = {
    "no-average": lambda d: d.get("solver", {}).get("average_with_phase_start", 0) > 0,
    "no-probe-guard": lambda d: d.get("stabilisers", {}).get("probe_guard", False),
    "strict-probe-guard": lambda d: d.get("stabilisers", {}).get("probe_z", 0) > 0,
    "challenger-second-opinion": lambda d: not d.get("challenger", {}).get("reward", {}).get("second_opinion", False),
}

# Fixed reference points, not relative to the default: the paper as written, and the first stabiliser alone.
FIXED = {
    "paper": {"iterations": 3, "challenger": {"sampling": {"max_tokens": 160}}},
    "upper-band": {"iterations": 3, "pool": {"band": "share_range", "low": 0.5, "high": 0.9},
                   "challenger": {"sampling": {"max_tokens": 160}}},
}


def merge(base, change):
    out = copy.deepcopy(base)
    for k, v in change.items():
        if v is None:
            out.pop(k, None)
        elif isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def configs():
    with open(os.path.join(ROOT, "configs", "default.json")) as f:
        default = json.load(f)
    default.pop("seed", None)  # make ablations gives the seed
    out = {}
    for name, (_, change) in CHANGES.items():
        if name in ONLY_IF and not ONLY_IF[name](default):
            continue  # the default already is this (e.g. no probe guard when the default has none)
        out[name] = merge(default, change)
    for name, c in FIXED.items():
        out[name] = dict(c, evaluation=copy.deepcopy(default["evaluation"]))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    folder = os.path.join(ROOT, "configs", "ablations")
    wanted = {name + ".json": json.dumps(c, indent=4) + "\n" for name, c in configs().items()}
    present = {f for f in os.listdir(folder) if f.endswith(".json")}
    stale = sorted(present - set(wanted))
    differs = sorted(f for f, text in wanted.items() if not os.path.exists(os.path.join(folder, f))
                     or open(os.path.join(folder, f)).read() != text)
    if args.check:
        for f in stale + differs:
            print(f"configs/ablations/{f} is not what scripts/make_ablation_configs.py writes", file=sys.stderr)
        sys.exit(1 if stale or differs else 0)
    for f in stale:
        os.remove(os.path.join(folder, f))
    for f, text in wanted.items():
        tmp = os.path.join(folder, "." + f + ".tmp")
        with open(tmp, "w") as out:
            out.write(text)
        os.replace(tmp, os.path.join(folder, f))
    print(f"configs/ablations: {len(wanted)} files ({len(differs)} changed, {len(stale)} removed)")


if __name__ == "__main__":
    main()
