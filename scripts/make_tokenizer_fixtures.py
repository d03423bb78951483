#!/usr/bin/env python3
"""Generate the tokenizer fixtures under Tests/Fixtures/tokenizer/ (run by hand, not in CI).

    /work/venv/bin/python scripts/make_tokenizer_fixtures.py

Needs the Hugging Face `tokenizers` library (and `transformers` for the chat-template cross-check);
no network. It trains its own byte-level BPE tokenizers on a corpus it generates, so nothing is
downloaded. Outputs:

  qwen_style.json    vocab_size 3000 asked, 1,735 reached (the corpus runs out of pairs seen twice): NFC, Qwen2 Split regex + ByteLevel(use_regex=False), special tokens
                     <|endoftext|> <|im_start|> <|im_end|>, non-special <think> </think>; merges in the
                     pair format (["a", "b"]) that tokenizers >= 0.20 writes.
  gpt2_style.json    vocab 1000: Sequence[NFC] normalizer, ByteLevel(use_regex=True) (GPT-2 regex),
                     merges rewritten to the legacy "a b" string format, non-special added tokens with
                     single_word / lstrip / rstrip / normalized flags.
  template.json      qwen_style with ignore_merges=true and a TemplateProcessing post-processor
                     (<|im_start|> $A <|endoftext|>), so encode(add_special_tokens) matters.
  tiny_gaps.json     hand-made BPE whose vocab lacks most bytes (tokenizers drops unknown bytes when
                     unk_token is null) and has no special tokens.
  goldens.json       texts, and per tokenizer HF's ids (with and without special tokens) and decodes;
                     decode-only cases (random ids, partial UTF-8); chat prompts.
  unicode_classes.json  the \\p{L}, \\p{N}, \\s sets of the regex engine tokenizers uses (Oniguruma),
                     as code point ranges.
  nfc_cases.json     HF's NFC normalizer on every code point that changes and on sampled sequences.
  llama3_style.json  vocab 2000 asked: Llama 3's Split regex (\p{N}{1,3}) + ByteLevel(use_regex=False),
                     ignore_merges=true with extra whole-word vocabulary entries, Llama 3's special tokens
                     after the vocabulary, TemplateProcessing adding <|begin_of_text|>.
  deepseek_style.json  vocab 1500: DeepSeek-V3's three Split regexes + ByteLevel(use_regex=False).
  llama3_goldens.json  goldens.json's texts plus digit runs / whitespace / Llama 3 special tokens, ids and
                     decodes for the two tokenizers above; Llama 3 chat prompts from apply_chat_template
                     with Meta-Llama-3-8B-Instruct's chat_template.
  split_cases.json   Oniguruma's pieces (through pre_tokenize_str) for small patterns with every Split
                     behaviour and invert, and for the o200k / Llama 3 / DeepSeek patterns over all texts.
  unicode_categories.json  Oniguruma's sets for the 30 general categories, \d and \w.

Files that existed before the Llama 3 additions must come out byte-identical on a re-run.
"""
import json
import os
import random
import sys

import tokenizers
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers
from tokenizers import processors, trainers

FORMAT = "rzero-tokenizer-goldens"
VERSION = 1
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Fixtures", "tokenizer")

QWEN2_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                 r"|\s*[\r\n]+|\s+(?!\S)|\s+")
# Llama 3's (Meta-Llama-3-8B-Instruct tokenizer.json): Qwen2's with digits in runs of up to three.
LLAMA3_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                  r"|\s*[\r\n]+|\s+(?!\S)|\s+")
# DeepSeek-V3's three Split steps (digits, kana/CJK runs, then words with marks and punctuation).
# The third holds literal CR and LF characters, as DeepSeek's file does.
DEEPSEEK_PATTERNS = [
    r"\p{N}{1,3}",
    "[\u4e00-\u9fa5\u3040-\u309f\u30a0-\u30ff]+",
    r"[!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^" + "\r\n" + r"\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+["
    + "\r\n" + r"]*|\s*[" + "\r\n" + r"]+|\s+(?!\S)|\s+",
]
# GPT-4o's o200k pattern (cased words with marks, optional case-insensitive contraction suffix).
O200K_PATTERN = "|".join([
    r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
    r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
    r"\p{N}{1,3}", r" ?[^\s\p{L}\p{N}]+[\r\n/]*", r"\s*[\r\n]+", r"\s+(?!\S)", r"\s+"])

# ---------------------------------------------------------------------------------------------
# Training corpus: deterministic, mixed English / LaTeX math / digits / code / CJK / emoji.
# ---------------------------------------------------------------------------------------------
WORDS = ("the of and to in is was that for it with as his on be at by had are but from or have an they "
         "which one you were all we her she there would their will when who him been has more if no out "
         "so said what up its about than into them can only other time new some could these two may first "
         "then do any like my now over such our man me even most made after also did many before must "
         "through back years where much your way well down should because each just those people how too "
         "little state good very make world still own see men work long get here between both life being "
         "under never day same another know while last might us great old year off come since against go "
         "came right used take three number triangle circle square root prime answer solve equation "
         "integer real function value sum product probability expected compute find let suppose prove "
         "therefore hence thus").split()
CJK = ["你好", "世界", "数学", "问题", "答案", "计算", "方程", "函数", "概率", "三角形", "我们", "可以",
       "因为", "所以", "日本語", "テキスト", "です", "ます", "한국어", "텍스트", "수학", "문제"]
EMOJI = ["😀", "😂", "👍", "👍🏽", "🙏🏿", "🎉", "🔥", "❤️", "👨‍👩‍👧‍👦", "🏳️‍🌈", "🇺🇸", "🇯🇵", "🧮", "✅", "🍕"]
ACCENTED = ["café", "naïve", "résumé", "Ångström", "Straße", "façade", "coöperate", "jalapeño", "Zürich",
            "São Paulo", "Dvořák", "Łódź", "ελληνικά", "русский", "עברית", "العربية", "हिन्दी"]
LATEX = [r"\frac{{{a}}}{{{b}}}", r"\sqrt{{{a}}}", r"x^{{{a}}}", r"\boxed{{{a}}}", r"\dfrac{{{a}}}{{{b}}}",
         r"\binom{{{a}}}{{{b}}}", r"\log_{{{a}}} {b}", r"\sin\theta", r"\pi r^2", r"\alpha+\beta",
         r"\sum_{{i=1}}^{{{a}}} i", r"\int_0^{{{a}}} x\,dx", r"{a} \times {b}", r"{a} \cdot {b}", r"\le {a}"]
CODE = ["def f(x):\n    return x * {a}\n", "for i in range({a}):\n    total += i\n",
        "if (x == {a} && y != {b}) {{\n\tz = x + y;\n}}\n", "print(f\"{{x}} = {a}\")  # comment\n",
        "const arr = [{a}, {b}, {a}];\n", "SELECT * FROM t WHERE id = {a};\n", "<div class=\"c{a}\">{b}</div>\n"]


def sentence(rng):
    words = [rng.choice(WORDS) for _ in range(rng.randint(4, 14))]
    words[0] = words[0].capitalize()
    if rng.random() < 0.2:
        words.insert(rng.randint(0, len(words)), rng.choice(["it's", "don't", "we'll", "I'm", "they're",
                                                             "you've", "she'd", "IT'S", "WE'LL"]))
    return " ".join(words) + rng.choice([".", "!", "?", ",", ";", ":"])


def math_line(rng):
    a, b = rng.randint(0, 999), rng.randint(1, 99)
    expr = " ".join(rng.choice(LATEX).format(a=a, b=b) for _ in range(rng.randint(1, 4)))
    return rng.choice(["Compute ${e}$.", "Let $x = {e}$. Find $x$.", "The answer is $\\boxed{{{a}}}$.",
                       "\\[ {e} = {a} \\]", "Solve {e} = {b} for $x$.", "$${e}$$"]).format(e=expr, a=a, b=b)


def corpus_line(rng):
    kind = rng.random()
    if kind < 0.35:
        return sentence(rng)
    if kind < 0.55:
        return math_line(rng)
    if kind < 0.65:
        return str(rng.randint(0, 10 ** rng.randint(1, 12))) + rng.choice([".", ",", " ", "\n", ".5"])
    if kind < 0.75:
        return rng.choice(CODE).format(a=rng.randint(0, 99), b=rng.randint(0, 99))
    if kind < 0.85:
        return "".join(rng.choice(CJK) for _ in range(rng.randint(2, 10))) + rng.choice(["。", "，", "！", "？", ""])
    if kind < 0.92:
        return " ".join(rng.choice(ACCENTED + EMOJI) for _ in range(rng.randint(1, 6)))
    return rng.choice(["  ", "\n\n", "\t", "    ", "\r\n", " \n ", "   \n\n   "]).join(
        sentence(rng) for _ in range(rng.randint(1, 3)))


def make_corpus():
    rng = random.Random(20240601)
    return [corpus_line(rng) for _ in range(6000)]


# ---------------------------------------------------------------------------------------------
# Tokenizers.
# ---------------------------------------------------------------------------------------------
SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]


def train(vocab_size, normalizer, pre_tokenizer, special_tokens):
    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizer
    tok.pre_tokenizer = pre_tokenizer
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=2, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  special_tokens=special_tokens)
    tok.train_from_iterator(make_corpus(), trainer)
    return tok


def qwen_style():
    tok = train(3000, normalizers.NFC(),
                pre_tokenizers.Sequence([
                    pre_tokenizers.Split(Regex(QWEN2_PATTERN), behavior="isolated", invert=False),
                    pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False)]),
                SPECIAL)
    # Qwen3 ships <think> / </think> as non-special, non-normalized added tokens.
    tok.add_tokens([AddedToken("<think>", special=False, normalized=False),
                    AddedToken("</think>", special=False, normalized=False)])
    j = json.loads(tok.to_str())
    assert isinstance(j["model"]["merges"][0], list), "expected tokenizers to write pair-format merges"
    return j


def gpt2_style():
    tok = train(1000, normalizers.Sequence([normalizers.NFC()]),
                pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=True),
                ["<|endoftext|>"])
    tok.add_tokens([
        AddedToken("[MASK]", single_word=True, lstrip=True, rstrip=False, normalized=True, special=False),
        AddedToken("<sep>", single_word=False, lstrip=False, rstrip=True, normalized=True, special=False),
        AddedToken("e\u0301te\u0301", normalized=True, special=False),  # matched after NFC ("été")
        AddedToken("nai\u0308ve", normalized=False, special=False),     # matched only un-normalized
        AddedToken("two words", normalized=False, special=False),      # has a space: decoded raw
        AddedToken("café", normalized=False, special=False),           # é is in the byte map: HF decodes it lossily
        AddedToken("<tool>", normalized=False, special=True),
    ])
    j = json.loads(tok.to_str())
    # Rewrite the merges in the older "a b" string format (tokenizers < 0.20 wrote this).
    j["model"]["merges"] = [f"{a} {b}" for a, b in j["model"]["merges"]]
    return j


def template(qwen_json):
    j = json.loads(json.dumps(qwen_json))
    ids = {t["content"]: t["id"] for t in j["added_tokens"]}
    pp = processors.TemplateProcessing(
        single="<|im_start|> $A <|endoftext|>", pair="<|im_start|> $A <|im_end|> $B:1 <|endoftext|>:1",
        special_tokens=[("<|im_start|>", ids["<|im_start|>"]), ("<|im_end|>", ids["<|im_end|>"]),
                        ("<|endoftext|>", ids["<|endoftext|>"])])
    j["post_processor"] = json.loads(pp.__getstate__())
    j["model"]["ignore_merges"] = True
    # ignore_merges only matters for words that are in the vocab but that the merges would split
    # differently; the trainer makes none, so add some (byte-level spellings). Trained ids are
    # 0..n-1, so new words take n...; added tokens outside the vocabulary then follow them, which
    # is the id tokenizers assigns them on load (the file must agree, or ids silently change).
    vocab = j["model"]["vocab"]
    assert sorted(vocab.values()) == list(range(len(vocab)))
    for word in ["Ġquick", "Ġbrown", "Ġjumps", "Ġlazy", "Hello", "Ġworld", "ĠHello", "Ġfox", "Ġdog",
                 "æķ°åŃ¦æķ°åŃ¦", "ĠĠĠĠ", "12", "Ġ\\\\", "ĠThe"]:
        if word not in vocab:
            vocab[word] = len(vocab)
    next_id = len(vocab)
    for t in j["added_tokens"]:
        if t["content"] not in vocab:
            t["id"] = next_id
            next_id += 1
    return j


def tiny_gaps():
    letters = "abcdefghijklmnopqrstuvwxyz"
    vocab = {c: i for i, c in enumerate(letters)}
    vocab["Ġ"] = len(vocab)
    merges = [["a", "b"], ["Ġ", "a"], ["ab", "c"], ["t", "h"], ["th", "e"], ["Ġ", "the"], ["e", "r"]]
    for a, b in merges:
        vocab.setdefault(a + b, len(vocab))
    return {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": [],
        "normalizer": None,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
        "post_processor": None,
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                  "vocab": vocab, "merges": merges},
    }


# ---------------------------------------------------------------------------------------------
# Test texts.
# ---------------------------------------------------------------------------------------------
HANDWRITTEN = [
    "", " ", "  ", "\n", "\r\n", "\t", "a", "A", "Hello, world!", "Hello world", " Hello", "hello  world",
    # contractions (Qwen2's are case-insensitive, GPT-2's are not; (?i) also folds ſ to s)
    "I'm here", "don't", "She'll", "WE'LL", "they'RE", "It's", "'s", "''", "rock'n'roll", "'ſt", "y'all",
    "You've", "he'd", "'sand", "it'S 'D 'M 'T 'Ve 'lL", "x's", "'", "''s", "‘quoted’ ’s",
    # whitespace runs and newlines
    "a  b", "a   \n\n  b", "   leading", "trailing   ", "\n\n\n", "a\r\n\r\nb", "tab\there", "\t\t x",
    "x \u00a0y", "\u3000中文", "a\u2003b", "line1\nline2\n", "para1\n\n\npara2", " \n \n ", "\r\r\n\n\r",
    "end with newline\n", "   ", "\n \n", "x\n  y", "x\t\n\ty", "a \u2028 b", "a\u0085b", "\u000bvt\u000c",
    # digits and math
    "12345", "3.14159", "1,000,000", "2^10 = 1024", "x1y2z3", "٣٤٥", "①②③", "Ⅻ century", "½ + ¼ = ¾",
    "007", "1e-10", "-42", "+3.5e+7", "0x1F", "10000000000000000000000",
    "$\\frac{1}{2} + \\frac{1}{3} = \\frac{5}{6}$", "\\boxed{42}", "The answer is $\\boxed{\\dfrac{3}{4}}$.",
    "\\[ \\int_0^1 x^2\\,dx = \\tfrac13 \\]", "\\sqrt{2}\\approx 1.414", "Let $f(x)=x^2-4x+4$. Find $f(2)$.",
    "\\begin{align}a&=b\\\\c&=d\\end{align}", "$$\\sum_{k=1}^{n} k = \\frac{n(n+1)}{2}$$",
    "Therefore, the final answer is $\\boxed{\\text{(B)}}$.", "∀x∈ℝ, x²≥0", "a≠b ⇒ a−b≠0", "∑∏∫√∞",
    "\\boxed{}", "\\boxed{x^2 + 2x + 1}", "{{{}}}", "\\\\\\", "$\\mathbb{Z}_{\\ge 0}$",
    # code
    "def f(x):\n    return x * 2\n", "for (int i = 0; i < n; ++i) {\n\tsum += a[i];\n}",
    "print('hi')  # comment", "if x==1 && y!=2 || z>=3:", "<html><body>text</body></html>",
    "{\"key\": [1, 2, 3], \"b\": null}", "x = y ** 2 // 3", "#include <stdio.h>\nint main() { return 0; }",
    "    indented\n        more\n", "a_b_c snake_case camelCase PascalCase", "@decorator\nclass A: pass",
    # CJK
    "你好，世界！", "数学是科学的语言。", "日本語のテキストです。", "한국어 텍스트", "中文English混合123",
    "計算してください：\\boxed{7}", "三角形的面积是多少？答案是\\boxed{6}。", "ｆｕｌｌｗｉｄｔｈ　ＡＢＣ",
    # emoji
    "😀", "👍🏽", "👨‍👩‍👧‍👦", "🏳️‍🌈", "❤️", "🇺🇸🇯🇵", "I ❤️ math 🧮 and 🍕!", "emoji👨🏿‍💻 coder", "🙏🏿🙏🏻",
    "✅ done ✔︎", "👩‍🔬👩🏽‍🚀", "a😀b", "😀😀😀😀",
    # combining marks and NFC
    "cafe\u0301", "café", "e\u0301\u0301", "n\u0303", "Å", "A\u030a", "\u212b", "\u1100\u1161\u11a8",
    "ﬁ ligature", "Ω vs \u2126", "q\u0307\u0323", "q\u0323\u0307", "\u0f73 \u20e1\u0f73", "\u1111\u1103a\u20e1\u0f73",
    "Dvor\u030ca\u0301k", "\u0041\u0300\u0301", "ä vs a\u0308", "\u00e9t\u00e9 vs e\u0301te\u0301",
    # other scripts and edge code points
    "ελληνικά", "русский язык", "עברית", "العربية", "हिन्दी", "ไทย", "𝑥𝑦𝑧", "𐍈𐌰", "a\U00010940b",
    "x\u088fy", "\U000105c0\U000105c1", "\u0378", "\ue000", "\x00\x01\x7f", "zero\u200bwidth", "a\u200db",
    "\ufeffbom", "\U0010ffff",
    # special and added tokens inside text
    "<|im_start|>user\nHi<|im_end|>\n", "a<|endoftext|>b", "<|endoftext|><|endoftext|>", "<|im_end|>\u0301",
    "<|im_start|", "<|im_start|>>", "<think>\nreasoning\n</think>\n\nanswer", " <|endoftext|> ",
    "x<|im_start|>assistant", "<<|im_end|>", "<|endoftext|", "|endoftext|>", "<think></think>",
    "[MASK]", "a [MASK] b", "a[MASK]b", "x   [MASK]   y", "[MASK][MASK]", "<sep>   next", "<sep>\n\nz",
    "two words here", "twowords", "e\u0301te\u0301 et été", "naïve nai\u0308ve", "café", "<tool>call</tool>",
    "start [MASK]", "[MASK] end", "wo[MASK]", "é[MASK]", "-[MASK]-",
]

LONG = [
    " ".join(["The quick brown fox jumps over the lazy dog."] * 40),
    "数学" * 400,
    "1234567890" * 50,
    "=" * 500,
    " " * 300 + "x",
    "\n" * 100,
    "a" * 1000,
]


def generated_texts(n):
    rng = random.Random(7)
    pools = [
        lambda: sentence(rng), lambda: math_line(rng), lambda: rng.choice(CODE).format(a=rng.randint(0, 9999), b=1),
        lambda: "".join(rng.choice(CJK) for _ in range(rng.randint(1, 6))), lambda: rng.choice(EMOJI),
        lambda: rng.choice(ACCENTED), lambda: rng.choice(SPECIAL + ["<think>", "</think>", "[MASK]", "<sep>"]),
        lambda: str(rng.randint(0, 10 ** 9)), lambda: rng.choice(["'s", "'LL", "'re", "n't", "'D"]),
        lambda: rng.choice(["\u0301", "\u0308", "\u0323", "\u200d", "\ufe0f", "\U0001f3fd"]),
    ]
    seps = ["", " ", "  ", "\n", "\r\n", "\t", "\n\n", " \n", "\u00a0", "   "]
    texts = []
    for _ in range(n):
        parts = [rng.choice(pools)() for _ in range(rng.randint(1, 6))]
        text = parts[0]
        for p in parts[1:]:
            text += rng.choice(seps) + p
        texts.append(text)
    # A long mixed document (~5 KB).
    texts.append("\n".join(corpus_line(rng) for _ in range(80)))
    return texts


# ---------------------------------------------------------------------------------------------
# Golden generation.
# ---------------------------------------------------------------------------------------------
CHATML_TEMPLATE = ("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content']"
                   " + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}"
                   "{{ '<|im_start|>assistant\\n' }}{% endif %}")

CHATS = [
    [{"role": "user", "content": "What is 2 + 2?"}],
    [{"role": "system", "content": "Please reason step by step, and put your final answer within \\boxed{}."},
     {"role": "user", "content": "Find $x$ if $3x + 5 = 20$."}],
    [{"role": "system", "content": "You are a helpful assistant."},
     {"role": "user", "content": "你好！"},
     {"role": "assistant", "content": "你好！有什么可以帮你的？"},
     {"role": "user", "content": "Compute \\frac{1}{2} + \\frac{1}{3}.\n\nThanks 🙏"}],
    [{"role": "user", "content": ""}],
]


def golden_results(tok, texts):
    out = []
    for t in texts:
        enc = tok.encode(t)
        plain = tok.encode(t, add_special_tokens=False)
        out.append({"ids": enc.ids, "ids_no_special": plain.ids,
                    "decoded": tok.decode(enc.ids, skip_special_tokens=False),
                    "decoded_skip_special": tok.decode(enc.ids, skip_special_tokens=True)})
    return out


def decode_cases(tok, rng, count):
    size = tok.get_vocab_size(with_added_tokens=True)
    cases = []
    for i in range(count):
        if i % 4 == 0:
            # Tokens whose bytes are a lone UTF-8 lead or continuation byte (vocab ids 0..~260 are bytes).
            ids = [rng.randrange(0, min(size, 300)) for _ in range(rng.randint(1, 8))]
        else:
            ids = [rng.randrange(0, size) for _ in range(rng.randint(1, 12))]
        if i % 10 == 9:
            ids.insert(rng.randint(0, len(ids)), size + 7)  # an id no token has: skipped by HF
        cases.append({"ids": ids, "decoded": tok.decode(ids, skip_special_tokens=False),
                      "decoded_skip_special": tok.decode(ids, skip_special_tokens=True)})
    return cases


def chat_goldens(tok):
    from transformers import PreTrainedTokenizerFast
    fast = PreTrainedTokenizerFast(tokenizer_object=tok)
    fast.chat_template = CHATML_TEMPLATE
    out = []
    for messages in CHATS:
        text = fast.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        out.append({"messages": messages, "prompt": text, "ids": tok.encode(text).ids})
    return out


def regex_members(pattern):
    """The code points a regex matches, as the reference engine (Oniguruma inside tokenizers) sees them."""
    every = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF)
    kept = pre_tokenizers.Split(Regex(pattern), behavior="removed").pre_tokenize_str(every)
    outside = set("".join(piece for piece, _ in kept))
    return sorted(ord(c) for c in set(every) - outside)


def code_point_ranges(points):
    out = []
    for c in points:
        if out and out[-1][1] + 1 == c:
            out[-1][1] = c
        else:
            out.append([c, c])
    return out


def unicode_classes():
    return {"format": FORMAT, "version": VERSION, "tokenizers_version": tokenizers.__version__,
            "letter": code_point_ranges(regex_members(r"\p{L}")), "number": code_point_ranges(regex_members(r"\p{N}")),
            "whitespace": code_point_ranges(regex_members(r"\s"))}


def nfc_cases():
    import unicodedata
    nfc = normalizers.NFC()
    singles = []
    for c in range(0x110000):
        if 0xD800 <= c <= 0xDFFF:
            continue
        out = nfc.normalize_str(chr(c))
        if out != chr(c):
            singles.append([c, [ord(x) for x in out]])
    rng = random.Random(11)
    marks = [chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF
             and unicodedata.category(chr(c)) in ("Mn", "Mc", "Me")]
    # Marks assigned after Python's Unicode version are still wanted: take any non-starter the NFC
    # normalizer would reorder around by sampling the whole range too.
    bases = list("aeiouAEIOUcnszCNSZ") + [chr(x) for x in range(0x1100, 0x1113)] + \
        ["\uac00", "\uac01", "\u3042", "\u304b", "\u30ab", "\u0f40", "\u0b95"]
    extra = ["\u0f73", "\u0f75", "\u0f81", "\u0344", "\u0958", "\u2adc", "\U0001d15e"]
    seqs = []
    for _ in range(6000):
        s = rng.choice(bases) + "".join(rng.choice(marks + extra) for _ in range(rng.randint(1, 4)))
        seqs.append(s)
    for l_ in range(0x1100, 0x1113, 3):
        for v in range(0x1161, 0x1176, 4):
            seqs.append(chr(l_) + chr(v))
            seqs.append(chr(l_) + chr(v) + chr(0x11A8))
    cases = [[[ord(x) for x in s], [ord(x) for x in nfc.normalize_str(s)]] for s in seqs]
    return {"format": FORMAT, "version": VERSION, "tokenizers_version": tokenizers.__version__,
            "singles": singles, "sequences": cases}



# ---------------------------------------------------------------------------------------------
# Llama 3-style and DeepSeek-style tokenizers, their goldens, and Split pieces from Oniguruma.
# ---------------------------------------------------------------------------------------------
LLAMA3_SPECIAL = (["<|begin_of_text|>", "<|end_of_text|>"]
                  + [f"<|reserved_special_token_{i}|>" for i in range(4)]
                  + ["<|start_header_id|>", "<|end_header_id|>", "<|reserved_special_token_4|>", "<|eot_id|>"]
                  + [f"<|reserved_special_token_{i}|>" for i in range(5, 12)])

# Meta-Llama-3-8B-Instruct's chat_template (tokenizer_config.json), verbatim: no system preamble,
# contents trimmed, bos_token before the first message.
LLAMA3_TEMPLATE = ("{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = "
                   "'<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim "
                   "+ '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}"
                   "{{ content }}{% endfor %}{% if add_generation_prompt %}"
                   "{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}")

LLAMA3_CHATS = CHATS + [
    [{"role": "system", "content": "  padded system \n\n"}, {"role": "user", "content": "\tx = 1234567\u00a0"}],
    [{"role": "user", "content": "a<|eot_id|>b <|start_header_id|>"}, {"role": "assistant", "content": "12 345 6789"},
     {"role": "user", "content": "\u2003\u3000"}],
]

# Whole pre-tokenized words added to the Llama-style vocabulary, so ignore_merges changes ids.
LLAMA3_WHOLE_WORDS = ["Ġquick", "Ġbrown", "Ġjumps", "Ġlazy", "Hello", "ĠHello", "Ġworld", "Ġfox", "999", "ĠĠĠĠ",
                      "Ġ\\\\", "æķ°åŃ¦æķ°åŃ¦", "Ġsolve", "ĠCompute"]


def llama3_texts(base_texts):
    """The shared golden texts plus digit runs, whitespace runs and Llama 3's special tokens in text."""
    handwritten = [
        "1234567", "12345678901234567890", "3.14159265358979", "In 2024, 1,234,567 people paid $89.99.",
        "x=1234567;y=89", "007 0007 00007", "١٢٣٤٥٦٧", "１２３４５６７", "²³⁴⁵⁶", "ⅫⅫⅫⅫ", "12a34b567c8901",
        "v1.2.3-rc45", "+1 (555) 123-4567", "0x1F2E3D4C", "1e100", "999999", "9999", "99", "9",
        "a  b   c    d", "\t\t\t", "x\n\n\n\ny", "  \n  \n  ", "trailing    ", "    leading", "\r\n\r\n\r\n",
        "a \u00a0 b", "\u3000\u3000全角", "tab\t\tand  spaces\n", " \n", "\n ", "  ",
        "<|begin_of_text|>Hello", "<|begin_of_text|><|begin_of_text|>", "a<|eot_id|>b",
        "<|start_header_id|>user<|end_header_id|>\n\nHi there<|eot_id|>",
        "<|start_header_id|>assistant<|end_header_id|>\n\n", "<|end_of_text|>", "x<|end_of_text|>y",
        "<|reserved_special_token_3|>", "<|reserved_special_token_11|>!", "<|reserved_special_token_99|>",
        "<|eot_id", "eot_id|>", "<<|eot_id|>>", "<|eot_id|>\n\n<|eot_id|>", " <|begin_of_text|> ",
        "I'M HERE, WE'LL SEE", "it'S 'D 'M 'T 'Ve 'lL", "'ſ 'ſt", "don't", "'123", "'ll123",
        "你好123世界456", "数学12345", "😀123😀", "👍🏽 1234", "emoji👨‍👩‍👧‍👦 and 12345 digits",
        "The quick brown fox jumps over the lazy dog 12345 times.", "Hello world", "Compute 999 + 1.",
        "\\\\boxed{1234567}", "$\\frac{12345}{678}$",
    ]
    rng = random.Random(17)
    generated = []
    pools = [lambda: str(rng.randint(0, 10 ** rng.randint(1, 15))), lambda: rng.choice(LLAMA3_SPECIAL),
             lambda: sentence(rng), lambda: "".join(rng.choice(CJK) for _ in range(rng.randint(1, 4))),
             lambda: rng.choice(EMOJI), lambda: rng.choice([" " * rng.randint(1, 6), "\n" * rng.randint(1, 4),
                                                            "\t", " \n ", "\r\n"])]
    for _ in range(60):
        generated.append("".join(rng.choice(pools)() for _ in range(rng.randint(2, 8))))
    return list(dict.fromkeys(base_texts + handwritten + generated))


def add_whole_words(j, words):
    """Adds vocabulary entries after the trained ids (the trainer makes none that merges split
    differently, so ignore_merges would otherwise change nothing)."""
    vocab = j["model"]["vocab"]
    assert sorted(vocab.values()) == list(range(len(vocab)))
    for word in words:
        if word not in vocab:
            vocab[word] = len(vocab)


def llama3_style():
    tok = Tokenizer(models.BPE(ignore_merges=True))
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(LLAMA3_PATTERN), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=False)])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=2000, min_frequency=2, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), special_tokens=[])
    tok.train_from_iterator(make_corpus(), trainer)
    j = json.loads(tok.to_str())
    j["model"]["ignore_merges"] = True
    add_whole_words(j, LLAMA3_WHOLE_WORDS)
    # Special tokens after the vocabulary, as Llama 3 numbers them (128000...), through tokenizers'
    # own add_special_tokens so the ids are the ones it assigns.
    tok = Tokenizer.from_str(json.dumps(j))
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in LLAMA3_SPECIAL])
    bos = tok.token_to_id("<|begin_of_text|>")
    tok.post_processor = processors.Sequence([
        processors.ByteLevel(add_prefix_space=True, trim_offsets=False, use_regex=True),
        processors.TemplateProcessing(single="<|begin_of_text|> $A", pair="<|begin_of_text|> $A <|begin_of_text|> $B:1",
                                      special_tokens=[("<|begin_of_text|>", bos)])])
    j = json.loads(tok.to_str())
    assert j["model"]["ignore_merges"] is True and j["normalizer"] is None
    return j


def deepseek_style():
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Split(Regex(p), behavior="isolated", invert=False) for p in DEEPSEEK_PATTERNS]
        + [pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=False)])
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(vocab_size=1500, min_frequency=2, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  special_tokens=["<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"])
    tok.train_from_iterator(make_corpus(), trainer)
    return json.loads(tok.to_str())


def llama3_chat_goldens(tok):
    from transformers import PreTrainedTokenizerFast
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|begin_of_text|>")
    fast.chat_template = LLAMA3_TEMPLATE
    out = []
    for messages in LLAMA3_CHATS:
        text = fast.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        ids = fast.apply_chat_template(messages, tokenize=True, add_generation_prompt=True)
        if not isinstance(ids, list):  # transformers 5 returns a BatchEncoding
            ids = ids["input_ids"]
        # apply_chat_template encodes without the post-processor's <|begin_of_text|> (the template
        # already has it); the same ids as encoding the text without special tokens.
        assert ids == tok.encode(text, add_special_tokens=False).ids
        out.append({"messages": messages, "prompt": text, "ids": ids})
    return out


def pieces(pattern, text, behavior="isolated", invert=False):
    split = pre_tokenizers.Split(pattern, behavior=behavior, invert=invert)
    return [list(offsets) for _, offsets in split.pre_tokenize_str(text)]


# (pattern, texts): each is split by Oniguruma through tokenizers with every behaviour and invert.
SPLIT_UNITS = [
    (r"a*", ["bab", "", "aaa", "baab", "b"]),
    (r"x?", ["abxc", "xx"]),
    (r"\p{N}{1,3}", ["1234567", "12 345 6789 a1b22c333d4444", "١٢٣٤٥", "½¾⅓⅔"]),
    (r"ab|a", ["abab", "aab"]),
    (r"a|ab", ["abab", "aab"]),
    (r"a+ab", ["aaab", "aab", "ab"]),
    (r"\s+(?!\S)|\s+", ["a   b  ", "   ", "x \n y"]),
    (r"(?:ab)+c", ["ababababd ababc", "abc"]),
    (r"a+?", ["aaa"]),
    (r"a{2,4}?b", ["aaaaab", "aab ab"]),
    (r"<.+?>", ["<a><bb>", "<\n>"]),
    (r"<.+>", ["<a><bb> x", "<\n>"]),
    (r"a++a", ["aaaa"]),
    (r"a*+b|a", ["aaab aa"]),
    (r"(?>a+)b", ["aaab aaa"]),
    (r"(?>ab|a)c", ["ac abc"]),
    (r"\w+(?=!)", ["hey! you!! no"]),
    (r"a(?!b)", ["ab ac a"]),
    (r"(?i:'s|'t|'re)", ["'S 'ſ 'T 'RE 'Re 's"]),
    (r"(?i)k+", ["kKKx"]),
    (r"x(?i)y|z", ["xY Z xz xy"]),
    (r"(?i:ab)c", ["ABc ABC aBc"]),
    (r"[^\r\n\p{L}\p{N}]?\p{L}+", ["  hello, world\nnext 12ab"]),
    (r"[a-c\d_]+", ["abcdef_123 xyz٣"]),
    (r"[\p{Lu}\p{Lt}]+", ["ABc ǅx Δδ"]),
    (r"\P{L}+", ["ab12 cd!"]),
    (r"\p{^N}+", ["ab12 cd!"]),
    (r"[^\P{L}]+", ["ab12 cd!"]),
    (r"[\x41-\x43]+", ["ABCD"]),
    (r"\x{1F600}+", ["a😀😀b"]),
    (r"\u00e9", ["café cafe\u0301"]),
    (r".", ["a\nb"]),
    (r"\p{P}+", ["Hello, world! (yes) «quote» — done…"]),
    (r"\p{S}+", ["1 + 2 = 3 $ € © ™ 😀"]),
    (r"\p{M}+", ["cafe\u0301 a\u0308\u0323 \u0915\u093f"]),
    (r"\p{Z}+|\p{C}+", ["a b\u00a0c\u2028d\x00e\u200bf"]),
    (r"\d+|\w+|\W+", ["abc 123 ٣٤ x_y\u0301 é!"]),
    (r"a{", ["a{b"]),
    (r"a{,2}", ["aaab"]),
    (r"x{2}", ["xxxxx"]),
    (r"\t|\.|\\", ["a\tb.c\\d"]),
    (r"[\-\]\[]+", ["a-]b[c"]),
    (r"[a-]+", ["a-a b"]),
    (r"(a|b)c", ["ac bc cc"]),
    (r"", ["abc"]),
    (r"\s*[\r\n]+", ["a \n\n b\r\n"]),
]
SPLIT_STRING_UNITS = [("ab", ["abcab ab"]), (".", ["a.b"]), (" ", ["a b  c"])]
BEHAVIORS = ["removed", "isolated", "merged_with_previous", "merged_with_next", "contiguous"]


def split_cases(corpus_texts):
    units = []
    for kind, table in (("regex", SPLIT_UNITS), ("string", SPLIT_STRING_UNITS)):
        for pattern, texts in table:
            for text in texts:
                for behavior in BEHAVIORS:
                    for invert in (False, True):
                        p = Regex(pattern) if kind == "regex" else pattern
                        units.append({"kind": kind, "pattern": pattern, "text": text, "behavior": behavior,
                                      "invert": invert, "pieces": pieces(p, text, behavior, invert)})
    # Whole-corpus cases: every golden text, Isolated, stored as piece lengths in scalars.
    corpus = {}
    for name, pattern in (("o200k", O200K_PATTERN), ("llama3", LLAMA3_PATTERN),
                          ("deepseek_words", DEEPSEEK_PATTERNS[2]), ("deepseek_cjk", DEEPSEEK_PATTERNS[1])):
        lengths = []
        for text in corpus_texts:
            ps = pieces(Regex(pattern), text)
            assert all(a[1] == b[0] for a, b in zip(ps, ps[1:])), "Isolated pieces must tile the text"
            lengths.append([e - s for s, e in ps])
        corpus[name] = {"pattern": pattern, "lengths": lengths}
    return {"format": FORMAT, "version": VERSION, "tokenizers_version": tokenizers.__version__,
            "units": units, "corpus_texts": corpus_texts, "corpus": corpus}


def unicode_categories():
    cats = "Lu Ll Lt Lm Lo Mn Mc Me Nd Nl No Pc Pd Ps Pe Pi Pf Po Sm Sc Sk So Zs Zl Zp Cc Cf Cs Co Cn".split()
    return {"format": FORMAT, "version": VERSION, "tokenizers_version": tokenizers.__version__,
            "categories": {c: code_point_ranges(regex_members(r"\p{%s}" % c)) for c in cats},
            "digit": code_point_ranges(regex_members(r"\d")), "word": code_point_ranges(regex_members(r"\w"))}


def write(name, obj, indent=None):
    path = os.path.join(OUT, name)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, indent=indent)
        f.write("\n")
    print(f"wrote {path} ({os.path.getsize(path)} bytes)")


def goldens_file(toks, texts, rng, chat):
    """One goldens file: every tokenizer's ids and decodes of `texts`, decode-only cases, chat prompts."""
    return {
        "format": FORMAT, "version": VERSION, "tokenizers_version": tokenizers.__version__,
        "texts": texts,
        "tokenizers": {
            name: {"file": name + ".json", "vocab_size": tok.get_vocab_size(with_added_tokens=True),
                   "results": golden_results(tok, texts),
                   "decode_cases": decode_cases(tok, rng, 40)}
            for name, tok in toks.items()
        },
        "chat": chat,
    }


def main():
    os.makedirs(OUT, exist_ok=True)
    files = {"qwen_style": qwen_style(), "gpt2_style": gpt2_style()}
    files["template"] = template(files["qwen_style"])
    files["tiny_gaps"] = tiny_gaps()
    for name, j in files.items():
        write(name + ".json", j, indent=1)

    # Goldens come from the files exactly as written, reloaded.
    toks = {name: Tokenizer.from_file(os.path.join(OUT, name + ".json")) for name in files}
    texts = list(dict.fromkeys(HANDWRITTEN + LONG + generated_texts(150)))  # dedupe, keep order
    assert len(texts) >= 200
    goldens = goldens_file(toks, texts, random.Random(3), chat_goldens(toks["qwen_style"]))
    # The ignore_merges variant must actually differ somewhere, or that test proves nothing.
    differs = sum(a["ids_no_special"] != b["ids_no_special"]
                  for a, b in zip(goldens["tokenizers"]["qwen_style"]["results"],
                                  goldens["tokenizers"]["template"]["results"]))
    print(f"texts: {len(texts)}; ignore_merges changes {differs} encodings")
    assert differs > 0
    write("goldens.json", goldens)
    write("unicode_classes.json", unicode_classes())
    write("nfc_cases.json", nfc_cases())

    # Llama 3-style and DeepSeek-style tokenizers: their own goldens file, so the files above stay
    # exactly as they were.
    llama_files = {"llama3_style": llama3_style(), "deepseek_style": deepseek_style()}
    for name, j in llama_files.items():
        write(name + ".json", j, indent=1)
    llama_toks = {name: Tokenizer.from_file(os.path.join(OUT, name + ".json")) for name in llama_files}
    llama_texts = llama3_texts(texts)
    assert len(llama_texts) >= 200
    llama_goldens = goldens_file(llama_toks, llama_texts, random.Random(5),
                                 llama3_chat_goldens(llama_toks["llama3_style"]))
    # ignore_merges must change some encodings, or its test proves nothing.
    plain = json.loads(json.dumps(llama_files["llama3_style"]))
    plain["model"]["ignore_merges"] = False
    plain_tok = Tokenizer.from_str(json.dumps(plain))
    differs = sum(plain_tok.encode(t, add_special_tokens=False).ids != r["ids_no_special"]
                  for t, r in zip(llama_texts, llama_goldens["tokenizers"]["llama3_style"]["results"]))
    print(f"llama3 texts: {len(llama_texts)}; ignore_merges changes {differs} encodings")
    assert differs > 0
    write("llama3_goldens.json", llama_goldens)
    write("split_cases.json", split_cases(texts))
    write("unicode_categories.json", unicode_categories())


if __name__ == "__main__":
    sys.exit(main())
