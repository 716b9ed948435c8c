#!/usr/bin/env bash
# `make test`: build the tests and lode-host in one cargo invocation (same
# features, so wasmtime compiles once), build the components through the
# manifests as `spin build` would, run every test, and close with one summary line.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo test --release --no-run
target/release/lode-host build
target/release/lode-host build --from tests/spin.toml

log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
cargo test --release --no-fail-fast 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "Summary: %d passed, %d failed\n", p, f }' "$log"
exit "$status"
