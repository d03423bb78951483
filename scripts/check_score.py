#!/usr/bin/env python3
"""`rzero score` against transformers on any model folder (run by hand; CI never runs it).

    python scripts/check_score.py --rzero .build/release/rzero --model /path/to/Qwen3-folder
    python scripts/check_score.py --rzero .build/release/rzero --random /tmp/qwen3-random

With --model it scores a real checkpoint (e.g. a downloaded Qwen3-0.6B). With --random DIR it first
writes a random Qwen3 folder that no test has seen: BF16 weights in two shards, untied head, the
newer config keys, head_dim != hidden / heads. Either way it scores random token sequences longer than
one attention block, with transformers in float32 and with rzero, and prints the largest difference
per sequence. Exit status 1 when a difference exceeds --tolerance.
"""
import argparse
import json
import subprocess
import sys

import torch
from transformers import AutoModelForCausalLM, Qwen3Config

from make_fixtures import random_model  # the fixtures' initialisation: norms around 1, weights far from uniform


def write_random_model(path, seed):
    cfg = Qwen3Config(vocab_size=397, hidden_size=96, intermediate_size=200, num_hidden_layers=3,
                      num_attention_heads=6, num_key_value_heads=2, head_dim=24, tie_word_embeddings=False,
                      max_position_embeddings=512, rope_theta=50_000.0)
    random_model(cfg, seed).to(torch.bfloat16).save_pretrained(path, max_shard_size="200KB", safe_serialization=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rzero", required=True)
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--model", help="an existing Hugging Face Qwen3 folder")
    src.add_argument("--random", metavar="DIR", help="write a random unseen Qwen3 folder here and score it")
    ap.add_argument("--lengths", default="5,37,130", help="comma-separated sequence lengths")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--tolerance", type=float, default=1e-3)
    args = ap.parse_args()

    folder = args.model or args.random
    if args.random:
        write_random_model(folder, args.seed)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    vocab = model.config.vocab_size
    gen = torch.Generator().manual_seed(args.seed)
    worst = 0.0
    for length in (int(x) for x in args.lengths.split(",")):
        ids = torch.randint(0, vocab, (length,), generator=gen)
        with torch.no_grad():
            logits = model(input_ids=ids[None]).logits[0].double()
        ref = torch.log_softmax(logits[:-1], dim=-1).gather(1, ids[1:, None])[:, 0]
        out = subprocess.run([args.rzero, "score", "--model", folder, "--ids", ",".join(map(str, ids.tolist()))],
                             check=True, capture_output=True, text=True).stdout
        ours = torch.tensor(json.loads(out)["logprobs"], dtype=torch.float64)
        diff = (ours - ref).abs().max().item() if length > 1 else 0.0
        worst = max(worst, diff)
        print(f"length {length:4d}: max |rzero - transformers| = {diff:.2e} (logprobs around {ref.mean().item():.2f})")
    print(f"worst {worst:.2e}, tolerance {args.tolerance:.0e}: {'PASS' if worst <= args.tolerance else 'FAIL'}")
    return 0 if worst <= args.tolerance else 1


if __name__ == "__main__":
    sys.exit(main())
