#!/usr/bin/env python3
"""transformers generate on a model folder, the peer of `rzero serve` + POST /v1/generate at a real shape (run by hand).

    /path/to/venv/bin/python scripts/generate_torch.py /tmp/qwen3-0.6b-shape

8 random 32-token prompts x 8 samples x 64 new tokens (min = max, so every sequence runs to the end),
float32, 2 threads; prints wall time, new tokens/s and peak resident memory (ru_maxrss).
"""
import json, random, resource, sys, time, torch
from transformers import AutoModelForCausalLM
torch.set_num_threads(2)
m = AutoModelForCausalLM.from_pretrained(sys.argv[1], dtype=torch.float32).eval()
r = random.Random(1)
prompts = torch.tensor([[r.randrange(151936) for _ in range(32)] for _ in range(8)]).repeat_interleave(8, 0)
t = time.time()
with torch.no_grad():
    out = m.generate(prompts, attention_mask=torch.ones_like(prompts), do_sample=True, temperature=1.0, max_new_tokens=64, min_new_tokens=64, pad_token_id=0)
s = time.time() - t
print(json.dumps({"framework": "transformers generate", "seconds": round(s, 1), "tokens_per_s": round(64 * 64 / s, 1), "peak_gib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2)}))
