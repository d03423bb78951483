"""schemathesis hooks for scripts/fuzz_api.sh (loaded through SCHEMATHESIS_HOOKS).

1. Keeps generated requests cheap without changing what is tested: a *valid* but expensive value
   (max_tokens up to 4096, n up to 64, 256 prompts, 1024 training samples) is lowered to a small valid
   one, so 1000+ requests finish in minutes on a tiny model. Invalid values (out of range, wrong type)
   are left alone: they must still get their 400.
2. Counts the requests actually sent and their status codes, and writes the tally to
   $RZERO_FUZZ_SUMMARY (JSON) when schemathesis exits; fuzz_api.sh checks the total.

`python scripts/fuzz_hooks.py --self-check openapi.yaml` loads the spec with schemathesis and draws
one case per operation without sending anything (a static check that needs no server).
"""
import atexit
import collections
import json
import os
import sys
import threading

import schemathesis

# Hypothesis names a filtered strategy by parsing the source of the filter's lambda. On CPython 3.11, parsing
# schemathesis' 4,000-line coverage module from deep inside its generators can raise SystemError ("AST constructor
# recursion depth mismatch"), which schemathesis then reports as a Runtime Error for the operation (seen with seeds
# 770123, 42 and 20261203, on DELETE /v1/checkpoints/{name}, every test case passing). The name is only a
# strategy's repr, so when describing fails, the function's own name stands in.
import hypothesis.strategies._internal.lazy as _hypothesis_lazy

_describe_function = _hypothesis_lazy.get_pretty_function_description


def _describe_function_safely(fn):
    try:
        return _describe_function(fn)
    except Exception:
        return getattr(fn, "__name__", "<function>")


_hypothesis_lazy.get_pretty_function_description = _describe_function_safely

CAPS = {
    # path: [(JSON key, cap)] for integers, or (key, cap) for lists (truncated to cap items)
    "/v1/generate": {"ints": {"max_tokens": 16, "n": 4}, "lists": {"prompts": 4}},
    "/v1/completions": {"ints": {"max_tokens": 16, "n": 4, "best_of": 4}, "lists": {"prompt": 4}},
    "/v1/chat/completions": {"ints": {"max_tokens": 16, "max_completion_tokens": 16, "n": 4}, "lists": {}},
    "/v1/logprobs": {"ints": {}, "lists": {"items": 8}},
    "/v1/train/grpo": {"ints": {}, "lists": {"samples": 16}},
    "/v1/train/sft": {"ints": {}, "lists": {"samples": 16}},
}

_lock = threading.Lock()
_statuses: collections.Counter = collections.Counter()
_network_errors = 0


def _cheapen(path: str, body):
    caps = CAPS.get(path)
    if caps is None or not isinstance(body, dict):
        return
    for key, cap in caps["ints"].items():
        value = body.get(key)
        # bool is an int in Python; leave it (it is a type error the server must reject).
        if isinstance(value, (int, float)) and not isinstance(value, bool) and cap < value <= 4096 \
                and float(value).is_integer():
            body[key] = cap
    for key, cap in caps["lists"].items():
        value = body.get(key)
        if isinstance(value, list) and cap < len(value) <= 1024:
            del value[cap:]


@schemathesis.hook
def before_call(context, case, kwargs):
    _cheapen(case.operation.path, case.body)


@schemathesis.hook
def after_call(context, case, response):
    with _lock:
        _statuses[response.status_code] += 1


@schemathesis.hook
def after_network_error(context, case, request):
    global _network_errors
    with _lock:
        _network_errors += 1


def _write_summary():
    path = os.environ.get("RZERO_FUZZ_SUMMARY")
    if not path:
        return
    with _lock:
        summary = {
            "requests": sum(_statuses.values()),
            "network_errors": _network_errors,
            "statuses": {str(k): v for k, v in sorted(_statuses.items())},
        }
    with open(path, "w") as f:
        json.dump(summary, f, indent=1)


atexit.register(_write_summary)


def _self_check(spec_path: str) -> None:
    schema = schemathesis.openapi.from_path(spec_path)
    count = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operation.as_strategy().example()  # draws one case; raises if the schema cannot be generated from
        count += 1
    print(f"schemathesis loads {spec_path}: {count} operations, a case drawn for each (nothing sent)")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--self-check":
        _self_check(sys.argv[2])
    else:
        sys.exit("usage: fuzz_hooks.py --self-check openapi.yaml")
