#!/usr/bin/env bash
# `make lint` (and the start of `make test`): formatting, then clippy with
# warnings as errors, natively and for wasm32-wasip2. The Wasm package list
# is derived from the workspace: every member under components/ or
# tests/components/ (the Spin components and what they link).
set -euo pipefail
cd "$(dirname "$0")/.."

cargo fmt --all --check
cargo clippy --release --all-targets -- -D warnings
mapfile -t wasm < <(cargo metadata --no-deps --format-version 1 | python3 -c '
import json, os, sys
root = os.getcwd() + "/"
for p in json.load(sys.stdin)["packages"]:
    rel = p["manifest_path"][len(root):]
    if rel.startswith(("components/", "tests/components/")):
        print("-p"); print(p["name"])
')
cargo clippy --release --target wasm32-wasip2 "${wasm[@]}" -- -D warnings
