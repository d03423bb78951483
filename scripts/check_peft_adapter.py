#!/usr/bin/env python3
"""Check that peft loads an rzero LoRA checkpoint (a PEFT adapter folder) and computes what `rzero score` computes
(run by hand).

    /path/to/venv/bin/python scripts/check_peft_adapter.py --rzero .build/debug/rzero --adapter <checkpoints>/<name>

Loads the base named by adapter_config.json's base_model_name_or_path with transformers (float32), wraps it with
`PeftModel.from_pretrained`, scores random token sequences with both, and prints one JSON line with the largest
difference in per-token log-probabilities; exits 1 when it exceeds --tolerance. Needs torch, transformers, peft.
"""
import argparse
import json
import sys

import torch
from peft import PeftModel
from transformers import AutoModelForCausalLM

from check_export import max_logprob_difference


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rzero", required=True)
    ap.add_argument("--adapter", required=True)
    ap.add_argument("--lengths", default="5,40")
    ap.add_argument("--tolerance", type=float, default=1e-4)
    args = ap.parse_args()
    base_path = json.load(open(args.adapter + "/adapter_config.json"))["base_model_name_or_path"]
    base = AutoModelForCausalLM.from_pretrained(base_path, dtype=torch.float32)
    model = PeftModel.from_pretrained(base, args.adapter).eval()
    worst = max_logprob_difference(model, args.rzero, args.adapter, map(int, args.lengths.split(",")))
    ok = worst <= args.tolerance
    print(json.dumps({"adapter": args.adapter, "base": base_path, "max_abs_logprob_diff": worst, "ok": ok}))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
