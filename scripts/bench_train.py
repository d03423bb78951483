#!/usr/bin/env python3
"""Training-step throughput: rzero vs the machine's sgemm peak, and vs PyTorch eager side by side.

    python3 scripts/bench_train.py --rzero .build/release/rzero [--torch-python /venv/bin/python]

For each model size (tiny, small; batch 16 x 128 tokens) it alternates trials of rzero and PyTorch
(transformers' Qwen3ForCausalLM, float32, same thread count, forward + backward of the same
objective: sum of per-token log-probabilities), so both see the same machine noise. Prints the
median tokens/s with min-max, each as a fraction of the sgemm peak measured by `rzero bench sgemm`
in the same run, and the ratio rzero / PyTorch. Trials during which other processes used more than
10% of the CPU (from /proc/stat) are discarded and counted. Run by hand; CI never runs it.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

TORCH_STEP = r'''
import json, sys, time, torch
from transformers import Qwen3Config, Qwen3ForCausalLM
size, threads, steps, warmup = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
torch.set_num_threads(threads)
cfgs = {
    "tiny": dict(vocab_size=512, hidden_size=256, intermediate_size=768, num_hidden_layers=4,
                 num_attention_heads=4, num_key_value_heads=2, head_dim=64),
    "small": dict(vocab_size=2048, hidden_size=512, intermediate_size=1536, num_hidden_layers=8,
                  num_attention_heads=8, num_key_value_heads=4, head_dim=64),
}
torch.manual_seed(0)
model = Qwen3ForCausalLM(Qwen3Config(tie_word_embeddings=True, **cfgs[size])).float()
ids = torch.randint(0, cfgs[size]["vocab_size"], (16, 128))
times = []
for i in range(warmup + steps):
    t0 = time.perf_counter()
    logits = model(input_ids=ids).logits
    logp = torch.log_softmax(logits[:, :-1], dim=-1).gather(2, ids[:, 1:, None])
    logp.sum().backward()
    model.zero_grad(set_to_none=True)
    dt = time.perf_counter() - t0
    if i >= warmup:
        times.append(dt)
print(json.dumps({"step_seconds": times}))
'''


def cpu_busy():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return v[0] + v[1] + v[2] + v[5] + v[6], sum(v)


def run_json(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def timed_trial(cmd):
    """Runs one trial; returns (step_seconds, other_load) where other_load is the share of machine CPU
    used beyond what the trial itself used (approximated via its own rusage)."""
    b0, t0 = cpu_busy()
    r0 = os.times()
    res = run_json(cmd)
    r1 = os.times()
    b1, t1 = cpu_busy()
    ticks = os.sysconf("SC_CLK_TCK")
    own = ((r1.children_user - r0.children_user) + (r1.children_system - r0.children_system)) * ticks
    total = max(1, t1 - t0)
    other = max(0.0, ((b1 - b0) - own) / total)
    return res["step_seconds"], other


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rzero", required=True)
    ap.add_argument("--torch-python")
    ap.add_argument("--trials", type=int, default=5)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--models", default="tiny,small")
    args = ap.parse_args()

    peaks = [run_json([args.rzero, "bench", "sgemm", "--threads", str(args.threads)])["gflops"] for _ in range(3)]
    peak = max(peaks)
    print(f"sgemm peak ({args.threads} threads): {peak:.1f} GFLOP/s (max of {', '.join(f'{p:.1f}' for p in peaks)})")
    for size in args.models.split(","):
        info = run_json([args.rzero, "bench", "train", "--model", size, "--steps", "1", "--warmup", "0"])
        tokens, flops = info["tokens_per_step"], info["flops_per_step"]
        results = {"rzero": [], "torch": []}
        discarded = {"rzero": 0, "torch": 0}
        for _ in range(args.trials):
            systems = [("rzero", [args.rzero, "bench", "train", "--model", size, "--steps", str(args.steps),
                                  "--warmup", "1", "--threads", str(args.threads)])]
            if args.torch_python:
                systems.append(("torch", [args.torch_python, "-c", TORCH_STEP, size, str(args.threads),
                                          str(args.steps), "1"]))
            for name, cmd in systems:
                steps, other = timed_trial(cmd)
                if other > 0.10:
                    discarded[name] += 1
                    continue
                results[name].extend(tokens / s for s in steps)
        print(f"\n{size}: {tokens} tokens/step, {flops / 1e9:.1f} GFLOP/step")
        med = {}
        for name, vals in results.items():
            if not vals:
                continue
            med[name] = statistics.median(vals)
            frac = med[name] * flops / tokens / 1e9 / peak
            print(f"  {name:6s} {med[name]:8.0f} tok/s (min {min(vals):.0f}, max {max(vals):.0f}, n={len(vals)}, "
                  f"discarded trials {discarded[name]})  {100 * frac:.0f}% of sgemm peak")
        if "torch" in med:
            print(f"  ratio rzero / torch: {med['rzero'] / med['torch']:.2f}x")
        grpo = run_json([args.rzero, "bench", "grpo", "--model", size, "--threads", str(args.threads)])
        print(f"  rzero GRPO step (reference forward + policy forward/backward + AdamW): "
              f"{grpo['median_tokens_per_s']:.0f} tok/s")
        gen = run_json([args.rzero, "bench", "generate", "--model", size, "--threads", str(args.threads)])
        print(f"  rzero sampling ({gen['samples']} samples x 64 tokens, KV cache): {gen['batched_tokens_per_s']:.0f} tok/s; "
              f"one sequence: {gen['single_sequence_tokens_per_s']:.0f} tok/s")


if __name__ == "__main__":
    sys.exit(main())
