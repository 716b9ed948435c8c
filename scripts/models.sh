#!/usr/bin/env bash
# Put the embedding model (all-MiniLM-L6-v2, fp32 ONNX + tokenizer) in models/,
# checked by sha256. Source: $LODE_MODEL_SOURCE, else ../shared/models (the
# project's shared folder, present for developers and CI).
set -euo pipefail
cd "$(dirname "$0")/.."

files=(
  "all-MiniLM-L6-v2-fp32.onnx 3ca78847be8879e358c456672e54a16b2bfb252dda6adea808d350aefa587229"
  "tokenizer.json be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
)
source_dir=${LODE_MODEL_SOURCE:-../shared/models}
mkdir -p models
for entry in "${files[@]}"; do
  read -r name sum <<<"$entry"
  if [ -f "models/$name" ] && echo "$sum  models/$name" | sha256sum -c --status; then
    continue
  fi
  if [ ! -f "$source_dir/$name" ]; then
    echo "models: $name not found in $source_dir." >&2
    echo "models: set LODE_MODEL_SOURCE to a folder holding the files listed in shared/models/README.md." >&2
    exit 1
  fi
  cp "$source_dir/$name" "models/$name.tmp"
  if ! echo "$sum  models/$name.tmp" | sha256sum -c --status; then
    rm -f "models/$name.tmp"
    echo "models: $source_dir/$name does not match sha256 $sum" >&2
    exit 1
  fi
  mv "models/$name.tmp" "models/$name"
  echo "models: installed $name (sha256 verified)"
done
