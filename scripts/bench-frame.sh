#!/usr/bin/env bash
# `make bench`, part 3: the per-request cost of the frame every /api/*
# component runs (authenticate, check the route's scope, the key's and the
# tenant's rate buckets, metrics), p50/p99 over 1,000 keep-alive requests,
# one at a time: GET /health (no frame) against GET /api/settings (the frame
# and one settings read) with the bootstrap key (no rate limit) and with a
# tenant key. Prints numbers; asserts nothing. Needs `ab` (apache2-utils).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v ab >/dev/null || { echo "bench: install apache2-utils for ab" >&2; exit 1; }
state=$(mktemp -d)
ADMIN=bench-admin-key-0123456789
LODE_COMPILE_CACHE="$PWD/target/lode-test-compile-cache" SPIN_VARIABLE_ADMIN_API_KEY=$ADMIN LODE_SWEEP_SECS=0 target/release/lode-host up --listen 127.0.0.1:${BENCH_PORT:-3998} --state-dir "$state" >"$state/out" 2>"$state/err" &
pid=$!
trap 'kill $pid 2>/dev/null; rm -rf "$state"' EXIT
until curl -sf "127.0.0.1:${BENCH_PORT:-3998}/health" >/dev/null; do
  kill -0 "$pid" 2>/dev/null || { cat "$state/err"; exit 1; }
  sleep 1
done
grep -E "Loading" "$state/err" | head -1
KEY=$(curl -s -X POST 127.0.0.1:${BENCH_PORT:-3998}/api/keys -H "Authorization: Bearer $ADMIN" -H 'content-type: application/json' \
  -d '{"tenant":"bench","name":"b","role":"admin"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')
curl -s -o /dev/null -w "settings: %{http_code}\n" -X PUT 127.0.0.1:${BENCH_PORT:-3998}/api/settings -H "Authorization: Bearer $KEY" -H 'content-type: application/json' \
  -d '{"rate_limits":{"api_per_minute":6000,"tenant_api_per_minute":12000}}'
run() {
  ab -k -n 1000 -c 1 -e "$state/pct.csv" "$@" >"$state/ab.txt" 2>&1
  grep -E 'Non-2xx|Failed requests' "$state/ab.txt" | tr '\n' ' '
  awk -F, '$1==50 {p50=$2} $1==99 {p99=$2} END {print "p50 " p50 " ms, p99 " p99 " ms"}' "$state/pct.csv"
}
echo -n "GET /health (no frame): "; run http://127.0.0.1:${BENCH_PORT:-3998}/health
echo -n "GET /api/settings, bootstrap key (frame without rate limit): "; run -H "Authorization: Bearer $ADMIN" http://127.0.0.1:${BENCH_PORT:-3998}/api/settings
echo -n "GET /api/settings, tenant key (the whole frame): "; run -H "Authorization: Bearer $KEY" http://127.0.0.1:${BENCH_PORT:-3998}/api/settings
