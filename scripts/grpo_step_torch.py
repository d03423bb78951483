#!/usr/bin/env python3
"""The PyTorch side of scripts/grpo_step_memory.py: the same GRPO step in transformers, float32 (run by hand).

    /path/to/venv/bin/python scripts/grpo_step_torch.py --model /tmp/qwen3-0.6b-shape --micro 4

Loads the folder twice (policy and frozen reference), then one step over --sequences random samples of
--prompt + --response tokens, --micro sequences per forward/backward: reference forward, policy forward,
the token-mean clipped policy loss with a low-variance KL term (verl's defaults; old log-probs = the
policy's own, as when the weights are those that sampled), backward, grad-norm clipping, AdamW. Prints one
JSON line: the step's wall time, tokens/s and the process's peak resident memory (ru_maxrss).
With --lora-rank R the policy is peft's LoRA (alpha 2R, all-linear) over one copy of the weights, the
reference is the same model with its adapters disabled, and AdamW holds only the adapters.
"""
import argparse
import json
import resource
import time

import torch
from transformers import AutoModelForCausalLM


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--sequences", type=int, default=8)
    ap.add_argument("--prompt", type=int, default=64)
    ap.add_argument("--response", type=int, default=256)
    ap.add_argument("--micro", type=int, default=4, help="sequences per forward/backward pass")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--lora-rank", type=int, help="train peft LoRA adapters of this rank (all-linear, alpha 2r)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    policy = AutoModelForCausalLM.from_pretrained(args.model, dtype=torch.float32)
    policy.config._attn_implementation = "sdpa"
    vocab = policy.config.vocab_size
    if args.lora_rank:
        from peft import LoraConfig, get_peft_model
        policy = get_peft_model(policy, LoraConfig(r=args.lora_rank, lora_alpha=2 * args.lora_rank, target_modules="all-linear",
                                                   lora_dropout=0.0))

        def reference(input_ids):
            with policy.disable_adapter():
                return policy(input_ids=input_ids)
    else:
        reference = AutoModelForCausalLM.from_pretrained(args.model, dtype=torch.float32).eval().requires_grad_(False)
    trainable = [p for p in policy.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(trainable, lr=1e-6, weight_decay=0.01)
    L = args.prompt + args.response
    ids = torch.randint(0, vocab, (args.sequences, L))
    rewards = torch.tensor([float(i % 2) for i in range(args.sequences)])
    groups = rewards.view(-1, 4)
    adv = ((groups - groups.mean(1, keepdim=True)) / (groups.std(1, keepdim=True) + 1e-6)).view(-1)
    t0 = time.time()
    opt.zero_grad()
    total_tokens = args.sequences * args.response
    for s in range(0, args.sequences, args.micro):
        x = ids[s:s + args.micro]
        targets = x[:, args.prompt:]
        with torch.no_grad():
            ref_logits = reference(input_ids=x).logits[:, args.prompt - 1:-1]
            ref_lp = torch.log_softmax(ref_logits, -1).gather(-1, targets[..., None])[..., 0]
            del ref_logits
        logits = policy(input_ids=x).logits[:, args.prompt - 1:-1]
        lp = torch.log_softmax(logits, -1).gather(-1, targets[..., None])[..., 0]
        del logits
        ratio = torch.exp(lp - lp.detach())
        a = adv[s:s + args.micro, None]
        pg = torch.maximum(-a * ratio, -a * torch.clamp(ratio, 0.8, 1.28))
        d = ref_lp - lp
        kl = torch.clamp(torch.exp(d) - d - 1, -10, 10)
        loss = (pg + 0.01 * kl).sum() / total_tokens
        loss.backward()
    torch.nn.utils.clip_grad_norm_(trainable, 1.0)
    opt.step()
    seconds = time.time() - t0
    print(json.dumps({"framework": f"torch {torch.__version__}", "lora_rank": args.lora_rank, "micro_sequences": args.micro, "step_s": round(seconds, 1),
                      "tokens_per_s": round(args.sequences * L / seconds, 1),
                      "peak_gib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2)}))


if __name__ == "__main__":
    main()
