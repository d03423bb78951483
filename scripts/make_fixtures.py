#!/usr/bin/env python3
"""Reference fixtures for the rzero engine, from PyTorch + transformers (run by hand, not in CI).

    python scripts/make_fixtures.py            # writes Tests/Fixtures/engine/...

For each small random Qwen3 model it writes an HF folder and a reference computed by
transformers' Qwen3ForCausalLM in float64 from the same float32 weights:
  reference.json          magic, version, the token batch and the per-token weights
  reference.safetensors   logits_<s> (len, V), logprobs_<s> (len-1), objective, grad.<param name>
The objective is sum_s sum_t w[s][t] * log p(x_t | x_<t), each sequence run alone (no padding),
so it is the exact quantity rzero's backward differentiates.

Models (vocab sizes are not multiples of 8; head_dim != hidden/heads; kv heads < heads):
  tied      hidden 48, 4 heads / 2 kv, head_dim 16, tied embeddings, newer config (rope_parameters, dtype)
  untied    hidden 40, 6 heads / 2 kv, head_dim 10, untied, older config (rope_theta, torch_dtype), sharded
  bf16      the tied model's weights stored as BF16; reference from transformers loading that folder
  f16       the same stored as F16
  unseen    a third config and seed, used only by the CLI test of `rzero score`
"""
import json
import os
import shutil
import sys

import torch
from safetensors.torch import save_file
from transformers import Qwen3Config, Qwen3ForCausalLM

MAGIC = "rzero-engine-fixture"
VERSION = 1
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Fixtures", "engine")


def random_model(cfg, seed):
    torch.manual_seed(seed)
    model = Qwen3ForCausalLM(cfg).float()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 1:  # norm weights: around 1 so that they matter
                p.copy_(1.0 + 0.2 * torch.randn_like(p))
            else:  # larger than HF's 0.02 so attention and logits are far from uniform
                p.copy_(0.15 * torch.randn_like(p))
    return model


def batch_for(vocab, seed):
    g = torch.Generator().manual_seed(seed)
    lengths = [7, 12, 1, 5]  # includes a one-token sequence (nothing to predict)
    seqs = [torch.randint(0, vocab, (n,), generator=g).tolist() for n in lengths]
    weights = [(torch.rand(max(n - 1, 0), generator=g) * 2 - 0.5).tolist() for n in lengths]
    return seqs, weights


def reference(model, seqs, weights):
    m = model.double()
    m.config._attn_implementation = "eager"
    m.zero_grad()
    out = {}
    objective = torch.zeros((), dtype=torch.float64)
    for s, (ids, w) in enumerate(zip(seqs, weights)):
        x = torch.tensor([ids])
        logits = m(input_ids=x).logits[0]  # (len, V)
        logp = torch.log_softmax(logits, dim=-1)
        tok_logp = logp[:-1].gather(1, x[0, 1:, None])[:, 0]
        objective = objective + (tok_logp * torch.tensor(w, dtype=torch.float64)).sum()
        out[f"logits_{s}"] = logits.detach().float().contiguous()
        out[f"logprobs_{s}"] = tok_logp.detach().float().contiguous()
    objective.backward()
    out["objective"] = objective.detach().float().reshape(1)
    for name, p in m.named_parameters():
        out["grad." + name] = p.grad.detach().float().contiguous()
    return out


def write_case(name, folder_writer, cfg, seed):
    model = random_model(cfg, seed)
    d = os.path.join(ROOT, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    loaded = folder_writer(model, d)  # the model as transformers reads it back from the folder
    seqs, weights = batch_for(cfg.vocab_size, seed + 1)
    ref = reference(loaded, seqs, weights)
    save_file(ref, os.path.join(d, "reference.safetensors"))
    with open(os.path.join(d, "reference.json"), "w") as f:
        json.dump({"magic": MAGIC, "version": VERSION, "sequences": seqs, "weights": weights,
                   "torch": torch.__version__, "transformers": __import__("transformers").__version__}, f)
    for fn in ("generation_config.json",):
        p = os.path.join(d, fn)
        if os.path.exists(p):
            os.remove(p)
    print(name, "ok", sum(p.numel() for p in model.parameters()), "params")


def save_plain(model, d):
    model.save_pretrained(d)
    return Qwen3ForCausalLM.from_pretrained(d, dtype=torch.float32)


def save_old_style_sharded(model, d):
    model.save_pretrained(d, max_shard_size="20KB")
    p = os.path.join(d, "config.json")
    c = json.load(open(p))
    c["rope_theta"] = c.pop("rope_parameters")["rope_theta"]  # how transformers < 4.56 wrote it
    c["torch_dtype"] = c.pop("dtype")
    c.pop("layer_types", None)
    json.dump(c, open(p, "w"), indent=2)
    assert os.path.exists(os.path.join(d, "model.safetensors.index.json")), "expected a sharded checkpoint"
    return Qwen3ForCausalLM.from_pretrained(d, dtype=torch.float32)


def save_in(dtype):
    def writer(model, d):
        model.to(dtype).save_pretrained(d)
        return Qwen3ForCausalLM.from_pretrained(d, dtype=torch.float32)  # upcast on load, as rzero does
    return writer


def main():
    tied = Qwen3Config(vocab_size=101, hidden_size=48, intermediate_size=80, num_hidden_layers=2,
                       num_attention_heads=4, num_key_value_heads=2, head_dim=16, tie_word_embeddings=True,
                       rope_parameters={"rope_theta": 10000.0, "rope_type": "default"})
    untied = Qwen3Config(vocab_size=131, hidden_size=40, intermediate_size=72, num_hidden_layers=2,
                         num_attention_heads=6, num_key_value_heads=2, head_dim=10, tie_word_embeddings=False,
                         rope_parameters={"rope_theta": 1000.0, "rope_type": "default"}, rms_norm_eps=1e-5)
    unseen = Qwen3Config(vocab_size=77, hidden_size=32, intermediate_size=64, num_hidden_layers=3,
                         num_attention_heads=2, num_key_value_heads=1, head_dim=24, tie_word_embeddings=False,
                         rope_parameters={"rope_theta": 500000.0, "rope_type": "default"})
    write_case("tied", save_plain, tied, 11)
    write_case("untied", save_old_style_sharded, untied, 22)
    write_case("bf16", save_in(torch.bfloat16), tied, 11)
    write_case("f16", save_in(torch.float16), tied, 11)
    write_case("unseen", save_plain, unseen, 33)


if __name__ == "__main__":
    sys.exit(main())
