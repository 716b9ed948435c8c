#!/usr/bin/env bash
# `make bench`: cold start-up of `lode-host up` and GET /health latency
# (p50/p99 over 1,000 keep-alive requests, one at a time, with ApacheBench).
# Prints numbers; asserts nothing. Needs `ab` (apache2-utils).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v ab >/dev/null || { echo "bench: install apache2-utils for ab" >&2; exit 1; }

port=${BENCH_PORT:-3999}
state=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$state"' EXIT

start=$(date +%s%N)
SPIN_VARIABLE_ADMIN_API_KEY=bench target/release/lode-host up --listen "127.0.0.1:$port" --state-dir "$state" \
  >"$state/out.log" 2>"$state/err.log" &
pid=$!
until curl -sf "http://127.0.0.1:$port/health" >/dev/null; do
  kill -0 "$pid" 2>/dev/null || { cat "$state/err.log"; exit 1; }
  sleep 0.01
done
ready=$(date +%s%N)
echo "cold start to first 200 from /health: $(( (ready - start) / 1000000 )) ms ($(grep -o 'Ready in [0-9]* ms' "$state/err.log"))"

ab -k -n 1000 -c 1 -e "$state/pct.csv" "http://127.0.0.1:$port/health" >"$state/ab.txt" 2>&1
grep -E 'Failed requests|Requests per second' "$state/ab.txt"
awk -F, '$1==50 {print "GET /health p50: " $2 " ms"} $1==99 {print "GET /health p99: " $2 " ms"}' "$state/pct.csv"
