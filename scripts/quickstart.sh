#!/usr/bin/env bash
# Quick start on a fresh machine: build, start the fake Ollama on loopback, run a small
# sweep (experiments/fake-smoke.toml), and show where the results are.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release
bin=target/release/chimera
port=11435

"$bin" fake-ollama --port "$port" --tokens 32 --token-delay-ms 2 &
fake=$!
trap 'kill "$fake" 2>/dev/null || true' EXIT
for _ in $(seq 50); do
  curl -sf "http://127.0.0.1:$port/api/version" >/dev/null 2>&1 && break
  sleep 0.1
done

"$bin" plan experiments/fake-smoke.toml
status=0
"$bin" run experiments/fake-smoke.toml || status=$?   # a second start resumes (nothing left to do)

echo
echo "results:  results/fake-smoke/ (manifest.json, calls/*.parquet)"
echo "query:    duckdb -c \"select agent, num_ctx, avg(tokens_per_s), avg(ttft_ms) from 'results/fake-smoke/calls/*.parquet' where not is_warmup group by all\""
exit "$status"
