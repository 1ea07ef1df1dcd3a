#!/usr/bin/env bash
# Regenerates every figure in the README's Performance section, in one run.
#
#   benchmarks/performance.sh                   # full run, results/ and the README's tables
#   benchmarks/performance.sh --quick           # every script's smoke mode, to a temp dir
#   benchmarks/performance.sh --with-retrieval  # also retrieval_eval.py (long: embeds SciFact)
#
# Run it on a quiet machine: the scripts time wall-clock throughput. Steps, in
# order (each writes its own results/<name>.{json,md}):
#   1. local_inference.py      local streaming vs a lone bare xllamacpp server
#      local_inference_openmp.py  co-hosted llama.cpp servers (same data dir)
#   2. gateway_overhead.py     Plinth vs bare pass-through vs LiteLLM, mock upstream
#   3. gateway_stream_cost.py  CPU per streamed chunk; client libraries
#   4. metering.py             reserve + settle; SQLite and PostgreSQL + Redis
#   5. retrieval_eval.py       only with --with-retrieval
# Then render_performance.py writes results/performance.md and the README's tables
# (between its <!-- performance:NAME --> markers) from those JSON files, and
# results/performance_run.json records the command, date, commit, versions,
# machine, load average, and each step's duration and exit status.
# A step that fails is recorded as failed and the run goes on with the next.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
QUICK=""
RETRIEVAL=0
for arg in "$@"; do
    case "$arg" in
    --quick) QUICK="--quick" ;;
    --with-retrieval) RETRIEVAL=1 ;;
    *) echo "unknown option: $arg" >&2; exit 2 ;;
    esac
done
if [ -n "$QUICK" ]; then
    OUT=$(mktemp -d /tmp/plinth-perf-XXXXXX)
else
    OUT=benchmarks/results
fi
STEPS="$OUT/performance_steps.tsv"
: > "$STEPS"
# The models' data dir (the chat GGUF and the converted embedder), made once;
# PLINTH_BENCH_DATA reuses one between runs.
DATA=${PLINTH_BENCH_DATA:-$(mktemp -d /tmp/plinth-perf-data-XXXXXX)}
START=$(date -u +%s)
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

step() {  # step NAME COMMAND...: run, time and record one benchmark
    local name=$1; shift
    echo "== $name: $*"
    local t0=$(date -u +%s)
    "$@"
    local rc=$?
    printf '%s\t%s\t%s\t%s\n' "$name" "$(( $(date -u +%s) - t0 ))" "$rc" "$*" >> "$STEPS"
    [ "$rc" -eq 0 ] || echo "!! $name failed with exit status $rc (recorded; going on)"
}

if [ -n "$QUICK" ]; then
    # Smoke mode: each script's own quick mode; nothing under results/ is touched.
    step local_inference "$PY" benchmarks/local_inference.py --quick --out-dir "$OUT" \
        --data-dir "$DATA"
    step gateway_overhead "$PY" benchmarks/gateway_overhead.py --quick --out-dir "$OUT"
    step gateway_stream_cost "$PY" benchmarks/gateway_stream_cost.py --quick --out-dir "$OUT"
    step metering "$PY" benchmarks/metering.py --quick
else
    step local_inference "$PY" benchmarks/local_inference.py --data-dir "$DATA"
    step local_inference_openmp "$PY" benchmarks/local_inference_openmp.py --data-dir "$DATA"
    step gateway_overhead "$PY" benchmarks/gateway_overhead.py
    step gateway_stream_cost "$PY" benchmarks/gateway_stream_cost.py
    step metering "$PY" benchmarks/metering.py
    if [ "$RETRIEVAL" -eq 1 ]; then
        step retrieval_eval "$PY" benchmarks/retrieval_eval.py
    fi
fi

"$PY" benchmarks/render_performance.py --run "$OUT" --command "benchmarks/performance.sh $*" \
    --started "$START" --load-before "$LOAD_BEFORE" ${QUICK:+--no-readme}
echo "run took $(( $(date -u +%s) - START )) s; record in $OUT/performance_run.json"
