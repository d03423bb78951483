#!/usr/bin/env python3
"""Sampling throughput: rzero vs transformers `generate` and, at batch 1, llama.cpp (float32), side by side.

    python3 scripts/bench_generate.py --rzero .build/release/rzero --llama-src DIR_WITH_convert_hf_to_gguf.py

Needs a Python with torch, transformers, tokenizers and llama-cpp-python (pip builds it from source in
a few minutes; its source distribution carries llama.cpp's convert_hf_to_gguf.py and gguf-py). Run by
hand; CI never runs it.

For each engine size (tiny, small; the configs of `rzero bench train`) it writes one random model as a
Hugging Face folder (transformers' own initialisation, float32) with a byte-level BPE tokenizer.json of
exactly the model's vocabulary, converts it to GGUF f32 for llama.cpp, and then alternates trials:
  batched: 16 prompts x 4 samples x 64 new tokens (32-token prompts), temperature 1 -- rzero vs transformers
  batch 1: one 32-token prompt, 64 new tokens, temperature 1 -- rzero vs transformers vs llama.cpp
Each system runs in its own process with the same thread count. Reported: median tokens/s (min-max).
"""
import argparse
import glob
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CONFIGS = {
    "tiny": dict(vocab_size=512, hidden_size=256, intermediate_size=768, num_hidden_layers=4,
                 num_attention_heads=4, num_key_value_heads=2, head_dim=64),
    "small": dict(vocab_size=2048, hidden_size=512, intermediate_size=1536, num_hidden_layers=8,
                  num_attention_heads=8, num_key_value_heads=4, head_dim=64),
}

TRANSFORMERS_RUN = r'''
import json, sys, time, torch
from transformers import Qwen3ForCausalLM
folder, threads, prompts, n, new = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
torch.set_num_threads(threads)
model = Qwen3ForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
V = model.config.vocab_size
ids = torch.randint(0, V, (prompts, 32), generator=torch.Generator().manual_seed(4))
kw = dict(do_sample=True, temperature=1.0, top_k=0, top_p=1.0, max_new_tokens=new, min_new_tokens=new,
          num_return_sequences=n, pad_token_id=0, eos_token_id=None)
with torch.no_grad():
    model.generate(ids[:1], **{**kw, "max_new_tokens": 4, "min_new_tokens": 4, "num_return_sequences": 1})
    t0 = time.perf_counter()
    out = model.generate(ids, attention_mask=torch.ones_like(ids), **kw)
    dt = time.perf_counter() - t0
print(json.dumps({"tokens_per_s": (out.shape[1] - 32) * out.shape[0] / dt}))
'''

LLAMA_RUN = r'''
import json, sys, time
from llama_cpp import Llama
path, threads, new = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
llm = Llama(model_path=path, n_threads=threads, n_threads_batch=threads, n_ctx=256, n_batch=64, verbose=False)
import random
random.seed(4)
prompt = [random.randrange(llm.n_vocab()) for _ in range(32)]
llm.eval(prompt[:4]); llm.reset()
t0 = time.perf_counter()
llm.eval(prompt)
for _ in range(new):
    tok = llm.sample(temp=1.0, top_k=0, top_p=1.0)
    llm.eval([tok])
dt = time.perf_counter() - t0
print(json.dumps({"tokens_per_s": new / dt}))
'''


def run_json(cmd, env=None):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout
    return json.loads(out.strip().splitlines()[-1])


def make_model(size, root, python):
    folder = os.path.join(root, size)
    if os.path.exists(os.path.join(folder, "model.gguf")):
        return folder
    os.makedirs(folder, exist_ok=True)
    script = r'''
import sys, torch
from transformers import Qwen3Config, Qwen3ForCausalLM
from tokenizers import Tokenizer, models, trainers, pre_tokenizers, decoders
folder, cfg = sys.argv[1], eval(sys.argv[2])
torch.manual_seed(0)
Qwen3ForCausalLM(Qwen3Config(tie_word_embeddings=True, **cfg)).float().save_pretrained(folder)
tok = Tokenizer(models.BPE())
tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
tok.decoder = decoders.ByteLevel()
corpus = [" ".join(f"{a}+{b}={a+b} the answer is \\boxed{{{a*b}}} word{a % 97} thing{b % 89}" for b in range(60)) for a in range(400)]
tok.train_from_iterator(corpus, trainers.BpeTrainer(vocab_size=cfg["vocab_size"], special_tokens=["<|endoftext|>"],
                        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False))
assert tok.get_vocab_size() <= cfg["vocab_size"], tok.get_vocab_size()
tok.save(folder + "/tokenizer.json")
'''
    subprocess.run([python, "-c", script, folder, repr(CONFIGS[size])], check=True)
    return folder


def convert(folder, llama_src, python):
    """GGUF f32 through llama.cpp's converter; our tokenizer's pre-tokenizer hash is unknown to it, so
    the wrapper declares it 'qwen2' (the byte-level split Qwen uses)."""
    target = os.path.join(folder, "model.gguf")
    if os.path.exists(target):
        return target
    conv = glob.glob(os.path.join(llama_src, "**", "convert_hf_to_gguf.py"), recursive=True)[0]
    base = os.path.dirname(conv)
    wrapper = r'''
import sys, runpy
sys.path.insert(0, sys.argv[1]); sys.path.insert(0, sys.argv[1] + "/gguf-py")
import convert_hf_to_gguf as c
modules = [c]
try:
    import conversion.base as b  # newer llama.cpp keeps the model classes here
    modules.append(b)
except ImportError:
    pass
def no_sentencepiece(self):
    raise FileNotFoundError("byte-level BPE tokenizer, no tokenizer.model")
for m in modules:
    for name in ("TextModel", "Model"):
        cls = getattr(m, name, None)
        if cls is not None and hasattr(cls, "get_vocab_base_pre"):
            cls.get_vocab_base_pre = lambda self, tokenizer: "qwen2"
            cls._set_vocab_sentencepiece = no_sentencepiece
sys.argv = ["convert_hf_to_gguf.py", sys.argv[2], "--outtype", "f32", "--outfile", sys.argv[3]]
c.main()
'''
    subprocess.run([python, "-c", wrapper, base, folder, target], check=True)
    return target


def fmt(vals):
    return f"{statistics.median(vals):8.0f} tok/s (min {min(vals):.0f}, max {max(vals):.0f}, n={len(vals)})"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rzero", required=True)
    ap.add_argument("--python", default=sys.executable, help="Python with torch, transformers, tokenizers, llama_cpp")
    ap.add_argument("--llama-src", help="llama-cpp-python source tree (for convert_hf_to_gguf.py); omit to skip llama.cpp")
    ap.add_argument("--root", default="/tmp/rzero-bench-models")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--trials", type=int, default=3)
    ap.add_argument("--models", default="tiny,small")
    args = ap.parse_args()
    for size in args.models.split(","):
        folder = make_model(size, args.root, args.python)
        gguf = convert(folder, args.llama_src, args.python) if args.llama_src else None
        res = {k: [] for k in ["rzero_batched", "hf_batched", "rzero_1", "hf_1", "llama_1"]}
        for _ in range(args.trials):
            r = run_json([args.rzero, "bench", "generate", "--folder", folder, "--threads", str(args.threads),
                          "--prompts", "16", "--n", "4", "--max-tokens", "64"])
            res["rzero_batched"].append(r["batched_tokens_per_s"])
            res["rzero_1"].append(r["single_sequence_tokens_per_s"])
            res["hf_batched"].append(run_json([args.python, "-c", TRANSFORMERS_RUN, folder, str(args.threads), "16", "4", "64"])["tokens_per_s"])
            res["hf_1"].append(run_json([args.python, "-c", TRANSFORMERS_RUN, folder, str(args.threads), "1", "1", "64"])["tokens_per_s"])
            if gguf:
                res["llama_1"].append(run_json([args.python, "-c", LLAMA_RUN, gguf, str(args.threads), "64"])["tokens_per_s"])
        print(f"\n{size} ({args.threads} threads)")
        print(f"  batched 16x4x64  rzero        {fmt(res['rzero_batched'])}")
        print(f"  batched 16x4x64  transformers {fmt(res['hf_batched'])}")
        print(f"    ratio rzero / transformers: {statistics.median(res['rzero_batched']) / statistics.median(res['hf_batched']):.2f}x")
        print(f"  batch 1          rzero        {fmt(res['rzero_1'])}")
        print(f"  batch 1          transformers {fmt(res['hf_1'])}")
        if res["llama_1"]:
            print(f"  batch 1          llama.cpp    {fmt(res['llama_1'])}")
            print(f"    ratio rzero / llama.cpp: {statistics.median(res['rzero_1']) / statistics.median(res['llama_1']):.2f}x")


if __name__ == "__main__":
    sys.exit(main())
