#!/usr/bin/env python3
"""Rebuild Qwen2/Qwen3's tokenizer.json from llama.cpp's vocab-only GGUF (run by hand; no hub needed).

    pip download --no-deps --no-binary llama-cpp-python llama-cpp-python && tar xzf llama_cpp_python-*.tar.gz
    LLAMA=llama_cpp_python-*/vendor/llama.cpp
    PYTHONPATH=$LLAMA/gguf-py python scripts/qwen_tokenizer_from_gguf.py $LLAMA/models/ggml-vocab-qwen2.gguf /tmp/qwen-tokenizer

Writes tokenizer.json (byte-level BPE: the GGUF's tokens and merges, NFC, Qwen2's Split regex, ByteLevel) and
tokenizer_config.json (special tokens, the chat template the GGUF carries), then checks the result with HF
`tokenizers` against the expected ids llama.cpp ships beside the GGUF (`.inp` / `.out`, made with HF's
tokenizer): prints how many of the test strings encode exactly and exits 1 unless all do.
"""
import json
import os
import sys

from gguf import GGUFReader
from tokenizers import Tokenizer

QWEN2_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|"
               r"\s+(?!\S)|\s+")


def field(reader, name):
    f = reader.fields[name]
    if len(f.types) > 1:  # an array: one part per element
        return [bytes(f.parts[i]).decode("utf-8") if f.types[-1].name == "STRING" else int(f.parts[i][0]) for i in f.data]
    part = f.parts[f.data[0]]
    return bytes(part).decode("utf-8") if f.types[0].name == "STRING" else int(part[0])


def main():
    gguf_path, out = sys.argv[1], sys.argv[2]
    r = GGUFReader(gguf_path)
    assert field(r, "tokenizer.ggml.model") == "gpt2", "not a byte-level BPE vocabulary"
    tokens = field(r, "tokenizer.ggml.tokens")
    types = field(r, "tokenizer.ggml.token_type")
    merges = field(r, "tokenizer.ggml.merges")
    # Type 1: normal (the BPE vocabulary); 3: control (special); 4: user-defined (added, not special);
    # 5 unused (padding up to the embedding size: left out).
    vocab = {t: i for i, (t, ty) in enumerate(zip(tokens, types)) if ty == 1}
    # llama.cpp pads the vocabulary to the embedding size with user-defined "[PAD<id>]" entries HF's tokenizer lacks.
    added = [{"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False, "normalized": False,
              "special": ty == 3} for i, (t, ty) in enumerate(zip(tokens, types))
             if ty == 3 or (ty == 4 and not (t.startswith("[PAD") and t.endswith("]")))]
    byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False}
    tok = {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": added,
        "normalizer": {"type": "NFC"},
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": QWEN2_SPLIT}, "behavior": "Isolated", "invert": False}, byte_level]},
        "post_processor": byte_level, "decoder": byte_level,
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "", "end_of_word_suffix": "",
                  "fuse_unk": False, "byte_fallback": False, "ignore_merges": False, "vocab": vocab,
                  "merges": [m.split(" ", 1) for m in merges]},
    }
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tok, f, ensure_ascii=False)
    eos = tokens[field(r, "tokenizer.ggml.eos_token_id")]
    config = {"tokenizer_class": "Qwen2Tokenizer", "eos_token": eos, "pad_token": eos, "bos_token": None,
              "model_max_length": 131072, "clean_up_tokenization_spaces": False, "split_special_tokens": False,
              "chat_template": field(r, "tokenizer.chat_template")}
    with open(os.path.join(out, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(config, f, ensure_ascii=False, indent=1)

    hf = Tokenizer.from_file(os.path.join(out, "tokenizer.json"))
    inputs = open(gguf_path + ".inp", encoding="utf-8").read().split("\n__ggml_vocab_test__\n")
    expected = open(gguf_path + ".out", encoding="utf-8").read().split("\n")
    good = 0
    for text, ids in zip(inputs, expected):
        want = [int(x) for x in ids.split()]
        if hf.encode(text, add_special_tokens=False).ids == want:
            good += 1
        else:
            print("differs:", repr(text[:60]), file=sys.stderr)
    total = min(len(inputs), len(expected))
    print(json.dumps({"tokens": len(tokens), "bpe_vocab": len(vocab), "merges": len(merges), "added": len(added),
                      "test_strings_exact": good, "test_strings": total, "out": out}))
    sys.exit(0 if good == total else 1)


if __name__ == "__main__":
    main()
