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


def unicode_classes():
    every = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF)

    def members(pattern):
        kept = pre_tokenizers.Split(Regex(pattern), behavior="removed").pre_tokenize_str(every)
        outside = set("".join(piece for piece, _ in kept))
        return sorted(ord(c) for c in set(every) - outside)

    def ranges(points):
        out = []
        for c in points:
            if out and out[-1][1] + 1 == c:
                out[-1][1] = c
            else:
                out.append([c, c])
        return out

    return {"format": FORMAT, "version": VERSION, "tokenizers_version": tokenizers.__version__,
            "letter": ranges(members(r"\p{L}")), "number": ranges(members(r"\p{N}")),
            "whitespace": ranges(members(r"\s"))}


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


def write(name, obj, indent=None):
    path = os.path.join(OUT, name)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, indent=indent)
        f.write("\n")
    print(f"wrote {path} ({os.path.getsize(path)} bytes)")


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
    rng = random.Random(3)
    goldens = {
        "format": FORMAT, "version": VERSION, "tokenizers_version": tokenizers.__version__,
        "texts": texts,
        "tokenizers": {
            name: {"file": name + ".json", "vocab_size": tok.get_vocab_size(with_added_tokens=True),
                   "results": golden_results(tok, texts),
                   "decode_cases": decode_cases(tok, rng, 40)}
            for name, tok in toks.items()
        },
        "chat": chat_goldens(toks["qwen_style"]),
    }
    # The ignore_merges variant must actually differ somewhere, or that test proves nothing.
    differs = sum(a["ids_no_special"] != b["ids_no_special"]
                  for a, b in zip(goldens["tokenizers"]["qwen_style"]["results"],
                                  goldens["tokenizers"]["template"]["results"]))
    print(f"texts: {len(texts)}; ignore_merges changes {differs} encodings")
    assert differs > 0
    write("goldens.json", goldens)
    write("unicode_classes.json", unicode_classes())
    write("nfc_cases.json", nfc_cases())


if __name__ == "__main__":
    sys.exit(main())
