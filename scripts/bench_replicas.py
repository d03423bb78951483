#!/usr/bin/env python3
"""Vote-sampling throughput with one Solver service vs two replicas on this machine.

    python3 scripts/bench_replicas.py --rzero .build/debug/rzero --model models/base [--requests 24]

Sends the same vote-shaped requests (16 held-out questions x m = 10 answers each, T = 1, top-k 40,
fixed seeds, the coordinator's prompt format) to (a) one service with 2 compute threads and (b) two
services with 1 thread each, round-robin, 4 requests in flight per service as the coordinator does;
checks both setups return the same answers; prints completion tokens/s and the ratio.
Standard library only.
"""
import argparse
import concurrent.futures
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(url, body):
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=600) as r:
        return json.loads(r.read())


def start(rzero, model, threads, root):
    port = free_port()
    log = open(os.path.join(root, f"serve-{port}.log"), "w")
    p = subprocess.Popen([rzero, "serve", "--role", "solver", "--model", model, "--port", str(port), "--threads", str(threads),
                          "--checkpoints", os.path.join(root, f"ckpt-{port}")], stdout=log, stderr=log)
    for _ in range(600):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2)
            return p, f"http://127.0.0.1:{port}"
        except Exception:
            time.sleep(0.1)
    raise SystemExit("service did not start")


def run(urls, requests):
    t0 = time.time()
    with concurrent.futures.ThreadPoolExecutor(max_workers=4 * len(urls)) as pool:
        futures = [pool.submit(post, urls[i % len(urls)] + "/v1/generate", r) for i, r in enumerate(requests)]
        results = [f.result() for f in futures]
    seconds = time.time() - t0
    tokens = sum(r["usage"]["completion_tokens"] for r in results)
    texts = [[s["text"] for p in r["results"] for s in p["samples"]] for r in results]
    return tokens / seconds, seconds, texts


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rzero", default=".build/debug/rzero")
    ap.add_argument("--model", default="models/base")
    ap.add_argument("--requests", type=int, default=24)
    args = ap.parse_args()
    with open(os.path.join(args.model, "heldout.jsonl")) as f:
        questions = [json.loads(line)["question"] for line in f if line.strip()]
    requests = [{"prompts": [{"text": f"Q:{questions[(16 * i + j) % len(questions)]}\nA:"} for j in range(16)],
                 "n": 10, "temperature": 1.0, "top_k": 40, "top_p": 1.0, "max_tokens": 96, "seed": 1000 + i}
                for i in range(args.requests)]
    root = tempfile.mkdtemp(prefix="rzero-bench-replicas-")
    procs = []
    try:
        p, url = start(args.rzero, args.model, 2, root)
        procs.append(p)
        run([url], requests[:4])  # warm-up
        one, one_s, one_texts = run([url], requests)
        p.terminate()
        p.wait()
        urls = []
        for _ in range(2):
            p, u = start(args.rzero, args.model, 1, root)
            procs.append(p)
            urls.append(u)
        run(urls, requests[:4])
        two, two_s, two_texts = run(urls, requests)
        same = one_texts == two_texts
        print(f"one service, 2 threads:   {one:8.0f} completion tok/s ({one_s:.1f} s)")
        print(f"two replicas, 1 thread:   {two:8.0f} completion tok/s ({two_s:.1f} s)")
        print(f"ratio two/one: {two / one:.2f}x; identical answers: {same}")
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
                p.wait()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
