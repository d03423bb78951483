#!/usr/bin/env python3
"""Service throughput: 64 generate requests one at a time vs all 64 concurrently (continuous batching).

    python3 scripts/bench_serve.py --rzero .build/release/rzero --model DIR [--requests 64 --max-tokens 64]

Starts `rzero serve` on a free port with the model folder, sends the same requests (token-id prompts,
fixed seeds) sequentially and then concurrently, checks the concurrent answers equal the sequential ones
token for token, and prints completion tokens/s for both. Standard library only.
"""
import argparse
import concurrent.futures
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request


def post(url, body):
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=600) as r:
        return json.loads(r.read())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rzero", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--requests", type=int, default=64)
    ap.add_argument("--max-tokens", type=int, default=64)
    args = ap.parse_args()
    work = tempfile.mkdtemp()
    proc = subprocess.Popen([args.rzero, "serve", "--model", args.model, "--checkpoints", os.path.join(work, "ck"), "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        port = None
        for line in proc.stdout:
            m = re.search(r"listening on http://127.0.0.1:(\d+)", line)
            if m:
                port = int(m.group(1))
                break
        if port is None:
            sys.exit("server did not start")
        url = f"http://127.0.0.1:{port}/v1/generate"
        bodies = [{"prompts": [{"token_ids": [1 + i % 50, 7, 9, 11]}], "max_tokens": args.max_tokens, "seed": i,
                   "temperature": 1.0, "ignore_eos": True} for i in range(args.requests)]
        post(url, bodies[0])  # warm-up
        t0 = time.perf_counter()
        sequential = [post(url, b) for b in bodies]
        t_seq = time.perf_counter() - t0
        t0 = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(max_workers=args.requests) as pool:
            concurrent_ = list(pool.map(lambda b: post(url, b), bodies))
        t_con = time.perf_counter() - t0
        same = all(a["results"][0]["samples"][0]["token_ids"] == b["results"][0]["samples"][0]["token_ids"]
                   for a, b in zip(sequential, concurrent_))
        tokens = sum(r["usage"]["completion_tokens"] for r in sequential)
        print(f"{args.requests} requests x {args.max_tokens} tokens: one at a time {tokens / t_seq:.0f} tok/s ({t_seq:.2f} s), "
              f"concurrent {tokens / t_con:.0f} tok/s ({t_con:.2f} s), speed-up {t_seq / t_con:.1f}x, identical samples: {same}")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
