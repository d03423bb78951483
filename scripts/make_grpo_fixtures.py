#!/usr/bin/env python3
"""Reference fixtures for rzero's GRPO trainer (run by hand, not in CI).

    python scripts/make_grpo_fixtures.py     # writes Tests/Fixtures/grpo/

1. grpo_cases.json: the pure functions, transcribed from EasyR1 verl/trainer/core_algos.py
   (compute_grpo_outcome_advantage, compute_policy_loss "default", compute_kl, average_loss),
   with gradients with respect to the log-probabilities from torch autograd (float64).
2. step/: a tiny random Qwen3 (HF folder), a perturbed copy as the frozen KL reference, two GRPO
   batches and one SFT batch, and the weights after: GRPO step 1, GRPO step 2 (AdamW moments carried),
   and one SFT step from the initial weights with a fresh optimizer. The loss is rzero's definition:
   token-mean over the whole batch of the clipped policy loss + kl_coef * k3 KL; then
   clip_grad_norm_(max_norm) and torch.optim.AdamW. All in float64 from the float32 weights.
"""
import json
import math
import os
import shutil

import torch
from safetensors.torch import save_file
from transformers import Qwen3Config, Qwen3ForCausalLM

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Fixtures", "grpo")
MAGIC, VERSION = "rzero-grpo-fixture", 1
CLIP_LOW, CLIP_HIGH, CLIP_DUAL = 0.2, 0.3, 3.0


def advantages(scores, index, eps=1e-6):
    scores = torch.tensor(scores, dtype=torch.float64)
    groups = {}
    for i, g in enumerate(index):
        groups.setdefault(g, []).append(i)
    out = scores.clone()
    for g, idx in groups.items():
        t = scores[idx]
        out[idx] = (t - t.mean()) / (torch.std(t) + eps)
    return out.tolist()


def policy_loss_tokens(logp, old, adv):
    nk = logp - old
    ratio = torch.exp(torch.clamp(nk, -20.0, 20.0))
    clipped = torch.exp(torch.clamp(nk, math.log(1.0 - CLIP_LOW), math.log(1.0 + CLIP_HIGH)))
    l1, l2, l3 = -adv * ratio, -adv * clipped, -adv * CLIP_DUAL
    higher = torch.max(l1, l2)
    lower = torch.min(higher, l3)
    final = torch.where(adv < 0, lower, higher)
    return final, (l1 < l2), (higher > l3) & (adv < 0)


def kl(logp, ref, kind):
    if kind == "kl":
        return logp - ref
    if kind == "abs":
        return (logp - ref).abs()
    if kind == "mse":
        return 0.5 * (logp - ref).square()
    k = (ref - logp).clamp(-20.0, 20.0)
    return torch.clamp(k.exp() - k - 1, min=-10.0, max=10.0)


def pure_cases():
    cases = {"magic": MAGIC, "version": VERSION}
    adv_groups = [([1, 0, 0, 1, 1, 0.5], [0, 0, 0, 1, 1, 1]), ([0.5, 0.5, 0.5], [7, 7, 7]),
                  ([3, 1], [2, 2]), ([1, 2, 3, 4, 5, -1], [0, 1, 0, 1, 0, 1])]
    cases["advantages"] = [{"rewards": r, "groups": g, "expected": advantages(r, g)} for r, g in adv_groups]

    rows = []
    for lr in [-25, -1, -0.3, -0.22314, -0.1, 0, 0.1, 0.26236, 0.3, 1, 2, 25]:
        for a in [-2.0, -0.5, 0.0, 0.7, 1.5]:
            logp = torch.tensor(-1.0 + lr, dtype=torch.float64, requires_grad=True)
            old = torch.tensor(-1.0, dtype=torch.float64)
            v, ch, cl = policy_loss_tokens(logp, old, torch.tensor(a, dtype=torch.float64))
            v.backward()
            rows.append({"logp": logp.item(), "old": old.item(), "advantage": a, "value": v.item(),
                         "grad": logp.grad.item(), "clipped_higher": bool(ch), "clipped_lower": bool(cl)})
    cases["policy_loss"] = rows

    krows = []
    for kind in ["kl", "abs", "mse", "low_var_kl"]:
        for d in [-30, -5, -1, -0.25, 0.3, 1, 2, 2.5, 5, 30]:
            logp = torch.tensor(-2.0 + d, dtype=torch.float64, requires_grad=True)
            ref = torch.tensor(-2.0, dtype=torch.float64)
            v = kl(logp, ref, kind)
            v.backward()
            krows.append({"kind": kind, "logp": logp.item(), "ref": ref.item(), "value": v.item(), "grad": logp.grad.item()})
    cases["kl"] = krows

    # A ragged batch through the whole loss, both aggregations (EasyR1 average_loss on a padded mask).
    g = torch.Generator().manual_seed(5)
    lengths = [3, 1, 5, 2]
    T = max(lengths)
    mask = torch.zeros(len(lengths), T, dtype=torch.float64)
    for i, n in enumerate(lengths):
        mask[i, :n] = 1
    logp0 = -torch.rand(len(lengths), T, generator=g, dtype=torch.float64) * 3
    old = logp0 + torch.randn(len(lengths), T, generator=g, dtype=torch.float64) * 0.3
    ref = logp0 + torch.randn(len(lengths), T, generator=g, dtype=torch.float64) * 0.5
    adv = torch.tensor([1.2, -0.7, 0.3, -1.5], dtype=torch.float64)[:, None].expand(-1, T)
    batch = []
    for mode in ["token", "seq"]:
        logp = logp0.clone().requires_grad_(True)
        pl, _, _ = policy_loss_tokens(logp, old, adv)
        k = kl(logp, ref, "low_var_kl")
        if mode == "token":
            agg = lambda x: (x * mask).sum() / mask.sum()
        else:
            agg = lambda x: ((x * mask).sum(-1) / mask.sum(-1)).mean()
        loss = agg(pl) + 0.05 * agg(k)
        loss.backward()
        batch.append({"mode": "token-mean" if mode == "token" else "seq-mean-token-mean", "loss": loss.item(),
                      "policy_loss": agg(pl).item(), "kl": agg(k).item(),
                      "grad": [logp.grad[i, :n].tolist() for i, n in enumerate(lengths)]})
    cases["batch"] = {"logp": [logp0[i, :n].tolist() for i, n in enumerate(lengths)],
                      "old": [old[i, :n].tolist() for i, n in enumerate(lengths)],
                      "ref": [ref[i, :n].tolist() for i, n in enumerate(lengths)],
                      "advantages": [1.2, -0.7, 0.3, -1.5], "kl_coef": 0.05, "results": batch}
    return cases


def response_logps(model, samples):
    out = []
    for s in samples:
        ids = torch.tensor([s["prompt"] + s["response"]])
        lp = torch.log_softmax(model(input_ids=ids).logits[0], -1)
        tgt = ids[0, 1:]
        tok = lp[:-1].gather(1, tgt[:, None])[:, 0]
        out.append(tok[len(s["prompt"]) - 1:])
    return out


def grpo_step(model, ref_model, opt, samples, kl_coef, max_norm):
    adv = advantages([s["reward"] for s in samples], [s["group"] for s in samples])
    with torch.no_grad():
        ref = response_logps(ref_model, samples)
    logps = response_logps(model, samples)
    total = sum(len(s["response"]) for s in samples)
    pl_sum = k_sum = 0
    clip_h = clip_l = 0
    for s, lp, rf, a in zip(samples, logps, ref, adv):
        old = torch.tensor(s["old_logprobs"], dtype=torch.float64)
        pl, ch, cl = policy_loss_tokens(lp, old, torch.full_like(lp, a))
        pl_sum = pl_sum + pl.sum()
        k_sum = k_sum + kl(lp, rf, "low_var_kl").sum()
        clip_h += int(ch.sum())
        clip_l += int(cl.sum())
    loss = pl_sum / total + kl_coef * k_sum / total
    opt.zero_grad()
    loss.backward()
    norm = torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
    opt.step()
    return {"loss": loss.item(), "kl": (k_sum / total).item(), "grad_norm": norm.item(),
            "clip_fraction_higher": clip_h / total, "clip_fraction_lower": clip_l / total}


def make_samples(model, g, vocab, groups, per_group, noise):
    samples = []
    for grp in range(groups):
        prompt = torch.randint(0, vocab, (int(torch.randint(2, 6, (1,), generator=g)),), generator=g).tolist()
        for _ in range(per_group):
            resp = torch.randint(0, vocab, (int(torch.randint(2, 8, (1,), generator=g)),), generator=g).tolist()
            samples.append({"prompt": prompt, "response": resp, "group": grp,
                            "reward": float(torch.randint(0, 2, (1,), generator=g)) + 0.1 * grp})
    with torch.no_grad():
        cur = response_logps(model, samples)
    for s, lp in zip(samples, cur):
        s["old_logprobs"] = (lp + noise * torch.randn(lp.shape, generator=g, dtype=torch.float64)).clamp(max=-1e-4).tolist()
    return samples


def save_folder(model, d):
    model.float().save_pretrained(d)
    for f in ("generation_config.json",):
        if os.path.exists(os.path.join(d, f)):
            os.remove(os.path.join(d, f))


def step_fixture():
    cfg = Qwen3Config(vocab_size=61, hidden_size=32, intermediate_size=48, num_hidden_layers=2, num_attention_heads=4,
                      num_key_value_heads=2, head_dim=8, tie_word_embeddings=True,
                      rope_parameters={"rope_theta": 10000.0, "rope_type": "default"})
    torch.manual_seed(3)
    model = Qwen3ForCausalLM(cfg)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(1 + 0.2 * torch.randn_like(p) if p.dim() == 1 else 0.2 * torch.randn_like(p))
    ref = Qwen3ForCausalLM(cfg)
    ref.load_state_dict(model.state_dict())
    with torch.no_grad():
        for p in ref.parameters():
            p.add_(0.05 * torch.randn_like(p))
    d = os.path.join(ROOT, "step")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    save_folder(model, os.path.join(d, "model"))
    save_folder(ref, os.path.join(d, "ref"))
    model = Qwen3ForCausalLM.from_pretrained(os.path.join(d, "model"), dtype=torch.float32).double()
    model.config._attn_implementation = "eager"
    ref = Qwen3ForCausalLM.from_pretrained(os.path.join(d, "ref"), dtype=torch.float32).double()
    ref.config._attn_implementation = "eager"
    init = {k: v.clone() for k, v in model.state_dict().items()}

    lr, wd, kl_coef, max_norm = 1e-3, 0.01, 0.05, 1.0
    opt = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=wd)
    g = torch.Generator().manual_seed(9)
    batch1 = make_samples(model, g, cfg.vocab_size, 3, 4, 0.25)
    m1 = grpo_step(model, ref, opt, batch1, kl_coef, max_norm)
    after1 = {k: v.float().contiguous() for k, v in model.state_dict().items() if k != "lm_head.weight"}
    batch2 = make_samples(model, g, cfg.vocab_size, 2, 3, 0.25)
    m2 = grpo_step(model, ref, opt, batch2, kl_coef, max_norm)
    after2 = {k: v.float().contiguous() for k, v in model.state_dict().items() if k != "lm_head.weight"}

    # SFT from the initial weights with a fresh optimizer.
    model.load_state_dict(init)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=wd)
    sft = [{"prompt": s["prompt"], "target": s["response"]} for s in batch1[:5]]
    total = sum(len(s["target"]) for s in sft)
    logps = response_logps(model, [{"prompt": s["prompt"], "response": s["target"]} for s in sft])
    loss = -sum(lp.sum() for lp in logps) / total
    opt.zero_grad()
    loss.backward()
    sft_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
    opt.step()
    after_sft = {k: v.float().contiguous() for k, v in model.state_dict().items() if k != "lm_head.weight"}

    save_file({("grpo1." + k): v for k, v in after1.items()} | {("grpo2." + k): v for k, v in after2.items()}
              | {("sft." + k): v for k, v in after_sft.items()}, os.path.join(d, "expected.safetensors"))
    with open(os.path.join(d, "step.json"), "w") as f:
        json.dump({"magic": MAGIC, "version": VERSION, "lr": lr, "weight_decay": wd, "kl_coef": kl_coef,
                   "max_grad_norm": max_norm, "batch1": batch1, "batch2": batch2, "metrics1": m1, "metrics2": m2,
                   "sft": sft, "sft_metrics": {"loss": loss.item(), "grad_norm": sft_norm.item()}}, f)
    print("step metrics", m1, m2, "sft", loss.item(), sft_norm.item())


def main():
    os.makedirs(ROOT, exist_ok=True)
    with open(os.path.join(ROOT, "grpo_cases.json"), "w") as f:
        json.dump(pure_cases(), f, indent=1)
    step_fixture()


if __name__ == "__main__":
    main()
