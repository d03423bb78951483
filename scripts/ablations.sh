#!/usr/bin/env bash
# make ablations: the default configuration and every configs/ablations/*.json, each over SEEDS, one
# after another (each run gets fresh services from scripts/run_default.sh), then one side-by-side
# report. Runs that already finished are kept (delete runs/ablations/NAME-sSEED to redo one).
# Environment: RZERO (default .build/debug/rzero), SEEDS (default "1 2"), OUT (default runs/ablations),
# ONLY (space-separated config names to run, default all), CONFIGS (space-separated config files, default
# configs/default.json and configs/ablations/*.json; e.g. CONFIGS="configs/self-evolution/*.json").
set -euo pipefail
RZERO=${RZERO:-.build/debug/rzero}
SEEDS=${SEEDS:-1 2}
OUT=${OUT:-runs/ablations}
mkdir -p "$OUT"
if [ -n "${CONFIGS:-}" ]; then
  read -r -a configs <<<"$(echo $CONFIGS)"
else
  configs=(configs/default.json configs/ablations/*.json)
fi
runs=()
for cfg in "${configs[@]}"; do
  name=$(basename "$cfg" .json)
  if [ -n "${ONLY:-}" ] && [[ " $ONLY " != *" $name "* ]]; then continue; fi
  for seed in $SEEDS; do
    run="$OUT/$name-s$seed"
    runs+=("$run")
    if [ -f "$run/state.json" ] && grep -q '"finished_at"' "$run/state.json"; then
      echo "ablations: $run already finished"; continue
    fi
    rm -rf "$run"
    echo "ablations: $name seed $seed"
    SEED_ARGS="--seed $seed" CONFIG="$cfg" RUN="$run" RZERO="$RZERO" scripts/run_default.sh >"$OUT/$name-s$seed.log" 2>&1 \
      || { echo "ablations: $name seed $seed failed (see $OUT/$name-s$seed.log)"; exit 1; }
  done
done
if [ "${#runs[@]}" -gt 1 ]; then
  "$RZERO" report --run "${runs[0]}" --compare "${runs[@]:1}" --out "$OUT/report.html" >/dev/null
  echo "report: $OUT/report.html"
fi
