#!/usr/bin/env python3
"""Drives a live `rzero serve` with real OpenAI-API clients: the official `openai` package and LiteLLM.

Checks completions and chat with n = 4, seed reproducibility, logprobs / top_logprobs, streaming (the streamed text
equals the non-streamed one for the same seed), errors (unknown model, a bad value, the token budget's 429 with
Retry-After), /v1/models, and LiteLLM's `completion` (plain and streamed) through the `openai/` provider.

Run by hand (needs: pip install openai litellm):
    scripts/openai_clients_check.py [--rzero .build/debug/rzero] [--model models/base] [--port 8190]
Prints one line per check and exits non-zero if any failed.
"""
import argparse
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from rzero_service import serve  # noqa: E402

import openai  # noqa: E402

results = []


def check(name, ok, detail=""):
    results.append((name, bool(ok)))
    print(f"{'PASS' if ok else 'FAIL'}  {name}" + (f"  ({detail})" if detail else ""), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rzero", default=".build/debug/rzero")
    ap.add_argument("--model", default="models/base")
    ap.add_argument("--port", type=int, default=8190)
    args = ap.parse_args()
    # A small in-flight budget, so the 429 check can fill it with one request.
    extra = ["--served-model-name", "rzero-solver", "--max-request-tokens", "40000", "--max-tokens-in-flight", "40000"]
    with serve(args.rzero, args.model, args.port, extra=extra):
        base = f"http://127.0.0.1:{args.port}/v1"
        client = openai.OpenAI(base_url=base, api_key="not-needed", max_retries=0)
        run_openai(client)
        run_litellm(base)
    failed = [n for n, ok in results if not ok]
    print(f"\n{len(results) - len(failed)}/{len(results)} checks passed" + (f"; failed: {failed}" if failed else ""))
    sys.exit(1 if failed else 0)


def run_openai(client):
    models = client.models.list()
    check("models.list names the served model", [m.id for m in models.data] == ["rzero-solver"], [m.id for m in models.data])
    model = "rzero-solver"

    prompt = "Question: 17+25=?\nAnswer:"
    kw = dict(model=model, prompt=prompt, n=4, max_tokens=24, temperature=1.0, seed=7, logprobs=2)
    a = client.completions.create(**kw)
    b = client.completions.create(**kw)
    check("completions: n=4 gives 4 choices", len(a.choices) == 4 and [c.index for c in a.choices] == [0, 1, 2, 3])
    check("completions: the same seed gives the same choices", [c.text for c in a.choices] == [c.text for c in b.choices])
    lp = a.choices[0].logprobs
    check("completions: logprobs per token with top_logprobs and text_offset",
          lp is not None and len(lp.tokens) == len(lp.token_logprobs) == len(lp.top_logprobs) == len(lp.text_offset) > 0
          and all(v <= 0 for v in lp.token_logprobs), f"{len(lp.tokens) if lp else 0} tokens")
    check("completions: usage adds up", a.usage.total_tokens == a.usage.prompt_tokens + a.usage.completion_tokens,
          f"{a.usage.prompt_tokens}+{a.usage.completion_tokens}")
    c = client.completions.create(**{**kw, "seed": 8})
    check("completions: another seed gives other choices", [x.text for x in c.choices] != [x.text for x in a.choices])

    streamed = {}
    finish = {}
    for chunk in client.completions.create(**{**kw, "logprobs": None}, stream=True):
        for ch in chunk.choices:
            streamed[ch.index] = streamed.get(ch.index, "") + ch.text
            if ch.finish_reason:
                finish[ch.index] = ch.finish_reason
    check("completions stream: the streamed text equals the non-streamed text",
          [streamed.get(i, "") for i in range(4)] == [x.text for x in a.choices])
    check("completions stream: every choice ends with a finish_reason", len(finish) == 4, finish)

    messages = [{"role": "system", "content": "Please reason step by step, and put your final answer within \\boxed{}."},
                {"role": "user", "content": "What is 17+25?"}]
    ckw = dict(model=model, messages=messages, n=4, max_completion_tokens=48, temperature=1.0, seed=11)
    x = client.chat.completions.create(**ckw, logprobs=True, top_logprobs=2)
    y = client.chat.completions.create(**ckw)
    check("chat: n=4 gives 4 choices", len(x.choices) == 4)
    check("chat: the same seed gives the same replies", [c.message.content for c in x.choices] == [c.message.content for c in y.choices])
    content = x.choices[0].logprobs.content if x.choices[0].logprobs else []
    check("chat: logprobs with 2 alternatives each, bytes given",
          len(content) > 0 and all(len(t.top_logprobs) == 2 and t.bytes is not None for t in content), f"{len(content)} tokens")
    print("      chat reply:", repr(x.choices[0].message.content[:100]))

    streamed, roles, usage = {}, set(), None
    for chunk in client.chat.completions.create(**ckw, stream=True, stream_options={"include_usage": True}):
        if chunk.usage:
            usage = chunk.usage
        for ch in chunk.choices:
            if ch.delta.role:
                roles.add(ch.index)
            streamed[ch.index] = streamed.get(ch.index, "") + (ch.delta.content or "")
    check("chat stream: the streamed replies equal the non-streamed ones",
          [streamed.get(i, "") for i in range(4)] == [c.message.content for c in y.choices])
    check("chat stream: every choice opens with the assistant role, usage at the end", roles == {0, 1, 2, 3} and usage is not None)

    try:
        client.chat.completions.create(model="gpt-4o", messages=messages)
        check("error: an unknown model is NotFoundError", False)
    except openai.NotFoundError as e:
        check("error: an unknown model is NotFoundError", e.status_code == 404 and "rzero-solver" in str(e), str(e)[:90])
    try:
        client.chat.completions.create(model=model, messages=messages, n=100)
        check("error: n=100 is BadRequestError", False)
    except openai.BadRequestError as e:
        check("error: n=100 is BadRequestError", e.status_code == 400, str(e)[:90])

    # The budget: one long request holds 32768 of the service's 40000 tokens; another of 16384 is refused meanwhile.
    long = threading.Thread(target=lambda: client.completions.create(
        model=model, prompt="hi", n=8, max_tokens=4096, extra_body={"ignore_eos": True}))
    long.start()
    time.sleep(0.3)
    try:
        client.completions.create(model=model, prompt="hi", n=4, max_tokens=4096)
        check("error: beyond the service's token budget is RateLimitError with Retry-After", False, "served")
    except openai.RateLimitError as e:
        retry = e.response.headers.get("retry-after")
        check("error: beyond the service's token budget is RateLimitError with Retry-After", retry is not None and int(retry) >= 1,
              f"Retry-After {retry}")
    long.join()
    retrying = openai.OpenAI(base_url=client.base_url, api_key="not-needed", max_retries=5)
    r = retrying.completions.create(model=model, prompt="hi", n=4, max_tokens=16)
    check("after the long request, the same client is served", len(r.choices) == 4)


def run_litellm(base):
    try:
        import litellm
    except ImportError:
        check("litellm installed", False, "pip install litellm")
        return
    messages = [{"role": "user", "content": "What is 6*7?"}]
    r = litellm.completion(model="openai/rzero-solver", api_base=base, api_key="not-needed", messages=messages,
                           max_tokens=32, temperature=0, seed=3)
    text = r.choices[0].message.content
    check("litellm: completion through the openai/ provider", isinstance(text, str) and r.usage.completion_tokens > 0, repr(text[:60]))
    pieces = []
    for chunk in litellm.completion(model="openai/rzero-solver", api_base=base, api_key="not-needed", messages=messages,
                                    max_tokens=32, temperature=0, seed=3, stream=True):
        pieces.append(chunk.choices[0].delta.content or "")
    check("litellm: the streamed greedy reply equals the plain one", "".join(pieces) == text, repr("".join(pieces)[:60]))


if __name__ == "__main__":
    main()
