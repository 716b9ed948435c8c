#!/usr/bin/env bash
# Fuzz every parser of untrusted bytes with libFuzzer (cargo-fuzz), for a
# bounded time each: `bash scripts/fuzz.sh [seconds per target, default 60]`.
# Seeds: the PDF test corpus (scripts/pdf-corpus.sh) for `pdf`, small
# hand-made inputs for the rest; what libFuzzer learns is kept in
# target/fuzz-corpus. A crash leaves its input in fuzz/artifacts/<target>/
# and fails the script; copy it to fuzz/regressions/<target>/ once fixed:
# every run starts by executing every file there (and in fuzz/seeds/).
#
# Stable Rust: `--sanitizer none` needs no nightly (panics, aborts, hangs
# and memory blow-ups are still caught: -timeout and -rss_limit_mb).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
secs="${1:-60}"

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz: installing cargo-fuzz"
  cargo install cargo-fuzz --locked --version 0.13.2
fi
bash "$root/scripts/pdf-corpus.sh" >/dev/null

cd "$root/fuzz"
export CARGO_TARGET_DIR="${LODE_FUZZ_TARGET_DIR:-$root/target/fuzz}"
corpus="$root/target/fuzz-corpus"
for target in pdf html multipart chunker json_requests session_token; do
  mkdir -p "$corpus/$target" "seeds/$target" "regressions/$target"
  [ "$target" = pdf ] && find "$root/target/pdf-corpus" -name '*.pdf' -size -200k \
    -exec cp -n {} "$corpus/$target/" \;
  log="$(mktemp)"
  if ! cargo fuzz run --sanitizer none "$target" "$corpus/$target" "seeds/$target" "regressions/$target" \
      -- -max_total_time="$secs" -timeout=20 -rss_limit_mb=3072 -print_final_stats=1 \
      >"$log" 2>&1; then
    tail -40 "$log"
    echo "fuzz: $target FAILED; the input is in fuzz/artifacts/$target/"
    exit 1
  fi
  runs=$(grep -oP 'stat::number_of_executed_units:\s*\K[0-9]+' "$log" | tail -1)
  echo "fuzz: $target: ${runs:-?} executions in ${secs} s, no crash"
  rm -f "$log"
done
