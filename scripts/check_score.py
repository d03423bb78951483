#!/usr/bin/env python3
"""`rzero score` against transformers on any model folder (run by hand; CI never runs it).

    python scripts/check_score.py --rzero .build/release/rzero --model /path/to/Qwen3-folder
    python scripts/check_score.py --rzero .build/release/rzero --random /tmp/qwen3-random

With --model it scores a real checkpoint (e.g. a downloaded Qwen3-0.6B, Qwen2.5 or Llama 3.2). With
--random DIR it first writes a random folder that no test has seen, of the shape --shape names:
  qwen3 (default)  BF16 weights in shards, untied head, the newer config keys, head_dim != hidden / heads
  qwen2            the same sizes as Qwen2: q/k/v biases, tied
  llama            Llama with llama3 rope scaling whose band sits inside the scored lengths, biases, GQA
  llama-3.2-1b     the exact shapes of Llama-3.2-1B (1.24B parameters, 128,256-token vocabulary, tied,
                   rope_theta 500000, llama3 scaling factor 32), transformers' own initialisation (std 0.02) Either way it scores random token sequences longer than
one attention block, with transformers in float32 and with rzero, and prints the largest difference
per sequence. Exit status 1 when a difference exceeds --tolerance.
"""
import argparse
import json
import subprocess
import sys

import torch
from transformers import AutoModelForCausalLM, LlamaConfig, Qwen2Config, Qwen3Config

from make_fixtures import random_model  # the fixtures' initialisation: norms around 1, weights far from uniform


SHAPES = {
    "qwen3": lambda: Qwen3Config(vocab_size=397, hidden_size=96, intermediate_size=200, num_hidden_layers=3,
                                 num_attention_heads=6, num_key_value_heads=2, head_dim=24, tie_word_embeddings=False,
                                 max_position_embeddings=512, rope_theta=50_000.0),
    "qwen2": lambda: Qwen2Config(vocab_size=397, hidden_size=96, intermediate_size=200, num_hidden_layers=3,
                                 num_attention_heads=6, num_key_value_heads=2, tie_word_embeddings=True,
                                 max_position_embeddings=512, rope_theta=50_000.0),
    # original_max_position_embeddings 64 with low/high factors 1/4: wavelengths between 16 and 64 are
    # interpolated, so positions up to 130 exercise every band.
    "llama": lambda: LlamaConfig(vocab_size=397, hidden_size=96, intermediate_size=200, num_hidden_layers=3,
                                 num_attention_heads=6, num_key_value_heads=2, tie_word_embeddings=False,
                                 attention_bias=True, mlp_bias=True, max_position_embeddings=512,
                                 rope_parameters={"rope_type": "llama3", "rope_theta": 50_000.0, "factor": 8.0,
                                                  "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                                  "original_max_position_embeddings": 64}),
    "llama-3.2-1b": lambda: LlamaConfig(vocab_size=128_256, hidden_size=2048, intermediate_size=8192,
                                        num_hidden_layers=16, num_attention_heads=32, num_key_value_heads=8,
                                        head_dim=64, tie_word_embeddings=True, max_position_embeddings=131_072,
                                        rms_norm_eps=1e-5, bos_token_id=128_000, eos_token_id=128_001,
                                        rope_parameters={"rope_type": "llama3", "rope_theta": 500_000.0,
                                                         "factor": 32.0, "low_freq_factor": 1.0,
                                                         "high_freq_factor": 4.0,
                                                         "original_max_position_embeddings": 8192}),
}


def write_random_model(path, seed, shape):
    cfg = SHAPES[shape]()
    if shape == "llama-3.2-1b":  # a release's scale: transformers' own init keeps activations realistic
        torch.manual_seed(seed)
        model = AutoModelForCausalLM.from_config(cfg, dtype=torch.float32)
        shard = "1GB"
    else:
        model = random_model(cfg, seed)
        shard = "200KB"
    model.to(torch.bfloat16).save_pretrained(path, max_shard_size=shard, safe_serialization=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rzero", required=True)
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--model", help="an existing Hugging Face folder (Qwen3, Qwen2 or Llama)")
    src.add_argument("--random", metavar="DIR", help="write a random unseen folder here and score it")
    ap.add_argument("--shape", choices=sorted(SHAPES), default="qwen3", help="the random folder's family and sizes")
    ap.add_argument("--lengths", default="5,37,130", help="comma-separated sequence lengths")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--tolerance", type=float, default=1e-3)
    args = ap.parse_args()

    folder = args.model or args.random
    if args.random:
        write_random_model(folder, args.seed, args.shape)
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
