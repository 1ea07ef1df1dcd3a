#!/bin/bash
# usage: rss.sh VENV PORT  -> starts plinth serve on a fresh data dir, waits for /health, prints RSS
VENV=$1; PORT=$2; DATA=$(mktemp -d)
PLINTH_ADMIN_KEY=sk-plinth-measure-0123456789 $VENV/bin/plinth serve --port $PORT --data-dir $DATA > $DATA/log 2>&1 &
PID=$!
for i in $(seq 1 300); do curl -sf http://127.0.0.1:$PORT/health >/dev/null && break; sleep 1; done
sleep 5
echo "first start: $(ps -o rss= -p $PID) KiB"
kill -INT $PID; wait $PID
# second start: the embedding GGUF is already converted
PLINTH_ADMIN_KEY=sk-plinth-measure-0123456789 $VENV/bin/plinth serve --port $PORT --data-dir $DATA > $DATA/log2 2>&1 &
PID=$!
for i in $(seq 1 300); do curl -sf http://127.0.0.1:$PORT/health >/dev/null && break; sleep 1; done
sleep 5
echo "second start: $(ps -o rss= -p $PID) KiB"
kill -INT $PID; wait $PID
