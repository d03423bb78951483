#!/usr/bin/env python3
"""The loop's vote workload at a real shape, through the service (by hand; issue 19).

    python3 scripts/bench_vote_workload.py --rzero .build/debug/rzero --model /tmp/rzero-scale/qwen3-0.6b \
        [--precision auto|float32|bfloat16] [--questions 64] [--samples 10] [--max-tokens 64]

One `rzero serve` on 2 threads; after a warm-up request, one POST /v1/generate asks for --samples answers to each of
--questions text questions (the Solver's prompt format, random arithmetic), the votes' sampling settings
(temperature 1, top-k 40), --max-tokens new tokens each, ignore_eos (random weights rarely stop). Prints one JSON
line: answers' tokens per second of wall time, prefill included. Run it with two binaries to compare them.
"""
import argparse
import json
import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rzero_service import post, serve  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rzero", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--precision", default=None, help="--sampling-precision (omit for binaries without it)")
    ap.add_argument("--questions", type=int, default=64)
    ap.add_argument("--samples", type=int, default=10)
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--port", type=int, default=8197)
    args = ap.parse_args()
    r = random.Random(19)
    questions = [f"What is {r.randrange(10, 999)} + {r.randrange(10, 999)} * {r.randrange(2, 99)}? "
                 "Put the final answer in \\boxed{}." for _ in range(args.questions)]
    extra = ["--threads", str(args.threads)] + (["--sampling-precision", args.precision] if args.precision else [])
    url = f"http://127.0.0.1:{args.port}/v1/generate"
    with serve(args.rzero, args.model, args.port, extra=extra):
        post(url, {"prompts": [{"token_ids": [1, 2, 3]}], "max_tokens": 2, "ignore_eos": True, "seed": 1})
        body = {"prompts": [{"messages": [{"role": "user", "content": q}]} for q in questions], "n": args.samples,
                "max_tokens": args.max_tokens, "temperature": 1.0, "top_k": 40, "ignore_eos": True, "seed": 7}
        t0 = time.time()
        out = post(url, body)
        seconds = time.time() - t0
    tokens = sum(len(g["token_ids"]) for p in out["results"] for g in p["samples"])
    print(json.dumps({"rzero": args.rzero, "precision": args.precision, "answers": args.questions * args.samples,
                      "tokens": tokens, "seconds": round(seconds, 1), "tokens_per_second": round(tokens / seconds, 1)}))


if __name__ == "__main__":
    sys.exit(main())
