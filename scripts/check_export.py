#!/usr/bin/env python3
"""Check that transformers loads an exported model folder and computes what `rzero score` computes (run by hand).

    /path/to/venv/bin/python scripts/check_export.py --rzero .build/debug/rzero --model runs/<run>/final/solver

Loads the folder with AutoModelForCausalLM in float32 (a BF16 export is widened exactly, as rzero reads it),
scores random token sequences with both, and prints one JSON line with the largest difference in per-token
log-probabilities. Exits 1 when it exceeds --tolerance. Needs torch + transformers.
"""
import argparse
import json
import random
import subprocess
import sys

import torch
from transformers import AutoModelForCausalLM


def max_logprob_difference(model, rzero, folder, lengths):
    """The largest |Δ log p| between `model` (torch) and `rzero score --model folder` on random sequences of `lengths`."""
    vocab = model.config.vocab_size
    rng = random.Random(7)
    worst = 0.0
    for n in lengths:
        ids = [rng.randrange(vocab) for _ in range(n)]
        with torch.no_grad():
            logits = model(input_ids=torch.tensor([ids])).logits[0].double()
        ref = torch.log_softmax(logits, -1)[:-1].gather(1, torch.tensor(ids[1:])[:, None])[:, 0]
        out = subprocess.run([rzero, "score", "--model", folder, "--ids", ",".join(map(str, ids))],
                             check=True, capture_output=True, text=True).stdout
        worst = max(worst, (torch.tensor(json.loads(out)["logprobs"], dtype=torch.float64) - ref).abs().max().item())
    return worst


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rzero", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--lengths", default="5,40,130")
    ap.add_argument("--tolerance", type=float, default=1e-4)
    args = ap.parse_args()
    model = AutoModelForCausalLM.from_pretrained(args.model, dtype=torch.float32).eval()
    worst = max_logprob_difference(model, args.rzero, args.model, map(int, args.lengths.split(",")))
    ok = worst <= args.tolerance
    print(json.dumps({"model": args.model, "model_type": model.config.model_type, "dtype": str(model.config.dtype),
                      "max_abs_logprob_diff": worst, "ok": ok}))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
