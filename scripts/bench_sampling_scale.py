#!/usr/bin/env python3
"""Batched sampling at a real shape, rzero beside native llama.cpp, in one run (by hand; issue 19).

    python3 scripts/bench_sampling_scale.py --rzero .build/release/rzero --model /tmp/rzero-scale/qwen3-0.6b \
        --llama-src llama_cpp_python-*/vendor/llama.cpp --torch-python /work/venv/bin/python [--parallel 1,8,64,256] [--trials 2]

llama.cpp: builds `llama-batched-bench` in <llama-src>/build if it is not there (cmake, GGML_NATIVE, no curl),
converts the folder with its own convert_hf_to_gguf.py (needs torch, transformers, sentencepiece in
--torch-python and a tokenizer_config.json beside tokenizer.json) to f32 and bf16 GGUF, and runs
`llama-batched-bench -npp 32 -ntg 64 -npl <parallel> -t 2`. rzero: `rzero serve --sampling-precision float32` and
`bfloat16`, and POST /v1/generate with
B/8 prompts x n 8 (B < 8: B prompts x n 1) of 32 random tokens, 64 new tokens each (no stop), temperature 1.
Figures are new tokens per second of wall time, prefill included (llama.cpp: B x 64 / T), and each process's peak
resident memory (rzero: VmHWM; llama.cpp: /usr/bin/time's maximum RSS). Trials alternate
the systems; the table gives medians (min-max) and rzero's ratio to llama.cpp in the same dtype.
"""
import argparse
import json
import os
import random
import re
import statistics
import subprocess
import sys
import time
import urllib.request

from rzero_service import post, serve, status_kb

HERE = os.path.dirname(os.path.abspath(__file__))


def build_llama(src):
    exe = os.path.join(src, "build", "bin", "llama-batched-bench")
    if not os.path.exists(exe):
        subprocess.run(["cmake", "-S", src, "-B", os.path.join(src, "build"), "-DCMAKE_BUILD_TYPE=Release", "-DGGML_NATIVE=ON",
                        "-DLLAMA_CURL=OFF"], check=True, capture_output=True)
        subprocess.run(["cmake", "--build", os.path.join(src, "build"), "-j2", "--target", "llama-batched-bench"], check=True,
                       capture_output=True)
    return exe


def convert(src, python, model, outtype, work):
    out = os.path.join(work, f"{os.path.basename(model.rstrip('/'))}-{outtype}.gguf")
    if not os.path.exists(out):
        env = dict(os.environ, PYTHONPATH=os.path.join(src, "gguf-py"))
        subprocess.run([python, os.path.join(src, "convert_hf_to_gguf.py"), model, "--outtype", outtype, "--outfile", out],
                       check=True, capture_output=True, env=env)
    return out


def llama_bench(exe, gguf, parallel, threads):
    """{B: new tokens per second of wall time}, from llama-batched-bench's table (B x TG / T)."""
    # /usr/bin/time -v reports the process's peak resident set ("Maximum resident set size", kB) on stderr.
    p = subprocess.run(["/usr/bin/time", "-v", exe, "-m", gguf, "-npp", "32", "-ntg", "64", "-npl", ",".join(map(str, parallel)),
                        "-t", str(threads), "-c", str(max(parallel) * 96 + 64)], capture_output=True, text=True, check=True)
    peak = re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr)
    out = {"peak_gib": int(peak.group(1)) / 2**20} if peak else {}
    for line in p.stdout.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 10 and re.fullmatch(r"\d+", cells[0]):
            pp, tg, b, t = int(cells[0]), int(cells[1]), int(cells[2]), float(cells[8])
            out[b] = b * tg / t
    return out


def rzero_bench(rzero, model, parallel, threads, port, precision):
    out = {}
    vocab = json.load(open(os.path.join(model, "config.json")))["vocab_size"]
    with serve(rzero, model, port, extra=["--threads", str(threads), "--sampling-precision", precision]) as (proc, _):
        # Warm-up (thread pool, first touch of the weights), as llama-batched-bench warms up before it measures.
        post(f"http://127.0.0.1:{port}/v1/generate", {"prompts": [{"token_ids": [1, 2, 3]}], "max_tokens": 2, "ignore_eos": True,
                                                     "seed": 1})
        for b in parallel:
            n = min(b, 8)
            r = random.Random(b)
            body = {"prompts": [{"token_ids": [r.randrange(vocab) for _ in range(32)]} for _ in range(max(1, b // n))], "n": n,
                    "max_tokens": 64, "ignore_eos": True, "temperature": 1.0, "seed": 1}
            req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/generate", data=json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json"})
            t0 = time.time()
            with urllib.request.urlopen(req, timeout=7200) as resp:
                json.loads(resp.read())
            out[b] = b * 64 / (time.time() - t0)
        out["peak_gib"] = status_kb(proc.pid, "VmHWM") / 2**20
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rzero", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--llama-src", required=True)
    ap.add_argument("--torch-python", required=True)
    ap.add_argument("--parallel", default="1,8,64,256")
    ap.add_argument("--trials", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--work", default="/tmp/rzero-scale")
    args = ap.parse_args()
    parallel = [int(x) for x in args.parallel.split(",")]
    exe = build_llama(args.llama_src)
    ggufs = {t: convert(args.llama_src, args.torch_python, args.model, t, args.work) for t in ("f32", "bf16")}
    results = {"rzero f32": [], "llama.cpp f32": [], "rzero bf16": [], "llama.cpp bf16": []}
    for trial in range(args.trials):
        results["rzero f32"].append(rzero_bench(args.rzero, args.model, parallel, args.threads, 8196, "float32"))
        results["llama.cpp f32"].append(llama_bench(exe, ggufs["f32"], parallel, args.threads))
        results["rzero bf16"].append(rzero_bench(args.rzero, args.model, parallel, args.threads, 8196, "bfloat16"))
        results["llama.cpp bf16"].append(llama_bench(exe, ggufs["bf16"], parallel, args.threads))
        print(json.dumps({"trial": trial, **{k: v[-1] for k, v in results.items()}}), flush=True)

    def cell(system, b):
        xs = [r[b] for r in results[system] if b in r]
        return (statistics.median(xs), min(xs), max(xs)) if xs else None
    systems = list(results)
    print("\n| parallel sequences | " + " | ".join(systems) + " | rzero / llama.cpp f32 | rzero / llama.cpp bf16 |")
    print("|---|---|---|---|---|---|---|")
    for b in parallel:
        cs = {s: cell(s, b) for s in systems}
        fmt = [f"{c[0]:.1f} ({c[1]:.1f}-{c[2]:.1f})" if c else "-" for c in cs.values()]
        ratios = [f"{cs['rzero ' + d][0] / cs['llama.cpp ' + d][0]:.2f}" if cs["rzero " + d] and cs["llama.cpp " + d] else "-"
                  for d in ("f32", "bf16")]
        print(f"| {b} | " + " | ".join(fmt + ratios) + " |")
    peaks = [max((r.get("peak_gib", 0) for r in results[s_]), default=0) for s_ in systems]
    print("| peak resident (GiB, whole run) | " + " | ".join(f"{p:.2f}" for p in peaks) + " | "
          + f"{peaks[0] / peaks[1]:.2f} | {peaks[2] / peaks[3]:.2f} |" if all(peaks) else "")


if __name__ == "__main__":
    sys.exit(main())
