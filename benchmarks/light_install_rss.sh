#!/bin/bash
# usage: benchmarks/light_install_rss.sh VENV PORT [VAR=VALUE ...]
# Starts `plinth serve` from VENV on a fresh data dir (with the given settings,
# e.g. PLINTH_LLAMACPP__LOAD=on_first_use), waits for /health, and prints its
# RSS: idle after the first start, after one short local chat, and idle after
# a second start on the same data dir (the embedding GGUF is then converted).
set -u
VENV=$1; PORT=$2; shift 2; DATA=$(mktemp -d)
KEY=sk-plinth-measure-0123456789
start() {
  env "$@" PLINTH_ADMIN_KEY=$KEY "$VENV/bin/plinth" serve --port "$PORT" --data-dir "$DATA" >> "$DATA/log" 2>&1 &
  PID=$!
  for _ in $(seq 1 300); do curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && break; sleep 1; done
  sleep 5
}
rss() { echo "$(( $(ps -o rss= -p "$PID") / 1024 )) MB"; }
start "$@"
echo "first start, idle: $(rss)"
# The chat's wall time includes the model's load with PLINTH_LLAMACPP__LOAD=on_first_use.
SECONDS_TAKEN=$(curl -sf -o /dev/null -w '%{time_total}' "http://127.0.0.1:$PORT/v1/chat/completions" \
  -H "authorization: Bearer $KEY" -H 'content-type: application/json' \
  -d '{"model":"smollm2-135m-instruct","messages":[{"role":"user","content":"Hello"}],"max_tokens":16}')
echo "after one chat (it took ${SECONDS_TAKEN} s): $(rss)"
kill -INT $PID; wait $PID
start "$@"
echo "second start, idle: $(rss)"
kill -INT $PID; wait $PID
rm -rf "$DATA"
