#!/usr/bin/env bash
# make run: the R-Zero loop on the built-in model, on this machine.
# Starts a Challenger and a Solver service on loopback, runs the coordinator with CONFIG, writes the
# report, stops the services and prints where the report is. Environment overrides:
#   RZERO=.build/debug/rzero  MODEL=models/base  CONFIG=configs/default.json  RUN=runs/<timestamp>
#   CHALLENGER_PORT=8101  SOLVER_PORT=8102  STATUS_PORT=8100  THREADS=2  SAMPLING_PRECISION=auto
set -euo pipefail
RZERO=${RZERO:-.build/debug/rzero}
MODEL=${MODEL:-models/base}
CONFIG=${CONFIG:-configs/default.json}
RUN=${RUN:-runs/$(date +%Y%m%d-%H%M%S)}
CHALLENGER_PORT=${CHALLENGER_PORT:-8101}
SOLVER_PORT=${SOLVER_PORT:-8102}
STATUS_PORT=${STATUS_PORT:-8100}
THREADS=${THREADS:-2}
SAMPLING_PRECISION=${SAMPLING_PRECISION:-auto}

[ -x "$RZERO" ] || { echo "run: $RZERO is not built (make build-debug)" >&2; exit 1; }
[ -f "$MODEL/config.json" ] || { echo "run: no model in $MODEL (rzero pretrain --out $MODEL rebuilds it)" >&2; exit 1; }
for port in "$CHALLENGER_PORT" "$SOLVER_PORT" "$STATUS_PORT"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "run: port $port is already in use (another run?); set CHALLENGER_PORT / SOLVER_PORT / STATUS_PORT" >&2
    exit 1
  fi
done
mkdir -p "$RUN/services"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT INT TERM

for role in challenger solver; do
  port=$CHALLENGER_PORT; [ "$role" = solver ] && port=$SOLVER_PORT
  "$RZERO" serve --role "$role" --model "$MODEL" --port "$port" --threads "$THREADS" \
    --sampling-precision "$SAMPLING_PRECISION" --checkpoints "$RUN/services/$role-checkpoints" >"$RUN/services/$role.log" 2>&1 &
  pids+=($!)
done
for port in "$CHALLENGER_PORT" "$SOLVER_PORT"; do
  for _ in $(seq 1 600); do
    curl -sf "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
    sleep 0.1
  done
  curl -sf "http://127.0.0.1:$port/readyz" >/dev/null || { echo "run: service on port $port did not start (see $RUN/services/)" >&2; exit 1; }
done

start=$(date +%s)
# SEED_ARGS (e.g. "--seed 2") overrides the configuration's seed.
"$RZERO" coordinate --config "$CONFIG" --run "$RUN" --status-port "$STATUS_PORT" ${SEED_ARGS:-} \
  --challenger "http://127.0.0.1:$CHALLENGER_PORT" --solver "http://127.0.0.1:$SOLVER_PORT"
echo "run took $(( $(date +%s) - start )) s"
"$RZERO" report --run "$RUN" >/dev/null
echo "report: $RUN/report.html"
