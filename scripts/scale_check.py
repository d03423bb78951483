#!/usr/bin/env python3
"""rzero at a real release's shapes, beside PyTorch (run by hand: `make scale-check`; not in CI).

    python3 scripts/scale_check.py --rzero .build/release/rzero [--torch-python /work/venv/bin/python] \
        [--sizes 0.6b,1.7b] [--work /tmp/rzero-scale] [--tokenizer tokenizer.json] [--skip iteration]

For each size it writes (once) a folder with the exact shapes of Qwen3-0.6B / Qwen3-1.7B: config.json as the
release ships it and random BF16 weights (numpy only; std 0.02, norms 1), plus a tokenizer.json: --tokenizer
if given (e.g. a real Qwen tokenizer rebuilt by scripts/qwen_tokenizer_from_gguf.py), else none and the
checks use token ids. Then it measures, each in a fresh process:
  load       seconds to a serving `rzero serve`, resident memory after load (VmRSS)
  sample     batched sampling, 8 prompts x n 8 x 64 new tokens (scripts/generate_torch.py for transformers)
  full       one full fine-tuning GRPO step, 8 x (64 + 256) tokens, default settings (scripts/grpo_step_memory.py)
  lora       the same step under LoRA r 16 on all linear layers
  torch      PyTorch's same steps (scripts/grpo_step_torch.py; --micro 4 full, --micro 1 LoRA) with --torch-python
  iteration  one R-Zero iteration of configs/scale-check.json with a Challenger and a Solver on this machine,
             both LoRA r 16 (needs a tokenizer), wall time by phase from the run's events.jsonl
and prints one table (markdown) plus the raw JSON lines. Full fine-tuning of 1.7B is skipped unless asked
(--full-1.7b): its weights, gradients and AdamW state alone need 27 GB.
"""
import argparse
import contextlib
import json
import os
import random
import shutil
import subprocess
import sys
import time
import urllib.request

import numpy as np

from rzero_service import serve, status_kb

SHAPES = {
    "0.6b": dict(hidden_size=1024, intermediate_size=3072, num_hidden_layers=28, num_attention_heads=16,
                 num_key_value_heads=8, head_dim=128),
    "1.7b": dict(hidden_size=2048, intermediate_size=6144, num_hidden_layers=28, num_attention_heads=16,
                 num_key_value_heads=8, head_dim=128),
}
HERE = os.path.dirname(os.path.abspath(__file__))


def qwen3_config(shape):
    c = {"architectures": ["Qwen3ForCausalLM"], "model_type": "qwen3", "vocab_size": 151936,
         "max_position_embeddings": 40960, "rms_norm_eps": 1e-6, "rope_theta": 1000000, "tie_word_embeddings": True,
         "attention_bias": False, "attention_dropout": 0.0, "hidden_act": "silu", "bos_token_id": 151643,
         "eos_token_id": 151643, "torch_dtype": "bfloat16", "use_sliding_window": False, "sliding_window": None,
         "rope_scaling": None}
    c.update(shape)
    return c


def tensor_shapes(c):
    C, F, V = c["hidden_size"], c["intermediate_size"], c["vocab_size"]
    QD, KD, HD = c["num_attention_heads"] * c["head_dim"], c["num_key_value_heads"] * c["head_dim"], c["head_dim"]
    out = [("model.embed_tokens.weight", (V, C)), ("model.norm.weight", (C,))]
    for l in range(c["num_hidden_layers"]):
        p = f"model.layers.{l}."
        out += [(p + "input_layernorm.weight", (C,)), (p + "post_attention_layernorm.weight", (C,)),
                (p + "self_attn.q_proj.weight", (QD, C)), (p + "self_attn.k_proj.weight", (KD, C)),
                (p + "self_attn.v_proj.weight", (KD, C)), (p + "self_attn.o_proj.weight", (C, QD)),
                (p + "self_attn.q_norm.weight", (HD,)), (p + "self_attn.k_norm.weight", (HD,)),
                (p + "mlp.gate_proj.weight", (F, C)), (p + "mlp.up_proj.weight", (F, C)), (p + "mlp.down_proj.weight", (C, F))]
    return out


def write_folder(path, size, tokenizer):
    """A folder with the release's shapes and random BF16 weights (written once; reused when complete)."""
    done = os.path.join(path, ".complete")
    if os.path.exists(done):
        return
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    c = qwen3_config(SHAPES[size])
    with open(os.path.join(path, "config.json"), "w") as f:
        json.dump(c, f, indent=2)
    shapes = sorted(tensor_shapes(c))
    header, offset = {"__metadata__": {"format": "pt"}}, 0
    for name, shape in shapes:
        n = int(np.prod(shape)) * 2
        header[name] = {"dtype": "BF16", "shape": list(shape), "data_offsets": [offset, offset + n]}
        offset += n
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    rng = np.random.default_rng(0)
    with open(os.path.join(path, "model.safetensors"), "wb") as f:
        f.write(len(h).to_bytes(8, "little"))
        f.write(h)
        for name, shape in shapes:
            if len(shape) == 1:
                x = np.ones(shape, dtype=np.float32)
            else:
                x = (rng.standard_normal(shape, dtype=np.float32) * 0.02).astype(np.float32)
            bits = x.view(np.uint32)
            f.write(((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype(np.uint16).tobytes())
    if tokenizer:
        for name in ("tokenizer.json", "tokenizer_config.json"):
            src = os.path.join(os.path.dirname(tokenizer), name) if name != "tokenizer.json" else tokenizer
            if os.path.exists(src):
                shutil.copy(src, os.path.join(path, name))
    open(done, "w").close()


def run_json(cmd, timeout=7200):
    """Runs a measuring script and returns its last JSON line (or an error record)."""
    t0 = time.time()
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    lines = [l for l in p.stdout.splitlines() if l.startswith("{")]
    if p.returncode != 0 or not lines:
        return {"error": (p.stderr or p.stdout)[-400:], "cmd": " ".join(cmd), "seconds": round(time.time() - t0, 1)}
    return json.loads(lines[-1])


def measure_load(rzero, model, port):
    with serve(rzero, model, port) as (proc, seconds):
        return {"load_s": round(seconds, 1), "rss_gib": round(status_kb(proc.pid, "VmRSS") / 2**20, 2)}


def measure_sampling(rzero, model, port):
    """8 random 32-token prompts x n 8 x 64 new tokens through POST /v1/generate (generate_torch.py's workload)."""
    with serve(rzero, model, port) as (proc, _):
        r = random.Random(1)
        body = {"prompts": [{"token_ids": [r.randrange(151936) for _ in range(32)]} for _ in range(8)], "n": 8, "max_tokens": 64,
                "ignore_eos": True, "temperature": 1.0, "seed": 1}
        req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/generate", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
        t0 = time.time()
        with urllib.request.urlopen(req, timeout=3600) as resp:
            json.loads(resp.read())
        seconds = time.time() - t0
        return {"seconds": round(seconds, 1), "tokens_per_s": round(64 * 64 / seconds, 1),
                "peak_gib": round(status_kb(proc.pid, "VmHWM") / 2**20, 2)}


def measure_iteration(rzero, model, work):
    """One R-Zero iteration with a LoRA Challenger and a LoRA Solver on this machine (one thread each)."""
    run = os.path.join(work, "iteration-run")
    shutil.rmtree(run, ignore_errors=True)
    os.makedirs(run)
    lora = ["--lora-rank", "16", "--threads", "1"]
    with contextlib.ExitStack() as stack:
        procs = {}
        for role, port in (("challenger", 8191), ("solver", 8192)):
            log = stack.enter_context(open(os.path.join(run, role + ".log"), "w"))
            procs[role], _ = stack.enter_context(serve(rzero, model, port, role=role, extra=lora, log=log,
                                                       checkpoints=os.path.join(run, role + "-checkpoints")))
        t0 = time.time()
        p = subprocess.run([rzero, "coordinate", "--config", os.path.join(HERE, "..", "configs", "scale-check.json"),
                            "--run", os.path.join(run, "run"), "--no-progress"], capture_output=True, text=True)
        seconds = time.time() - t0
        alive = all(proc.poll() is None for proc in procs.values())
        peaks = {role: round(status_kb(proc.pid, "VmHWM") / 2**20, 2) for role, proc in procs.items() if proc.poll() is None}
    phases = {}
    events = os.path.join(run, "run", "events.jsonl")
    if os.path.exists(events):
        for line in open(events):
            e = json.loads(line)
            name = e["name"].split("[")[0]
            phase = ("challenger" if name.endswith("challenger") or name == "challenger-sample" else "pool" if name in ("pool", "dataset")
                     else "solver" if "solver" in name else name)
            phases[phase] = round(phases.get(phase, 0) + e["seconds"], 1)
    return {"ok": p.returncode == 0 and alive, "seconds": round(seconds, 1), "phases_s": phases, "peak_gib": peaks,
            "error": None if p.returncode == 0 else p.stderr[-400:]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rzero", required=True)
    ap.add_argument("--torch-python")
    ap.add_argument("--sizes", default="0.6b,1.7b")
    ap.add_argument("--work", default="/tmp/rzero-scale")
    ap.add_argument("--tokenizer")
    ap.add_argument("--skip", default="", help="comma-separated checks to skip (load,sample,full,lora,torch,iteration)")
    ap.add_argument("--full-1.7b", dest="full_17b", action="store_true")
    args = ap.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    results = []

    def record(size, check, system, r):
        r = dict(r, size=size, check=check, system=system)
        results.append(r)
        print(json.dumps(r), flush=True)

    for size in args.sizes.split(","):
        folder = os.path.join(args.work, "qwen3-" + size)
        t0 = time.time()
        write_folder(folder, size, args.tokenizer)
        print(f"# {folder} ready ({time.time() - t0:.0f} s)", file=sys.stderr)
        full = size == "0.6b" or args.full_17b
        if "load" not in skip:
            record(size, "load", "rzero", measure_load(args.rzero, folder, 8190))
        if "sample" not in skip:
            record(size, "sample", "rzero", measure_sampling(args.rzero, folder, 8190))
            if args.torch_python and "torch" not in skip:
                record(size, "sample", "transformers", run_json([args.torch_python, os.path.join(HERE, "generate_torch.py"), folder]))
        for mode in (["full"] if full else []) + ["lora"]:
            if mode in skip:
                continue
            extra = ["--serve-args", "--lora-rank 16"] if mode == "lora" else []
            record(size, mode, "rzero", run_json([sys.executable, os.path.join(HERE, "grpo_step_memory.py"), "--rzero", args.rzero,
                                                  "--model", folder] + extra))
            if args.torch_python and "torch" not in skip:
                targs = ["--lora-rank", "16", "--micro", "1"] if mode == "lora" else ["--micro", "4"]
                record(size, mode, "pytorch", run_json([args.torch_python, os.path.join(HERE, "grpo_step_torch.py"),
                                                        "--model", folder] + targs))
        if size == "0.6b" and "iteration" not in skip:
            if not os.path.exists(os.path.join(folder, "tokenizer.json")):
                record(size, "iteration", "rzero", {"error": "needs a tokenizer (--tokenizer)"})
            else:
                record(size, "iteration", "rzero", measure_iteration(args.rzero, folder, args.work))

    print("\n| size | check | system | seconds | tok/s | resident after load GiB | peak GiB | note |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        secs = r.get("step_s", r.get("seconds", r.get("load_s", "")))
        note = r.get("error") or (json.dumps(r.get("phases_s")) if "phases_s" in r else "")
        print(f"| {r['size']} | {r['check']} | {r['system']} | {secs} | {r.get('tokens_per_s', '')} | "
              f"{r.get('rss_after_load_gb', r.get('rss_gib', ''))} | {r.get('peak_gb', r.get('peak_gib', ''))} | {str(note)[:120]} |")


if __name__ == "__main__":
    main()
