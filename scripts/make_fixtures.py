#!/usr/bin/env python3
"""Reference fixtures for the rzero engine, from PyTorch + transformers (run by hand, not in CI).

    python scripts/make_fixtures.py            # writes Tests/Fixtures/engine/...

For each small random model it writes an HF folder and a reference computed by transformers
(Qwen3ForCausalLM, Qwen2ForCausalLM or LlamaForCausalLM) in float64 from the same float32 weights:
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
  llama_bf16   Llama (OctoThinker's family): llama3 rope scaling with all three frequency bands in use,
               GQA (6 heads / 2 kv), no head_dim in config.json, untied, attention_bias and mlp_bias with
               non-zero biases, newer config (rope_parameters), stored as BF16
  llama_old    Llama without biases, tied, older config (rope_scaling + top-level rope_theta, torch_dtype)
  qwen2_tied   Qwen2 (Qwen2.5's family): non-zero q/k/v biases, no q/k norm, tied, 4 heads / 1 kv
"""
import json
import os
import shutil
import sys

import torch
from safetensors.torch import save_file
from transformers import (LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM, Qwen3Config,
                          Qwen3ForCausalLM)

CLASSES = {"qwen3": Qwen3ForCausalLM, "qwen2": Qwen2ForCausalLM, "llama": LlamaForCausalLM}

MAGIC = "rzero-engine-fixture"
VERSION = 1
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Fixtures", "engine")


def random_model(cfg, seed):
    torch.manual_seed(seed)
    model = CLASSES[cfg.model_type](cfg).float()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith(".bias"):  # biases: around 0, large enough to matter
                p.copy_(0.3 * torch.randn_like(p))
            elif p.dim() == 1:  # norm weights: around 1 so that they matter
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
    return type(model).from_pretrained(d, dtype=torch.float32)


def save_old_style(model, d):
    """How transformers < 4.56 wrote config.json: rope_theta (and rope_scaling) at the top level, torch_dtype."""
    model.save_pretrained(d)
    p = os.path.join(d, "config.json")
    c = json.load(open(p))
    rope = c.pop("rope_parameters")
    c["rope_theta"] = rope.pop("rope_theta")
    if rope.get("rope_type", "default") != "default":
        c["rope_scaling"] = rope
    c["torch_dtype"] = c.pop("dtype")
    c.pop("layer_types", None)
    json.dump(c, open(p, "w"), indent=2)
    return type(model).from_pretrained(d, dtype=torch.float32)


def save_old_style_sharded(model, d):
    model.save_pretrained(d, max_shard_size="20KB")
    p = os.path.join(d, "config.json")
    c = json.load(open(p))
    c["rope_theta"] = c.pop("rope_parameters")["rope_theta"]  # how transformers < 4.56 wrote it
    c["torch_dtype"] = c.pop("dtype")
    c.pop("layer_types", None)
    json.dump(c, open(p, "w"), indent=2)
    assert os.path.exists(os.path.join(d, "model.safetensors.index.json")), "expected a sharded checkpoint"
    return type(model).from_pretrained(d, dtype=torch.float32)


def save_in(dtype):
    def writer(model, d):
        model.to(dtype).save_pretrained(d)
        return type(model).from_pretrained(d, dtype=torch.float32)  # upcast on load, as rzero does
    return writer


def without_head_dim(writer):
    """Llama configs before head_dim existed: the decoder must take hidden_size / heads."""
    def write(model, d):
        loaded = writer(model, d)
        p = os.path.join(d, "config.json")
        c = json.load(open(p))
        assert c.pop("head_dim") == c["hidden_size"] // c["num_attention_heads"]
        json.dump(c, open(p, "w"), indent=2)
        return loaded
    return write


def main():
    only = set(sys.argv[1:])  # case names to (re)write; all when empty
    tied = Qwen3Config(vocab_size=101, hidden_size=48, intermediate_size=80, num_hidden_layers=2,
                       num_attention_heads=4, num_key_value_heads=2, head_dim=16, tie_word_embeddings=True,
                       rope_parameters={"rope_theta": 10000.0, "rope_type": "default"})
    untied = Qwen3Config(vocab_size=131, hidden_size=40, intermediate_size=72, num_hidden_layers=2,
                         num_attention_heads=6, num_key_value_heads=2, head_dim=10, tie_word_embeddings=False,
                         rope_parameters={"rope_theta": 1000.0, "rope_type": "default"}, rms_norm_eps=1e-5)
    unseen = Qwen3Config(vocab_size=77, hidden_size=32, intermediate_size=64, num_hidden_layers=3,
                         num_attention_heads=2, num_key_value_heads=1, head_dim=24, tie_word_embeddings=False,
                         rope_parameters={"rope_theta": 500000.0, "rope_type": "default"})
    # llama3 scaling with original_max_position_embeddings 32 and low/high factors 1/4: wavelengths below 8
    # are kept, above 32 divided by the factor, and the band between interpolated; head_dim 8 has one of each.
    llama = LlamaConfig(vocab_size=97, hidden_size=48, intermediate_size=72, num_hidden_layers=2,
                        num_attention_heads=6, num_key_value_heads=2, tie_word_embeddings=False,
                        attention_bias=True, mlp_bias=True, rms_norm_eps=1e-5,
                        rope_parameters={"rope_type": "llama3", "rope_theta": 10000.0, "factor": 8.0,
                                         "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                         "original_max_position_embeddings": 32},
                        bos_token_id=1, eos_token_id=2)
    llama_old = LlamaConfig(vocab_size=89, hidden_size=32, intermediate_size=56, num_hidden_layers=2,
                            num_attention_heads=4, num_key_value_heads=4, head_dim=8, tie_word_embeddings=True,
                            rope_parameters={"rope_type": "llama3", "rope_theta": 500000.0, "factor": 32.0,
                                             "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                             "original_max_position_embeddings": 8192})
    qwen2 = Qwen2Config(vocab_size=103, hidden_size=40, intermediate_size=64, num_hidden_layers=2,
                        num_attention_heads=4, num_key_value_heads=1, tie_word_embeddings=True,
                        rope_parameters={"rope_theta": 1000000.0, "rope_type": "default"})
    cases = [
        ("tied", save_plain, tied, 11),
        ("untied", save_old_style_sharded, untied, 22),
        ("bf16", save_in(torch.bfloat16), tied, 11),
        ("f16", save_in(torch.float16), tied, 11),
        ("unseen", save_plain, unseen, 33),
        ("llama_bf16", without_head_dim(save_in(torch.bfloat16)), llama, 44),
        ("llama_old", save_old_style, llama_old, 55),
        ("qwen2_tied", save_plain, qwen2, 66),
    ]
    for name, writer, cfg, seed in cases:
        if not only or name in only:
            write_case(name, writer, cfg, seed)


if __name__ == "__main__":
    sys.exit(main())
