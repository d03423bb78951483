#!/usr/bin/env python3
"""Peak memory and time of one GRPO step on a model folder, through a fresh `rzero serve` (run by hand).

    python3 scripts/grpo_step_memory.py --rzero .build/release/rzero --model /tmp/qwen3-0.6b-shape \
        --settings '{"micro_batch_tokens": 1024, "recompute_activations": true}'
    python3 scripts/grpo_step_memory.py --rzero .build/release/rzero --model /tmp/qwen3-0.6b-shape --serve-args '--lora-rank 16'

Starts a Solver service on the folder, reads its resident memory after loading, posts one GRPO step of
--sequences samples (--prompt prompt tokens + --response response tokens each, random ids, groups of 4 with
rewards 0/1) with the given training settings, and prints one JSON line: resident after load, peak
(VmHWM) after the step, the step's wall time and tokens/s. A fresh process per call, since VmHWM only grows.
Needs only the Python standard library.
"""
import argparse
import json
import os
import random
import sys
import threading
import time
import urllib.request

from rzero_service import post, serve, status_kb


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rzero", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--settings", default="{}", help="JSON training settings (the API's TrainingSettings)")
    ap.add_argument("--sequences", type=int, default=8)
    ap.add_argument("--prompt", type=int, default=64)
    ap.add_argument("--response", type=int, default=256)
    ap.add_argument("--port", type=int, default=8199)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--memory-limit", help="passed to rzero serve (e.g. 14G, none)")
    ap.add_argument("--serve-args", default="", help="more rzero serve arguments, e.g. '--lora-rank 16'")
    args = ap.parse_args()

    vocab = json.load(open(os.path.join(args.model, "config.json")))["vocab_size"]
    extra = ["--threads", str(args.threads)] + (["--memory-limit", args.memory_limit] if args.memory_limit else []) + args.serve_args.split()
    base = f"http://127.0.0.1:{args.port}"
    try:
        with serve(args.rzero, args.model, args.port, extra=extra) as (proc, load_s):
            measure(args, proc, load_s, base, vocab)
    except RuntimeError as e:
        sys.exit(str(e))


def measure(args, proc, load_s, base, vocab):
    after_load = status_kb(proc.pid, "VmRSS")
    rng = random.Random(1)
    samples = [{"prompt_token_ids": [rng.randrange(vocab) for _ in range(args.prompt)],
                "response_token_ids": [rng.randrange(vocab) for _ in range(args.response)],
                "reward": float(i % 2), "group": i // 4} for i in range(args.sequences)]
    settings = {"learning_rate": 1e-6}
    settings.update(json.loads(args.settings))
    # VmHWM also counts the checkpoint file mapped during loading (file pages, reclaimable); the anonymous
    # memory's peak during the step is sampled alongside.
    anon_peak = [status_kb(proc.pid, "RssAnon")]
    stop = threading.Event()

    def sample_anon():
        while not stop.wait(0.1):
            anon_peak[0] = max(anon_peak[0], status_kb(proc.pid, "RssAnon"))
    sampler = threading.Thread(target=sample_anon, daemon=True)
    sampler.start()
    t1 = time.time()
    try:
        result = post(base + "/v1/train/grpo", {"samples": samples, "settings": settings}, timeout=3600)
        error = None
    except urllib.error.HTTPError as e:
        result, error = None, f"HTTP {e.code}: {e.read()[:300]!r}"
    except Exception as e:  # the service died (e.g. OOM-killed)
        result, error = None, f"{type(e).__name__}: {e}"
    step_s = time.time() - t1
    stop.set()
    sampler.join()
    alive = proc.poll() is None
    peak = status_kb(proc.pid, "VmHWM") if alive else None
    tokens = args.sequences * (args.prompt + args.response)
    plan = None
    if alive:
        with urllib.request.urlopen(base + "/v1/model", timeout=60) as r:
            plan = json.loads(r.read()).get("memory")
    print(json.dumps({"settings": settings, "load_s": round(load_s, 1), "rss_after_load_gb": round(after_load / 2**20, 2),
                      "peak_gb": round(peak / 2**20, 2) if peak else None, "peak_anon_gb": round(anon_peak[0] / 2**20, 2), "step_s": round(step_s, 1),
                      "tokens_per_s": round(tokens / step_s, 1), "alive": alive, "error": error,
                      "memory_limit": args.memory_limit, "serve_args": args.serve_args, "plan": plan}))


if __name__ == "__main__":
    main()
