#!/usr/bin/env bash
# critloop side by side with what researchers ran before it, in one run, on the same data:
#   metrics  `critloop metrics` (every rate, calibration, 1,000 resamples) against numpy computing
#            the 8 core rates and a 1,000-resample bootstrap from critloop's exported transcript
#            of the same sim run;
#   runner   `critloop run` against the mock endpoint against an asyncio loop of Python's
#            AsyncOpenAI client doing the same three calls per episode at the same concurrency.
# Prints each side's figures and the ratios. Not part of .ci/run: it installs numpy and openai
# into its own venv ($CRITLOOP_BENCH_VENV, default ~/.cache/critloop-bench-py) from PyPI.
#
# Knobs: METRICS_ITEMS [100000]  RUNNER_ITEMS [1000]  CONCURRENCY [64]  LATENCY_MS [50]
#        RESAMPLES [1000]
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT="$(pwd)"
METRICS_ITEMS="${METRICS_ITEMS:-100000}"
RUNNER_ITEMS="${RUNNER_ITEMS:-1000}"
CONCURRENCY="${CONCURRENCY:-64}"
LATENCY_MS="${LATENCY_MS:-50}"
RESAMPLES="${RESAMPLES:-1000}"
VENV="${CRITLOOP_BENCH_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/critloop-bench-py}"
BIN="$ROOT/target/release/critloop"
WORK="$(mktemp -d)"
MOCK_PID=""
cleanup() {
  [ -n "$MOCK_PID" ] && kill "$MOCK_PID" 2>/dev/null || true
  "$BIN" --db "$WORK/db" serve --stop >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

if [ ! -x "$VENV/bin/python" ]; then
  echo "creating $VENV (numpy, openai)…" >&2
  python3 -m venv "$VENV"
fi
"$VENV/bin/pip" install -q "numpy==2.2.6" "openai==1.109.1"
PY="$VENV/bin/python"

echo "building critloop and the mock endpoint (release)…" >&2
cargo build --release --quiet
cargo bench --bench mock_server --no-run --quiet 2>/dev/null || cargo bench --bench mock_server --no-run
export CRITLOOP_CONFIG=/nonexistent/critloop.toml

now() { date +%s.%N; }
calc() { "$PY" -c "print($1)"; }

# ---- metrics ----
echo "metrics: a $METRICS_ITEMS-item sim run (critique-revise, one sample each)…" >&2
"$PY" - "$WORK/items.jsonl" "$METRICS_ITEMS" <<'PYEOF'
import sys
with open(sys.argv[1], "w") as f:
    for n in range(1, int(sys.argv[2]) + 1):
        f.write('{"id":"i%d","question":"Item %d: what is %d + %d?","reference":"%d","answer_kind":"number"}\n' % (n, n, n, n, 2 * n))
PYEOF
"$BIN" --db "$WORK/db" run --dataset "$WORK/items.jsonl" --provider sim --name big --quiet >/dev/null
"$BIN" --db "$WORK/db" export big --format jsonl --out "$WORK/big.jsonl" >/dev/null 2>&1
t0=$(now)
"$BIN" --db "$WORK/db" metrics big --resamples "$RESAMPLES" --format json >"$WORK/metrics.json"
t1=$(now)
CRIT_METRICS=$(calc "$t1 - $t0")
"$PY" scripts/bench_vs_python.py metrics "$WORK/big.jsonl" "$RESAMPLES" >"$WORK/numpy.txt"
NP_LOAD=$(awk '/^load/ {print $2}' "$WORK/numpy.txt")
NP_COMPUTE=$(awk '/^compute/ {print $2}' "$WORK/numpy.txt")
NP_PEAK=$(awk '/^peak_mb/ {print $2}' "$WORK/numpy.txt")

# ---- runner ----
echo "runner: $RUNNER_ITEMS episodes × 3 calls against the mock ($LATENCY_MS ms, concurrency $CONCURRENCY)…" >&2
start_mock() {
  coproc MOCK { cargo bench --quiet --bench mock_server -- --latency-ms "$LATENCY_MS" --dataset "$WORK/world.jsonl" --items "$RUNNER_ITEMS"; }
  read -r _ URL <&"${MOCK[0]}"
}
stop_mock() {
  eval "exec ${MOCK[1]}>&-"
  wait "$MOCK_PID" 2>/dev/null || true
  MOCK_PID=""
}
start_mock
t0=$(now)
"$BIN" --db "$WORK/db" run --name runner --provider openai --model mock-model --quiet \
  --concurrency "$CONCURRENCY" --base-url "$URL" --dataset "$WORK/world.jsonl" >/dev/null
t1=$(now)
CRIT_RUN=$(calc "$t1 - $t0")
stop_mock
start_mock
"$PY" scripts/bench_vs_python.py runner "$URL" "$WORK/world.jsonl" "$CONCURRENCY" >"$WORK/py-runner.txt"
stop_mock
PY_RUN=$(awk '/^wall/ {print $2}' "$WORK/py-runner.txt")
PY_CPU=$(awk '/^cpu/ {print $2}' "$WORK/py-runner.txt")
IDEAL=$(calc "$RUNNER_ITEMS * 3 * $LATENCY_MS / 1000 / $CONCURRENCY")

printf '\n%-58s %10s %10s %8s\n' "work (same data, same mock, one run)" "critloop" "python" "ratio"
printf '%-58s %9.2fs %9.2fs %7.1f×\n' "metrics: all rates + calibration vs numpy 8 rates ($RESAMPLES resamples)" \
  "$CRIT_METRICS" "$NP_COMPUTE" "$(calc "$NP_COMPUTE / $CRIT_METRICS")"
printf '%-58s %9.2fs %9.2fs %7.1f×\n' "  numpy including reading the exported JSONL" \
  "$CRIT_METRICS" "$(calc "$NP_LOAD + $NP_COMPUTE")" "$(calc "($NP_LOAD + $NP_COMPUTE) / $CRIT_METRICS")"
printf '%-58s %9.2fs %9.2fs %7.1f×\n' "runner: $RUNNER_ITEMS episodes vs AsyncOpenAI loop" \
  "$CRIT_RUN" "$PY_RUN" "$(calc "$PY_RUN / $CRIT_RUN")"
printf '%-58s %9.2f  %9.2f\n' "  share of the mock's limit (ideal $(printf '%.2f' "$IDEAL") s)" \
  "$(calc "$IDEAL / $CRIT_RUN")" "$(calc "$IDEAL / $PY_RUN")"
echo "numpy peak memory: ${NP_PEAK} MB; Python loop CPU: ${PY_CPU} s"
echo "critloop's metrics time includes starting its server and reading the database; ratio > 1: critloop is faster."
