#!/usr/bin/env python3
"""LoRA reference fixtures from PyTorch + transformers + peft (run by hand, not in CI; outputs committed).

    python scripts/make_lora_fixtures.py      # writes Tests/Fixtures/engine/lora_<case>/

Each case takes a base folder of Tests/Fixtures/engine (made by make_fixtures.py), wraps it with
peft.get_peft_model(LoraConfig(...)), sets the adapters to random non-zero values (PEFT's own init has B = 0,
which would leave A without gradient) and writes:
  adapter/                 save_pretrained's folder: adapter_config.json + adapter_model.safetensors (F32)
  reference.json           the base folder's name, the token batch, per-token weights, AdamW settings
  reference.safetensors    logits_<s> (len, V); objective; grad.<adapter key>; after_step.<adapter key>
The objective is sum_s sum_t w[s][t] * log p(x_t | x_<t) in float64, each sequence alone, as in
make_fixtures.py; after_step is one torch.optim.AdamW step on the adapters from the gradient of -objective.

Cases:
  qwen3_all   the `tied` Qwen3 base, target all-linear, r 4, alpha 8 (scale 2)
  llama_some  the `llama_bf16` Llama base (biases, llama3 rope), q_proj, v_proj, down_proj, r 3, alpha 6,
              use_rslora (scale 6/sqrt(3))
"""
import json
import os
import shutil

import torch
from peft import LoraConfig, get_peft_model
from safetensors.torch import save_file
from transformers import AutoModelForCausalLM

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Fixtures", "engine")
MAGIC = "rzero-lora-fixture"
ADAMW = {"lr": 1e-2, "betas": [0.9, 0.999], "eps": 1e-8, "weight_decay": 0.01}

CASES = {
    "qwen3_all": dict(base="tied", r=4, alpha=8, targets="all-linear", rslora=False, seed=11),
    "llama_some": dict(base="llama_bf16", r=3, alpha=6, targets=["q_proj", "v_proj", "down_proj"], rslora=True, seed=12),
}


def write_case(name, c):
    base_dir = os.path.join(ROOT, c["base"])
    model = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32)
    peft_model = get_peft_model(model, LoraConfig(r=c["r"], lora_alpha=c["alpha"], target_modules=c["targets"],
                                                  lora_dropout=0.0, use_rslora=c["rslora"]))
    torch.manual_seed(c["seed"])
    with torch.no_grad():
        for n, p in peft_model.named_parameters():
            if "lora_" in n:
                p.copy_(0.3 * torch.randn_like(p))
    out = os.path.join(ROOT, "lora_" + name)
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    peft_model.save_pretrained(os.path.join(out, "adapter"))

    # The reference in float64 from the same float32 values.
    peft_model = peft_model.double()
    lora = {n: p for n, p in peft_model.named_parameters() if "lora_" in n}
    vocab = model.config.vocab_size
    g = torch.Generator().manual_seed(c["seed"] + 100)
    lengths = [6, 11, 4]
    seqs = [torch.randint(0, vocab, (n,), generator=g).tolist() for n in lengths]
    weights = [(torch.rand(n - 1, generator=g) * 2 - 0.5).tolist() for n in lengths]
    tensors = {}
    objective = torch.zeros((), dtype=torch.float64)
    for s, (ids, w) in enumerate(zip(seqs, weights)):
        logits = peft_model(input_ids=torch.tensor([ids])).logits[0]
        logp = torch.log_softmax(logits, dim=-1)[:-1].gather(1, torch.tensor(ids[1:])[:, None])[:, 0]
        objective = objective + (logp * torch.tensor(w, dtype=torch.float64)).sum()
        tensors[f"logits_{s}"] = logits.detach().float().contiguous()
    objective.backward()
    tensors["objective"] = objective.detach().float().reshape(1)

    def key(n):  # peft's saved name: the adapter name ("default") is dropped
        return n.replace(".default", "")
    for n, p in lora.items():
        tensors["grad." + key(n)] = p.grad.float().contiguous()
    # One AdamW step minimising -objective (what rzero's trainer does with these gradients).
    for p in lora.values():
        p.grad = -p.grad
    opt = torch.optim.AdamW(lora.values(), lr=ADAMW["lr"], betas=tuple(ADAMW["betas"]), eps=ADAMW["eps"],
                            weight_decay=ADAMW["weight_decay"])
    opt.step()
    for n, p in lora.items():
        tensors["after_step." + key(n)] = p.detach().float().contiguous()
    save_file(tensors, os.path.join(out, "reference.safetensors"))
    with open(os.path.join(out, "reference.json"), "w") as f:
        json.dump({"magic": MAGIC, "version": 1, "base": c["base"], "sequences": seqs, "weights": weights,
                   "adamw": ADAMW, "torch": torch.__version__, "peft": __import__("peft").__version__}, f, indent=1)
    print(name, "objective", float(objective), "adapter tensors", len(lora))


def main():
    for name, c in CASES.items():
        write_case(name, c)


if __name__ == "__main__":
    main()
