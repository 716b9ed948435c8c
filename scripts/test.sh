#!/usr/bin/env bash
# `make test`: check formatting and lints (scripts/lint.sh), build the
# tests and lode-host in one cargo invocation (same
# features, so wasmtime compiles once), build the components through the
# manifests as `spin build` would, run every test, fuzz the parsers for a
# bounded time (scripts/fuzz.sh), and close with one summary line.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/lint.sh
cargo test --release --no-run
target/release/lode-host build
target/release/lode-host build --from tests/spin.toml

# Compile every component of the main manifest into the tests' shared cache
# once, before the tests start hosts in parallel (three components hold the
# 300 MB embed step; compiling them concurrently per test is slow).
warm=$(mktemp -d)
SPIN_VARIABLE_ADMIN_API_KEY=warm-up-admin-key-0123456789 LODE_SWEEP_SECS=0 \
  LODE_COMPILE_CACHE="$PWD/target/lode-test-compile-cache" \
  target/release/lode-host up --listen 127.0.0.1:0 --state-dir "$warm/state" >/dev/null 2>"$warm/err" &
warm_pid=$!
until grep -q '^Serving' "$warm/err"; do
  kill -0 "$warm_pid" 2>/dev/null || { cat "$warm/err"; exit 1; }
  sleep 1
done
kill "$warm_pid"; wait "$warm_pid" 2>/dev/null || true
rm -rf "$warm"

log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
cargo test --release --no-fail-fast 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# Fuzz every parser of untrusted bytes for a bounded time each
# (LODE_FUZZ_SECS, default 30; 0 skips), replaying seeds and past crashers.
fuzz_status=0
if [ "${LODE_FUZZ_SECS:-30}" != 0 ]; then
  bash scripts/fuzz.sh "${LODE_FUZZ_SECS:-30}" || fuzz_status=$?
fi
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "Summary: %d passed, %d failed\n", p, f }' "$log"
[ "$fuzz_status" -eq 0 ] || echo "Summary: fuzzing FAILED"
[ "$status" -ne 0 ] && exit "$status"
exit "$fuzz_status"
