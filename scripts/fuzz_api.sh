#!/usr/bin/env bash
# Property-based fuzzing of a live rzero service against openapi.yaml with schemathesis (issue 6).
#
#   scripts/fuzz_api.sh [URL]                  # default: $RZERO_URL or http://127.0.0.1:8080
#   RZERO_TOKEN=... scripts/fuzz_api.sh        # bearer token, if the server has one configured
#
# Start the server on a tiny, throwaway model with a temporary checkpoint directory first: the run trains
# it with random batches and saves checkpoints under random names. Needs schemathesis in the venv
# (`/work/venv/bin/pip install schemathesis`; override with SCHEMATHESIS=/path/to/schemathesis).
#
# Phases: examples (every example in openapi.yaml), coverage (boundary and invalid values of every field),
# fuzzing (random valid and invalid requests). Checks on every response:
#   not_a_server_error          no 5xx
#   status_code_conformance     the status is one openapi.yaml documents for the operation
#   response_schema_conformance the body matches the documented schema (errors: ErrorResponse)
#   content_type_conformance    the Content-Type is the documented one
# Passes only if schemathesis finds no failure AND at least RZERO_FUZZ_MIN_REQUESTS (1000) requests were
# sent. Valid-but-expensive values (max_tokens 4096, n 64, ...) are lowered by scripts/fuzz_hooks.py.
#
# Knobs (environment): RZERO_FUZZ_MAX_EXAMPLES (per operation, default 200), RZERO_FUZZ_MIN_REQUESTS
# (1000), RZERO_FUZZ_WORKERS (2), RZERO_FUZZ_SEED (random), RZERO_FUZZ_REPORT_DIR (.build/fuzz),
# RZERO_FUZZ_CHECKS (the four above), RZERO_FUZZ_TIMEOUT (per request, seconds, default 120),
# RZERO_FUZZ_WAIT (seconds to wait for /readyz, default 60).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
spec="$root/openapi.yaml"
url="${1:-${RZERO_URL:-http://127.0.0.1:8080}}"
url="${url%/}"
venv="${VENV:-/work/venv}"
schemathesis="${SCHEMATHESIS:-$venv/bin/schemathesis}"
python="${PYTHON:-$venv/bin/python}"
max_examples="${RZERO_FUZZ_MAX_EXAMPLES:-200}"
min_requests="${RZERO_FUZZ_MIN_REQUESTS:-1000}"
workers="${RZERO_FUZZ_WORKERS:-2}"
report_dir="${RZERO_FUZZ_REPORT_DIR:-$root/.build/fuzz}"
checks="${RZERO_FUZZ_CHECKS:-not_a_server_error,status_code_conformance,response_schema_conformance,content_type_conformance}"
timeout="${RZERO_FUZZ_TIMEOUT:-120}"
wait_s="${RZERO_FUZZ_WAIT:-60}"

die() { echo "fuzz_api.sh: $*" >&2; exit 2; }
[[ -x "$schemathesis" ]] || die "schemathesis not found at $schemathesis (pip install schemathesis into $venv)"
[[ -f "$spec" ]] || die "no $spec"
[[ "$max_examples" =~ ^[1-9][0-9]*$ ]] || die "RZERO_FUZZ_MAX_EXAMPLES must be a positive integer"
[[ "$min_requests" =~ ^[0-9]+$ ]] || die "RZERO_FUZZ_MIN_REQUESTS must be an integer"

# The server must be up and ready (the model loaded) before fuzzing starts.
echo "waiting for $url/readyz ..."
ready=0
for _ in $(seq 1 "$wait_s"); do
    if curl -fs -o /dev/null --max-time 5 "$url/readyz"; then ready=1; break; fi
    sleep 1
done
[[ $ready == 1 ]] || die "$url/readyz did not answer 200 within $wait_s s; is the server running?"

mkdir -p "$report_dir"
summary="$report_dir/summary.json"
rm -f "$summary"

args=(
    run "$spec"
    --url "$url"
    --phases examples,coverage,fuzzing
    --checks "$checks"
    --mode all
    --max-examples "$max_examples"
    --workers "$workers"
    --request-timeout "$timeout"
    --suppress-health-check too_slow,filter_too_much
    --report junit,har
    --report-dir "$report_dir"
    --no-color
)
if [[ -n "${RZERO_TOKEN:-}" ]]; then
    # An explicit header; schemathesis must not replace it with generated security values.
    args+=(-H "Authorization: Bearer $RZERO_TOKEN" --generation-with-security-parameters false)
fi
if [[ -n "${RZERO_FUZZ_SEED:-}" ]]; then args+=(--seed "$RZERO_FUZZ_SEED"); fi

echo "schemathesis $("$schemathesis" --version 2>/dev/null | awk '{print $NF}') against $url:" \
     "max $max_examples examples per operation, checks: $checks"
start=$(date +%s)
status=0
SCHEMATHESIS_HOOKS="$here/fuzz_hooks.py" RZERO_FUZZ_SUMMARY="$summary" "$schemathesis" "${args[@]}" || status=$?
elapsed=$(( $(date +%s) - start ))

[[ -f "$summary" ]] || die "schemathesis wrote no request summary ($summary); exit status $status"
count_ok=0
"$python" - "$summary" "$min_requests" "$elapsed" "$status" <<'PY' || count_ok=$?
import json, sys
summary, minimum, elapsed, status = json.load(open(sys.argv[1])), int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
n = summary["requests"]
print(f"\nrequests sent: {n} in {elapsed} s; by status: {summary['statuses']}; network errors: {summary['network_errors']}")
fivexx = sum(v for k, v in summary["statuses"].items() if k.startswith("5"))
print(f"5xx responses: {fivexx}; schemathesis exit status: {status}")
if n < minimum:
    print(f"FAIL: fewer than {minimum} requests; raise RZERO_FUZZ_MAX_EXAMPLES")
    sys.exit(1)
PY
if [[ $status -ne 0 ]]; then
    echo "FAIL: schemathesis reported failures (reports in $report_dir)"; exit "$status"
fi
[[ $count_ok -eq 0 ]] || exit 1
echo "PASS (reports in $report_dir)"
