#!/usr/bin/env bash
# `make fuzz`: start a throwaway Solver service on a copy of the built-in model (it has a tokenizer, which the
# OpenAI-compatible routes need; port 0, temporary checkpoint folder), run scripts/fuzz_api.sh (schemathesis, >= 1000 requests) against it, stop it.
#   RZERO_BIN=.build/debug/rzero scripts/fuzz_local.sh
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="${RZERO_BIN:-$root/.build/debug/rzero}"
[[ -x "$bin" ]] || { echo "fuzz_local.sh: build first (swift build); no $bin" >&2; exit 2; }
work="$(mktemp -d)"
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir "$work/model"
cp "$root/models/base/config.json" "$root/models/base/model.safetensors" "$root/models/base/tokenizer.json" "$work/model/"
"$bin" serve --model "$work/model" --checkpoints "$work/checkpoints" --port 0 > "$work/server.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do
    port="$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$work/server.log" | grep -o '[0-9]*$' || true)"
    [[ -n "$port" ]] && break
    sleep 0.1
done
[[ -n "${port:-}" ]] || { cat "$work/server.log" >&2; echo "fuzz_local.sh: the server did not start" >&2; exit 2; }
"$root/scripts/fuzz_api.sh" "http://127.0.0.1:$port"
if grep -q '"level":"error"\|error rzero' "$work/server.log"; then
    echo "fuzz_local.sh: the server logged errors:" >&2
    grep -i error "$work/server.log" | head -20 >&2
    exit 1
fi
